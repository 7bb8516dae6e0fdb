package install

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/reef-dev/reef/internal/apk"
)

// TestFailedPackageLeavesNothing: a package whose content does not
// match its checksum fails, and none of its files stay in the root; the
// packages before it are installed and recorded. (Per-file checksums are
// checked for packages without a datahash, as here.)
func TestFailedPackageLeavesNothing(t *testing.T) {
	good := buildPkg(t, pkgInfo("good", "1-r0", ""), nil, append(dirs("usr/bin"), tEntry{Name: "usr/bin/good", Body: "good"}))
	bad := rawPkg(t, legacyInfo("bad", "1-r0"), append(dirs("usr/bin"),
		tEntry{Name: "usr/bin/first", Body: "fine"},
		tEntry{Name: "usr/bin/second", Body: "tampered", Sum: strings.Repeat("0", 40)},
		tEntry{Name: "usr/bin/third", Body: "fine"}))
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			res, err := install(t, root.fs, Options{World: []string{"good", "bad"}}, memPkg(good), memPkg(bad))
			var ce *apk.ChecksumError
			if !errors.As(err, &ce) {
				t.Fatalf("want a checksum error, got %v", err)
			}
			if len(res.Installed) != 1 {
				t.Errorf("installed %v", res.Installed)
			}
			for _, n := range []string{"usr/bin/first", "usr/bin/second", "usr/bin/third"} {
				if _, err := root.fs.Lstat(n); !isNotExist(err) {
					t.Errorf("%s was left in the root", n)
				}
			}
			// No temporary files either.
			switch fsys := root.fs.(type) {
			case *MemFS:
				fsys.Walk(func(e *Entry, _ []byte) error {
					if strings.Contains(e.Name, ".apk.") {
						t.Errorf("temporary file %s left", e.Name)
					}
					return nil
				})
			case *DirFS:
				filepath.WalkDir(fsys.Dir(), func(p string, _ fs.DirEntry, _ error) error {
					if strings.Contains(p, ".apk.") {
						t.Errorf("temporary file %s left", p)
					}
					return nil
				})
			}
			db := readDB(t, root.fs, "lib/apk/db")
			if len(db) != 1 || db[0].Name != "good" {
				t.Errorf("database: %v", db)
			}
			verifyDB(t, root.fs, db)
			root.checkParentClean(t)
		})
	}
}

// TestApkoLayoutMergedLib: with lib -> usr/lib in the root (Wolfi's
// merged-lib), apko's layout needs no lib/apk symlink.
func TestApkoLayoutMergedLib(t *testing.T) {
	base := buildPkg(t, pkgInfo("baselayout", "1-r0", ""), nil, append(dirs("usr/lib"),
		tEntry{Name: "lib", Type: tar.TypeSymlink, Linkname: "usr/lib"}))
	for _, layout := range []Layout{LayoutApk, LayoutApko} {
		for _, root := range newRoots(t) {
			t.Run(root.name, func(t *testing.T) {
				in := &Installer{FS: root.fs, Layout: layout}
				if _, err := in.Install(context.Background(), []Package{memPkg(base)}, Options{}); err != nil {
					t.Fatal(err)
				}
				if st, err := root.fs.Lstat("lib"); err != nil || st.Type != TypeSymlink {
					t.Fatalf("lib: %+v %v", st, err)
				}
				if st, err := root.fs.Lstat("usr/lib/apk/db/installed"); err != nil || st.Type != TypeReg {
					t.Fatalf("usr/lib/apk/db/installed: %+v %v", st, err)
				}
				if db, err := LoadInstalled(root.fs); err != nil || len(db) != 1 {
					t.Fatalf("LoadInstalled: %v %v", db, err)
				}
			})
		}
	}
}

func TestMergeWorld(t *testing.T) {
	got := MergeWorld([]string{"zlib", "Busybox", "apk-tools>2"}, []string{"apk-tools", "busybox=1.0", "!foo", "bar@edge"})
	want := []string{"apk-tools", "bar@edge", "Busybox", "busybox=1.0", "!foo", "zlib"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("MergeWorld = %q, want %q", got, want)
	}
}

func TestWriteTriggers(t *testing.T) {
	pkgs := []*InstalledPackage{{}, {}}
	pkgs[0].Name, pkgs[0].Checksum = "a", "Q1a="
	pkgs[1].Name, pkgs[1].Checksum = "b", "Q1b="
	var b bytes.Buffer
	WriteTriggers(&b, pkgs, map[string][]string{"Q1b=": {"/usr/share/fonts/*", "/etc/x"}})
	if b.String() != "Q1b= /usr/share/fonts/* /etc/x\n" {
		t.Errorf("triggers = %q", b.String())
	}
}

func TestScriptsTarRoundTrip(t *testing.T) {
	p := &InstalledPackage{}
	p.Name, p.Version, p.Checksum, p.BuildTime = "busybox", "1.36.1-r2", "Q1abc/def+ghi=", 1700000000
	long := &InstalledPackage{}
	long.Name, long.Version, long.Checksum = strings.Repeat("n", 90), "1-r0", "Q1zzz="
	scripts := map[string]map[string][]byte{
		p.Checksum:    {"post-install": []byte("#!/bin/sh\n"), "trigger": []byte("t")},
		long.Checksum: {"pre-install": []byte("x")},
	}
	var b bytes.Buffer
	if err := WriteScriptsTar(&b, []*InstalledPackage{p, long}, scripts); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b.Bytes()))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if h.Mode != 0o755 || h.Uname != "root" || h.Format != tar.FormatGNU {
			t.Errorf("%s: mode %o uname %q format %v", h.Name, h.Mode, h.Uname, h.Format)
		}
	}
	want := []string{"busybox-1.36.1-r2.Q1abc/def+ghi=.post-install", "busybox-1.36.1-r2.Q1abc/def+ghi=.trigger", long.Name + "-1-r0.Q1zzz=.pre-install"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("entries %q, want %q", names, want)
	}
	if !bytes.Equal(b.Bytes()[b.Len()-1024:], make([]byte, 1024)) {
		t.Errorf("no end-of-archive blocks")
	}
	got, err := ReadScriptsTar(bytes.NewReader(b.Bytes()))
	if err != nil || string(got[p.Checksum]["post-install"]) != "#!/bin/sh\n" || string(got[long.Checksum]["pre-install"]) != "x" {
		t.Errorf("ReadScriptsTar = %v, %v", got, err)
	}
}

