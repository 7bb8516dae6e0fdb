package install

import (
	"archive/tar"
	"context"
	"errors"
	"strings"
	"testing"
)

// conflictPkg builds a package shipping usr/bin/foo (content = name) and
// usr/bin/<name>-only.
func conflictPkg(t *testing.T, name, ver, origin string, replaces []string, prio uint64) []byte {
	info := pkgInfo(name, ver, origin)
	info.Replaces = replaces
	info.ReplacesPriority = prio
	return buildPkg(t, info, nil, append(dirs("usr/bin"),
		tEntry{Name: "usr/bin/foo", Body: name, Mode: 0o755},
		tEntry{Name: "usr/bin/" + name + "-only", Body: name}))
}

func TestFileConflicts(t *testing.T) {
	type pkg struct {
		name, ver, origin string
		replaces          []string
		prio              uint64
	}
	for _, c := range []struct {
		name  string
		a, b  pkg
		force bool
		owner string // who owns usr/bin/foo afterwards; "" means an error
		warn  string
	}{
		{"same origin", pkg{name: "a", origin: "src"}, pkg{name: "b", origin: "src"}, false, "b", ""},
		{"b replaces a", pkg{name: "a", origin: "a"}, pkg{name: "b", origin: "b", replaces: []string{"a"}}, false, "b", ""},
		{"b replaces a<2", pkg{name: "a", origin: "a"}, pkg{name: "b", origin: "b", replaces: []string{"a<2"}}, false, "b", ""},
		{"b replaces a<1 (no match)", pkg{name: "a", origin: "a"}, pkg{name: "b", origin: "b", replaces: []string{"a<1"}}, false, "", ""},
		{"no relation", pkg{name: "a", origin: "a"}, pkg{name: "b", origin: "b"}, false, "", ""},
		{"a replaces b only", pkg{name: "a", origin: "a", replaces: []string{"b"}}, pkg{name: "b", origin: "b"}, false, "a", "kept from a-1.0-r0"},
		{"a has the higher priority", pkg{name: "a", origin: "a", replaces: []string{"b"}, prio: 10}, pkg{name: "b", origin: "b", replaces: []string{"a"}, prio: 1}, false, "a", "higher replaces_priority"},
		{"b has the higher priority", pkg{name: "a", origin: "a", replaces: []string{"b"}, prio: 1}, pkg{name: "b", origin: "b", replaces: []string{"a"}, prio: 10}, false, "b", ""},
		{"equal priorities: the newcomer wins", pkg{name: "a", origin: "a", replaces: []string{"b"}}, pkg{name: "b", origin: "b", replaces: []string{"a"}}, false, "b", ""},
		{"forced", pkg{name: "a", origin: "a"}, pkg{name: "b", origin: "b"}, true, "b", "forced"},
	} {
		for _, root := range newRoots(t) {
			t.Run(c.name+"/"+root.name, func(t *testing.T) {
				if c.a.ver == "" {
					c.a.ver = "1.0-r0"
				}
				if c.b.ver == "" {
					c.b.ver = "1.0-r0"
				}
				a := conflictPkg(t, c.a.name, c.a.ver, c.a.origin, c.a.replaces, c.a.prio)
				b := conflictPkg(t, c.b.name, c.b.ver, c.b.origin, c.b.replaces, c.b.prio)
				in := &Installer{FS: root.fs, ForceOverwrite: c.force}
				res, err := in.Install(context.Background(), []Package{memPkg(a), memPkg(b)}, Options{})
				db := readDB(t, root.fs, "lib/apk/db")
				verifyDB(t, root.fs, db)
				if c.owner == "" {
					var ce *ConflictError
					if !errors.As(err, &ce) {
						t.Fatalf("want a ConflictError, got %v", err)
					}
					want := "b-1.0-r0: file usr/bin/foo: owned by a-1.0-r0, also in b-1.0-r0 (no replaces"
					if !strings.HasPrefix(err.Error(), want) {
						t.Errorf("error %q\nwant prefix %q", err, want)
					}
					// Nothing of b was installed, a is recorded.
					if len(db) != 1 || db[0].Name != "a" {
						t.Errorf("database: %v", db)
					}
					if _, err := root.fs.Lstat("usr/bin/b-only"); !isNotExist(err) {
						t.Errorf("b's other file was left behind: %v", err)
					}
					if data, _ := ReadFile(root.fs, "usr/bin/foo"); string(data) != "a" {
						t.Errorf("usr/bin/foo = %q, want a's", data)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if data, _ := ReadFile(root.fs, "usr/bin/foo"); string(data) != c.owner {
					t.Errorf("usr/bin/foo = %q, want %s's", data, c.owner)
				}
				owners := 0
				for _, p := range db {
					for _, f := range p.dir("usr/bin").Files {
						if f.Name == "foo" {
							owners++
							if p.Name != c.owner {
								t.Errorf("database: foo owned by %s, want %s", p.Name, c.owner)
							}
						}
					}
				}
				if owners != 1 {
					t.Errorf("foo has %d owners in the database", owners)
				}
				if c.warn != "" && !strings.Contains(strings.Join(res.Warnings, "\n"), c.warn) {
					t.Errorf("warnings %q lack %q", res.Warnings, c.warn)
				}
			})
		}
	}
}

// TestConflictThroughSymlinkedDir: on a usrmerged root (bin ->
// usr/bin), a package shipping bin/foo conflicts with the owner of
// usr/bin/foo, since they are the same file.
func TestConflictThroughSymlinkedDir(t *testing.T) {
	base := buildPkg(t, pkgInfo("baselayout", "1-r0", ""), nil, append(dirs("usr/bin"),
		tEntry{Name: "bin", Type: tar.TypeSymlink, Linkname: "usr/bin"},
		tEntry{Name: "usr/bin/foo", Body: "base"}))
	old := buildPkg(t, pkgInfo("oldstyle", "1-r0", ""), nil, []tEntry{
		{Name: "bin", Type: tar.TypeDir},
		{Name: "bin/bar", Body: "bar"},
		{Name: "bin/foo", Body: "old"}})
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			_, err := install(t, root.fs, Options{}, memPkg(base), memPkg(old))
			var ce *ConflictError
			if !errors.As(err, &ce) || ce.Path != "bin/foo" || ce.Owner != "baselayout-1-r0" {
				t.Fatalf("want a conflict on bin/foo, got %v", err)
			}
		})
	}
}

