package sca

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/apk"
)

// fixtures is the shared directory of real packages, reached from this
// package's directory.
const fixtures = "../../../shared/fixtures/wolfi-packages"

// extractAPK unpacks the data member of the .apk at p into a new temporary
// directory, keeping modes and symlinks, and returns the directory and the
// package's .PKGINFO.
func extractAPK(t testing.TB, p string) (string, *apk.PkgInfo) {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Skipf("fixture not available: %v", err)
	}
	defer fh.Close()
	r, err := apk.NewReader(fh, apk.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	dir := t.TempDir()
	var dirs []*tar.Header
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		switch f.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, f.Header)
		case tar.TypeSymlink:
			if err := os.Symlink(f.Linkname, dst); err != nil {
				t.Fatal(err)
			}
		case tar.TypeLink:
			if err := os.Link(filepath.Join(dir, filepath.FromSlash(f.Linkname)), dst); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, r); err != nil {
				t.Fatalf("%s: %s: %v", p, f.Name, err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dst, os.FileMode(f.Mode)&os.ModePerm); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, h := range dirs {
		if err := os.Chmod(filepath.Join(dir, filepath.FromSlash(h.Name)), os.FileMode(h.Mode)&os.ModePerm|0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir, r.Info()
}

// needGCC skips the test when gcc is not installed.
func needGCC(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not available")
	}
}

// gcc runs gcc with args in dir and fails the test on error.
func gcc(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("gcc", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// execIn runs a command in dir and returns its combined output.
func execIn(dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// writeFile creates root/rel with the given content and mode, making the
// parent directories.
func writeFile(t testing.TB, root, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// symlink creates root/rel pointing to target.
func symlink(t testing.TB, root, rel, target string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to root/rel with the given mode.
func copyFile(t testing.TB, src, root, rel string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, rel, string(b), mode)
}

// scan runs Scan and fails the test on error.
func scan(t testing.TB, root string, opts Options) *Result {
	t.Helper()
	if opts.Version == "" {
		opts.Version = "1.0-r0"
	}
	res, err := Scan(context.Background(), root, opts)
	if err != nil {
		t.Fatalf("Scan(%s): %v", root, err)
	}
	return res
}

// wantList fails the test unless got equals want (nil and empty are equal).
func wantList(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// dumpNotes logs a result's notes, for failing tests.
func dumpNotes(t testing.TB, res *Result) {
	t.Helper()
	for _, n := range res.Notes {
		t.Log("note: " + n)
	}
}
