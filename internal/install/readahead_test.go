package install

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/repo"
)

// raScenario is a set of packages to install, made afresh for each run.
type raScenario struct {
	name string
	// before, if set, is installed first, without read-ahead.
	before func() []Package
	pkgs   func() []Package
	force  bool
}

// raScenarios covers what read-ahead must not change: successes (owner
// names resolved against a passwd an earlier package installed, paths
// through an earlier package's symlink, replaces, scripts and triggers,
// hard links, legacy packages, meta and duplicate packages, a root with
// packages already), and failures at every point of a package (opening
// it, its control member, its index record, a conflict, bad checksums
// of files read, skipped and symlinks, a truncated stream, a datahash),
// with packages after the failing one.
func raScenarios(t *testing.T) []raScenario {
	good := func(name string, extra ...tEntry) []byte {
		return buildPkg(t, pkgInfo(name, "1-r0", ""), nil, append(append(dirs("usr/share/"+name), tEntry{Name: "usr/share/" + name + "/file", Body: strings.Repeat(name, 300)}), extra...))
	}
	base := buildPkg(t, pkgInfo("base", "1-r0", ""), []apk.Script{{Name: ".post-install", Mode: 0o755, Body: []byte("#!/bin/sh\n")}}, append(dirs("etc", "usr/bin", "usr/lib"),
		tEntry{Name: "etc/passwd", Body: "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
		tEntry{Name: "etc/group", Body: "root:x:0:\napp:x:1000:\n"},
		tEntry{Name: "bin", Type: tar.TypeSymlink, Linkname: "usr/bin"},
		tEntry{Name: "lib", Type: tar.TypeSymlink, Linkname: "usr/lib"},
		tEntry{Name: "etc/os-release", Body: "base"}))
	trigInfo := pkgInfo("trig", "1-r0", "")
	trigInfo.Triggers = []string{"/usr/share/*"}
	owned := buildPkg(t, trigInfo, []apk.Script{{Name: ".trigger", Mode: 0o755, Body: []byte("#!/bin/sh\n")}}, append(dirs("bin", "lib", "usr/share/trig"),
		tEntry{Name: "bin/tool", Body: "tool through the bin symlink", Uname: "app", Gname: "app", Mode: 0o4755},
		tEntry{Name: "bin/tool2", Type: tar.TypeLink, Linkname: "bin/tool"},
		tEntry{Name: "lib/libx.so.1", Body: strings.Repeat("elf", 5000), Xattrs: map[string]string{"user.x": "y"}},
		tEntry{Name: "lib/libx.so", Type: tar.TypeSymlink, Linkname: "libx.so.1"},
		tEntry{Name: "usr/share/trig/.keep_dir", Body: ""},
		tEntry{Name: "usr/share/trig/empty", Body: ""}))
	replInfo := pkgInfo("repl", "1-r0", "")
	replInfo.Replaces = []string{"base"}
	repl := buildPkg(t, replInfo, nil, append(dirs("etc"), tEntry{Name: "etc/os-release", Body: "repl"}))
	conflict := buildPkg(t, pkgInfo("conflict", "1-r0", ""), nil, append(dirs("etc", "usr/share/conflict"),
		tEntry{Name: "usr/share/conflict/a", Body: "a"},
		tEntry{Name: "etc/os-release", Body: "conflict"},
		tEntry{Name: "usr/share/conflict/b", Body: "b"}))
	conflictThenBad := rawPkg(t, legacyInfo("cbad", "1-r0"), append(dirs("etc", "usr/share/cbad"),
		tEntry{Name: "etc/os-release", Body: "x"},
		tEntry{Name: "usr/share/cbad/bad", Body: "tampered", Sum: strings.Repeat("0", 40)}))
	badThenConflict := rawPkg(t, legacyInfo("badc", "1-r0"), append(dirs("etc", "usr/share/badc"),
		tEntry{Name: "usr/share/badc/bad", Body: "tampered", Sum: strings.Repeat("0", 40)},
		tEntry{Name: "etc/os-release", Body: "x"}))
	badRead := rawPkg(t, legacyInfo("badread", "1-r0"), append(dirs("usr/share/badread"),
		tEntry{Name: "usr/share/badread/first", Body: "fine"},
		tEntry{Name: "usr/share/badread/second", Body: "tampered", Sum: strings.Repeat("1", 40)},
		tEntry{Name: "usr/share/badread/third", Body: "fine"}))
	badSkipped := rawPkg(t, legacyInfo("badskip", "1-r0"), append(dirs("usr/share/badskip"),
		tEntry{Name: "usr/share/badskip/first", Body: "fine"},
		tEntry{Name: "usr/share/badskip/.keep_x", Body: "tampered", Sum: strings.Repeat("2", 40)},
		tEntry{Name: "usr/share/badskip/third", Body: "fine"}))
	badSymlink := rawPkg(t, legacyInfo("badlink", "1-r0"), append(dirs("usr/share/badlink"),
		tEntry{Name: "usr/share/badlink/l", Type: tar.TypeSymlink, Linkname: "x", Sum: strings.Repeat("3", 40)},
		tEntry{Name: "usr/share/badlink/f", Body: "fine"}))
	big := good("big", tEntry{Name: "usr/share/big/big", Body: strings.Repeat("0123456789abcdef", 100000)})
	truncated := big[:len(big)-len(big)/3]
	dataHash := rawPkg(t, pkgInfo("dh", "1-r0", ""), append(dirs("usr/share/dh"), tEntry{Name: "usr/share/dh/f", Body: "f"}))
	// The data member's gzip MTIME: the content is intact, its hash is not.
	i := bytes.Index(dataHash[1:], []byte{0x1f, 0x8b, 8}) + 1
	if i == 0 {
		t.Fatal("no data member")
	}
	dataHash = slices.Clone(dataHash)
	dataHash[i+4] ^= 0xff
	legacyInfo := pkgInfo("legacy", "1-r0", "")
	legacyInfo.DataHash = "legacy"
	legacy := rawPkg(t, legacyInfo, append(dirs("usr/share/legacy"), tEntry{Name: "usr/share/legacy/f", Body: "legacy"}))

	mem := func(data ...[]byte) []Package {
		var out []Package
		for _, d := range data {
			out = append(out, memPkg(d))
		}
		return out
	}
	// indexed returns a Package with the index record of data.
	indexed := func(data []byte, tag string) Package {
		ar, err := apk.NewReader(bytes.NewReader(data), apk.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		rec := repo.FromPkgInfo(ar.Info(), ar.Identity(), uint64(len(data)))
		rec.InstalledSize = uint64(len(data) * 3)
		p := memPkg(data)
		p.Index, p.RepoTag, p.Source = rec, tag, rec.Name+".apk"
		return p
	}
	failOpen := Package{Source: "unopenable.apk", Open: func() (io.ReadCloser, error) { return nil, errors.New("no such package") }}
	garbage := memPkg([]byte("this is no package"))
	return []raScenario{
		{name: "success", pkgs: func() []Package {
			return mem(base, good("a"), owned, repl, good("b"), legacy, good("c"))
		}},
		{name: "indexed", pkgs: func() []Package {
			meta := Package{Index: &repo.Package{Name: "meta", Version: "1-r0", Checksum: "Q1meta"}}
			return []Package{indexed(base, ""), meta, indexed(good("a"), "tag"), indexed(owned, ""), indexed(good("a"), "tag"), indexed(repl, ""), indexed(big, "")}
		}},
		{name: "existing root", before: func() []Package { return []Package{indexed(base, ""), indexed(good("a"), "")} }, pkgs: func() []Package {
			return []Package{indexed(good("a"), ""), indexed(base, ""), indexed(owned, ""), indexed(good("b"), "")}
		}},
		{name: "installed at another version", before: func() []Package { return []Package{indexed(base, "")} }, pkgs: func() []Package {
			p := indexed(good("a"), "")
			other := indexed(buildPkg(t, pkgInfo("base", "2-r0", ""), nil, dirs("usr")), "")
			return []Package{p, other, indexed(good("b"), "")}
		}},
		{name: "open fails", pkgs: func() []Package {
			return append(mem(base, good("a")), append([]Package{failOpen}, mem(good("b"))...)...)
		}},
		{name: "not a package", pkgs: func() []Package {
			return append(mem(base, good("a")), append([]Package{garbage}, mem(good("b"))...)...)
		}},
		{name: "index mismatch", pkgs: func() []Package {
			p := indexed(good("a"), "")
			p.Index.Checksum = "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
			return []Package{indexed(base, ""), p, indexed(good("b"), "")}
		}},
		{name: "conflict", pkgs: func() []Package { return mem(base, good("a"), conflict, good("b")) }},
		{name: "conflict forced", force: true, pkgs: func() []Package { return mem(base, good("a"), conflict, good("b")) }},
		{name: "conflict then bad checksum", pkgs: func() []Package { return mem(base, conflictThenBad, good("b")) }},
		{name: "bad checksum then conflict", pkgs: func() []Package { return mem(base, badThenConflict, good("b")) }},
		{name: "bad checksum", pkgs: func() []Package { return mem(base, good("a"), badRead, good("b")) }},
		{name: "bad checksum of a skipped file", pkgs: func() []Package { return mem(base, badSkipped, good("b")) }},
		{name: "bad symlink checksum", pkgs: func() []Package { return mem(base, badSymlink, good("b")) }},
		{name: "truncated", pkgs: func() []Package { return mem(base, good("a"), truncated, good("b")) }},
		{name: "datahash", pkgs: func() []Package { return mem(base, dataHash, good("b")) }},
		{name: "first fails", pkgs: func() []Package { return mem(truncated, base, good("b")) }},
		{name: "last fails", pkgs: func() []Package { return mem(base, good("b"), badRead) }},
	}
}

// raModTime is the time of the files the installer writes itself (else
// the current time on disk, which may change between two runs).
var raModTime = time.Unix(1600000000, 0)

// raOutcome is everything an Install call shows: its result and error,
// and the root it leaves.
type raOutcome struct {
	err   string
	res   string
	files []string
}

func (o raOutcome) diff(t *testing.T, what string, want raOutcome) {
	t.Helper()
	if o.err != want.err {
		t.Errorf("%s: error\n%s\nwant\n%s", what, o.err, want.err)
	}
	if o.res != want.res {
		t.Errorf("%s: result\n%s\nwant\n%s", what, o.res, want.res)
	}
	if !slices.Equal(o.files, want.files) {
		t.Errorf("%s: root\n%s\nwant\n%s", what, strings.Join(o.files, "\n"), strings.Join(want.files, "\n"))
	}
}

func runScenario(t *testing.T, sc raScenario, fsys FS, readAhead int, rootDir string) raOutcome {
	return runScenarioBudget(t, sc, fsys, readAhead, 0, rootDir)
}

func runScenarioBudget(t *testing.T, sc raScenario, fsys FS, readAhead int, budget int64, rootDir string) raOutcome {
	t.Helper()
	if sc.before != nil {
		in := &Installer{FS: fsys, Arch: "x86_64", ReadAhead: -1, ModTime: raModTime}
		if _, err := in.Install(context.Background(), sc.before(), Options{}); err != nil {
			t.Fatal(err)
		}
	}
	in := &Installer{FS: fsys, Arch: "x86_64", ReadAhead: readAhead, ForceOverwrite: sc.force, readAheadBudget: budget, ModTime: raModTime}
	res, err := in.Install(context.Background(), sc.pkgs(), Options{World: []string{"x"}})
	var o raOutcome
	if err != nil {
		o.err = err.Error()
		if rootDir != "" {
			o.err = strings.ReplaceAll(o.err, rootDir, "ROOT")
		}
	}
	var b strings.Builder
	for _, p := range res.Installed {
		fmt.Fprintf(&b, "%s %s %s %d %d %s; ", p.String(), p.Checksum, p.RepoTag, p.Size, p.FileCount(), p.Flags)
	}
	fmt.Fprintf(&b, "files=%d bytes=%d warnings=%q", res.Files, res.Bytes, res.Warnings)
	o.res = b.String()
	switch f := fsys.(type) {
	case *MemFS:
		o.files = memFingerprint(t, f)
	case *DirFS:
		o.files = dirFingerprint(t, f)
	}
	return o
}

func memFingerprint(t *testing.T, m *MemFS) []string {
	var out []string
	err := m.Walk(func(e *Entry, data []byte) error {
		sum := sha256.Sum256(data)
		out = append(out, fmt.Sprintf("%s %v %o %d:%d %d %s %q %v %d %s", e.Name, e.Type, e.Mode, e.UID, e.GID, e.ModTime.Unix(), e.Linkname, e.Xattrs, e.Size, len(data), hex.EncodeToString(sum[:8])))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func dirFingerprint(t *testing.T, d *DirFS) []string {
	var out []string
	err := filepath.WalkDir(d.Dir(), func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.Dir(), p)
		if rel == "." {
			return nil
		}
		e, err := d.Lstat(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		var data []byte
		if e.Type == TypeReg {
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		sum := sha256.Sum256(data)
		mt := e.ModTime.Unix()
		if e.Type == TypeDir {
			mt = 0 // written by the kernel when entries come and go
		}
		out = append(out, fmt.Sprintf("%s %v %o %d:%d %d %s %q %d %s", rel, e.Type, e.Mode, e.UID, e.GID, mt, e.Linkname, e.Xattrs, e.Size, hex.EncodeToString(sum[:8])))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadAheadSameOutcome installs each scenario without read-ahead and
// with several read-ahead depths, into a MemFS and a DirFS, and checks
// that the error, the result and the root are the same every time.
func TestReadAheadSameOutcome(t *testing.T) {
	for _, sc := range raScenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			want := runScenario(t, sc, NewMemFS(), -1, "")
			if testing.Verbose() {
				t.Logf("error: %s\nresult: %s", want.err, want.res)
			}
			for _, n := range []int{1, 2, 3, 16} {
				// Several runs: the workers' timing varies.
				for range 3 {
					runScenario(t, sc, NewMemFS(), n, "").diff(t, fmt.Sprintf("MemFS, read-ahead %d", n), want)
				}
			}
			// Small budgets: one package at a time, or a few (windows of
			// packages read largest first).
			for _, budget := range []int64{1, 3000, 20000} {
				runScenarioBudget(t, sc, NewMemFS(), 3, budget, "").diff(t, fmt.Sprintf("MemFS, budget %d", budget), want)
			}
			dir := func() (*DirFS, string) {
				p := filepath.Join(t.TempDir(), "root")
				d, err := OpenDir(p)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				return d, p
			}
			d, p := dir()
			wantDir := runScenario(t, sc, d, -1, p)
			if wantDir.err != want.err && !strings.Contains(want.err, ".apk.") {
				// Errors naming temporary files may differ in wording
				// between the file systems; the others may not.
				t.Errorf("DirFS error %q, MemFS error %q", wantDir.err, want.err)
			}
			d, p = dir()
			runScenario(t, sc, d, 3, p).diff(t, "DirFS, read-ahead 3", wantDir)
		})
	}
}

// TestReadAheadClosesEverything: whatever happens, every package opened
// is closed when Install returns, and no goroutine is left reading.
func TestReadAheadClosesEverything(t *testing.T) {
	var pkgs [][]byte
	for i := range 12 {
		name := fmt.Sprintf("p%02d", i)
		pkgs = append(pkgs, buildPkg(t, pkgInfo(name, "1-r0", ""), nil, append(dirs("usr/share/"+name), tEntry{Name: "usr/share/" + name + "/f", Body: strings.Repeat(name, 20000)})))
	}
	bad := rawPkg(t, legacyInfo("bad", "1-r0"), append(dirs("usr/share/bad"), tEntry{Name: "usr/share/bad/f", Body: "x", Sum: strings.Repeat("0", 40)}))
	for _, c := range []struct {
		name     string
		failAt   int // index of a bad package, -1 for none
		cancelAt int // index of the package whose Open cancels the context, -1 for none
	}{{"success", -1, -1}, {"failure", 3, -1}, {"cancel", -1, 4}} {
		t.Run(c.name, func(t *testing.T) {
			var opened, closed atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var list []Package
			for i, data := range pkgs {
				if i == c.failAt {
					data = bad
				}
				cancelHere := i == c.cancelAt
				list = append(list, Package{Open: func() (io.ReadCloser, error) {
					opened.Add(1)
					if cancelHere {
						cancel()
					}
					return &countingCloser{Reader: iotest.HalfReader(bytes.NewReader(data)), n: &closed}, nil
				}})
			}
			in := &Installer{FS: NewMemFS(), ReadAhead: 4}
			res, err := in.Install(ctx, list, Options{})
			switch {
			case c.failAt >= 0:
				var ce *apk.ChecksumError
				if !errors.As(err, &ce) || len(res.Installed) != c.failAt {
					t.Errorf("got %v after %d packages", err, len(res.Installed))
				}
			case c.cancelAt >= 0:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("got %v", err)
				}
			default:
				if err != nil || len(res.Installed) != len(pkgs) {
					t.Errorf("got %v after %d packages", err, len(res.Installed))
				}
			}
			if o, c := opened.Load(), closed.Load(); o != c {
				t.Errorf("%d packages opened, %d closed", o, c)
			}
		})
	}
}

type countingCloser struct {
	io.Reader
	n *atomic.Int64
}

func (c *countingCloser) Close() error { c.n.Add(1); return nil }

// TestReadContent: a known size is allocated exactly; more or fewer bytes
// than announced are read as they come; an error that comes with the
// last bytes is returned.
func TestReadContent(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for _, size := range []int64{0, 1, 9999, 10000, 10001, 1 << 40} {
		for _, half := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(data)
			if half {
				r = iotest.HalfReader(r)
			}
			got, err := readContent(r, size, nil)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("size %d: %d bytes, %v", size, len(got), err)
			}
			if size == int64(len(data)) && cap(got) != len(data) {
				t.Errorf("size %d: capacity %d", size, cap(got))
			}
		}
	}
	boom := errors.New("boom")
	got, err := readContent(&lastErrReader{data: data, err: boom}, int64(len(data)), nil)
	if err != boom || !bytes.Equal(got, data) {
		t.Errorf("error with the last bytes: %d bytes, %v", len(got), err)
	}
	got, err = readContent(iotest.TimeoutReader(bytes.NewReader(data)), 100, nil)
	if err == nil || len(got) > len(data) {
		t.Errorf("failing reader: %d bytes, %v", len(got), err)
	}
}

// lastErrReader returns all its data with err in one Read.
type lastErrReader struct {
	data []byte
	err  error
}

func (r *lastErrReader) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

// TestMemFSChmodChown: changing a hard-linked file's mode or owner keeps
// the link; a symlink's own mode and owner change, not its target's.
func TestMemFSChmodChown(t *testing.T) {
	m := NewMemFS()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.Create(&Entry{Name: "d", Type: TypeDir, Mode: 0o755}, nil))
	must(m.Create(&Entry{Name: "d/f", Type: TypeReg, Mode: 0o644, Size: 3}, strings.NewReader("abc")))
	must(m.Create(&Entry{Name: "d/g", Type: TypeLink, Linkname: "d/f"}, nil))
	must(m.Create(&Entry{Name: "d/l", Type: TypeSymlink, Mode: 0o777, Linkname: "f"}, nil))
	must(m.Chmod("d/f", 0o4711))
	must(m.Chown("d/g", 5, 6))
	must(m.Chown("d/l", 7, 8))
	must(m.Chmod("d", 0o700))
	must(m.Chmod("d/l", 0o700))
	if err := m.Chmod("nope", 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("chmod of nothing: %v", err)
	}
	for _, n := range []string{"d/f", "d/g"} {
		e, err := m.Lstat(n)
		must(err)
		if e.Mode != 0o4711 || e.UID != 5 || e.GID != 6 {
			t.Errorf("%s: %o %d:%d", n, e.Mode, e.UID, e.GID)
		}
	}
	var walked []string
	m.Walk(func(e *Entry, _ []byte) error {
		walked = append(walked, fmt.Sprintf("%s %v %o %d:%d %s", e.Name, e.Type, e.Mode, e.UID, e.GID, e.Linkname))
		return nil
	})
	want := []string{"d directory 700 0:0 ", "d/f regular file 4711 5:6 ", "d/g hard link 4711 5:6 d/f", "d/l symlink 700 7:8 f"}
	if !slices.Equal(walked, want) {
		t.Errorf("walk:\n%s\nwant\n%s", strings.Join(walked, "\n"), strings.Join(want, "\n"))
	}
	ents, err := m.ReadDir("d")
	must(err)
	var names []string
	for _, e := range ents {
		names = append(names, fmt.Sprintf("%s %v %d", e.Name, e.Type, e.Size))
	}
	if want := []string{"d/f regular file 3", "d/g regular file 3", "d/l symlink 0"}; !slices.Equal(names, want) {
		t.Errorf("ReadDir: %q, want %q", names, want)
	}
	if ents, err := m.ReadDir(""); err != nil || len(ents) != 1 || ents[0].Name != "d" {
		t.Errorf("ReadDir of the root: %v %v", ents, err)
	}
	if _, err := m.ReadDir("d/f"); err == nil {
		t.Error("ReadDir of a file succeeded")
	}
}
