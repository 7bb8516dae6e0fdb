package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/image/ldso"
	"github.com/reef-dev/reef/internal/install"
	"github.com/reef-dev/reef/internal/solve"
)

// melangeConfig is an image of the melange-built fixture repository that
// uses most of the image file: accounts, paths, environment, entrypoint,
// annotations, volumes, two architectures.
func melangeConfig(repoPath string) string {
	return `
contents:
  repositories:
    - ` + repoPath + `
  keyring:
    - ` + repoPath + `/melange.rsa.pub
  packages:
    - replayout
    - custom-ca-certs-1
entrypoint:
  command: /usr/bin/app --serve "on port 80"
cmd: -v
stop-signal: SIGQUIT
work-dir: /home/nonroot
accounts:
  groups:
    - groupname: nonroot
      gid: 65532
  users:
    - username: nonroot
      uid: 65532
  run-as: nonroot
archs: [amd64, aarch64]
environment:
  FOO: bar
  PATH: /usr/bin:/bin
paths:
  - path: /app/data
    type: directory
    uid: 65532
    gid: 65532
    permissions: 0o750
  - path: /app/ready
    type: empty-file
    permissions: 0600
  - path: /app/os-release
    type: symlink
    source: ../etc/os-release
  - path: /app/os-release-copy
    type: hardlink
    source: /etc/os-release
  - path: /usr/local/share/ca-certificates
    type: permissions
    permissions: 0o700
    uid: 65532
    recursive: true
volumes: [/app/data]
annotations:
  org.opencontainers.image.title: melange fixture
`
}

