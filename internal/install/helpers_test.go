package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/repo"
)

// tEntry is one data entry of a test package.
type tEntry struct {
	Name     string
	Type     byte // tar type flag; 0 means tar.TypeReg
	Mode     int64
	Uid, Gid int
	Uname    string
	Gname    string
	Linkname string
	Body     string
	Xattrs   map[string]string
	Sum      string // rawPkg: the checksum record to write instead of the right one
}

func (e tEntry) header() *tar.Header {
	typ := e.Type
	if typ == 0 {
		typ = tar.TypeReg
	}
	mode := e.Mode
	if mode == 0 {
		switch typ {
		case tar.TypeDir:
			mode = 0o755
		case tar.TypeSymlink:
			mode = 0o777
		default:
			mode = 0o644
		}
	}
	h := &tar.Header{
		Typeflag: typ,
		Name:     e.Name,
		Mode:     mode,
		Uid:      e.Uid,
		Gid:      e.Gid,
		Uname:    e.Uname,
		Gname:    e.Gname,
		Linkname: e.Linkname,
		ModTime:  time.Unix(1700000000, 0),
		Format:   tar.FormatPAX,
	}
	if typ == tar.TypeReg {
		h.Size = int64(len(e.Body))
	}
	if len(e.Xattrs) > 0 {
		h.PAXRecords = map[string]string{}
		for k, v := range e.Xattrs {
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	return h
}

// dirs returns directory entries for every parent of the given paths, in
// order, followed by nothing else: a convenience for building packages.
func dirs(paths ...string) []tEntry {
	seen := map[string]bool{}
	var out []tEntry
	for _, p := range paths {
		parts := strings.Split(p, "/")
		for i := 1; i <= len(parts); i++ {
			d := strings.Join(parts[:i], "/")
			if !seen[d] {
				seen[d] = true
				out = append(out, tEntry{Name: d, Type: tar.TypeDir})
			}
		}
	}
	return out
}

// buildPkg writes a normal package with apk's writer.
func buildPkg(t testing.TB, info apk.PkgInfo, scripts []apk.Script, entries []tEntry) []byte {
	t.Helper()
	if info.Version == "" {
		info.Version = "1.0-r0"
	}
	if info.Arch == "" {
		info.Arch = "x86_64"
	}
	var b bytes.Buffer
	_, err := apk.WritePackage(&b, &info, scripts, nil, func(dw *apk.DataWriter) error {
		for _, e := range entries {
			var body io.Reader
			if e.Body != "" || e.Type == 0 || e.Type == tar.TypeReg {
				body = strings.NewReader(e.Body)
			}
			if err := dw.Add(e.header(), body); err != nil {
				return err
			}
		}
		return nil
	}, apk.WriteOptions{SourceDateEpoch: 1700000000, CompressionLevel: 1})
	if err != nil {
		t.Fatalf("WritePackage %s: %v", info.Name, err)
	}
	return b.Bytes()
}

// rawPkg writes a package with archive/tar directly, bypassing the
// writer's checks, to make hostile packages. Regular files and symlinks
// get the APK-TOOLS.checksum.SHA1 record. An info.DataHash of "legacy"
// makes a package without datahash.
func rawPkg(t testing.TB, info apk.PkgInfo, entries []tEntry) []byte {
	t.Helper()
	if info.Version == "" {
		info.Version = "1.0-r0"
	}
	var data bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&data, 1)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.header()
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		switch {
		case e.Sum != "":
			h.PAXRecords[apk.ChecksumPAXKey] = e.Sum
		case h.Typeflag == tar.TypeReg:
			s := sha1.Sum([]byte(e.Body))
			h.PAXRecords[apk.ChecksumPAXKey] = hex.EncodeToString(s[:])
		case h.Typeflag == tar.TypeSymlink:
			s := sha1.Sum([]byte(e.Linkname))
			h.PAXRecords[apk.ChecksumPAXKey] = hex.EncodeToString(s[:])
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, e.Body)
		}
	}
	tw.Close()
	zw.Close()
	if info.DataHash == "legacy" {
		// A legacy package: no datahash, the identity covers the data.
		info.DataHash = ""
	} else {
		dh := sha256.Sum256(data.Bytes())
		info.DataHash = hex.EncodeToString(dh[:])
	}
	if info.Size == 0 {
		info.Size = 1
	}
	pi, err := info.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var ctl bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&ctl, 1)
	tw = tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: ".PKGINFO", Mode: 0o644, Size: int64(len(pi)), Uname: "root", Gname: "root"})
	tw.Write(pi)
	tw.Flush() // no end-of-archive blocks in the control member
	zw.Close()
	return append(ctl.Bytes(), data.Bytes()...)
}

