package oci

// Interoperability tests with the tools users run on reef's outputs:
// skopeo, umoci and runc (Debian packages skopeo, umoci, runc; `make deps`
// installs them). Each test skips, saying why, when a tool is missing.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func requireTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s, or make deps); skipping", tool, tool)
	}
	return p
}

// run runs a command and returns its combined output, failing the test on
// error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// skopeoInspect returns the parsed output of skopeo inspect.
func skopeoInspect(t *testing.T, ref string, raw bool) map[string]any {
	t.Helper()
	args := []string{"inspect"}
	if raw {
		args = append(args, "--raw")
	}
	out := run(t, "skopeo", append(args, ref)...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("skopeo inspect %s: %v\n%s", ref, err, out)
	}
	return m
}

func TestSkopeo(t *testing.T) {
	requireTool(t, "skopeo")
	idx := buildTestIndex(t, LayerOptions{})
	digest, _ := idx.Digest()
	dir := t.TempDir()
	lay := filepath.Join(dir, "layout")
	os.Mkdir(lay, 0o755)
	if err := WriteLayout(lay, idx, LayoutOptions{Tag: "latest"}); err != nil {
		t.Fatal(err)
	}

	// The layout, with and without the name: skopeo resolves the index
	// and reports its digest.
	for _, ref := range []string{"oci:" + lay, "oci:" + lay + ":latest"} {
		m := skopeoInspect(t, ref, false)
		if m["Digest"] != digest.String() || m["Os"] != "linux" {
			t.Errorf("skopeo inspect %s: %v", ref, m)
		}
		raw := skopeoInspect(t, ref, true)
		if raw["mediaType"] != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("skopeo inspect --raw %s: %v", ref, raw)
		}
	}
	m := skopeoInspect(t, "oci:"+lay+":latest", false)
	if labels, _ := m["Labels"].(map[string]any); labels["org.opencontainers.image.title"] != "reef test" {
		t.Errorf("labels: %v", m["Labels"])
	}

	// Copy out of the layout, the whole index into another layout (same
	// digest) and one image into a docker archive.
	run(t, "skopeo", "copy", "--all", "oci:"+lay+":latest", "oci:"+filepath.Join(dir, "copy")+":x")
	if m := skopeoInspect(t, "oci:"+filepath.Join(dir, "copy")+":x", false); m["Digest"] != digest.String() {
		t.Errorf("copied index digest %v, want %s", m["Digest"], digest)
	}
	run(t, "skopeo", "copy", "oci:"+lay, "docker-archive:"+filepath.Join(dir, "notag.tar"))
	da := filepath.Join(dir, "copied.tar")
	run(t, "skopeo", "copy", "oci:"+lay+":latest", "docker-archive:"+da+":reef.test/copied:latest")
	if m := skopeoInspect(t, "docker-archive:"+da, false); m["Architecture"] != "amd64" && m["Architecture"] != "arm64" {
		t.Errorf("skopeo copy to docker-archive: %v", m)
	}

	// reef's own archive: one image per platform on the docker side,
	// selected by tag; the whole index on the OCI side.
	tb := filepath.Join(dir, "image.tar")
	if err := WriteTarball(tb, mustTag(t, "reef.test/image:v1"), idx); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		m := skopeoInspect(t, "docker-archive:"+tb+":reef.test/image:v1-"+arch, false)
		if m["Architecture"] != arch {
			t.Errorf("docker-archive %s: %v", arch, m)
		}
	}
	if m := skopeoInspect(t, "oci-archive:"+tb, false); m["Digest"] != digest.String() {
		t.Errorf("oci-archive: %v", m)
	}
	if m := skopeoInspect(t, "oci-archive:"+tb+":v1", false); m["Digest"] != digest.String() {
		t.Errorf("oci-archive with name: %v", m)
	}

	// A single-platform archive needs no selector.
	img, _ := idx.Image(mustIndexManifest(t, idx).Manifests[0].Digest)
	one, _ := NewIndex([]v1.Image{img}, nil)
	tb1 := filepath.Join(dir, "one.tar")
	if err := WriteTarball(tb1, mustTag(t, "reef.test/one:v1"), one); err != nil {
		t.Fatal(err)
	}
	if m := skopeoInspect(t, "docker-archive:"+tb1, false); m["Architecture"] != "amd64" {
		t.Errorf("single-platform docker-archive: %v", m)
	}
	run(t, "skopeo", "copy", "docker-archive:"+tb1, "oci:"+filepath.Join(dir, "fromarchive")+":x")
}

