package image

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/install"
)

// TestPathsKeepHardLinks: changing the mode or owner of a hard-linked
// file (a package's, or one a hardlink path made) changes it in place:
// the names stay one file, and its content and time are kept.
func TestPathsKeepHardLinks(t *testing.T) {
	m := install.NewMemFS()
	mtime := time.Unix(1700000000, 0)
	for _, e := range []*install.Entry{
		{Name: "usr", Type: install.TypeDir, Mode: 0o755},
		{Name: "usr/bin", Type: install.TypeDir, Mode: 0o755},
		{Name: "usr/bin/tool", Type: install.TypeReg, Mode: 0o755, ModTime: mtime},
		{Name: "usr/bin/tool-alias", Type: install.TypeLink, Linkname: "usr/bin/tool"},
		{Name: "usr/bin/link", Type: install.TypeSymlink, Mode: 0o777, Linkname: "tool"},
	} {
		var body *strings.Reader
		if e.Type == install.TypeReg {
			body = strings.NewReader("#!/bin/sh\n")
		}
		var err error
		if body != nil {
			err = m.Create(e, body)
		} else {
			err = m.Create(e, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r := newRoot(m, time.Unix(1, 0))
	u32 := func(v uint32) *uint32 { return &v }
	for _, pm := range []PathMutation{
		{Path: "/usr/bin/tool", Type: PathPermissions, Permissions: u32(0o4750), UID: u32(10), GID: u32(20)},
		{Path: "/usr/bin/tool-copy", Type: PathHardlink, Source: "/usr/bin/tool-alias", Permissions: u32(0o700)},
		{Path: "/usr", Type: PathPermissions, UID: u32(30), Recursive: true},
	} {
		if err := r.applyPath(pm); err != nil {
			t.Fatalf("%s %s: %v", pm.Type, pm.Path, err)
		}
	}
	var got []string
	m.Walk(func(e *install.Entry, data []byte) error {
		got = append(got, fmt.Sprintf("%s %v %o %d:%d %d %s %q", e.Name, e.Type, e.Mode, e.UID, e.GID, e.ModTime.Unix(), e.Linkname, data))
		return nil
	})
	want := []string{
		`usr directory 755 30:0 -62135596800  ""`,
		`usr/bin directory 755 30:0 -62135596800  ""`,
		`usr/bin/link symlink 777 30:0 -62135596800 tool ""`,
		`usr/bin/tool regular file 700 30:0 1700000000  "#!/bin/sh\n"`,
		`usr/bin/tool-alias hard link 700 30:0 1700000000 usr/bin/tool ""`,
		`usr/bin/tool-copy hard link 700 30:0 1700000000 usr/bin/tool ""`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("tree:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
