package main

// End-to-end tests of the reef binary: each runs the real command line
// against the shared fixtures and checks output, files and exit status.

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var reefBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "reef-cli-test")
	if err != nil {
		panic(err)
	}
	reefBin = filepath.Join(dir, "reef")
	if out, err := exec.Command("go", "build", "-o", reefBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const fixtures = "../../../shared/fixtures"

// run runs reef with args and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(reefBin, args...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000", "XDG_CACHE_HOME="+t.TempDir())
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("reef %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// mustRun runs reef and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("reef %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mustFail runs reef, expects exit status 1 and an error containing want.
func mustFail(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != 1 || !strings.Contains(out+errOut, want) {
		t.Fatalf("reef %s: exit %d, want 1 with %q\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func melangePackages(t *testing.T) []string {
	t.Helper()
	pkgs, err := filepath.Glob(filepath.Join(fixtures, "melange-built-repo/packages/x86_64/*.apk"))
	if err != nil || len(pkgs) != 4 {
		t.Fatalf("fixture packages: %v %v", pkgs, err)
	}
	return pkgs
}

func TestKeygenIndexVerifySign(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "test")
	mustRun(t, "keygen", key)
	mustFail(t, "already exists", "keygen", key)

	melangeKey := filepath.Join(fixtures, "melange-built-repo/melange.rsa.pub")
	pkgs := melangePackages(t)
	index := filepath.Join(dir, "x86_64", "APKINDEX.tar.gz")
	os.MkdirAll(filepath.Dir(index), 0o755)

	// Packages signed by a key reef was not told to trust are refused.
	mustFail(t, "unknown key (melange.rsa.pub)", "index", "-o", index, "--signing-key", key+".rsa", pkgs[0])
	if _, err := os.Stat(index); err == nil {
		t.Fatal("a failed index run left an index behind")
	}

	// Index two packages, then merge the other two in.
	mustRun(t, "index", "-o", index, "--signing-key", key+".rsa", "-k", melangeKey, pkgs[0], pkgs[1])
	out := mustRun(t, "index", "-o", index, "--merge", "--signing-key", key+".rsa", "-k", melangeKey, pkgs[2], pkgs[3])
	if !strings.Contains(out, "4 packages") {
		t.Fatalf("merged index: %s", out)
	}
	out = mustRun(t, "verify", "-k", key+".rsa.pub", index)
	if !strings.Contains(out, "OK (index, 4 packages, signed by test.rsa.pub)") {
		t.Fatalf("verify index: %s", out)
	}
	mustFail(t, "unknown key", "verify", "-k", melangeKey, index)

	// Every fixture package verifies with its key, and fails without it.
	mustRun(t, append([]string{"verify", "-k", melangeKey}, pkgs...)...)
	mustFail(t, "1 of 1 files failed", "verify", "-k", key+".rsa.pub", pkgs[0])

	// Re-signing a package keeps its identity and makes it verify with the new key.
	pkg := filepath.Join(dir, "pkg.apk")
	copyFile(t, pkgs[0], pkg)
	before := inspectJSON(t, pkg)
	mustRun(t, "sign", "--signing-key", key+".rsa", pkg)
	mustRun(t, "verify", "-k", key+".rsa.pub", pkg)
	if after := inspectJSON(t, pkg); after.Identity != before.Identity {
		t.Fatalf("identity changed on re-signing: %s → %s", before.Identity, after.Identity)
	}

	// Re-signing the index with another key.
	key2 := filepath.Join(dir, "other")
	mustRun(t, "keygen", key2)
	mustRun(t, "sign", "--signing-key", key2+".rsa", index)
	mustRun(t, "verify", "-k", key2+".rsa.pub", index)
}

func TestVerifyTamperedAndTruncated(t *testing.T) {
	dir := t.TempDir()
	melangeKey := filepath.Join(fixtures, "melange-built-repo/melange.rsa.pub")
	src := melangePackages(t)[0]
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(dir, "tampered.apk")
	bad := bytes.Clone(data)
	bad[len(bad)-40] ^= 0xff // inside the data member
	os.WriteFile(tampered, bad, 0o644)
	out, errOut, code := run(t, "verify", "-k", melangeKey, tampered)
	if code != 1 || !strings.Contains(out, "FAILED") {
		t.Fatalf("tampered package: exit %d\n%s%s", code, out, errOut)
	}

	truncated := filepath.Join(dir, "truncated.apk")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	mustFail(t, "FAILED", "verify", "-k", melangeKey, truncated)

	mustFail(t, "truncated.apk: control member: unexpected EOF", "inspect", truncated)
}

type inspected struct {
	Identity string `json:"identity"`
	Info     struct {
		Name     string   `json:"pkgname"`
		Provides []string `json:"provides"`
		Depends  []string `json:"depend"`
	} `json:"info"`
	Files []struct {
		Name string `json:"name"`
		SHA1 string `json:"sha1"`
	} `json:"files"`
}

func inspectJSON(t *testing.T, path string) inspected {
	t.Helper()
	var in inspected
	if err := json.Unmarshal([]byte(mustRun(t, "inspect", "--json", path)), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestInspect(t *testing.T) {
	in := inspectJSON(t, filepath.Join(fixtures, "wolfi-packages/x86_64/hello-wolfi-2.12.1-r0.apk"))
	if in.Info.Name != "hello-wolfi" || !strings.HasPrefix(in.Identity, "Q1") {
		t.Fatalf("inspect: %+v", in)
	}
	if strings.Join(in.Info.Provides, " ") != "cmd:hello=2.12.1-r0" || strings.Join(in.Info.Depends, " ") != "so:ld-linux-x86-64.so.2 so:libc.so.6" {
		t.Fatalf("provides %v depends %v", in.Info.Provides, in.Info.Depends)
	}
	found := false
	for _, f := range in.Files {
		found = found || (f.Name == "usr/bin/hello" && len(f.SHA1) == 40)
	}
	if !found {
		t.Fatal("usr/bin/hello with a checksum is not listed")
	}
	text := mustRun(t, "inspect", filepath.Join(fixtures, "alpine-3.16-main-aarch64/alpine-baselayout-3.2.0-r23.apk"))
	for _, want := range []string{"signed:   RSA by alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub", "script .pre-install:", "pkgname = alpine-baselayout"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect text lacks %q", want)
		}
	}
}

// alpineRepo lays the Alpine 3.17 fixture index out as a repository.
func alpineRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join(fixtures, "alpine-3.17-main-aarch64/APKINDEX.tar.gz"), filepath.Join(dir, "aarch64/APKINDEX.tar.gz"))
	return dir
}

func TestResolve(t *testing.T) {
	repo := alpineRepo(t)
	base := []string{"resolve", "-r", repo, "--arch", "aarch64", "--offline"}

	mustFail(t, "unknown key (alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub)", append(base, "busybox")...)

	base = append(base, "--allow-untrusted")
	out := mustRun(t, append(base, "build-base", "python3", "nginx", "openssl-dev")...)
	for _, want := range []string{"gcc-", "python3-", "nginx-", "openssl-dev-", "world: nginx"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	var plan struct {
		Arch     string `json:"arch"`
		Packages []struct {
			Name       string   `json:"name"`
			Version    string   `json:"version"`
			Checksum   string   `json:"checksum"`
			Repository string   `json:"repository"`
			Reasons    []string `json:"reasons"`
		} `json:"packages"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, append(base, "--json", "musl-utils")...)), &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Arch != "aarch64" || len(plan.Packages) < 3 || plan.Packages[len(plan.Packages)-1].Name != "musl-utils" {
		t.Fatalf("json plan: %+v", plan)
	}
	for _, p := range plan.Packages {
		if !strings.HasPrefix(p.Checksum, "Q1") || p.Repository != repo || len(p.Reasons) == 0 {
			t.Errorf("plan entry %+v", p)
		}
	}

	mustFail(t, "but the repositories have only nginx-1.22.1-r0", append(base, "nginx>=9")...)
	mustFail(t, "did you mean python3?", append(base, "pythn3")...)
}

func TestInstall(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	repo := filepath.Join(fixtures, "melange-built-repo/packages")
	key := filepath.Join(fixtures, "melange-built-repo/melange.rsa.pub")
	mustRun(t, "install", "--root", root, "-r", repo, "-k", key, "--arch", "x86_64", "replayout", "custom-ca-certs-1")

	db, err := os.ReadFile(filepath.Join(root, "lib/apk/db/installed"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"P:replayout", "P:pretend-baselayout", "P:custom-ca-certs-1"} {
		if !bytes.Contains(db, []byte(want)) {
			t.Errorf("installed database lacks %s", want)
		}
	}
	world, _ := os.ReadFile(filepath.Join(root, "etc/apk/world"))
	if string(world) != "custom-ca-certs-1\nreplayout\n" {
		t.Errorf("world = %q", world)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/apk/keys/melange.rsa.pub")); err != nil {
		t.Error(err)
	}
	// Adding to the existing root keeps what is there.
	mustRun(t, "install", "--root", root, "-r", repo, "-k", key, "--arch", "x86_64", "custom-ca-certs-2")
	world, _ = os.ReadFile(filepath.Join(root, "etc/apk/world"))
	if !strings.Contains(string(world), "custom-ca-certs-2") || !strings.Contains(string(world), "replayout") {
		t.Errorf("world after second install = %q", world)
	}

	mustFail(t, "no package provides nosuchpkg", "install", "--root", root, "-r", repo, "-k", key, "--arch", "x86_64", "nosuchpkg")
	mustFail(t, "--root is required", "install", "-r", repo, "nosuchpkg")
}
