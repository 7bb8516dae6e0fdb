package bootstrap

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/install"
	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/solve"
)

// testEpoch is the SOURCE_DATE_EPOCH of the test bootstraps.
const testEpoch = 1700000000

// testDebCache is where the tests keep downloaded .debs between runs,
// shared with the other packages' tests: $REEF_TESTDATA/debs, or
// <user cache dir>/reef-test/debs.
func testDebCache(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("REEF_TESTDATA"); d != "" {
		return filepath.Join(d, "debs")
	}
	c, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(c, "reef-test", "debs")
}

// needApt skips a test that needs Debian's packages when apt is not there.
func needApt(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"apt-get", "apt-cache"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: stage 0 is made from Debian packages fetched with apt", tool)
		}
	}
}

var (
	keyOnce sync.Once
	keyPriv string
	keyPub  string
	keyErr  error
)

// testKey returns one key pair for the whole test binary, so that two
// bootstraps can be compared byte for byte.
func testKey(t *testing.T) (*apk.Signer, *apk.Keyring, string) {
	t.Helper()
	keyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "reef-stage0-key-")
		if err != nil {
			keyErr = err
			return
		}
		keyPriv, keyPub, keyErr = apk.GenerateKeyPair(filepath.Join(dir, "reef-stage0-test"), 2048)
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	s, err := apk.LoadSigner(keyPriv)
	if err != nil {
		t.Fatal(err)
	}
	kr := apk.NewKeyring()
	if err := kr.Load(keyPub); err != nil {
		t.Fatal(err)
	}
	return s, kr, keyPub
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return nil
}

var (
	stage0Once sync.Once
	stage0Res  *Result
	stage0Dir  string
	stage0Err  error
	stage0Time time.Duration
)

// defaultStage0 builds the default stage 0 once for the tests that use it.
func defaultStage0(t *testing.T) (*Result, string) {
	t.Helper()
	needApt(t)
	signer, _, _ := testKey(t)
	stage0Once.Do(func() {
		stage0Dir, stage0Err = os.MkdirTemp("", "reef-stage0-")
		if stage0Err != nil {
			return
		}
		start := time.Now()
		stage0Res, stage0Err = Stage0(context.Background(), Options{
			OutDir:          stage0Dir,
			SigningKey:      signer,
			DebCache:        testDebCache(t),
			SourceDateEpoch: testEpoch,
			Logger:          testLogger(t),
		})
		stage0Time = time.Since(start)
	})
	if stage0Err != nil {
		t.Fatal(stage0Err)
	}
	return stage0Res, stage0Dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if stage0Dir != "" {
		os.RemoveAll(stage0Dir)
	}
	if keyPriv != "" {
		os.RemoveAll(filepath.Dir(keyPriv))
	}
	os.Exit(code)
}

