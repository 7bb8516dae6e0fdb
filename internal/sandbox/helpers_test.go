package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The tests run steps in tiny guest roots made from Debian's
// busybox-static package, fetched with `apt-get download` (CI runs
// `apt-get update` first) and kept in the same cache as the debimport
// tests' packages: $REEF_TESTDATA/debs, or <user cache dir>/reef-test/debs.
// A foreign architecture's package (arm64 on an x86_64 host, amd64 on an
// aarch64 one) goes to a subdirectory named for its architecture, so the
// debimport tests do not pick it up. When dpkg does not know that
// architecture (no `dpkg --add-architecture`), it is downloaded with
// package lists kept in a temporary directory instead, leaving the
// system's apt configuration alone.

// applets are the busybox commands the test guests get.
var applets = []string{
	"sh", "ash", "cat", "chmod", "chown", "echo", "env", "false", "head", "id",
	"ls", "mkdir", "mknod", "mount", "nc", "printf", "pwd", "rm", "seq", "sleep",
	"stat", "tail", "touch", "tr", "true", "uname", "wc", "wget", "[", "test",
}

var (
	guestMu    sync.Mutex
	guestRoots = map[string]string{} // by Debian architecture
	guestBase  string                // temporary directory holding them
)

// TestMain removes the guest roots after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if guestBase != "" {
		os.RemoveAll(guestBase)
	}
	os.Exit(code)
}

// needBwrap skips the test when bubblewrap is not installed.
func needBwrap(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bwrap is not installed (apt-get install bubblewrap): the sandbox tests need it")
	}
}

// debArch is Debian's name of the host's architecture.
func debArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return runtime.GOARCH
}

// debCacheDir is where downloaded .debs are kept between runs.
func debCacheDir() (string, error) {
	if d := os.Getenv("REEF_TESTDATA"); d != "" {
		return filepath.Join(d, "debs"), nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "reef-test", "debs"), nil
}

// busyboxDeb returns the path of busybox-static for Debian architecture
// arch, downloading it when it is not cached.
func busyboxDeb(t testing.TB, arch string) string {
	t.Helper()
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get not found: the sandbox tests build guest roots from Debian's busybox-static")
	}
	dir, err := debCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if arch != debArch() {
		dir = filepath.Join(dir, arch)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	glob := filepath.Join(dir, "busybox-static_*_"+arch+".deb")
	if m, _ := filepath.Glob(glob); len(m) > 0 {
		sort.Strings(m)
		return m[len(m)-1]
	}
	pkg := "busybox-static:" + arch
	cmd := exec.Command("apt-get", "download", "-q", pkg)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil && arch != debArch() {
		out2, err2 := downloadForeign(dir, arch, pkg)
		out, err = append(out, out2...), err2
	}
	if err != nil {
		t.Fatalf("apt-get download %s (run `apt-get update` first?): %v\n%s", pkg, err, out)
	}
	m, _ := filepath.Glob(glob)
	if len(m) == 0 {
		t.Fatalf("no %s after apt-get download", glob)
	}
	sort.Strings(m)
	return m[len(m)-1]
}

// downloadForeign downloads pkg of a foreign architecture dpkg is not
// configured for, with apt package lists for that architecture in a
// temporary directory.
func downloadForeign(dir, arch, pkg string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "reef-apt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return nil, err
		}
	}
	opts := []string{
		"-o", "Dir::State::Lists=" + filepath.Join(tmp, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(tmp, "cache"),
		"-o", "Dir::State::status=/dev/null",
		"-o", "APT::Architecture=" + arch,
		"-o", "APT::Architectures::=" + arch,
		"-o", "Debug::NoLocking=1",
		"-q",
	}
	var all []byte
	for _, args := range [][]string{{"update"}, {"download", pkg}} {
		cmd := exec.Command("apt-get", append(opts, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		all = append(all, out...)
		if err != nil {
			return all, fmt.Errorf("apt-get %s: %w", args[0], err)
		}
	}
	return all, nil
}

// guestRoot returns a guest root holding busybox for Debian architecture
// arch, with the mount points a read-only root needs. The tests share it
// and must not change it.
func guestRoot(t testing.TB, arch string) string {
	t.Helper()
	guestMu.Lock()
	defer guestMu.Unlock()
	if r, ok := guestRoots[arch]; ok {
		return r
	}
	deb := busyboxDeb(t, arch)
	if guestBase == "" {
		d, err := os.MkdirTemp("", "reef-sandbox-test-")
		if err != nil {
			t.Fatal(err)
		}
		guestBase = d
	}
	root := filepath.Join(guestBase, arch)
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x %s: %v\n%s", deb, err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "busybox")); err != nil {
		t.Fatalf("%s holds no bin/busybox: %v", deb, err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"proc", "dev", "sys", "etc", "mnt", "home/build", "var/cache/melange", "var/tmp", "usr/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nbuild:x:1000:1000:build:/home/build:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	guestRoots[arch] = root
	return root
}

// newSandbox makes a sandbox in the host architecture's guest root with a
// new workspace; cfg's Root and Workspace are filled in when empty. Its
// combined output goes to the returned buffer.
func newSandbox(t testing.TB, cfg Config) (*Bwrap, *syncBuffer) {
	t.Helper()
	needBwrap(t)
	if cfg.Root == "" {
		cfg.Root = guestRoot(t, debArch())
	}
	if cfg.Workspace == "" {
		cfg.Workspace = t.TempDir()
	}
	out := &syncBuffer{}
	if cfg.Stdout == nil {
		cfg.Stdout = out
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b, out
}

// run runs a step that must succeed and returns its output.
func run(t testing.TB, b *Bwrap, out *syncBuffer, script string) string {
	t.Helper()
	out.Reset()
	if err := b.Run(context.Background(), Step{Name: t.Name(), Script: script}); err != nil {
		t.Fatalf("%s\noutput:\n%s", err, out.String())
	}
	return out.String()
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// snapshot describes every file under root (path, mode, size, target,
// content), to show that a step left it unchanged.
func snapshot(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%s %v %d", rel, fi.Mode(), fi.Size())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			b.WriteString(" -> " + target)
		case fi.Mode().IsRegular() && fi.Size() < 1<<16:
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