// memPkg returns a Package that opens data.
func memPkg(data []byte) Package {
	return Package{Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// filePkg returns a Package for an .apk file on disk, with its index
// record when rec is not nil.
func filePkg(path string, rec *repo.Package) Package {
	return Package{Index: rec, Source: path, Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// roots returns a fresh DirFS (in a temp dir, inside a parent that the
// test checks stays otherwise empty) and a MemFS, by name.
type testRoot struct {
	name   string
	fs     FS
	parent string // DirFS only: the directory holding the root
}

func newRoots(t *testing.T) []testRoot {
	t.Helper()
	parent := t.TempDir()
	d, err := OpenDir(filepath.Join(parent, "root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return []testRoot{{"dir", d, parent}, {"mem", NewMemFS(), ""}}
}

// checkParentClean fails if anything but the root appeared next to it.
func (r testRoot) checkParentClean(t *testing.T) {
	t.Helper()
	if r.parent == "" {
		return
	}
	ents, err := os.ReadDir(r.parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "root" {
			t.Errorf("%s appeared outside the root", filepath.Join(r.parent, e.Name()))
		}
	}
}

func install(t *testing.T, fsys FS, opts Options, pkgs ...Package) (*Result, error) {
	t.Helper()
	in := &Installer{FS: fsys, Arch: "x86_64"}
	return in.Install(context.Background(), pkgs, opts)
}

// readDB reads and parses the installed database of a root.
func readDB(t testing.TB, fsys FS, dir string) []*InstalledPackage {
	t.Helper()
	real, err := Resolve(fsys, dir+"/installed")
	if err != nil {
		t.Fatal(err)
	}
	data, err := ReadFile(fsys, real)
	if err != nil {
		t.Fatalf("reading the installed database: %v", err)
	}
	pkgs, err := ParseInstalled(bytes.NewReader(data), "installed")
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// verifyDB checks every R: entry against the root: the file exists
// (through the package's own path, resolved in the root), its type and
// mode match, and its content (a symlink's target) hashes to its Z:.
func verifyDB(t testing.TB, fsys FS, pkgs []*InstalledPackage) int {
	t.Helper()
	n := 0
	for _, p := range pkgs {
		for _, d := range p.Dirs {
			real, err := Resolve(fsys, d.Path)
			if err != nil {
				t.Errorf("%s: dir %s: %v", p, d.Path, err)
				continue
			}
			if st, err := fsys.Lstat(real); err != nil || st.Type != TypeDir {
				t.Errorf("%s: dir %s: %v %v", p, d.Path, st, err)
			}
			for _, f := range d.Files {
				n++
				name := joinReal(real, f.Name)
				st, err := fsys.Lstat(name)
				if err != nil {
					t.Errorf("%s: %s: %v", p, name, err)
					continue
				}
				if st.Mode != f.Mode {
					t.Errorf("%s: %s: mode %o, database says %o", p, name, st.Mode, f.Mode)
				}
				var content []byte
				switch st.Type {
				case TypeSymlink:
					content = []byte(st.Linkname)
				case TypeReg:
					content, err = ReadFile(fsys, name)
					if err != nil {
						t.Fatal(err)
					}
				default:
					continue
				}
				sum := sha1.Sum(content)
				if got := Q1(sum[:]); got != f.Checksum {
					t.Errorf("%s: %s: content hashes to %s, Z:%s", p, name, got, f.Checksum)
				}
			}
		}
	}
	return n
}

// loadRepoIndex reads a fixture repository's index, verified with its key.
func loadRepoIndex(t testing.TB, dir, key string) []*repo.Package {
	t.Helper()
	kr := apk.NewKeyring()
	if err := kr.Load(key); err != nil {
		t.Fatal(err)
	}
	idx, err := repo.ReadIndexFile(filepath.Join(dir, "APKINDEX.tar.gz"), kr, repo.ReadOptions{})
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	return idx.Packages
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
