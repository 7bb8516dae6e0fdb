package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/reef-dev/reef/internal/fsutil"
)

// LockVersion is the lock-file format version apko writes and reads.
const LockVersion = "v1"

// Lock is a lock file in apko's format: for every architecture, the exact
// packages of the image, where to download them and their checksums, so
// that a build from it installs exactly those without resolving.
type Lock struct {
	Version  string       `json:"version"`
	Config   *LockConfig  `json:"config,omitempty"`
	Contents LockContents `json:"contents"`
}

// LockConfig identifies the image file a lock was made from.
type LockConfig struct {
	Name     string `json:"name"`
	Checksum string `json:"checksum"` // Config.Checksum
}

// LockContents is the locked content.
type LockContents struct {
	Keyring             []LockKeyring    `json:"keyring"`
	BuildRepositories   []LockRepository `json:"build_repositories"`
	RuntimeRepositories []LockRepository `json:"runtime_repositories"`
	Repositories        []LockRepository `json:"repositories"`
	// Packages are, architecture by architecture, in install order.
	Packages []LockPackage `json:"packages"`
}

// LockKeyring is a key with its content.
type LockKeyring struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Content string `json:"content"`
}

// LockRepository is one repository index for one architecture.
type LockRepository struct {
	Name         string `json:"name"` // "<repo>/<arch>"
	URL          string `json:"url"`  // "<repo>/<arch>/APKINDEX.tar.gz"
	Architecture string `json:"architecture"`
}

// LockPackage is one package of one architecture.
type LockPackage struct {
	Name         string `json:"name"`
	URL          string `json:"url"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	// Signature, Control and Data locate the three gzip members of the
	// .apk and give their checksums: "sha1-<b64>" for the signature and
	// control members, "sha256-<b64>" for the data member.
	Signature LockRange `json:"signature"`
	Control   LockRange `json:"control"`
	Data      LockRange `json:"data"`
	// Checksum is the package identity, "Q1" + base64 SHA-1 of the
	// control member (the index C: field).
	Checksum string `json:"checksum"`
}

// LockRange is a byte range of a package file and its checksum.
type LockRange struct {
	Range    string `json:"range"` // "bytes=START-END", inclusive
	Checksum string `json:"checksum"`
}

// ReadLock reads a lock file. Locks without package checksums (apko
// before 0.13) are refused.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	return ParseLock(data, path)
}

// ParseLock parses lock-file bytes; file names them in errors.
func ParseLock(data []byte, file string) (*Lock, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: not a lock file: %v", file, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: data after the lock object", file)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%s: lock version %q is not supported (want %q)", file, l.Version, LockVersion)
	}
	for i, p := range l.Contents.Packages {
		if p.Name == "" || p.Version == "" || p.URL == "" || p.Architecture == "" {
			return nil, fmt.Errorf("%s: packages[%d]: name, version, url and architecture are required", file, i)
		}
		if !strings.HasPrefix(p.Checksum, "Q1") {
			return nil, fmt.Errorf("%s: packages[%d] (%s-%s): no checksum; locks written before apko 0.13 are not supported, lock again", file, i, p.Name, p.Version)
		}
	}
	return &l, nil
}

// Archs returns the architectures the lock has packages for, sorted.
func (l *Lock) Archs() []string {
	var out []string
	for _, p := range l.Contents.Packages {
		out = append(out, p.Architecture)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PackagesFor returns the locked packages of arch, in install order.
func (l *Lock) PackagesFor(arch string) []LockPackage {
	var out []LockPackage
	for _, p := range l.Contents.Packages {
		if p.Architecture == arch {
			out = append(out, p)
		}
	}
	return out
}

// Write writes the lock to path atomically, as indented JSON.
func (l *Lock) Write(path string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing lock file %s: %w", path, err)
	}
	return nil
}