// TestStage0 builds the default stage 0 from real Debian packages, checks
// that every package and the index verify with the stage-0 key, resolves
// what Wolfi build files ask for, installs it into a root and compiles and
// runs a C program there in a bubblewrap sandbox.
func TestStage0(t *testing.T) {
	res, dir := defaultStage0(t)
	_, kr, pub := testKey(t)
	t.Logf("stage 0: %d packages (%d imported, %d meta), %d MB of .apk, %d MB of .deb, %d downloaded, built in %v",
		len(res.Packages), res.Imported, res.Meta, res.TotalSize>>20, res.DebSize>>20, res.Downloaded, stage0Time.Round(time.Millisecond))
	for _, w := range res.Warnings {
		t.Logf("warning: %s", w)
	}
	t.Logf("busybox: %d applet links; left to other packages: %s", res.Applets, strings.Join(res.Shadowed, ", "))

	// Every package and the index verify with the stage-0 key.
	idx, err := repo.ReadIndexFile(res.Index, kr, repo.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if idx.VerifiedBy != filepath.Base(pub) {
		t.Errorf("index verified by %q, want %q", idx.VerifiedBy, filepath.Base(pub))
	}
	if len(idx.Packages) != len(res.Packages) {
		t.Errorf("index has %d records, Result %d packages", len(idx.Packages), len(res.Packages))
	}
	for _, p := range res.Packages {
		f, err := os.Open(p.Path)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := apk.VerifyPackage(f, kr, apk.Limits{})
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p.Path), err)
		}
		_ = rep
	}
	for _, want := range []string{BaselayoutName, BusyboxName, BuildBaseName, CABundleName, "gcc", "libc6", "make", "busybox-static"} {
		found := false
		for _, p := range res.Packages {
			found = found || p.Name == want
		}
		if !found {
			t.Errorf("stage 0 has no %s", want)
		}
	}
	if res.Applets < 100 {
		t.Errorf("busybox has %d applet links, want over 100", res.Applets)
	}
	if res.Certificates < 100 {
		t.Errorf("the CA bundle has %d certificates, want over 100", res.Certificates)
	}

	// Every package of the repository can be installed on its own.
	repos := []solve.Repository{{Name: dir, Packages: idx.Packages}}
	ix, err := solve.NewIndex(repos)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range idx.Packages {
		if _, err := ix.Solve(context.Background(), solve.Request{World: []string{p.Name}, Arch: res.Arch}); err != nil {
			t.Errorf("%s does not resolve: %v", p.Name, err)
		}
	}

	// Resolve the build environment of a typical Wolfi build file.
	world := []string{"build-base", "busybox", "ca-certificates-bundle"}
	plan, err := solve.Solve(context.Background(), solve.Request{World: world, Repos: repos, Arch: res.Arch})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range plan.Packages {
		names = append(names, s.Package.Name)
	}
	t.Logf("plan: %d packages: %s", len(names), strings.Join(names, " "))
	if names[0] != BaselayoutName {
		t.Errorf("%s is not installed first: %v", BaselayoutName, names)
	}

	// Install it into a root.
	root := filepath.Join(t.TempDir(), "root")
	fsys, err := install.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	in := &install.Installer{FS: fsys, Arch: res.Arch, Logger: testLogger(t)}
	pubPEM, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := install.FromPlan(plan, repos, func(sel solve.Selection) (io.ReadCloser, error) {
		return os.Open(filepath.Join(res.Dir, sel.Package.Filename()))
	})
	ir, err := in.Install(context.Background(), pkgs, install.Options{
		World: world,
		Keys:  []install.Key{{Name: filepath.Base(pub), Data: pubPEM}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("installed %d packages, %d files, %d MB", len(ir.Installed), ir.Files, ir.Bytes>>20)
	for _, w := range ir.Warnings {
		t.Logf("install warning: %s", w)
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if fi, err := os.Lstat(filepath.Join(root, l)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("/%s is not a symlink in the root: %v", l, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("/tmp is not 1777: %v %v", fi.Mode(), err)
	}

	// Build and run in it.
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bwrap not found: cannot run commands in the stage-0 root")
	}
	script := `set -e
cd /tmp
printf '#include <stdio.h>\nint main(void) { puts("hello from stage 0"); return 0; }\n' > hello.c
cc -O2 -Wall -o hello hello.c
./hello
printf '#include <iostream>\nint main() { std::cout << "c++ " << __cplusplus << std::endl; }\n' > hello.cc
c++ -o hellocc hello.cc
./hellocc
make --version | head -n 1
printf 'all: hello2\n\t./hello2 | sed "s/hello/HELLO/"\nhello2: hello.c\n\t$(CC) -o $@ $<\n' > Makefile
make
echo 'a b c' | awk '{ print $2 }'
echo abc | sed 's/b/B/' | grep aBc
ls -l /etc/ssl/certs/ca-certificates.crt
grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt
install -D -m 0644 hello.c /tmp/dest/usr/share/hello.c
test -f /tmp/dest/usr/share/hello.c
pkg-config --version
echo data | gzip | gzip -d
tar -cf t.tar hello.c && tar -tf t.tar
/lib64/ld-linux-x86-64.so.2 --list ./hello
getconf LONG_BIT
id -un
`
	cmd := exec.Command("bwrap", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
		"--unshare-all", "--die-with-parent", "--clearenv",
		"--setenv", "PATH", "/usr/local/bin:/usr/bin:/usr/sbin", "--setenv", "HOME", "/root",
		"/bin/sh", "-c", script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("in the stage-0 root: %v\n%s", err, out.String())
	}
	t.Logf("in the stage-0 root:\n%s", out.String())
	for _, want := range []string{"hello from stage 0\n", "c++ 2017", "GNU Make 4.3", "HELLO from stage 0", "\nb\n", "aBc", "ca-certificates.crt", "root\n", "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6", "\n64\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestStage0Deterministic bootstraps a small stage 0 twice from the same
// cached .debs, key and SOURCE_DATE_EPOCH (the second time offline) and
// compares the repositories byte for byte.
func TestStage0Deterministic(t *testing.T) {
	needApt(t)
	signer, _, _ := testKey(t)
	roots := []string{"busybox-static", "ca-certificates", "make"}
	var repos [2]map[string][]byte
	for i := range repos {
		dir := t.TempDir()
		res, err := Stage0(context.Background(), Options{
			OutDir:          dir,
			SigningKey:      signer,
			DebCache:        testDebCache(t),
			Packages:        roots,
			SourceDateEpoch: testEpoch,
			Offline:         i == 1,
			Logger:          testLogger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Meta != 3 || len(res.Skipped) != 1 || !strings.HasPrefix(res.Skipped[0], BuildBaseName) {
			t.Errorf("meta-packages: %d, skipped %q; want 3 and build-base skipped", res.Meta, res.Skipped)
		}
		repos[i] = map[string][]byte{}
		entries, err := os.ReadDir(res.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(res.Dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			repos[i][e.Name()] = b
		}
	}
	if len(repos[0]) != len(repos[1]) {
		t.Errorf("first run wrote %d files, second %d", len(repos[0]), len(repos[1]))
	}
	if _, ok := repos[0]["APKINDEX.tar.gz"]; !ok {
		t.Fatal("no index")
	}
	for name, b := range repos[0] {
		if !bytes.Equal(b, repos[1][name]) {
			t.Errorf("%s differs between two bootstraps", name)
		}
	}
}