func TestBuildMelangeFixture(t *testing.T) {
	dir := t.TempDir()
	c := writeConfig(t, dir, "img.yaml", melangeConfig(melangeRepo(t)))
	res := mustBuild(t, c, Options{Ref: "reef.test/melange:latest"})

	im, err := res.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.Manifests[0].Platform.Architecture != "amd64" || im.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("index manifests = %+v", im.Manifests)
	}
	if im.Annotations["org.opencontainers.image.title"] != "melange fixture" {
		t.Errorf("index annotations = %v", im.Annotations)
	}
	if len(res.Images) != 2 || res.Images[0].Arch != "aarch64" || res.Images[1].Arch != "x86_64" {
		t.Fatalf("images = %+v", res.Images)
	}
	for _, ai := range res.Images {
		t.Run(ai.Arch, func(t *testing.T) {
			cf, err := ai.Image.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			cc := cf.Config
			if !slices.Equal(cc.Entrypoint, []string{"/usr/bin/app", "--serve", "on port 80"}) || !slices.Equal(cc.Cmd, []string{"-v"}) {
				t.Errorf("entrypoint %q cmd %q", cc.Entrypoint, cc.Cmd)
			}
			wantEnv := []string{"FOO=bar", "PATH=/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
			if !slices.Equal(cc.Env, wantEnv) {
				t.Errorf("env = %q, want %q", cc.Env, wantEnv)
			}
			if cc.User != "65532" || cc.WorkingDir != "/home/nonroot" || cc.StopSignal != "SIGQUIT" {
				t.Errorf("user %q workdir %q stop %q", cc.User, cc.WorkingDir, cc.StopSignal)
			}
			if _, ok := cc.Volumes["/app/data"]; !ok {
				t.Errorf("volumes = %v", cc.Volumes)
			}
			if cc.Labels["org.opencontainers.image.title"] != "melange fixture" {
				t.Errorf("labels = %v", cc.Labels)
			}
			if cf.Created.Time.Unix() != 0 {
				t.Errorf("created = %v, want the newest package build date (0)", cf.Created)
			}
			m, _ := ai.Image.Manifest()
			if m.Annotations["org.opencontainers.image.title"] != "melange fixture" {
				t.Errorf("manifest annotations = %v", m.Annotations)
			}

			fs := flatten(t, ai.Image)
			get := func(name string) tarFile {
				t.Helper()
				f, ok := fs[name]
				if !ok {
					t.Fatalf("%s missing from the image", name)
				}
				return f
			}
			// replayout replaces pretend-baselayout's os-release.
			if osr := string(get("etc/os-release").data); !strings.Contains(osr, "ID=") {
				t.Errorf("os-release = %q", osr)
			}
			// Package owners are kept (apko would force 0:0).
			if h := get("usr/local/share/ca-certificates/cert-a.crt").hdr; h.Uid != 65532 || h.Mode&0o777 != 0o700 {
				t.Errorf("cert-a.crt after recursive permissions: uid %d mode %o", h.Uid, h.Mode)
			}
			if h := get("etc/os-release").hdr; h.Uid != 501 {
				t.Errorf("etc/os-release owner = %d, want the package's 501", h.Uid)
			}
			passwd := string(get("etc/passwd").data)
			if !strings.Contains(passwd, "nonroot:x:65532:65532:Account created by reef:/home/nonroot:/bin/sh\n") {
				t.Errorf("passwd = %q", passwd)
			}
			if g := string(get("etc/group").data); !strings.Contains(g, "nonroot:x:65532:") {
				t.Errorf("group = %q", g)
			}
			if s := string(get("etc/shadow").data); !strings.Contains(s, "nonroot:!:") {
				t.Errorf("shadow = %q", s)
			}
			if h := get("home/nonroot").hdr; h.Typeflag != tar.TypeDir || h.Mode&0o7777 != 0o700 || h.Uid != 65532 || h.Uname != "nonroot" || h.Gname != "nonroot" {
				t.Errorf("home: %+v", h)
			}
			if h := get("app/data").hdr; h.Mode&0o7777 != 0o750 || h.Uid != 65532 || h.Gid != 65532 {
				t.Errorf("/app/data: mode %o uid %d gid %d", h.Mode, h.Uid, h.Gid)
			}
			if h := get("app/ready").hdr; h.Typeflag != tar.TypeReg || h.Size != 0 || h.Mode&0o777 != 0o600 {
				t.Errorf("/app/ready: %+v", h)
			}
			if h := get("app/os-release").hdr; h.Typeflag != tar.TypeSymlink || h.Linkname != "../etc/os-release" {
				t.Errorf("/app/os-release: %+v", h)
			}
			// A hard link: the first name in walk order holds the content,
			// the second links to it.
			if h := get("app/os-release-copy").hdr; h.Typeflag != tar.TypeReg {
				t.Errorf("/app/os-release-copy is %c, want the first name of the hard link", h.Typeflag)
			}
			if h := get("etc/os-release").hdr; h.Typeflag != tar.TypeLink || h.Linkname != "app/os-release-copy" {
				t.Errorf("/etc/os-release: %+v", h)
			}
			// apk state as apk-tools has it; world lists every package.
			world := string(get("etc/apk/world").data)
			if world != "custom-ca-certs-1=1.0.0-r0\npretend-baselayout=1.0.0-r0\nreplayout=1.0.0-r0\n" {
				t.Errorf("world = %q", world)
			}
			if r := string(get("etc/apk/repositories").data); r != melangeRepo(t)+"\n" {
				t.Errorf("repositories = %q", r)
			}
			if a := strings.TrimSpace(string(get("etc/apk/arch").data)); a != ai.Arch {
				t.Errorf("arch = %q", a)
			}
			get("etc/apk/keys/melange.rsa.pub")
			idb, err := install.ParseInstalled(bytes.NewReader(get("usr/lib/apk/db/installed").data), "installed")
			if err != nil || len(idb) != 3 {
				t.Errorf("installed db: %d packages, %v", len(idb), err)
			}
			if h := get("lib/apk").hdr; h.Typeflag != tar.TypeSymlink || h.Linkname != "../usr/lib/apk" {
				t.Errorf("lib/apk: %+v", h)
			}
			if h := get("dev/null").hdr; h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3 {
				t.Errorf("dev/null: %+v", h)
			}
			if h := get("tmp").hdr; h.Mode&0o7777 != 0o1777 {
				t.Errorf("tmp mode %o", h.Mode)
			}
			// The locked configuration.
			f := get("etc/apko.json")
			if f.hdr.Mode&0o777 != 0o444 {
				t.Errorf("apko.json mode %o", f.hdr.Mode)
			}
			var locked Config
			if err := json.Unmarshal(f.data, &locked); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(locked.Contents.Packages, []string{"custom-ca-certs-1=1.0.0-r0", "pretend-baselayout=1.0.0-r0", "replayout=1.0.0-r0"}) || !slices.Equal(locked.Archs, []string{ai.Arch}) {
				t.Errorf("apko.json packages %q archs %q", locked.Contents.Packages, locked.Archs)
			}
			// Sorted, parents first: tar order is walk order.
			names := layerNames(t, mustLayers(t, ai.Image)[0])
			if !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/")) }) {
				t.Errorf("layer entries not sorted: %q", names)
			}
		})
	}
	// SBOMs: one per arch and the index's.
	for _, n := range []string{"sbom-x86_64.spdx.json", "sbom-aarch64.spdx.json", "sbom-index.spdx.json"} {
		var doc map[string]any
		if err := json.Unmarshal(res.SBOMs[n], &doc); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if doc["spdxVersion"] != "SPDX-2.3" {
			t.Errorf("%s: spdxVersion %v", n, doc["spdxVersion"])
		}
	}
	if !bytes.Contains(res.SBOMs["sbom-x86_64.spdx.json"], []byte("pkg:apk/")) || !bytes.Contains(res.SBOMs["sbom-x86_64.spdx.json"], []byte("replayout")) {
		t.Error("x86_64 SBOM lacks the packages")
	}

	// OCI layout output with the SBOMs as files.
	out := t.TempDir()
	tag, _ := ParseTag("reef.test/melange:latest")
	if err := res.Write(out, tag); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"index.json", "oci-layout", "sbom-index.spdx.json", "sbom-x86_64.spdx.json"} {
		if _, err := os.Stat(filepath.Join(out, n)); err != nil {
			t.Errorf("layout: %v", err)
		}
	}
	// Tarball output.
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	if err := res.Write(tarPath, tag); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(tarPath); err != nil || st.Size() == 0 {
		t.Errorf("tarball: %v", err)
	}
}

