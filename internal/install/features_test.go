package install

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOwnersModesXattrsLinks installs packages using what apko drops:
// owners (by name, resolved in the root's etc/passwd and etc/group as
// apk does), setuid bits, xattrs, hard links, FIFOs, device nodes, and
// directory permissions.
func TestOwnersModesXattrsLinks(t *testing.T) {
	base := buildPkg(t, pkgInfo("base", "1-r0", ""), nil, append(dirs("etc"),
		tEntry{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\napp:x:1000:1001::/home/app:/bin/sh\n"},
		tEntry{Name: "etc/group", Body: "root:x:0:\nnogroup:x:65533:\napp:x:1001:\n"}))
	app := buildPkg(t, pkgInfo("app", "1-r0", ""), nil, []tEntry{
		{Name: "srv", Type: tar.TypeDir, Mode: 0o750, Uid: 5, Gid: 6, Uname: "app", Gname: "app"},
		{Name: "srv/data", Body: "data", Mode: 0o640, Uid: 99, Gid: 99, Uname: "nobody", Gname: "nogroup"},
		{Name: "srv/raw", Body: "raw", Uid: 1234, Gid: 4321, Uname: "ghost", Gname: "ghosts"},
		{Name: "srv/suid", Body: "suid", Mode: 0o4755},
		{Name: "srv/hard", Type: tar.TypeLink, Linkname: "srv/suid", Mode: 0o4755},
		{Name: "srv/cap", Body: "cap", Mode: 0o755, Xattrs: map[string]string{"user.reef": "yes"}},
		{Name: "srv/fifo", Type: tar.TypeFifo, Mode: 0o600},
		{Name: "srv/null", Type: tar.TypeChar, Mode: 0o666},
		{Name: "srv/link", Type: tar.TypeSymlink, Linkname: "data"},
		{Name: "srv/.keep_srv", Body: ""},
	})
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			res, err := install(t, root.fs, Options{}, memPkg(base), memPkg(app))
			if err != nil {
				if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) {
					t.Skipf("not permitted here: %v", err)
				}
				t.Fatal(err)
			}
			if len(res.Warnings) > 0 {
				t.Errorf("warnings: %q", res.Warnings)
			}
			db := readDB(t, root.fs, "lib/apk/db")
			verifyDB(t, root.fs, db)
			var ap *InstalledPackage
			for _, p := range db {
				if p.Name == "app" {
					ap = p
				}
			}
			srv := ap.dir("srv")
			if srv == nil || srv.UID != 1000 || srv.GID != 1001 || srv.Mode != 0o750 {
				t.Errorf("srv in the database: %+v", srv)
			}
			files := map[string]InstalledFile{}
			for _, f := range srv.Files {
				files[f.Name] = f
			}
			if _, ok := files[".keep_srv"]; ok {
				t.Errorf(".keep_* files must be skipped")
			}
			check := func(name string, typ Type, uid, gid int, mode uint32) *Entry {
				t.Helper()
				st, err := root.fs.Lstat("srv/" + name)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if st.Type != typ || st.UID != uid || st.GID != gid || st.Mode != mode {
					t.Errorf("%s on the root: %s %d:%d %o, want %s %d:%d %o", name, st.Type, st.UID, st.GID, st.Mode, typ, uid, gid, mode)
				}
				f := files[name]
				if f.UID != uid || f.GID != gid || f.Mode != mode {
					t.Errorf("%s in the database: %d:%d %o, want %d:%d %o", name, f.UID, f.GID, f.Mode, uid, gid, mode)
				}
				return st
			}
			check("data", TypeReg, 65534, 65533, 0o640) // names win over numbers
			check("raw", TypeReg, 1234, 4321, 0o644)    // unknown names: the numbers
			check("suid", TypeReg, 0, 0, 0o4755)
			check("hard", TypeReg, 0, 0, 0o4755)
			check("cap", TypeReg, 0, 0, 0o755)
			check("fifo", TypeFifo, 0, 0, 0o600)
			check("null", TypeChar, 0, 0, 0o666)
			check("link", TypeSymlink, 0, 0, 0o777)
			if files["hard"].Checksum != files["suid"].Checksum || files["hard"].Checksum == "" {
				t.Errorf("hard link Z: %q, target %q", files["hard"].Checksum, files["suid"].Checksum)
			}
			if want := XattrHash(map[string]string{"user.reef": "yes"}); files["cap"].XattrHash != want {
				t.Errorf("cap xattr hash %q, want %q", files["cap"].XattrHash, want)
			}
			st, _ := root.fs.Lstat("srv/data")
			if !st.ModTime.Equal(time.Unix(1700000000, 0)) {
				t.Errorf("mtime %v, want the package's", st.ModTime)
			}
			switch fsys := root.fs.(type) {
			case *MemFS:
				e, _ := fsys.Lstat("srv/cap")
				if e.Xattrs["user.reef"] != "yes" {
					t.Errorf("xattrs %v", e.Xattrs)
				}
				var links []string
				fsys.Walk(func(e *Entry, data []byte) error {
					if e.Type == TypeLink {
						links = append(links, e.Name+"->"+e.Linkname)
					}
					return nil
				})
				if len(links) != 1 || links[0] != "srv/suid->srv/hard" {
					t.Errorf("Walk reports hard links %v", links)
				}
			case *DirFS:
				a, _ := os.Stat(filepath.Join(fsys.Dir(), "srv/suid"))
				b, _ := os.Stat(filepath.Join(fsys.Dir(), "srv/hard"))
				if !os.SameFile(a, b) {
					t.Errorf("srv/hard is not a hard link to srv/suid")
				}
				buf := make([]byte, 16)
				n, err := syscall.Getxattr(filepath.Join(fsys.Dir(), "srv/cap"), "user.reef", buf)
				if err != nil {
					t.Logf("getxattr: %v (file system without user xattrs?)", err)
				} else if string(buf[:n]) != "yes" {
					t.Errorf("xattr = %q", buf[:n])
				}
			}
		})
	}
}

// TestMemFSWalk checks the walk order and that it is the same every
// time.
func TestMemFSWalk(t *testing.T) {
	m := NewMemFS()
	for _, e := range []Entry{
		{Name: "b", Type: TypeDir}, {Name: "a", Type: TypeDir}, {Name: "a/z", Type: TypeReg},
		{Name: "a/b", Type: TypeDir}, {Name: "a/b/c", Type: TypeSymlink, Linkname: "/x"},
		{Name: "a-", Type: TypeReg}, {Name: "B", Type: TypeReg},
	} {
		e := e
		if err := m.Create(&e, strings.NewReader(e.Name)); err != nil {
			t.Fatal(err)
		}
	}
	walk := func() string {
		var b bytes.Buffer
		m.Walk(func(e *Entry, data []byte) error {
			b.WriteString(e.Name + "(" + string(data) + ") ")
			return nil
		})
		return b.String()
	}
	want := "B(B) a() a/b() a/b/c() a/z(a/z) a-(a-) b() "
	for i := 0; i < 5; i++ {
		if got := walk(); got != want {
			t.Fatalf("walk = %q, want %q", got, want)
		}
	}
	if m.Size() != int64(len("a/z")+len("a-")+len("B")) {
		t.Errorf("Size = %d", m.Size())
	}
}
