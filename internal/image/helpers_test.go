package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/debimport"
	"github.com/reef-dev/reef/internal/repo"
)

// fixtures is the shared fixture directory, as seen from this package.
const fixtures = "../../../shared/fixtures"

// melangeRepo returns the melange-built fixture repository (x86_64 and
// aarch64, signed with melange.rsa.pub) as an absolute path.
func melangeRepo(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(fixtures, "melange-built-repo", "packages"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "x86_64", "APKINDEX.tar.gz")); err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return p
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// writeConfig writes an image file into dir and loads it.
func writeConfig(t testing.TB, dir, name, text string) *Config {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	return c
}

func mustBuild(t testing.TB, c *Config, opts Options) *Result {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	res, err := Build(context.Background(), c, opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

// tarFile is one entry of an image's flattened file system.
type tarFile struct {
	hdr  *tar.Header
	data []byte
}

// flatten applies the image's layers in order (no whiteouts are used by
// reef) and returns the final entries by path (no trailing slash).
func flatten(t testing.TB, img v1.Image) map[string]tarFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tarFile{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(tr)
			if h.Typeflag == tar.TypeLink {
				data = out[strings.TrimSuffix(h.Linkname, "/")].data
			}
			out[strings.TrimSuffix(h.Name, "/")] = tarFile{h, data}
		}
		rc.Close()
	}
	return out
}

// layerNames lists the entry names of one layer, in order.
func layerNames(t testing.TB, l v1.Layer) []string {
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// testKey makes a signing key pair in dir.
func testKey(t testing.TB, dir, name string) (*apk.Signer, string) {
	t.Helper()
	priv, pub, err := apk.GenerateKeyPair(filepath.Join(dir, name), 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := apk.LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, pub
}

// testFile is a file of a test package.
type testFile struct {
	name     string
	mode     int64
	uid, gid int
	body     string
	link     string // symlink target
	dir      bool
}

// writeTestPackage writes a package into repoDir/<arch>/.
func writeTestPackage(t testing.TB, repoDir string, info apk.PkgInfo, files []testFile, signer *apk.Signer) string {
	t.Helper()
	dir := filepath.Join(repoDir, info.Arch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, info.Name+"-"+info.Version+".apk")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = apk.WritePackage(f, &info, nil, nil, func(dw *apk.DataWriter) error {
		added := map[string]bool{}
		var mkdirs func(d string) error
		mkdirs = func(d string) error {
			if d == "." || added[d] {
				return nil
			}
			if err := mkdirs(filepath.Dir(d)); err != nil {
				return err
			}
			added[d] = true
			return dw.Add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil)
		}
		for _, tf := range files {
			if err := mkdirs(filepath.Dir(tf.name)); err != nil {
				return err
			}
			h := &tar.Header{Name: tf.name, Mode: tf.mode, Uid: tf.uid, Gid: tf.gid}
			switch {
			case tf.dir:
				h.Typeflag = tar.TypeDir
				added[tf.name] = true
			case tf.link != "":
				h.Typeflag, h.Linkname = tar.TypeSymlink, tf.link
			default:
				h.Typeflag, h.Size = tar.TypeReg, int64(len(tf.body))
			}
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			if err := dw.Add(h, strings.NewReader(tf.body)); err != nil {
				return err
			}
		}
		return nil
	}, apk.WriteOptions{Signer: signer, SourceDateEpoch: info.BuildDate})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// indexRepo writes repoDir/<arch>/APKINDEX.tar.gz for every arch
// directory, signed by signer.
func indexRepo(t testing.TB, repoDir string, signer *apk.Signer) {
	t.Helper()
	archs, _ := os.ReadDir(repoDir)
	for _, a := range archs {
		if !a.IsDir() {
			continue
		}
		paths, _ := filepath.Glob(filepath.Join(repoDir, a.Name(), "*.apk"))
		sort.Strings(paths)
		pkgs, err := repo.BuildIndex(context.Background(), paths, repo.BuildOptions{AllowUntrusted: true})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := repo.WriteIndex(&b, &repo.Index{Description: "test", Packages: pkgs}, signer, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repoDir, a.Name(), "APKINDEX.tar.gz"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// debCacheDir is where Debian packages downloaded by tests are kept
// between runs.
func debCacheDir(t testing.TB) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	d := filepath.Join(base, "reef-tests", "debs")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

var aptMu sync.Mutex

// aptDownload downloads Debian packages (with apt-get download) into the
// test cache and returns their paths. It skips the test when apt-get is
// not installed or cannot download (no network, no package lists).
func aptDownload(t testing.TB, names ...string) []string {
	t.Helper()
	aptMu.Lock()
	defer aptMu.Unlock()
	dir := debCacheDir(t)
	find := func() (paths, missing []string) {
		for _, n := range names {
			m, _ := filepath.Glob(filepath.Join(dir, n+"_*.deb"))
			if len(m) > 0 {
				sort.Strings(m)
				paths = append(paths, m[len(m)-1])
			} else {
				missing = append(missing, n)
			}
		}
		return paths, missing
	}
	paths, missing := find()
	if len(missing) == 0 {
		return paths
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get is not installed: cannot download Debian packages for the stage-0 repository")
	}
	cmd := exec.Command("apt-get", append([]string{"download", "-q"}, missing...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("apt-get download %s failed (no network or package lists?): %v\n%s", strings.Join(missing, " "), err, out)
	}
	paths, missing = find()
	if len(missing) > 0 {
		t.Fatalf("apt-get download did not download %s", strings.Join(missing, " "))
	}
	return paths
}

// stage0Repo converts Debian packages into a signed apk repository in
// dir (dir/<arch>/…, index signed by dir/../stage0.rsa) and returns the
// public key path.
func stage0Repo(t testing.TB, dir string, debs []string) string {
	t.Helper()
	keyDir := t.TempDir()
	signer, pub := testKey(t, keyDir, "stage0")
	_, err := debimport.ImportAll(context.Background(), debs, debimport.Options{OutDir: dir, Signer: signer, NoarchDir: "x86_64"})
	if err != nil {
		t.Fatalf("debimport: %v", err)
	}
	return pub
}

// busyboxRepo builds the stage-0 busybox repository (busybox-static from
// Debian) in a temporary directory and returns it and its key.
func busyboxRepo(t testing.TB) (dir, key string) {
	t.Helper()
	debs := aptDownload(t, "busybox-static")
	dir = filepath.Join(t.TempDir(), "stage0")
	key = stage0Repo(t, dir, debs)
	return dir, key
}

func mustDigest(t testing.TB, h interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	d, err := h.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// needTool returns the path of a program, or skips the test saying so.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, d := range []string{"/usr/sbin", "/sbin"} {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				return filepath.Join(d, name)
			}
		}
		t.Skipf("%s is not installed (CI installs it with apt-get)", name)
	}
	return p
}