func mustLayers(t testing.TB, img v1.Image) []v1.Layer {
	t.Helper()
	l, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// copyDir copies a directory tree (regular files and directories).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReproducible builds the same image file and repository, copied into
// two different directories, at two different times: the digests must be
// the same, and so must the written layouts.
func TestReproducible(t *testing.T) {
	text := strings.ReplaceAll(melangeConfig("./packages"), "./packages/melange.rsa.pub", "./packages/melange.rsa.pub")
	var digests []v1.Hash
	var indexJSON [][]byte
	for i := range 2 {
		dir := t.TempDir()
		copyDir(t, melangeRepo(t), filepath.Join(dir, "packages"))
		os.Setenv("TZ", []string{"UTC", "Asia/Tokyo"}[i])
		c := writeConfig(t, dir, "img.yaml", text)
		res := mustBuild(t, c, Options{Ref: "reef.test/repro:latest", CacheDir: filepath.Join(dir, "cache")})
		digests = append(digests, mustDigest(t, res.Index))
		out := filepath.Join(dir, "out")
		os.Mkdir(out, 0o755)
		tag, _ := ParseTag("reef.test/repro:latest")
		if err := res.Write(out, tag); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(out, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		indexJSON = append(indexJSON, data)
		if i == 0 {
			time.Sleep(1100 * time.Millisecond) // a different second on the clock
		}
	}
	os.Unsetenv("TZ")
	if digests[0] != digests[1] {
		t.Errorf("index digests differ: %s vs %s", digests[0], digests[1])
	}
	if !bytes.Equal(indexJSON[0], indexJSON[1]) {
		t.Errorf("index.json differs:\n%s\n%s", indexJSON[0], indexJSON[1])
	}
	t.Logf("index digest %s", digests[0])

	// SOURCE_DATE_EPOCH changes the times, hence the digest.
	dir := t.TempDir()
	copyDir(t, melangeRepo(t), filepath.Join(dir, "packages"))
	c := writeConfig(t, dir, "img.yaml", text)
	sde := time.Unix(1700000000, 0)
	res := mustBuild(t, c, Options{SourceDateEpoch: &sde})
	if d := mustDigest(t, res.Index); d == digests[0] {
		t.Error("SOURCE_DATE_EPOCH did not change the digest")
	}
	if res.Created != sde.UTC() {
		t.Errorf("created = %v", res.Created)
	}
	cf, _ := res.Images[0].Image.ConfigFile()
	if !cf.Created.Time.Equal(sde) {
		t.Errorf("config created = %v", cf.Created)
	}
}

// wolfiRepo makes a repository of the real Wolfi fixture packages
// (x86_64, no index of their own) plus a stub package that provides what
// they depend on outside the fixtures (glibc's sonames, ruby), signed by
// a key generated for the test.
func wolfiRepo(t testing.TB) (dir, key string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "wolfi")
	signer, key := testKey(t, t.TempDir(), "wolfi-test")
	src, _ := filepath.Glob(filepath.Join(fixtures, "wolfi-packages", "x86_64", "*.apk"))
	if len(src) == 0 {
		t.Fatal("no Wolfi fixture packages")
	}
	os.MkdirAll(filepath.Join(dir, "x86_64"), 0o755)
	for _, p := range src {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "x86_64", filepath.Base(p)), data, 0o644)
	}
	writeTestPackage(t, dir, apk.PkgInfo{
		Name: "runtime-stubs", Version: "1.0-r0", Arch: "x86_64", Origin: "runtime-stubs", License: "MIT",
		Description: "stands in for glibc and ruby", BuildDate: 1700000000,
		Provides: []string{"so:libc.so.6=6", "so:ld-linux-x86-64.so.2=2", "ruby-3.2=3.2.0-r0", "perl=5.40-r0"},
	}, []testFile{{name: "etc/os-release", body: "ID=wolfi\nNAME=\"Wolfi\"\nVERSION_ID=20230201\n"}}, signer)
	indexRepo(t, dir, signer)
	return dir, key
}

