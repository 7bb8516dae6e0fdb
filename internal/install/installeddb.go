package install

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/reef-dev/reef/internal/repo"
)

// Default ownership and modes of installed-database entries: a directory
// that is 0755 root:root without xattrs gets no M: line, a file that is
// 0644 root:root without xattrs gets no a: line (apk-tools'
// apk_default_acl_dir and apk_default_acl_file).
const (
	DefaultDirMode  = 0o755
	DefaultFileMode = 0o644
)

// InstalledPackage is one record of the installed database
// (lib/apk/db/installed): the package's index fields, the fields only the
// installed database has, and the directories and files the package owns.
type InstalledPackage struct {
	repo.Package

	Replaces         []string // r: dependencies whose files this package may overwrite
	ReplacesPriority uint64   // q:
	RepoTag          string   // s: repository tag, without "@"
	// Flags holds the f: letters: 'f' broken files, 's' broken script,
	// 'x' broken xattrs, 'S' Z: values are truncated SHA-256.
	Flags string
	// Dirs are the directories the package owns, in the order first seen
	// in its data member; each holds the files the package owns in it.
	Dirs []InstalledDir
}

// InstalledDir is an F: entry: a directory owned by a package and the
// files the package owns directly inside it.
type InstalledDir struct {
	Path      string // no leading or trailing slash; "" is the root directory
	UID, GID  int
	Mode      uint32 // permission bits (07777); DefaultDirMode when M: is absent
	XattrHash string // "Q1"+base64 SHA-1 of the xattrs (M:'s fourth field), "" if none
	Files     []InstalledFile
}

// InstalledFile is an R: entry: a file, symlink or other non-directory
// owned by a package.
type InstalledFile struct {
	Name      string // base name
	UID, GID  int
	Mode      uint32 // permission bits (07777); DefaultFileMode when a: is absent
	XattrHash string // a:'s fourth field, "" if none
	Checksum  string // Z: "Q1"+base64 SHA-1 of the content (symlinks: the target), "" if none
}

// HasFlag reports whether the package's f: field holds flag c.
func (p *InstalledPackage) HasFlag(c byte) bool { return strings.IndexByte(p.Flags, c) >= 0 }

// addFlag adds flag c to the f: field, keeping apk's letter order.
func (p *InstalledPackage) addFlag(c byte) {
	if p.HasFlag(c) {
		return
	}
	var b []byte
	for _, f := range []byte("fsxS") {
		if f == c || p.HasFlag(f) {
			b = append(b, f)
		}
	}
	// Letters apk does not know are kept after the known ones.
	for i := 0; i < len(p.Flags); i++ {
		if strings.IndexByte("fsxS", p.Flags[i]) < 0 {
			b = append(b, p.Flags[i])
		}
	}
	p.Flags = string(b)
}

// dir returns the package's entry for directory path, or nil.
func (p *InstalledPackage) dir(path string) *InstalledDir {
	for i := range p.Dirs {
		if p.Dirs[i].Path == path {
			return &p.Dirs[i]
		}
	}
	return nil
}

// FileCount returns the number of R: entries.
func (p *InstalledPackage) FileCount() int {
	n := 0
	for i := range p.Dirs {
		n += len(p.Dirs[i].Files)
	}
	return n
}