// TestUsrMerge: a package that still ships /bin installs into usr/bin
// when bin is a symlink to usr/bin (absolute or relative).
func TestUsrMerge(t *testing.T) {
	for _, target := range []string{"usr/bin", "/usr/bin", "./usr/../usr/bin"} {
		base := buildPkg(t, pkgInfo("baselayout", "1-r0", ""), nil, append(dirs("usr/bin"),
			tEntry{Name: "bin", Type: tar.TypeSymlink, Linkname: target}))
		old := buildPkg(t, pkgInfo("oldstyle", "1-r0", ""), nil, []tEntry{
			{Name: "bin", Type: tar.TypeDir},
			{Name: "bin/sh", Body: "#!", Mode: 0o755}})
		for _, root := range newRoots(t) {
			t.Run(target+"/"+root.name, func(t *testing.T) {
				if _, err := install(t, root.fs, Options{}, memPkg(base), memPkg(old)); err != nil {
					t.Fatal(err)
				}
				st, err := root.fs.Lstat("usr/bin/sh")
				if err != nil || st.Type != TypeReg {
					t.Fatalf("usr/bin/sh: %+v %v", st, err)
				}
				if st, err := root.fs.Lstat("bin"); err != nil || st.Type != TypeSymlink {
					t.Fatalf("bin is no longer a symlink: %+v %v", st, err)
				}
				db := readDB(t, root.fs, "lib/apk/db")
				if n := verifyDB(t, root.fs, db); n != 2 {
					t.Errorf("%d files in the database", n)
				}
				root.checkParentClean(t)
			})
		}
	}
}