// TestBuildWolfiFixture builds from real Wolfi packages, single layer and
// with origin layering, and checks both give the same file system.
func TestBuildWolfiFixture(t *testing.T) {
	repoDir, key := wolfiRepo(t)
	dir := t.TempDir()
	base := `
contents:
  repositories: [` + repoDir + `]
  keyring: [` + key + `]
  packages: [hello-wolfi, perl-json, ruby3.2-base64, bash-doc, runtime-stubs]
archs: [x86_64]
entrypoint:
  command: /usr/bin/hello
`
	single := mustBuild(t, writeConfig(t, dir, "single.yaml", base), Options{})
	layered := mustBuild(t, writeConfig(t, dir, "layered.yaml", base+"layering:\n  strategy: origin\n  budget: 3\n"), Options{})

	sl, ll := mustLayers(t, single.Images[0].Image), mustLayers(t, layered.Images[0].Image)
	if len(sl) != 1 || len(ll) != 4 {
		t.Fatalf("layers: single %d, layered %d (want 1 and budget+1 = 4)", len(sl), len(ll))
	}
	sf, lf := flatten(t, single.Images[0].Image), flatten(t, layered.Images[0].Image)
	if _, ok := sf["usr/bin/hello"]; !ok {
		t.Error("usr/bin/hello missing")
	}
	if len(sf) != len(lf) {
		t.Errorf("single layer has %d entries, layered %d", len(sf), len(lf))
	}
	for name, f := range sf {
		g, ok := lf[name]
		if !ok {
			t.Errorf("%s missing from the layered image", name)
			continue
		}
		if name == "etc/apko.json" {
			continue // records the layering block
		}
		if !bytes.Equal(f.data, g.data) || f.hdr.Mode != g.hdr.Mode || f.hdr.Uid != g.hdr.Uid || f.hdr.Typeflag != g.hdr.Typeflag && !(f.hdr.Typeflag == tar.TypeLink || g.hdr.Typeflag == tar.TypeLink) {
			t.Errorf("%s differs between single and layered images", name)
		}
	}
	// The largest origin gets a layer of its own, with a partial installed
	// database naming only its packages.
	first := layerNames(t, ll[0])
	if !slices.Contains(first, "usr/share/doc/bash/") && !slices.ContainsFunc(first, func(s string) bool { return strings.HasPrefix(s, "usr/share/") }) {
		t.Errorf("first layer: %q", first[:min(len(first), 20)])
	}
	fs0 := flattenLayer(t, ll[0])
	idb, err := install.ParseInstalled(bytes.NewReader(fs0["usr/lib/apk/db/installed"].data), "installed")
	if err != nil || len(idb) != 1 || idb[0].Name != "bash-doc" {
		t.Errorf("first layer's installed db: %v %v", len(idb), err)
	}
	// SBOM lists the packages with the distro from os-release.
	if sb := layered.SBOMs["sbom-x86_64.spdx.json"]; !bytes.Contains(sb, []byte("pkg:apk/wolfi/hello-wolfi@2.12.1-r0")) {
		t.Errorf("SBOM lacks hello-wolfi's purl")
	}
}

