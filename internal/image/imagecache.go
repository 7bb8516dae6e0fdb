package image

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/sbom"
)

// A warm build skips installing: when the cache directory holds the
// facts of an image built from exactly the same inputs, and every layer
// of it is in the layer cache, the image is put together from those
// without touching a package.
//
// The inputs are everything the image's bytes depend on: the reef
// executable itself (so that a new reef never reuses an old reef's
// output), the configuration with the command-line options, the trusted
// keys, the architecture, the build date and the exact packages
// (identities). The facts are what assembling the tree taught: the
// numeric user, the installed size, the layer names and keys, and the
// SBOM material found in the tree.

// imageFactsVersion changes whenever the facts' meaning does.
const imageFactsVersion = "reef-image-facts-v1"

// imageFacts are what a build learnt from its tree, kept for warm builds.
type imageFacts struct {
	Version       string            `json:"version"`
	User          string            `json:"user"`
	InstalledSize int64             `json:"installed_size"`
	Layers        []factLayer       `json:"layers"`
	OS            sbom.OSRelease    `json:"os"`
	Embedded      map[string][]byte `json:"embedded,omitempty"` // package name → its SBOM's JSON
}

type factLayer struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

var (
	exeOnce sync.Once
	exeSum  string
)

// executableDigest names the running program's build: its Go build ID
// (which changes with any change to its inputs or its bytes), else the
// SHA-256 of the whole file; "" if neither can be read (caching of whole
// images is then off).
func executableDigest() string {
	exeOnce.Do(func() {
		p, err := os.Executable()
		if err != nil {
			return
		}
		if id := goBuildID(p); id != "" {
			exeSum = "go-buildid:" + id
			return
		}
		f, err := os.Open(p)
		if err != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return
		}
		exeSum = hex.EncodeToString(h.Sum(nil))
	})
	return exeSum
}

// goBuildID returns the build ID the Go linker records in an ELF
// executable's .note.go.buildid section, or "". Reading it costs a few
// small reads, where hashing the executable costs tens of milliseconds.
func goBuildID(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil {
		return ""
	}
	note, err := sec.Data()
	if err != nil || len(note) < 16 {
		return ""
	}
	// An ELF note: namesz, descsz, type (4 bytes each), the name "Go\0"
	// padded to 4 bytes, then the build ID.
	bo := f.ByteOrder
	namesz, descsz, typ := bo.Uint32(note), bo.Uint32(note[4:]), bo.Uint32(note[8:])
	const goBuildIDNote = 4
	if namesz != 4 || typ != goBuildIDNote || string(note[12:16]) != "Go\x00\x00" || uint64(len(note)-16) < uint64(descsz) || descsz == 0 {
		return ""
	}
	return string(note[16 : 16+descsz])
}

// imageKey names the inputs of one architecture's image; "" when whole
// images cannot be cached (no cache directory, unknown executable).
func (b *build) imageKey(arch string, pkgs []resolvedPkg, created time.Time) string {
	if b.cache == nil || b.opts.CacheDir == "" {
		return ""
	}
	exe := executableDigest()
	if exe == "" {
		return ""
	}
	h := sha256.New()
	enc := json.NewEncoder(h)
	type pkgKey struct{ Name, Version, Checksum, Tag string }
	pk := make([]pkgKey, len(pkgs))
	for i, p := range pkgs {
		pk[i] = pkgKey{p.pkg.Name, p.pkg.Version, p.pkg.Checksum, p.tag}
	}
	err := enc.Encode(struct {
		Version  string
		Exe      string
		Config   *Config
		Arch     string
		Created  int64
		Packages []pkgKey
		Keys     any
		Runtime  []string
		Extra    [][]string
		Ann      map[string]string
		Limits   any
		NoSBOM   bool
	}{
		imageFactsVersion, exe, b.cfg, arch, created.Unix(), pk, b.keys, b.runtimeRepos,
		[][]string{b.opts.ExtraRepositories, b.opts.ExtraBuildRepositories, b.opts.ExtraKeyring, b.opts.ExtraPackages},
		b.opts.Annotations, b.opts.Limits, b.opts.NoSBOM,
	})
	if err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (b *build) factsPath(key string) string {
	return filepath.Join(b.opts.CacheDir, "images", key[:2], key+".json")
}

// loadFacts returns the cached facts of key, or nil.
func (b *build) loadFacts(key string) *imageFacts {
	if key == "" {
		return nil
	}
	data, err := os.ReadFile(b.factsPath(key))
	if err != nil {
		return nil
	}
	var f imageFacts
	if err := json.Unmarshal(data, &f); err != nil || f.Version != imageFactsVersion || len(f.Layers) == 0 {
		return nil
	}
	return &f
}

// saveFacts records facts for key; failures only cost a later warm build.
func (b *build) saveFacts(key string, f *imageFacts) {
	if key == "" {
		return
	}
	f.Version = imageFactsVersion
	data, err := json.Marshal(f)
	if err != nil {
		return
	}
	p := b.factsPath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	// Not synced (as the layer cache's entries): facts a crash damaged
	// fail to parse, or name layers that fail their checks.
	err = fsutil.ReplaceFile(p, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		b.log.Debug("cannot cache image facts", "err", err)
	}
}

// errCacheMiss is what a warm build's layer writer returns: the layer
// is not in the cache after all.
var errCacheMiss = errors.New("layer not in the cache")

// sbomInputFromFacts rebuilds the SBOM material of cached facts.
func sbomInputFromFacts(f *imageFacts) (*sbomInput, error) {
	in := &sbomInput{os: f.OS, embedded: map[string]*sbom.Document{}}
	for name, data := range f.Embedded {
		doc, err := sbom.Parse(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("cached SBOM of %s: %w", name, err)
		}
		in.embedded[name] = doc
	}
	return in, nil
}
