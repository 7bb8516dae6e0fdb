package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/bootstrap"
	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/repo"
)

// The run tests build real packages: in a bubblewrap sandbox, in a build
// environment installed from a stage-0 repository made from Debian's
// packages (internal/bootstrap). Both the stage-0 repository and the
// Debian material are kept between runs in the test data directory:
// $REEF_TESTDATA, or <user cache dir>/reef-test.

// rtEpoch is the SOURCE_DATE_EPOCH of the test builds and of stage 0.
const rtEpoch = 1700000000

// helloSHA256 is GNU hello 2.10's tarball (and Debian's
// hello_2.10.orig.tar.gz, the same bytes).
const helloSHA256 = "31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b"

// rtStage0Packages are the Debian packages of the build tests' stage 0:
// bootstrap's defaults (busybox, the toolchain) and what the autoconf
// pipelines need.
var rtStage0Packages = bootstrap.DefaultPackages

// rtStage0Version names the cached stage 0; change it to rebuild.
const rtStage0Version = "build-stage0-v1"

func rtTestData(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("REEF_TESTDATA"); d != "" {
		return d
	}
	c, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(c, "reef-test")
}

// rtNeed skips a test when a tool it needs is missing.
func rtNeed(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (%v): this test needs it", tool, err)
		}
	}
}

// rtNeedSandbox skips a test when bubblewrap is not usable.
func rtNeedSandbox(t testing.TB) {
	t.Helper()
	rtNeed(t, "bwrap")
	if out, err := exec.Command("bwrap", "--ro-bind", "/", "/", "--unshare-net", "true").CombinedOutput(); err != nil {
		t.Skipf("bubblewrap cannot make a sandbox here: %v: %s", err, out)
	}
}

// rtStage0 is the stage-0 repository of the build tests.
type rtStage0 struct {
	Repo   string // repository directory (Repo/<arch>/APKINDEX.tar.gz)
	PubKey string // the key that signs it
}

var (
	stage0Mu  sync.Mutex
	stage0Got *rtStage0
)

// rtGetStage0 returns the build tests' stage-0 repository, making it
// (a few minutes, once) when it is not in the test data directory.
func rtGetStage0(t testing.TB) *rtStage0 {
	t.Helper()
	stage0Mu.Lock()
	defer stage0Mu.Unlock()
	if stage0Got != nil {
		return stage0Got
	}
	rtNeed(t, "apt-get", "apt-cache")
	base := filepath.Join(rtTestData(t), rtStage0Version)
	s := &rtStage0{Repo: filepath.Join(base, "repo"), PubKey: filepath.Join(base, "stage0.rsa.pub")}
	if _, err := os.Stat(filepath.Join(s.Repo, arch.Host(), "APKINDEX.tar.gz")); err == nil {
		stage0Got = s
		return s
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := fsutil.LockFile(base + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(s.Repo, arch.Host(), "APKINDEX.tar.gz")); err == nil {
		stage0Got = s
		return s
	}
	tmp, err := os.MkdirTemp(filepath.Dir(base), ".stage0-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	priv, _, err := apk.GenerateKeyPair(filepath.Join(tmp, "stage0"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := apk.LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("making the build tests' stage 0 in %s (once; a few minutes)", base)
	_, err = bootstrap.Stage0(context.Background(), bootstrap.Options{
		OutDir:          filepath.Join(tmp, "repo"),
		SigningKey:      signer,
		DebCache:        filepath.Join(rtTestData(t), "debs"),
		Packages:        rtStage0Packages,
		SourceDateEpoch: rtEpoch,
		Logger:          rtLogger(),
	})
	if err != nil {
		t.Fatalf("stage 0: %v", err)
	}
	os.RemoveAll(base)
	if err := os.Rename(tmp, base); err != nil {
		t.Fatal(err)
	}
	stage0Got = s
	return s
}

// rtHelloTarball returns the path of GNU hello 2.10's tarball, fetched
// once as Debian's hello_2.10.orig.tar.gz with `apt-get source
// --download-only`, through a private deb-src list (the system's apt
// configuration is not touched).
func rtHelloTarball(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(rtTestData(t), "sources")
	final := filepath.Join(dir, "sha256:"+helloSHA256)
	if sum, err := fileSHA256(final); err == nil && sum == helloSHA256 {
		return final
	}
	rtNeed(t, "apt-get")
	mirror := debianMirror()
	work := t.TempDir()
	parts := filepath.Join(work, "sources.list.d")
	lists := filepath.Join(work, "lists")
	for _, d := range []string{parts, filepath.Join(lists, "partial"), filepath.Join(work, "dl")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := "Types: deb-src\nURIs: " + mirror + "\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
	if err := os.WriteFile(filepath.Join(parts, "reef-test-src.sources"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	aptOpts := []string{
		"-o", "Dir::Etc::SourceList=/dev/null",
		"-o", "Dir::Etc::SourceParts=" + parts,
		"-o", "Dir::State::Lists=" + lists,
		"-o", "APT::Sandbox::User=root",
		"-qq",
	}
	run := func(dir string, args ...string) {
		cmd := exec.Command("apt-get", append(slices.Clone(aptOpts), args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("apt-get %s: %v: %s (the hello test needs Debian's source package)", strings.Join(args, " "), err, out)
		}
	}
	run(work, "update")
	run(filepath.Join(work, "dl"), "source", "--download-only", "hello=2.10-3")
	got := filepath.Join(work, "dl", "hello_2.10.orig.tar.gz")
	sum, err := fileSHA256(got)
	if err != nil {
		t.Fatal(err)
	}
	if sum != helloSHA256 {
		t.Fatalf("hello_2.10.orig.tar.gz has sha256 %s, want %s", sum, helloSHA256)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsutil.WriteFileAtomic(final, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return final
}

// debianMirror is the Debian mirror apt uses here (from
// /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list), or
// deb.debian.org.
func debianMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "URIs:"); ok {
				for _, u := range strings.Fields(v) {
					if strings.HasSuffix(u, "/debian") {
						return u
					}
				}
			}
		}
	}
	data, _ := os.ReadFile("/etc/apt/sources.list")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "deb" && strings.HasSuffix(f[1], "/debian") {
			return f[1]
		}
	}
	return "http://deb.debian.org/debian"
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func rtLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return nil
}

var (
	rtKeyOnce sync.Once
	rtKeyPriv string
	rtKeyErr  error
)

// rtSigner is the packages' signing key, one for the test binary.
func rtSigner(t testing.TB) (*apk.Signer, *apk.Keyring) {
	t.Helper()
	rtKeyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "reef-build-key-")
		if err != nil {
			rtKeyErr = err
			return
		}
		rtKeyPriv, _, rtKeyErr = apk.GenerateKeyPair(filepath.Join(dir, "reef-build-test"), 2048)
	})
	if rtKeyErr != nil {
		t.Fatal(rtKeyErr)
	}
	s, err := apk.LoadSigner(rtKeyPriv)
	if err != nil {
		t.Fatal(err)
	}
	kr := apk.NewKeyring()
	kr.Add(s.KeyName, &s.Key.PublicKey)
	return s, kr
}