func flattenLayer(t testing.TB, l v1.Layer) map[string]tarFile {
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]tarFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		var b bytes.Buffer
		b.ReadFrom(tr)
		out[strings.TrimSuffix(h.Name, "/")] = tarFile{h, b.Bytes()}
	}
}

// TestLockfile locks an image, builds from the lock without indexes, and
// gets the digest of the resolved build.
func TestLockfile(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, melangeRepo(t), filepath.Join(dir, "packages"))
	c := writeConfig(t, dir, "img.yaml", melangeConfig("./packages"))
	ctx := context.Background()
	res := mustBuild(t, c, Options{})
	want := mustDigest(t, res.Index)

	r, err := Resolve(ctx, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Lock(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, "img.lock.json")
	if err := l.Write(lockPath); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(lockPath)
	t.Logf("lock:\n%s", data[:min(len(data), 1500)])
	l2, err := ReadLock(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(l2.Contents.Packages) != 6 || l2.Config.Checksum != c.Checksum() {
		t.Fatalf("lock: %d packages, config %+v", len(l2.Contents.Packages), l2.Config)
	}
	p := l2.Contents.Packages[0]
	if !strings.HasPrefix(p.URL, "packages/") || !strings.HasPrefix(p.Control.Checksum, "sha1-") || !strings.HasPrefix(p.Data.Checksum, "sha256-") || !strings.HasPrefix(p.Signature.Range, "bytes=0-") {
		t.Errorf("locked package: %+v", p)
	}
	if len(l2.Contents.Keyring) != 1 || !strings.Contains(l2.Contents.Keyring[0].Content, "PUBLIC KEY") {
		t.Errorf("keyring: %+v", l2.Contents.Keyring)
	}
	// Remove the indexes: a locked build needs none.
	os.Remove(filepath.Join(dir, "packages", "x86_64", "APKINDEX.tar.gz"))
	os.Remove(filepath.Join(dir, "packages", "aarch64", "APKINDEX.tar.gz"))
	got := mustBuild(t, c, Options{Lock: l2, LockDir: dir})
	if d := mustDigest(t, got.Index); d != want {
		t.Errorf("locked build digest %s, resolved build %s", d, want)
	}
	// A lock of another configuration is refused.
	c2 := writeConfig(t, dir, "other.yaml", strings.Replace(melangeConfig("./packages"), "cmd: -v", "cmd: other", 1))
	if _, err := Build(ctx, c2, Options{Lock: l2, LockDir: dir}); err == nil || !strings.Contains(err.Error(), "lock again") {
		t.Errorf("mismatched lock: %v", err)
	}
	// A tampered package is refused.
	l2.Contents.Packages[0].Checksum = "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if _, err := Build(ctx, c, Options{Lock: l2, LockDir: dir}); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("wrong checksum: %v", err)
	}
}

