package install

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostilePackages installs packages that try to write outside the
// root. Each must either fail or land inside the root; nothing may
// appear next to the root's directory, and no file outside may change.
func TestHostilePackages(t *testing.T) {
	type hostile struct {
		name string
		// pkgs builds the packages; outside is an absolute host path
		// next to the root (the parent directory of a DirFS root).
		pkgs func(outside string) [][]byte
		// inside, if set, is where the evil file must land when the
		// installation succeeds.
		inside string
		// mustFail says the installation must fail.
		mustFail bool
	}
	cases := []hostile{
		{name: "dotdot path", mustFail: true, pkgs: func(string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{{Name: "../evil", Body: "x"}})}
		}},
		{name: "dotdot inside path", mustFail: true, pkgs: func(string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), append(dirs("usr"), tEntry{Name: "usr/../../evil", Body: "x"}))}
		}},
		{name: "absolute path", mustFail: true, pkgs: func(outside string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{{Name: outside + "/evil", Body: "x"}})}
		}},
		{name: "absolute directory", mustFail: true, pkgs: func(outside string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{{Name: outside, Type: tar.TypeDir}, {Name: outside + "/evil", Body: "x"}})}
		}},
		{name: "symlink to absolute outside dir, then a file through it (one package)", mustFail: true, pkgs: func(outside string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{
				{Name: "x", Type: tar.TypeSymlink, Linkname: outside},
				{Name: "x/evil", Body: "x"}})}
		}},
		{name: "symlink to absolute outside dir, then its directory entry and a file (one package)", mustFail: true, pkgs: func(outside string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{
				{Name: "x", Type: tar.TypeSymlink, Linkname: outside},
				{Name: "x", Type: tar.TypeDir},
				{Name: "x/evil", Body: "x"}})}
		}},
		{name: "symlink to /etc, then a file through it (two packages)", inside: "etc/passwd-evil", pkgs: func(string) [][]byte {
			return [][]byte{
				rawPkg(t, pkgInfo("a", "1-r0", ""), []tEntry{{Name: "etc", Type: tar.TypeDir}, {Name: "x", Type: tar.TypeSymlink, Linkname: "/etc"}}),
				rawPkg(t, pkgInfo("b", "1-r0", ""), []tEntry{{Name: "x", Type: tar.TypeDir}, {Name: "x/passwd-evil", Body: "x"}}),
			}
		}},
		{name: "symlink to an absolute host path, then a file through it (two packages)", pkgs: func(outside string) [][]byte {
			return [][]byte{
				rawPkg(t, pkgInfo("a", "1-r0", ""), []tEntry{{Name: "x", Type: tar.TypeSymlink, Linkname: outside}}),
				rawPkg(t, pkgInfo("b", "1-r0", ""), []tEntry{{Name: "x", Type: tar.TypeDir}, {Name: "x/evil", Body: "x"}}),
			}
		}},
		{name: "symlink x -> ../../.., then x/evil (two packages)", inside: "evil", pkgs: func(string) [][]byte {
			return [][]byte{
				rawPkg(t, pkgInfo("a", "1-r0", ""), []tEntry{{Name: "x", Type: tar.TypeSymlink, Linkname: "../../.."}}),
				rawPkg(t, pkgInfo("b", "1-r0", ""), []tEntry{{Name: "x", Type: tar.TypeDir}, {Name: "x/evil", Body: "x"}}),
			}
		}},
		{name: "nested symlinks climbing out", inside: "evil", pkgs: func(string) [][]byte {
			return [][]byte{
				rawPkg(t, pkgInfo("a", "1-r0", ""), append(dirs("a/b/c"),
					tEntry{Name: "a/b/c/up", Type: tar.TypeSymlink, Linkname: "../../../../.."},
					tEntry{Name: "y", Type: tar.TypeSymlink, Linkname: "a/b/c/up/../.."})),
				rawPkg(t, pkgInfo("b", "1-r0", ""), []tEntry{{Name: "y", Type: tar.TypeDir}, {Name: "y/evil", Body: "x"}}),
			}
		}},
		{name: "symlink loop", mustFail: true, pkgs: func(string) [][]byte {
			return [][]byte{
				rawPkg(t, pkgInfo("a", "1-r0", ""), []tEntry{{Name: "l1", Type: tar.TypeSymlink, Linkname: "l2"}, {Name: "l2", Type: tar.TypeSymlink, Linkname: "/l1"}}),
				rawPkg(t, pkgInfo("b", "1-r0", ""), []tEntry{{Name: "l1", Type: tar.TypeDir}, {Name: "l1/evil", Body: "x"}}),
			}
		}},
		{name: "hard link to an absolute path", mustFail: true, pkgs: func(outside string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{{Name: "h", Type: tar.TypeLink, Linkname: outside + "/secret"}})}
		}},
		{name: "hard link to /etc/passwd", mustFail: true, pkgs: func(string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{{Name: "h", Type: tar.TypeLink, Linkname: "/etc/passwd"}})}
		}},
		{name: "hard link climbing out", mustFail: true, pkgs: func(string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{{Name: "h", Type: tar.TypeLink, Linkname: "../secret"}})}
		}},
		{name: "hard link to a file of another package", mustFail: true, pkgs: func(string) [][]byte {
			return [][]byte{
				rawPkg(t, pkgInfo("a", "1-r0", ""), []tEntry{{Name: "f", Body: "a"}}),
				rawPkg(t, pkgInfo("b", "1-r0", ""), []tEntry{{Name: "h", Type: tar.TypeLink, Linkname: "f"}}),
			}
		}},
		{name: "hard link through a symlinked directory", mustFail: true, pkgs: func(outside string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{
				{Name: "x", Type: tar.TypeSymlink, Linkname: outside},
				{Name: "h", Type: tar.TypeLink, Linkname: "x/secret"}})}
		}},
		{name: "hard link to a symlink pointing outside links the symlink", inside: "h", pkgs: func(outside string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{
				{Name: "s", Type: tar.TypeSymlink, Linkname: outside + "/secret"},
				{Name: "h", Type: tar.TypeLink, Linkname: "s"}})}
		}},
		{name: "a file replaces a symlink to an outside file instead of writing through it", inside: "evil", pkgs: func(outside string) [][]byte {
			return [][]byte{
				rawPkg(t, pkgInfo("a", "1-r0", "same"), []tEntry{{Name: "evil", Type: tar.TypeSymlink, Linkname: outside + "/secret"}}),
				rawPkg(t, pkgInfo("b", "1-r0", "same"), []tEntry{{Name: "evil", Body: "x"}}),
			}
		}},
		{name: "a directory entry over a symlink to an outside file", mustFail: true, pkgs: func(outside string) [][]byte {
			return [][]byte{
				rawPkg(t, pkgInfo("a", "1-r0", ""), []tEntry{{Name: "d", Type: tar.TypeSymlink, Linkname: outside + "/secret"}}),
				rawPkg(t, pkgInfo("b", "1-r0", ""), []tEntry{{Name: "d", Type: tar.TypeDir}, {Name: "d/evil", Body: "x"}}),
			}
		}},
		{name: "control characters", mustFail: true, pkgs: func(string) [][]byte {
			return [][]byte{rawPkg(t, pkgInfo("evil", "1-r0", ""), []tEntry{{Name: "a\nb", Body: "x"}})}
		}},
	}
	for _, c := range cases {
		for _, root := range newRoots(t) {
			t.Run(c.name+"/"+root.name, func(t *testing.T) {
				outside := filepath.Join(t.TempDir(), "outside")
				if root.parent != "" {
					outside = filepath.Join(root.parent, "outside")
				}
				if err := os.MkdirAll(outside, 0o755); err != nil {
					t.Fatal(err)
				}
				secret := filepath.Join(outside, "secret")
				if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
					t.Fatal(err)
				}
				var pkgs []Package
				for _, p := range c.pkgs(outside) {
					pkgs = append(pkgs, memPkg(p))
				}
				_, err := install(t, root.fs, Options{}, pkgs...)
				if c.mustFail && err == nil {
					t.Errorf("installed without error")
				}
				if err != nil {
					t.Logf("refused: %v", err)
				}
				// Outside: only the secret, unchanged.
				ents, _ := os.ReadDir(outside)
				if len(ents) != 1 {
					t.Errorf("files appeared outside the root: %v", ents)
				}
				if data, _ := os.ReadFile(secret); string(data) != "secret" {
					t.Errorf("outside file changed: %q", data)
				}
				if root.parent != "" {
					ents, _ := os.ReadDir(root.parent)
					for _, e := range ents {
						if e.Name() != "root" && e.Name() != "outside" {
							t.Errorf("%s appeared next to the root", e.Name())
						}
					}
				}
				if err == nil && c.inside != "" {
					if _, err := root.fs.Lstat(c.inside); err != nil {
						t.Errorf("%s did not land inside the root: %v", c.inside, err)
					}
				}
				if err == nil {
					verifyDB(t, root.fs, readDB(t, root.fs, "lib/apk/db"))
				}
			})
		}
	}
}

