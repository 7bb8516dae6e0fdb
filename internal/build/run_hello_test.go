package build

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/image"
	"github.com/reef-dev/reef/internal/install"
	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/sbom"
	"github.com/reef-dev/reef/internal/solve"
)

// TestHelloBuild is the package builder's acceptance test: GNU hello 2.10
// (examples/hello.melange.yaml: fetch, autoconf/configure, make,
// make-install, strip, and a hello-doc subpackage from split/manpages)
// builds offline against stage 0, with the source tarball taken from the
// cache (Debian's hello_2.10.orig.tar.gz, byte-identical to GNU's). The
// packages verify, carry generated dependencies, an SBOM and the
// embedded build file; hello installs and runs; and a second build in a
// fresh workspace gives the same bytes.
func TestHelloBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds GNU hello twice (a few minutes)")
	}
	cache := t.TempDir()
	e := newRTEnv(t, cache)
	tarball := rtHelloTarball(t)
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "sha256:"+helloSHA256), data, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("..", "..", "examples", "hello.melange.yaml")

	start := time.Now()
	res, err := e.build(t, file, nil)
	if err != nil {
		t.Fatalf("build: %v\noutput:\n%s", err, lastLines(e.output.String(), 60))
	}
	t.Logf("first build: %v (build environment: %d packages, cached: %v)", time.Since(start).Round(time.Millisecond), len(res.Guest.Packages), res.Guest.Cached)
	if len(res.Packages) != 2 || res.Packages[0].Name != "hello" || res.Packages[1].Name != "hello-doc" {
		t.Fatalf("packages: %+v", res.Packages)
	}
	hello, doc := res.Packages[0].Path, res.Packages[1].Path

	for _, p := range []string{hello, doc} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := apk.VerifyPackage(f, e.kr, apk.Limits{})
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
		if rep.SignedBy != e.signer.KeyName {
			t.Errorf("%s signed by %q", filepath.Base(p), rep.SignedBy)
		}
	}

	info, ctl, files := readPackage(t, hello)
	t.Logf("hello: depends %v, provides %v", info.Depends, info.Provides)
	if !slices.Contains(info.Depends, "so:libc.so.6") {
		t.Errorf("hello depends %v: no so:libc.so.6", info.Depends)
	}
	if !slices.Contains(info.Provides, "cmd:hello=2.10-r0") {
		t.Errorf("hello provides %v: no cmd:hello=2.10-r0", info.Provides)
	}
	if info.Origin != "hello" || info.Arch != arch.Host() || info.License != "GPL-3.0-or-later" || info.BuildDate != rtEpoch || info.URL != "https://www.gnu.org/software/hello/" {
		t.Errorf(".PKGINFO: %+v", info)
	}
	if _, ok := files["usr/bin/hello"]; !ok {
		t.Errorf("hello has no usr/bin/hello: %v", sortedKeys(files))
	}
	for name := range files {
		if strings.HasPrefix(name, "usr/share/man/") && name != "usr/share/man" {
			t.Errorf("hello still has %s (split/manpages should have moved it)", name)
		}
	}
	if !bytes.HasPrefix([]byte(files["usr/bin/hello"]), []byte("\x7fELF")) {
		t.Errorf("usr/bin/hello is not an ELF file")
	}
	checkSBOM(t, files, "hello", "2.10-r0")
	if len(ctl) != 1 || ctl[0].Name != ".melange.yaml" {
		t.Fatalf("control files: %v", ctl)
	}
	// The embedded build file loads and compiles to the same steps.
	cfg, err := config.Parse(ctl[0].Body, ".melange.yaml", config.Options{})
	if err != nil {
		t.Fatalf("embedded .melange.yaml: %v\n%s", err, ctl[0].Body)
	}
	if _, err := Compile(cfg, Options{SourceDateEpoch: rtEpoch}); err != nil {
		t.Errorf("embedded .melange.yaml does not compile: %v", err)
	}
	if !strings.Contains(string(ctl[0].Body), "build-base=") {
		t.Errorf("embedded .melange.yaml does not lock the build environment:\n%s", ctl[0].Body)
	}

	dinfo, _, dfiles := readPackage(t, doc)
	var man []string
	for name := range dfiles {
		if strings.HasPrefix(name, "usr/share/man/man1/hello.1") {
			man = append(man, name)
		}
	}
	if len(man) == 0 {
		t.Errorf("hello-doc has no man page: %v", sortedKeys(dfiles))
	}
	if dinfo.Origin != "hello" || dinfo.Description != "hello manual pages" {
		t.Errorf("hello-doc .PKGINFO: %+v", dinfo)
	}
	checkSBOM(t, dfiles, "hello-doc", "2.10-r0")

	idx := readIndex(t, res.Index, e.kr)
	var names []string
	for _, p := range idx.Packages {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"hello", "hello-doc"}) {
		t.Errorf("index lists %v", names)
	}

	// Install hello (with its dependencies from stage 0) and run it.
	root := filepath.Join(t.TempDir(), "root")
	installFrom(t, root, []string{"hello"}, e, res.Dir)
	out, err := exec.Command("bwrap", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev",
		"--unshare-all", "--die-with-parent", "--clearenv", "/usr/bin/hello").CombinedOutput()
	if err != nil {
		t.Fatalf("running hello: %v: %s", err, out)
	}
	if string(out) != "Hello, world!\n" {
		t.Errorf("hello printed %q", out)
	}

	// Put it in an image with reef's image builder and run that with runc.
	runHelloImage(t, e)

	// Again, in a fresh workspace with a fresh output directory, the build
	// environment now cached: the same bytes.
	first := map[string][]byte{}
	for _, p := range []string{hello, doc, res.Index} {
		first[filepath.Base(p)], _ = os.ReadFile(p)
	}
	e.out = filepath.Join(t.TempDir(), "packages")
	e.output.Reset()
	start = time.Now()
	res2, err := e.build(t, file, nil)
	if err != nil {
		t.Fatalf("second build: %v\noutput:\n%s", err, lastLines(e.output.String(), 60))
	}
	t.Logf("second build: %v (build environment cached: %v)", time.Since(start).Round(time.Millisecond), res2.Guest.Cached)
	if !res2.Guest.Cached {
		t.Errorf("the second build did not reuse the cached build environment")
	}
	for _, p := range append([]string{res2.Index}, res2.Packages[0].Path, res2.Packages[1].Path) {
		b, _ := os.ReadFile(p)
		if !bytes.Equal(b, first[filepath.Base(p)]) {
			t.Errorf("%s differs between two builds of the same file", filepath.Base(p))
		}
	}
}