func TestShowPackages(t *testing.T) {
	dir := t.TempDir()
	c := writeConfig(t, dir, "img.yaml", melangeConfig(melangeRepo(t)))
	r, err := Resolve(context.Background(), c, Options{Archs: []string{"x86_64"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b bytes.Buffer
	if err := r.Show(&b, ""); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "pretend-baselayout-1.0.0-r0\nreplayout-1.0.0-r0\ncustom-ca-certs-1-1.0.0-r0\n" && !strings.Contains(got, "replayout-1.0.0-r0\n") {
		t.Errorf("show = %q", got)
	}
	b.Reset()
	if err := r.Show(&b, "{{.Name}} {{.Arch}}"); err != nil || !strings.Contains(b.String(), "replayout x86_64\n") {
		t.Errorf("template: %q %v", b.String(), err)
	}
	if len(r.Packages["x86_64"][0].Reasons) == 0 {
		t.Error("no reasons")
	}
}

// TestBadInput checks that bad input gives a clear error and writes
// nothing.
func TestBadInput(t *testing.T) {
	repoPath := melangeRepo(t)
	ctx := context.Background()
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
		opts Options
	}{
		{"missing package", strings.Replace(melangeConfig(repoPath), "- custom-ca-certs-1", "- custom-ca-certs-1\n    - no-such-package>=2", 1),
			[]string{"no-such-package"}, Options{}},
		{"missing repository dir", strings.Replace(melangeConfig(repoPath), "- "+repoPath+"\n", "- /nonexistent/reef-repo\n", 1),
			[]string{"/nonexistent/reef-repo"}, Options{}},
		{"unreachable repository", strings.Replace(melangeConfig(repoPath), "- "+repoPath+"\n", "- http://127.0.0.1:9/repo\n", 1),
			[]string{"127.0.0.1:9", "unreachable"}, Options{Retries: -1}},
		{"run-as user does not exist", strings.Replace(melangeConfig(repoPath), "run-as: nonroot", "run-as: ghost", 1),
			[]string{"img.yaml:22:", "accounts.run-as", `"ghost" does not exist`}, Options{}},
		{"hardlink to nothing", strings.Replace(melangeConfig(repoPath), "source: /etc/os-release", "source: /etc/nope", 1),
			[]string{"paths[3]", "does not exist"}, Options{}},
		{"untrusted index", strings.Replace(melangeConfig(repoPath), "    - "+repoPath+"/melange.rsa.pub\n", "    []\n", 1),
			[]string{"melange.rsa.pub"}, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "img.yaml")
			os.WriteFile(cfgPath, []byte(tt.yaml), 0o644)
			tt.opts.Logger = testLogger(t)
			// Both outputs, as `reef image build` writes them: an
			// existing directory with a file in it, and a tarball path.
			outDir := filepath.Join(dir, "out")
			os.Mkdir(outDir, 0o755)
			os.WriteFile(filepath.Join(outDir, "keep"), []byte("x"), 0o644)
			sbomDir := filepath.Join(dir, "sboms")
			res, err := BuildTo(ctx, cfgPath, "reef.test/bad:latest", outDir, sbomDir, tt.opts)
			if err == nil {
				res.Close()
				t.Fatal("no error")
			}
			tarPath := filepath.Join(dir, "img.tar")
			if _, err2 := BuildTo(ctx, cfgPath, "reef.test/bad:latest", tarPath, "", tt.opts); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("tarball build: %v", err2)
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 1 {
				t.Errorf("OUT directory was changed: %d entries", len(ents))
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 2 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("files appeared next to OUT: %q", names)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			t.Logf("error: %v", err)
		})
	}
	// The solver's explanation reaches the user.
	dir := t.TempDir()
	c := writeConfig(t, dir, "img.yaml", strings.Replace(melangeConfig(repoPath), "- custom-ca-certs-1", "- custom-ca-certs-1>=2", 1))
	_, err := Build(ctx, c, Options{})
	var se *solve.Error
	if !errors.As(err, &se) {
		t.Errorf("error %T is not a *solve.Error: %v", err, err)
	}
	// Errors in the file itself come with their line.
	for _, bad := range []struct{ yaml, want string }{
		{melangeConfig(repoPath) + "colour: blue\n", "img.yaml:50: field colour: unknown field"},
		{strings.Replace(melangeConfig(repoPath), "path: /app/data\n", "path: /../../../etc/shadow\n", 1), "img.yaml:28: field paths[0].path: path \"/../../../etc/shadow\" is outside the image root"},
	} {
		p := filepath.Join(dir, "img.yaml")
		os.WriteFile(p, []byte(bad.yaml), 0o644)
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("error %v, want %q", err, bad.want)
		}
	}
}