// TestFSRefusesEscapes calls the FS implementations directly with names
// that leave the root.
func TestFSRefusesEscapes(t *testing.T) {
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			for _, name := range []string{"../x", "a/../../x", "..", "x\x00y"} {
				if err := root.fs.Create(&Entry{Name: name, Type: TypeReg, Mode: 0o644}, strings.NewReader("x")); err == nil {
					t.Errorf("Create(%q) succeeded", name)
				}
				if err := root.fs.Create(&Entry{Name: "ok", Type: TypeReg, Mode: 0o644}, nil); err != nil {
					t.Fatal(err)
				}
				if err := root.fs.Rename("ok", name); err == nil {
					t.Errorf("Rename(ok, %q) succeeded", name)
				}
				if err := root.fs.Create(&Entry{Name: "l", Type: TypeLink, Linkname: name}, nil); err == nil {
					t.Errorf("Link(%q) succeeded", name)
				}
			}
			// A symlink in a parent component that leads out is not
			// followed by the FS (DirFS: os.Root refuses; MemFS: not a
			// directory).
			if err := root.fs.Create(&Entry{Name: "out", Type: TypeSymlink, Linkname: "/"}, nil); err != nil {
				t.Fatal(err)
			}
			if err := root.fs.Create(&Entry{Name: "out/tmp/evil", Type: TypeReg, Mode: 0o644}, strings.NewReader("x")); err == nil {
				t.Errorf("wrote through a symlink to /")
				os.Remove("/tmp/evil")
			}
			if err := root.fs.Create(&Entry{Name: "up", Type: TypeSymlink, Linkname: ".."}, nil); err != nil {
				t.Fatal(err)
			}
			if err := root.fs.Create(&Entry{Name: "up/evil", Type: TypeReg, Mode: 0o644}, strings.NewReader("x")); err == nil {
				t.Errorf("wrote through a symlink to ..")
			}
			root.checkParentClean(t)
		})
	}
}