// TestDirectoryPermissionsMerge: a directory shipped by two packages gets
// the union of their modes and the lowest owner, as apk-tools does; a
// directory that no package owned takes the package's permissions.
func TestDirectoryPermissionsMerge(t *testing.T) {
	a := buildPkg(t, pkgInfo("a", "1-r0", ""), nil, []tEntry{{Name: "srv", Type: tar.TypeDir, Mode: 0o750, Uid: 10, Gid: 10}})
	b := buildPkg(t, pkgInfo("b", "1-r0", ""), nil, []tEntry{{Name: "srv", Type: tar.TypeDir, Mode: 0o705, Uid: 20, Gid: 5}, {Name: "tmp", Type: tar.TypeDir, Mode: 0o1777}})
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			// tmp exists beforehand, owned by no package.
			if err := root.fs.Create(&Entry{Name: "tmp", Type: TypeDir, Mode: 0o700, UID: 3, GID: 3}, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := install(t, root.fs, Options{}, memPkg(a), memPkg(b)); err != nil {
				t.Fatal(err)
			}
			st, _ := root.fs.Lstat("srv")
			if st.Mode != 0o755 || st.UID != 10 || st.GID != 10 {
				t.Errorf("srv: %o %d:%d, want 755 10:10", st.Mode, st.UID, st.GID)
			}
			st, _ = root.fs.Lstat("tmp")
			if st.Mode != 0o1777 || st.UID != 0 || st.GID != 0 {
				t.Errorf("tmp: %o %d:%d, want 1777 0:0", st.Mode, st.UID, st.GID)
			}
		})
	}
}

// A directory install takes apk's database lock (lib/apk/db/lock) once
// the root has a database, and a lock on the root itself, and fails at
// once while another process holds either, in either layout.
func TestDatabaseLock(t *testing.T) {
	pkg := func(name string) Package {
		return memPkg(buildPkg(t, pkgInfo(name, "1-r0", ""), nil, append(dirs("etc"), tEntry{Name: "etc/" + name, Body: name})))
	}
	for _, layout := range []Layout{LayoutApk, LayoutApko} {
		t.Run(layout.dbDir(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "root")
			d, err := OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			in := &Installer{FS: d, Arch: "x86_64", Layout: layout}
			if _, err := in.Install(t.Context(), []Package{pkg("a")}, Options{}); err != nil {
				t.Fatal(err)
			}
			// The lock file is where apk looks for it.
			lock := filepath.Join(dir, "lib/apk/db/lock")
			if _, err := os.Stat(lock); err != nil {
				t.Fatalf("no lock file: %v", err)
			}
			f, err := os.OpenFile(lock, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatalf("lock still held after Install: %v", err)
			}
			_, err = in.Install(t.Context(), []Package{pkg("b")}, Options{})
			if err == nil || !strings.Contains(err.Error(), "locked by another process") {
				t.Fatalf("install while locked: got %v", err)
			}
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			// The root's own lock.
			rf, err := os.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer rf.Close()
			syscall.Flock(int(rf.Fd()), syscall.LOCK_EX)
			if _, err := in.Install(t.Context(), []Package{pkg("b")}, Options{}); err == nil || !strings.Contains(err.Error(), "locked by another process") {
				t.Fatalf("install while the root is locked: got %v", err)
			}
			syscall.Flock(int(rf.Fd()), syscall.LOCK_UN)
			if _, err := in.Install(t.Context(), []Package{pkg("c")}, Options{}); err != nil {
				t.Errorf("install after unlock: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "etc/b")); err == nil {
				t.Error("the install that found the lock taken wrote etc/b")
			}
		})
	}
}

// A package with a datahash is trusted as a whole, as apk-tools trusts
// it: a per-file checksum record that does not match its file (the
// packager's inconsistency, since the datahash covers the bytes) is not
// checked, and the record is what the database keeps, as apk keeps it.
// Any change to the bytes is still refused, by the datahash (the
// "datahash" case of TestReadAheadSameOutcome).
func TestDataHashCoversFiles(t *testing.T) {
	wrong := strings.Repeat("ab", 20)
	raw, _ := hex.DecodeString(wrong)
	want := "Q1" + base64.StdEncoding.EncodeToString(raw)
	pkg := rawPkg(t, pkgInfo("x", "1-r0", ""), append(dirs("usr/bin"), tEntry{Name: "usr/bin/x", Body: "content", Sum: wrong}))
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			if _, err := install(t, root.fs, Options{World: []string{"x"}}, memPkg(pkg)); err != nil {
				t.Fatalf("install: %v", err)
			}
			var got string
			for _, d := range readDB(t, root.fs, "lib/apk/db")[0].Dirs {
				for _, f := range d.Files {
					if d.Path == "usr/bin" && f.Name == "x" {
						got = f.Checksum
					}
				}
			}
			if got != want {
				t.Errorf("database checksum %q, want the package's record %q", got, want)
			}
		})
	}
}