// TestLDSOCache checks that an image with /etc/ld.so.conf gets a cache
// listing its libraries, built from real (host) shared libraries.
func TestLDSOCache(t *testing.T) {
	libc := ""
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"} {
		if _, err := os.Stat(p); err == nil {
			libc = p
		}
	}
	if libc == "" {
		t.Skip("no x86-64 glibc on this host to put in a test package")
	}
	libz := filepath.Join(filepath.Dir(libc), "libz.so.1.2.13")
	libcData, _ := os.ReadFile(libc)
	libzData, err := os.ReadFile(libz)
	if err != nil {
		t.Skipf("no host zlib: %v", err)
	}
	repoDir := filepath.Join(t.TempDir(), "repo")
	signer, key := testKey(t, t.TempDir(), "ld")
	writeTestPackage(t, repoDir, apk.PkgInfo{Name: "libs", Version: "1-r0", Arch: "x86_64", BuildDate: 1700000000}, []testFile{
		{name: "etc/ld.so.conf", body: "include /etc/ld.so.conf.d/*.conf\n"},
		{name: "etc/ld.so.conf.d/local.conf", body: "/usr/local/lib\n"},
		{name: "usr/lib/libc.so.6", body: string(libcData), mode: 0o755},
		{name: "usr/local/lib/libz.so.1.2.13", body: string(libzData), mode: 0o755},
		{name: "usr/local/lib/libz.so.1", link: "libz.so.1.2.13"},
		{name: "lib", link: "usr/lib"},
	}, signer)
	indexRepo(t, repoDir, signer)
	dir := t.TempDir()
	c := writeConfig(t, dir, "img.yaml", "contents:\n  repositories: ["+repoDir+"]\n  keyring: ["+key+"]\n  packages: [libs]\narchs: [x86_64]\n")
	res := mustBuild(t, c, Options{})
	fs := flatten(t, res.Images[0].Image)
	f, ok := fs["etc/ld.so.cache"]
	if !ok {
		t.Fatal("no etc/ld.so.cache")
	}
	cache, err := ldso.Parse(f.data)
	if err != nil {
		t.Fatal(err)
	}
	if v := cache.Lookup("libz.so.1", 0x303); v != "/usr/local/lib/libz.so.1" {
		t.Errorf("libz.so.1 → %q; cache %v", v, cache.Entries)
	}
	// /lib links to usr/lib: the directory is scanned once, under the
	// name met first, as ldconfig does.
	if v := cache.Lookup("libc.so.6", 0x303); v != "/lib/libc.so.6" {
		t.Errorf("libc.so.6 → %q; cache %v", v, cache.Entries)
	}
}

// TestWarmCache builds twice with one cache directory: the second build
// installs nothing and gives the same image and SBOMs; a change to the
// image file misses the cache.
func TestWarmCache(t *testing.T) {
	repoDir, key := wolfiRepo(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	text := "contents:\n  repositories: [" + repoDir + "]\n  keyring: [" + key + "]\n  packages: [hello-wolfi, runtime-stubs, bash-doc]\narchs: [x86_64]\nlayering: {strategy: origin, budget: 2}\n"
	c := writeConfig(t, dir, "img.yaml", text)
	cold := mustBuild(t, c, Options{CacheDir: cache})
	warm := mustBuild(t, c, Options{CacheDir: cache})
	if cold.Timings.Get(PhaseInstall) == 0 || warm.Timings.Get(PhaseInstall) != 0 {
		t.Errorf("install time: cold %v, warm %v (want none)", cold.Timings.Get(PhaseInstall), warm.Timings.Get(PhaseInstall))
	}
	if a, b := mustDigest(t, cold.Index), mustDigest(t, warm.Index); a != b {
		t.Errorf("warm digest %s, cold %s", b, a)
	}
	for n, s := range cold.SBOMs {
		if !bytes.Equal(s, warm.SBOMs[n]) {
			t.Errorf("%s differs between cold and warm builds", n)
		}
	}
	if warm.Images[0].InstalledSize != cold.Images[0].InstalledSize || warm.Images[0].UncompressedSize != cold.Images[0].UncompressedSize {
		t.Errorf("sizes differ")
	}
	// The layers read back from the cache are the same.
	wf, cf := flatten(t, warm.Images[0].Image), flatten(t, cold.Images[0].Image)
	if len(wf) != len(cf) {
		t.Errorf("warm image has %d entries, cold %d", len(wf), len(cf))
	}
	c2 := writeConfig(t, dir, "img.yaml", text+"cmd: changed\n")
	changed := mustBuild(t, c2, Options{CacheDir: cache})
	if changed.Timings.Get(PhaseInstall) == 0 {
		t.Error("a changed image file was built from the cache")
	}
	// A cache whose layers were removed falls back to a full build.
	os.RemoveAll(filepath.Join(cache, "layers"))
	again := mustBuild(t, c, Options{CacheDir: cache})
	if again.Timings.Get(PhaseInstall) == 0 || mustDigest(t, again.Index) != mustDigest(t, cold.Index) {
		t.Error("build after the layer cache was removed")
	}
}

// TestBusyboxLinks checks the applet links made from a busybox package's
// /etc/busybox-paths.d list.
func TestBusyboxLinks(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "repo")
	signer, key := testKey(t, t.TempDir(), "bb")
	writeTestPackage(t, repoDir, apk.PkgInfo{Name: "busybox", Version: "1.36.1-r0", Arch: "x86_64", BuildDate: 1700000000}, []testFile{
		{name: "bin/busybox", body: "not really busybox", mode: 0o755},
		{name: "bin/true", body: "a real true", mode: 0o755},
		{name: "etc/busybox-paths.d/busybox", body: "/bin/sh\n/bin/true\n/usr/bin/env\n\n/../../escape\n"},
	}, signer)
	indexRepo(t, repoDir, signer)
	dir := t.TempDir()
	c := writeConfig(t, dir, "img.yaml", "contents:\n  repositories: ["+repoDir+"]\n  keyring: ["+key+"]\n  packages: [busybox]\narchs: [x86_64]\n")
	fs := flatten(t, mustBuild(t, c, Options{}).Images[0].Image)
	for _, p := range []string{"bin/sh", "usr/bin/env"} {
		if h := fs[p].hdr; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "/bin/busybox" {
			t.Errorf("%s: %+v", p, h)
		}
	}
	if h := fs["bin/true"].hdr; h.Typeflag != tar.TypeReg {
		t.Errorf("bin/true was replaced: %+v", h)
	}
	if _, ok := fs["escape"]; ok {
		t.Error("a listed path that climbs out of the root was linked")
	}
}

