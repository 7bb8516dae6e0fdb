package install

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/repo"
)

// melangeRepo returns the melange-built fixture repository's packages in
// an install order where replayout comes after pretend-baselayout.
func melangeRepo(t *testing.T) []Package {
	t.Helper()
	dir := filepath.Join(fixtures, "melange-built-repo/packages/x86_64")
	recs := loadRepoIndex(t, dir, filepath.Join(fixtures, "melange-built-repo/melange.rsa.pub"))
	order := map[string]int{"pretend-baselayout": 0, "replayout": 1, "custom-ca-certs-1": 2, "custom-ca-certs-2": 3}
	sort.Slice(recs, func(i, j int) bool { return order[recs[i].Name] < order[recs[j].Name] })
	var pkgs []Package
	for _, r := range recs {
		pkgs = append(pkgs, filePkg(filepath.Join(dir, r.Filename()), r))
	}
	return pkgs
}

func TestInstallMelangeRepo(t *testing.T) {
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			key, err := os.ReadFile(filepath.Join(fixtures, "melange-built-repo/melange.rsa.pub"))
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{
				World:        []string{"replayout", "custom-ca-certs-1", "custom-ca-certs-2"},
				Repositories: []string{"https://example.invalid/packages"},
				Keys:         []Key{{Name: "melange.rsa.pub", Data: key}},
			}
			res, err := install(t, root.fs, opts, melangeRepo(t)...)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Installed) != 4 {
				t.Fatalf("installed %d packages", len(res.Installed))
			}
			db := readDB(t, root.fs, "lib/apk/db")
			// 2 (pretend-baselayout) + 2 (replayout) + 3 + 3, less the
			// os-release that replayout took over.
			if n := verifyDB(t, root.fs, db); n != 9 {
				t.Errorf("database lists %d files, want 9", n)
			}
			// replayout replaces pretend-baselayout's etc/os-release
			// (102 bytes in replayout, 99 in pretend-baselayout).
			if osr, err := ReadFile(root.fs, "etc/os-release"); err != nil || len(osr) != 102 {
				t.Errorf("etc/os-release is not replayout's: %q %v", osr, err)
			}
			byName := map[string]*InstalledPackage{}
			for _, p := range db {
				byName[p.Name] = p
			}
			if d := byName["pretend-baselayout"].dir("etc"); d == nil || len(d.Files) != 0 {
				t.Errorf("pretend-baselayout still owns etc/os-release: %+v", d)
			}
			if d := byName["replayout"].dir("etc"); d == nil || len(d.Files) != 1 || d.Files[0].Name != "os-release" {
				t.Errorf("replayout does not own etc/os-release: %+v", d)
			}
			if got := byName["replayout"].Replaces; len(got) != 1 || got[0] != "pretend-baselayout" {
				t.Errorf("replayout r: = %v", got)
			}
			// The owners the package gives (501/dialout on the build
			// machine; no passwd in the root, so the numbers) are kept.
			f := byName["custom-ca-certs-1"].dir("usr/local/share/ca-certificates").Files[0]
			if f.UID != 501 {
				t.Errorf("cert-a.crt owner %d:%d, want the package's 501", f.UID, f.GID)
			}
			st, err := root.fs.Lstat("usr/local/share/ca-certificates/cert-a.crt")
			if err != nil || st.UID != 501 || st.GID != f.GID {
				t.Errorf("cert-a.crt on the root: %+v %v", st, err)
			}
			// The database records what the index says.
			for _, p := range db {
				if p.Checksum == "" || !strings.HasPrefix(p.Checksum, "Q1") || p.Size == 0 {
					t.Errorf("%s: C:%s S:%d", p, p.Checksum, p.Size)
				}
			}
			world, _ := ReadFile(root.fs, "etc/apk/world")
			if string(world) != "custom-ca-certs-1\ncustom-ca-certs-2\nreplayout\n" {
				t.Errorf("world = %q", world)
			}
			arch, _ := ReadFile(root.fs, "etc/apk/arch")
			if string(arch) != "x86_64\n" {
				t.Errorf("arch = %q", arch)
			}
			repos, _ := ReadFile(root.fs, "etc/apk/repositories")
			if string(repos) != "https://example.invalid/packages\n" {
				t.Errorf("repositories = %q", repos)
			}
			k, _ := ReadFile(root.fs, "etc/apk/keys/melange.rsa.pub")
			if !bytes.Equal(k, key) {
				t.Errorf("key not copied")
			}
			st2, err := ReadFile(root.fs, "lib/apk/db/scripts.tar")
			if err != nil || len(st2) != 1024 {
				t.Errorf("scripts.tar: %d bytes, %v (want just the end-of-archive blocks)", len(st2), err)
			}
			root.checkParentClean(t)
		})
	}
}