// rtEnv is a build environment: the stage 0, a cache dir and an output
// repository.
type rtEnv struct {
	stage0 *rtStage0
	cache  string
	out    string
	signer *apk.Signer
	kr     *apk.Keyring
	output bytes.Buffer
}

func newRTEnv(t testing.TB, cache string) *rtEnv {
	t.Helper()
	rtNeedSandbox(t)
	e := &rtEnv{stage0: rtGetStage0(t), cache: cache, out: filepath.Join(t.TempDir(), "packages")}
	if e.cache == "" {
		e.cache = filepath.Join(t.TempDir(), "cache")
	}
	e.signer, e.kr = rtSigner(t)
	return e
}

func (e *rtEnv) options() RunOptions {
	return RunOptions{
		OutDir:       e.out,
		Signer:       e.signer,
		Repositories: []string{e.stage0.Repo},
		KeyPaths:     []string{e.stage0.PubKey},
		CacheDir:     e.cache,
		Offline:      true,
		Stdout:       &e.output,
		Logger:       rtLogger(),
	}
}

// build loads, compiles and runs the build file at file, as reef build
// does.
func (e *rtEnv) build(t testing.TB, file string, mod func(*RunOptions)) (*Result, error) {
	t.Helper()
	cfg, err := config.Load(file, config.Options{})
	if err != nil {
		return nil, err
	}
	b, err := Compile(cfg, Options{SourceDateEpoch: rtEpoch})
	if err != nil {
		return nil, err
	}
	opts := e.options()
	if mod != nil {
		mod(&opts)
	}
	return Run(context.Background(), b, opts)
}

// buildDoc writes doc to a file and builds it.
func (e *rtEnv) buildDoc(t testing.TB, doc string, mod func(*RunOptions)) (*Result, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "build.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return e.build(t, file, mod)
}

// snapshot returns every file under dir with its content.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "-> " + l
		case d.IsDir():
			out[rel+"/"] = ""
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[rel] = string(data)
		}
		return nil
	})
	return out
}

// sameSnapshot reports the differences between two snapshots.
func sameSnapshot(t testing.TB, what string, a, b map[string]string) {
	t.Helper()
	for k, v := range a {
		w, ok := b[k]
		if !ok {
			t.Errorf("%s: %s disappeared", what, k)
		} else if v != w {
			t.Errorf("%s: %s changed", what, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// readPackage returns a package's .PKGINFO, its other control files and
// its data entries (name → content, "" for non-files).
func readPackage(t testing.TB, path string) (*apk.PkgInfo, []apk.ControlFile, map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := apk.NewReader(f, apk.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for {
		fe, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		io.Copy(&b, r)
		files[fe.Name] = b.String()
	}
	return r.Info(), r.ControlFiles(), files
}

// readIndex reads a repository index, checking its signature.
func readIndex(t testing.TB, path string, kr *apk.Keyring) *repo.Index {
	t.Helper()
	idx, err := repo.ReadIndexFile(path, kr, repo.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readEntries returns a package's data entries by name.
func readEntries(t testing.TB, r io.Reader) map[string]*apk.File {
	t.Helper()
	pr, err := apk.NewReader(r, apk.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*apk.File{}
	for {
		f, err := pr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = f
	}
}