// TestRemoteRepository builds from a repository served over HTTP (with the
// key downloaded too), then offline from the cache: first with every
// layer cached, then with only the packages cached.
func TestRemoteRepository(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir(melangeRepo(t))))
	defer srv.Close()
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	text := strings.NewReplacer("- "+melangeRepo(t)+"/melange.rsa.pub", "- "+srv.URL+"/melange.rsa.pub", "- "+melangeRepo(t)+"\n", "- "+srv.URL+"/\n").Replace(melangeConfig(melangeRepo(t)))
	c := writeConfig(t, dir, "img.yaml", text)
	online := mustBuild(t, c, Options{CacheDir: cache})
	want := mustDigest(t, online.Index)
	fs := flatten(t, online.Images[1].Image)
	if r := string(fs["etc/apk/repositories"].data); r != srv.URL+"\n" {
		t.Errorf("repositories = %q", r)
	}
	srv.Close()
	for _, wipe := range []bool{false, true} {
		if wipe {
			os.RemoveAll(filepath.Join(cache, "layers"))
			os.RemoveAll(filepath.Join(cache, "images"))
		}
		res, err := Build(context.Background(), c, Options{CacheDir: cache, Offline: true, Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("offline build (layers wiped: %v): %v", wipe, err)
		}
		if d := mustDigest(t, res.Index); d != want {
			t.Errorf("offline digest %s, online %s", d, want)
		}
		res.Close()
	}
	// Offline without a cache: a clear error.
	_, err := Build(context.Background(), c, Options{CacheDir: filepath.Join(dir, "empty"), Offline: true})
	if err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("offline without cache: %v", err)
	}
}

// The build ID read from the test binary is the one the go tool reports.
func TestGoBuildID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	got := goBuildID(exe)
	if got == "" {
		t.Fatalf("no Go build ID in %s", exe)
	}
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Skipf("go tool buildid: %v", err)
	}
	if want := strings.TrimSpace(string(out)); got != want {
		t.Errorf("goBuildID = %q, go tool buildid says %q", got, want)
	}
	if id := goBuildID("/dev/null"); id != "" {
		t.Errorf("goBuildID(/dev/null) = %q", id)
	}
	if d := executableDigest(); d != "go-buildid:"+got {
		t.Errorf("executableDigest() = %q", d)
	}
}