func TestResolve(t *testing.T) {
	m := NewMemFS()
	mk := func(e Entry) {
		if err := m.Create(&e, nil); err != nil {
			t.Fatal(err)
		}
	}
	mk(Entry{Name: "usr", Type: TypeDir, Mode: 0o755})
	mk(Entry{Name: "usr/bin", Type: TypeDir, Mode: 0o755})
	mk(Entry{Name: "usr/lib", Type: TypeDir, Mode: 0o755})
	mk(Entry{Name: "bin", Type: TypeSymlink, Linkname: "usr/bin"})
	mk(Entry{Name: "lib", Type: TypeSymlink, Linkname: "/usr/lib"})
	mk(Entry{Name: "usr/bin/up", Type: TypeSymlink, Linkname: "../../../../.."})
	mk(Entry{Name: "usr/lib/self", Type: TypeSymlink, Linkname: "."})
	mk(Entry{Name: "loop", Type: TypeSymlink, Linkname: "loop"})
	mk(Entry{Name: "file", Type: TypeReg})
	for _, c := range []struct{ in, want, parent string }{
		{"bin/sh", "usr/bin/sh", "usr/bin/sh"},
		{"bin", "usr/bin", "bin"},
		{"lib/apk/db", "usr/lib/apk/db", "usr/lib/apk/db"},
		{"bin/up", "", "usr/bin/up"},
		{"bin/up/etc/passwd", "etc/passwd", "etc/passwd"},
		{"lib/self/self/x", "usr/lib/x", "usr/lib/x"},
		{"/../../x", "x", "x"},
		{"nonexistent/a/b", "nonexistent/a/b", "nonexistent/a/b"},
	} {
		got, err := Resolve(m, c.in)
		if err != nil || got != c.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		got, err = ResolveParent(m, c.in)
		if err != nil || got != c.parent {
			t.Errorf("ResolveParent(%q) = %q, %v; want %q", c.in, got, err, c.parent)
		}
	}
	if _, err := Resolve(m, "loop/x"); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("loop: %v", err)
	}
	if _, err := Resolve(m, "file/x"); err == nil {
		t.Errorf("file/x resolved")
	}
}