// ParseInstalled parses an installed database (lib/apk/db/installed).
// file names the source in errors, which give the line number.
//
// It accepts what apk-tools 2 accepts: index fields in any order (apko
// writes them in its own order), "i:[]" for an empty install_if, modes
// with a leading zero ("a:0:0:0755"), and an M: line anywhere after its
// F: line, even after R: lines, where it still applies to the directory
// (apk reads it so; apko's bad-top-level-perms database has one).
// Repeated F: lines for one directory, and repeated R: lines for one file
// in it, refer to the same entry, as in apk. Unknown field letters are
// ignored (apk warns that it is too old for them). It is an error for a
// record to lack P: or V:, for F: to come before P:, for R: to come before
// any F:, for a:/Z: to come before any R: of the current directory, and
// for a malformed M:, a:, q: or number.
func ParseInstalled(r io.Reader, file string) ([]*InstalledPackage, error) {
	if file == "" {
		file = "installed"
	}
	s := repo.NewRecordScanner(r, file)
	var (
		pkgs  []*InstalledPackage
		cur   *InstalledPackage
		dir   *InstalledDir
		fi    *InstalledFile
		start int
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		if cur.Name == "" || cur.Version == "" {
			return &repo.RecordError{File: file, Line: start, Msg: "record has no P: (name) or V: (version)"}
		}
		pkgs = append(pkgs, cur)
		cur, dir, fi = nil, nil, nil
		return nil
	}
	for s.Scan() {
		if s.EndOfRecord() {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		if cur == nil {
			cur = &InstalledPackage{}
			start = s.Line()
		}
		key, val := s.Key(), s.Value()
		switch key {
		case 'F':
			if cur.Name == "" {
				return nil, s.Errorf("F:%s comes before the package's P: line", val)
			}
			// Pointers into cur.Dirs change when it grows: keep indexes.
			if d := cur.dir(val); d != nil {
				dir = d
			} else {
				cur.Dirs = append(cur.Dirs, InstalledDir{Path: val, Mode: DefaultDirMode})
				dir = &cur.Dirs[len(cur.Dirs)-1]
			}
			fi = nil
		case 'R':
			if dir == nil {
				return nil, s.Errorf("R:%s comes before any F: line", val)
			}
			fi = nil
			for i := range dir.Files {
				if dir.Files[i].Name == val {
					fi = &dir.Files[i]
					break
				}
			}
			if fi == nil {
				dir.Files = append(dir.Files, InstalledFile{Name: val, Mode: DefaultFileMode})
				fi = &dir.Files[len(dir.Files)-1]
			}
		case 'M', 'a':
			if dir == nil {
				return nil, s.Errorf("%c: comes before any F: line", key)
			}
			if key == 'a' && fi == nil {
				return nil, s.Errorf("a: comes before any R: line of directory %q", dir.Path)
			}
			uid, gid, mode, xh, err := parseACL(val)
			if err != nil {
				return nil, s.Errorf("%c:%s: %v", key, val, err)
			}
			if key == 'M' {
				dir.UID, dir.GID, dir.Mode, dir.XattrHash = uid, gid, mode, xh
			} else {
				fi.UID, fi.GID, fi.Mode, fi.XattrHash = uid, gid, mode, xh
			}
		case 'Z':
			if fi == nil {
				return nil, s.Errorf("Z: comes before any R: line")
			}
			fi.Checksum = val
		case 'r':
			cur.Replaces = splitDeps(val)
		case 'q':
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, s.Errorf("q:%s: replaces_priority is not a non-negative integer", val)
			}
			cur.ReplacesPriority = n
		case 's':
			cur.RepoTag = val
		case 'f':
			cur.Flags = val
		default:
			switch {
			case key == 'D':
				cur.Depends = splitDeps(val)
			case key == 'p':
				cur.Provides = splitDeps(val)
			case key == 'i':
				cur.InstallIf = splitDeps(val)
			case isIndexField(key):
				if err := cur.SetField(key, val); err != nil {
					return nil, s.Errorf("%v", err)
				}
			}
			// Other letters (v3's g:, future fields) are ignored.
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return pkgs, nil
}

// isIndexField reports whether key is one of the index header letters.
func isIndexField(key byte) bool { return strings.IndexByte("CPVASITULomtckDpi", key) >= 0 }

// splitDeps splits a dependency list as the index does; "[]" (apko's
// rendering of an empty list) is empty.
func splitDeps(v string) []string {
	f := strings.Fields(v)
	if len(f) == 0 || len(f) == 1 && f[0] == "[]" {
		return nil
	}
	return f
}

// parseACL parses "uid:gid:mode[:xattrhash]" (uid and gid decimal, mode
// octal).
func parseACL(v string) (uid, gid int, mode uint32, xattr string, err error) {
	parts := strings.SplitN(v, ":", 4)
	if len(parts) < 3 {
		return 0, 0, 0, "", fmt.Errorf("want uid:gid:mode[:xattr-checksum]")
	}
	u, err1 := strconv.ParseUint(parts[0], 10, 32)
	g, err2 := strconv.ParseUint(parts[1], 10, 32)
	m, err3 := strconv.ParseUint(parts[2], 8, 32)
	switch {
	case err1 != nil:
		return 0, 0, 0, "", fmt.Errorf("uid %q is not a number", parts[0])
	case err2 != nil:
		return 0, 0, 0, "", fmt.Errorf("gid %q is not a number", parts[1])
	case err3 != nil:
		return 0, 0, 0, "", fmt.Errorf("mode %q is not an octal number", parts[2])
	}
	if len(parts) == 4 {
		xattr = parts[3]
	}
	if u > math.MaxInt32 || g > math.MaxInt32 {
		return 0, 0, 0, "", fmt.Errorf("uid or gid out of range")
	}
	return int(u), int(g), uint32(m), xattr, nil
}

// appendACL appends "K:uid:gid:mode[:xattr]\n".
func appendACL(b []byte, key byte, uid, gid int, mode uint32, xattr string) []byte {
	b = append(b, key, ':')
	b = strconv.AppendInt(b, int64(uid), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(gid), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(mode), 8)
	if xattr != "" {
		b = append(b, ':')
		b = append(b, xattr...)
	}
	return append(b, '\n')
}

// AppendRecord appends p's installed-database record as apk-tools 2
// writes it: the index header (C P V A S I T U L o m t c k D p i), then
// r q s f when set, then for each directory F:, M: (when not 0755
// root:root without xattrs), and for each file R:, a: (when not 0644
// root:root without xattrs) and Z: (when known); then the blank line that
// ends the record.
func (p *InstalledPackage) AppendRecord(b []byte) []byte {
	b = p.Package.AppendRecord(b)
	b = b[:len(b)-1] // the index record's terminating blank line
	if len(p.Replaces) > 0 {
		b = append(b, "r:"...)
		b = append(b, strings.Join(p.Replaces, " ")...)
		b = append(b, '\n')
	}
	if p.ReplacesPriority != 0 {
		b = append(b, "q:"...)
		b = strconv.AppendUint(b, p.ReplacesPriority, 10)
		b = append(b, '\n')
	}
	if p.RepoTag != "" {
		b = append(b, "s:"...)
		b = append(b, p.RepoTag...)
		b = append(b, '\n')
	}
	if p.Flags != "" {
		b = append(b, "f:"...)
		b = append(b, p.Flags...)
		b = append(b, '\n')
	}
	for i := range p.Dirs {
		d := &p.Dirs[i]
		b = append(b, "F:"...)
		b = append(b, d.Path...)
		b = append(b, '\n')
		if d.UID != 0 || d.GID != 0 || d.Mode != DefaultDirMode || d.XattrHash != "" {
			b = appendACL(b, 'M', d.UID, d.GID, d.Mode, d.XattrHash)
		}
		for j := range d.Files {
			f := &d.Files[j]
			b = append(b, "R:"...)
			b = append(b, f.Name...)
			b = append(b, '\n')
			if f.UID != 0 || f.GID != 0 || f.Mode != DefaultFileMode || f.XattrHash != "" {
				b = appendACL(b, 'a', f.UID, f.GID, f.Mode, f.XattrHash)
			}
			if f.Checksum != "" {
				b = append(b, "Z:"...)
				b = append(b, f.Checksum...)
				b = append(b, '\n')
			}
		}
	}
	return append(b, '\n')
}

// WriteInstalled writes pkgs as an installed database, in the given order
// (see SortInstalled for apk's order), each record as AppendRecord
// renders it.
func WriteInstalled(w io.Writer, pkgs []*InstalledPackage) error {
	var b []byte
	for _, p := range pkgs {
		b = p.AppendRecord(b)
	}
	_, err := w.Write(b)
	return err
}

// SortInstalled sorts pkgs as apk-tools orders the installed database:
// by name, case-insensitively, ties broken by byte order. (Names are
// unique in an installed database.)
func SortInstalled(pkgs []*InstalledPackage) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i].Name, pkgs[j].Name
		if la, lb := strings.ToLower(a), strings.ToLower(b); la != lb {
			return la < lb
		}
		return a < b
	})
}

