package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBuiltinShellSyntax checks every compiled built-in script with sh -n.
func TestBuiltinShellSyntax(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	doc := header + `pipeline:
  - uses: patch
    with:
      patches: a.patch
  - uses: autoconf/configure
  - uses: autoconf/make
  - uses: autoconf/make-install
  - uses: strip
subpackages:
`
	for _, n := range []string{"dev", "manpages", "static", "alldocs", "infodir", "locales", "lib", "debug", "bin"} {
		doc += "  - name: hello-" + n + "\n    pipeline:\n      - uses: split/" + n + "\n"
	}
	b := mustCompile(t, doc, Options{})
	for _, o := range b.Packages {
		for _, s := range o.Steps {
			cmd := exec.Command(sh, "-n")
			cmd.Stdin = strings.NewReader(s.Runs)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s (%s): %v\n%s\n%s", s.Uses, o.Name, err, out, s.Runs)
			}
		}
	}
}

// TestSplitScripts runs the split/* scripts on a fake output tree, with
// /home/build mapped to a temporary directory.
func TestSplitScripts(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	tree := []string{
		"usr/bin/hello", "usr/bin/hello-config", "usr/include/hello.h", "usr/lib/libhello.so.1.0", "usr/lib/libhello.a",
		"usr/lib/pkgconfig/hello.pc", "usr/share/man/man1/hello.1", "usr/share/info/hello.info", "usr/share/info/dir",
		"usr/share/locale/de/LC_MESSAGES/hello.mo", "usr/share/doc/hello/README", "etc/hello.conf",
	}
	run := func(t *testing.T, split, with string) (root string, moved []string, left []string) {
		root = t.TempDir()
		main := filepath.Join(root, "melange-out/hello")
		for _, f := range tree {
			writeFile(t, filepath.Join(main, f), "x")
		}
		if err := os.Symlink("libhello.so.1.0", filepath.Join(main, "usr/lib/libhello.so")); err != nil {
			t.Fatal(err)
		}
		b := mustCompile(t, header+"subpackages:\n  - name: hello-x\n    pipeline:\n      - uses: split/"+split+with+"\n", Options{})
		script := strings.ReplaceAll(b.Packages[1].Steps[0].Runs, "/home/build", root)
		cmd := exec.Command(sh, "-e", "-c", script)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("split/%s: %v\n%s", split, err, out)
		}
		list := func(dir string) []string {
			var out []string
			_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					r, _ := filepath.Rel(dir, p)
					out = append(out, r)
				}
				return nil
			})
			slices.Sort(out)
			return out
		}
		return root, list(filepath.Join(root, "melange-out/hello-x")), list(main)
	}
	for _, tc := range []struct {
		split, with string
		want        []string
	}{
		{"manpages", "", []string{"usr/share/man/man1/hello.1"}},
		{"dev", "", []string{"usr/bin/hello-config", "usr/include/hello.h", "usr/lib/libhello.a", "usr/lib/libhello.so", "usr/lib/pkgconfig/hello.pc"}},
		{"static", "", []string{"usr/lib/libhello.a"}},
		{"lib", "", []string{"usr/lib/libhello.so.1.0"}},
		{"lib", "\n        with:\n          patterns: nothing", nil},
		{"locales", "", []string{"usr/share/locale/de/LC_MESSAGES/hello.mo"}},
		{"infodir", "", []string{"usr/share/info/hello.info"}},
		{"alldocs", "", []string{"usr/share/doc/hello/README", "usr/share/info/hello.info", "usr/share/man/man1/hello.1"}},
		{"bin", "", []string{"usr/bin/hello", "usr/bin/hello-config"}},
	} {
		t.Run(tc.split, func(t *testing.T) {
			_, moved, left := run(t, tc.split, tc.with)
			if !slices.Equal(moved, tc.want) {
				t.Errorf("moved %v, want %v", moved, tc.want)
			}
			for _, m := range moved {
				if slices.Contains(left, m) {
					t.Errorf("%s is in both packages", m)
				}
			}
			if len(moved)+len(left) < len(tree)-1 {
				t.Errorf("files lost: moved %v, left %v", moved, left)
			}
		})
	}
}