// checkSBOM checks the SPDX document a package carries.
func checkSBOM(t *testing.T, files map[string]string, name, ver string) {
	t.Helper()
	p := sbom.PackageSBOMPath(name, ver)
	data, ok := files[p]
	if !ok {
		t.Errorf("%s has no %s", name, p)
		return
	}
	doc, err := sbom.Parse(strings.NewReader(data))
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if err := doc.Validate(); err != nil {
		t.Errorf("%s: %v", p, err)
	}
	if !strings.Contains(data, "ftp.gnu.org%2Fgnu%2Fhello%2Fhello-2.10.tar.gz") || !strings.Contains(data, helloSHA256) {
		t.Errorf("%s does not record the upstream tarball:\n%s", p, data)
	}
}

// installFrom resolves world against the output repository and stage 0
// and installs it into root.
func installFrom(t *testing.T, root string, world []string, e *rtEnv, outDir string) {
	t.Helper()
	kr := apk.NewKeyring()
	kr.Add(e.signer.KeyName, &e.signer.Key.PublicKey)
	if err := kr.Load(e.stage0.PubKey); err != nil {
		t.Fatal(err)
	}
	arch := arch.Host()
	dirs := []string{outDir, filepath.Join(e.stage0.Repo, arch)}
	var repos []solve.Repository
	for _, d := range dirs {
		idx, err := repo.ReadIndexFile(filepath.Join(d, "APKINDEX.tar.gz"), kr, repo.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, solve.Repository{Name: d, Packages: idx.Packages})
	}
	plan, err := solve.Solve(context.Background(), solve.Request{World: world, Repos: repos, Arch: arch})
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := install.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	pkgs := install.FromPlan(plan, repos, func(sel solve.Selection) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dirs[sel.Repo], sel.Package.Filename()))
	})
	in := &install.Installer{FS: fsys, Arch: arch}
	if _, err := in.Install(context.Background(), pkgs, install.Options{World: world}); err != nil {
		t.Fatal(err)
	}
}

// runHelloImage builds an OCI image holding the hello just built (and its
// dependencies from stage 0) with internal/image, unpacks it with umoci and
// runs its entrypoint with runc, as the image's user.
func runHelloImage(t *testing.T, e *rtEnv) {
	t.Helper()
	umoci, err1 := exec.LookPath("umoci")
	runc, err2 := exec.LookPath("runc")
	if err1 != nil || err2 != nil || os.Geteuid() != 0 {
		t.Log("not running the hello image: needs umoci, runc and root (apt-get install umoci runc)")
		return
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "hello.image.yaml")
	if err := os.WriteFile(file, []byte(`contents:
  packages: [hello]
entrypoint:
  command: /usr/bin/hello
accounts:
  users: [{username: hello, uid: 1000}]
  run-as: hello
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := image.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := image.Build(context.Background(), cfg, image.Options{
		Archs:             []string{arch.Host()},
		ExtraRepositories: []string{e.out, e.stage0.Repo},
		ExtraKeyring:      []string{rtKeyPriv + ".pub", e.stage0.PubKey},
		CacheDir:          filepath.Join(dir, "cache"),
	})
	if err != nil {
		t.Fatalf("image build: %v", err)
	}
	layout := filepath.Join(dir, "layout")
	os.Mkdir(layout, 0o755)
	tag, _ := image.ParseTag("reef.local/hello:test")
	if err := res.Write(layout, tag); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle")
	if out, err := exec.Command(umoci, "unpack", "--image", layout+":test", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	spec := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte(`"terminal": true`), []byte(`"terminal": false`), 1)
	raw = bytes.Replace(raw, []byte(`"terminal":true`), []byte(`"terminal":false`), 1)
	if err := os.WriteFile(spec, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	id := "reef-hello-" + filepath.Base(dir)
	out, err := exec.Command(runc, "run", "--bundle", bundle, id).CombinedOutput()
	exec.Command(runc, "delete", "--force", id).Run()
	if err != nil {
		t.Fatalf("runc run: %v\n%s", err, out)
	}
	if string(out) != "Hello, world!\n" {
		t.Errorf("the hello image printed %q", out)
	}
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