// TestInstallWolfiPackages installs real Wolfi packages (local files, no
// index) with apko's database layout.
func TestInstallWolfiPackages(t *testing.T) {
	dir := filepath.Join(fixtures, "wolfi-packages/x86_64")
	files, err := filepath.Glob(filepath.Join(dir, "*.apk"))
	if err != nil || len(files) < 4 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			var pkgs []Package
			for _, f := range files {
				pkgs = append(pkgs, filePkg(f, nil))
			}
			in := &Installer{FS: root.fs, Arch: "x86_64", Layout: LayoutApko}
			res, err := in.Install(context.Background(), pkgs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Installed) != len(files) {
				t.Fatalf("installed %d of %d", len(res.Installed), len(files))
			}
			db := readDB(t, root.fs, "usr/lib/apk/db")
			n := verifyDB(t, root.fs, db)
			if n < 30 || n != res.Files {
				t.Errorf("database lists %d files, Install wrote %d", n, res.Files)
			}
			// apko's layout: lib/apk -> ../usr/lib/apk.
			st, err := root.fs.Lstat("lib/apk")
			if err != nil || st.Type != TypeSymlink || st.Linkname != "../usr/lib/apk" {
				t.Errorf("lib/apk = %+v, %v", st, err)
			}
			if again := readDB(t, root.fs, "lib/apk/db"); len(again) != len(db) {
				t.Errorf("lib/apk/db/installed does not lead to the database")
			}
			// Identity and size come from the file.
			for _, p := range db {
				fi, err := os.Stat(filepath.Join(dir, p.Filename()))
				if err != nil || uint64(fi.Size()) != p.Size {
					t.Errorf("%s: S:%d, file %v", p, p.Size, err)
				}
			}
			// hello-wolfi's binary is executable.
			real, _ := Resolve(root.fs, "usr/bin/hello")
			if st, err := root.fs.Lstat(real); err != nil || st.Mode != 0o755 {
				t.Errorf("usr/bin/hello: %+v %v", st, err)
			}
			root.checkParentClean(t)

			// Installing the same files again is a no-op; a second
			// installer run adds to the database.
			res, err = in.Install(context.Background(), pkgs[:1], Options{World: []string{"hello-wolfi"}})
			if err != nil || len(res.Installed) != 0 {
				t.Fatalf("reinstall: %v, %d installed", err, len(res.Installed))
			}
			if again := readDB(t, root.fs, "usr/lib/apk/db"); len(again) != len(db) {
				t.Errorf("database changed size on reinstall")
			}
		})
	}
}

// TestInstallExistingRoot installs into a root in two runs and checks
// that the second run adds to the database, and that an upgrade is
// refused with a clear error.
func TestInstallExistingRoot(t *testing.T) {
	a := buildPkg(t, pkgInfo("a", "1.0-r0", ""), nil, append(dirs("usr/bin"), tEntry{Name: "usr/bin/a", Body: "a", Mode: 0o755}))
	b := buildPkg(t, pkgInfo("b", "1.0-r0", ""), nil, append(dirs("usr/bin"), tEntry{Name: "usr/bin/b", Body: "b"}))
	a2 := buildPkg(t, pkgInfo("a", "2.0-r0", ""), nil, append(dirs("usr/bin"), tEntry{Name: "usr/bin/a", Body: "a2"}))
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			if _, err := install(t, root.fs, Options{World: []string{"a"}}, memPkg(a)); err != nil {
				t.Fatal(err)
			}
			if _, err := install(t, root.fs, Options{World: []string{"b"}}, memPkg(b)); err != nil {
				t.Fatal(err)
			}
			db := readDB(t, root.fs, "lib/apk/db")
			if len(db) != 2 || db[0].Name != "a" || db[1].Name != "b" {
				t.Fatalf("database: %v", db)
			}
			verifyDB(t, root.fs, db)
			world, _ := ReadFile(root.fs, "etc/apk/world")
			if string(world) != "a\nb\n" {
				t.Errorf("world = %q", world)
			}
			_, err := install(t, root.fs, Options{}, memPkg(a2))
			var pe *PackageError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), "upgrading to 2.0-r0 is not supported yet") {
				t.Fatalf("upgrade: %v", err)
			}
			if data, _ := ReadFile(root.fs, "usr/bin/a"); string(data) != "a" {
				t.Errorf("usr/bin/a changed: %q", data)
			}
			// Another architecture is refused.
			in := &Installer{FS: root.fs, Arch: "aarch64"}
			if _, err := in.Install(context.Background(), nil, Options{}); err == nil || !strings.Contains(err.Error(), "x86_64, not aarch64") {
				t.Errorf("arch mismatch: %v", err)
			}
		})
	}
}

func pkgInfo(name, ver, origin string) apk.PkgInfo {
	return apk.PkgInfo{Name: name, Version: ver, Origin: origin, Arch: "x86_64", BuildDate: 1700000000}
}

// legacyInfo is pkgInfo for rawPkg's packages without a datahash, whose
// per-file checksums the installer checks.
func legacyInfo(name, ver string) apk.PkgInfo {
	info := pkgInfo(name, ver, "")
	info.DataHash = "legacy"
	return info
}

// TestIndexMismatch checks that a file that is not what the index says
// is refused before anything is written.
func TestIndexMismatch(t *testing.T) {
	data := buildPkg(t, pkgInfo("a", "1.0-r0", ""), nil, append(dirs("usr"), tEntry{Name: "usr/a", Body: "a"}))
	for _, c := range []struct {
		rec  repo.Package
		want string
	}{
		{repo.Package{Name: "a", Version: "1.0-r0", Checksum: "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", InstalledSize: 1}, "does not match the index's C:"},
		{repo.Package{Name: "a", Version: "1.1-r0", InstalledSize: 1}, "not the package the index describes"},
	} {
		fsys := NewMemFS()
		p := memPkg(data)
		rec := c.rec
		p.Index = &rec
		_, err := install(t, fsys, Options{}, p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
		if _, err := fsys.Lstat("usr"); !isNotExist(err) {
			t.Errorf("files written for a mismatching package")
		}
	}
	// A meta package (I:0) is recorded without being opened.
	fsys := NewMemFS()
	res, err := install(t, fsys, Options{}, Package{Index: &repo.Package{Name: "meta", Version: "1-r0", Checksum: "Q1x"}})
	if err != nil || len(res.Installed) != 1 {
		t.Fatalf("meta package: %v", err)
	}
}