// TestUmociPlatformTags unpacks each image of a two-platform layout by its
// per-platform name; umoci cannot pick a platform out of an index.
func TestUmociPlatformTags(t *testing.T) {
	requireTool(t, "umoci")
	idx := buildTestIndex(t, LayerOptions{})
	dir := t.TempDir()
	lay := filepath.Join(dir, "layout")
	os.Mkdir(lay, 0o755)
	if err := WriteLayout(lay, idx, LayoutOptions{Tag: "latest", PlatformTags: true}); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		bundle := filepath.Join(dir, "bundle-"+arch)
		args := []string{"unpack", "--image", lay + ":latest-" + arch, bundle}
		if os.Geteuid() != 0 {
			args = append(args[:1], append([]string{"--rootless"}, args[1:]...)...)
		}
		run(t, "umoci", args...)
		got, err := os.ReadFile(filepath.Join(bundle, "rootfs", "etc", "apk", "arch"))
		want := map[string]string{"amd64": "x86_64\n", "arm64": "aarch64\n"}[arch]
		if err != nil || string(got) != want {
			t.Errorf("%s: etc/apk/arch = %q, %v; want %q", arch, got, err, want)
		}
	}
}

func mustIndexManifest(t *testing.T, idx v1.ImageIndex) *v1.IndexManifest {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestUmociRunc runs a built image: a static test program in a layer,
// unpacked by umoci and run by runc, which must honour the image's
// entrypoint, arguments, environment, user and working directory.
func TestUmociRunc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runc needs root; skipping")
	}
	requireTool(t, "umoci")
	requireTool(t, "runc")
	goTool := requireTool(t, "go")
	dir := t.TempDir()

	bin := filepath.Join(dir, "hello")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/hello: %v\n%s", err, out)
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	l := mustLayer(t, tarOf([]testEntry{
		{name: "etc", typ: tar.TypeDir},
		{name: "etc/passwd", data: []byte("root:x:0:0:root:/root:/bin/sh\nbuild:x:65532:65532::/home/build:/bin/sh\n")},
		{name: "etc/group", data: []byte("root:x:0:\nbuild:x:65532:\n")},
		{name: "home", typ: tar.TypeDir},
		{name: "home/build", typ: tar.TypeDir, uid: 65532, gid: 65532},
		{name: "usr", typ: tar.TypeDir},
		{name: "usr/bin", typ: tar.TypeDir},
		{name: "usr/bin/hello", mode: 0o755, data: prog},
	}), LayerOptions{})
	cfg := testConfig
	hostArch, err := APKArch(v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	if err != nil {
		t.Skipf("host architecture: %v", err)
	}
	img, err := NewImage([]v1.Layer{l}, cfg, mustPlatform(t, hostArch), nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := NewIndex([]v1.Image{img}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lay := filepath.Join(dir, "layout")
	os.Mkdir(lay, 0o755)
	if err := WriteLayout(lay, idx, LayoutOptions{Tag: "latest"}); err != nil {
		t.Fatal(err)
	}

	bundle := filepath.Join(dir, "bundle")
	run(t, "umoci", "unpack", "--image", lay+":latest", bundle)

	// umoci writes a config for an interactive terminal; runc runs here
	// without one.
	cfgPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	spec["process"].(map[string]any)["terminal"] = false
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}

	// Unique per process: runc names the container's cgroup after it.
	id := "reef-oci-test-" + strconv.Itoa(os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := exec.CommandContext(ctx, "runc", "--root", filepath.Join(dir, "runc-state"), "run", "--bundle", bundle, id)
	var stdout, stderr bytes.Buffer
	rc.Stdout, rc.Stderr = &stdout, &stderr
	if err := rc.Run(); err != nil {
		t.Fatalf("runc run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	want := `hello uid=65532 gid=65532 cwd=/home/build REEF_TEST=yes args=["--greet" "world"]`
	if got := strings.TrimSpace(stdout.String()); got != want {
		t.Errorf("container printed %q\nwant %q", got, want)
	}
}