// Q1 renders a SHA-1 digest as apk does in C: and Z: fields: "Q1" and
// standard base64 with padding.
func Q1(sum []byte) string { return "Q1" + base64.StdEncoding.EncodeToString(sum) }

// XattrHash returns apk's digest of a set of extended attributes, as
// stored in the fourth field of M: and a: lines: SHA-1 over the
// attributes sorted by name, each as a big-endian 32-bit name length, the
// name, a big-endian 32-bit value length and the value; "Q1"+base64. It
// returns "" for no attributes.
func XattrHash(xattrs map[string]string) string {
	if len(xattrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(xattrs))
	for n := range xattrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha1.New()
	var l [4]byte
	for _, n := range names {
		binary.BigEndian.PutUint32(l[:], uint32(len(n)))
		h.Write(l[:])
		io.WriteString(h, n)
		v := xattrs[n]
		binary.BigEndian.PutUint32(l[:], uint32(len(v)))
		h.Write(l[:])
		io.WriteString(h, v)
	}
	return Q1(h.Sum(nil))
}

// LoadInstalled reads the installed database of a root: lib/apk/db/installed,
// or usr/lib/apk/db/installed (apko's layout), following symlinks within
// the root. A root without a database has no packages: it returns nil and
// no error.
func LoadInstalled(fsys FS) ([]*InstalledPackage, error) {
	for _, dir := range []string{LayoutApk.dbDir(), LayoutApko.dbDir()} {
		real, err := Resolve(fsys, dir+"/installed")
		if err != nil {
			continue
		}
		rc, err := fsys.Open(real)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return ParseInstalled(rc, dir+"/installed")
	}
	return nil, nil
}
