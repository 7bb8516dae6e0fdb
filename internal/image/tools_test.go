package image

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/reef-dev/reef/internal/image/oci"
)

// exampleDir copies the example image file into a temporary directory with
// the stage-0 busybox repository next to it (as ./stage0 and
// ./stage0.rsa.pub, the paths the example names).
func busyboxExample(t *testing.T) *Config {
	t.Helper()
	repoDir, key := busyboxRepo(t)
	dir := t.TempDir()
	if err := os.Rename(repoDir, filepath.Join(dir, "stage0")); err != nil {
		copyDir(t, repoDir, filepath.Join(dir, "stage0"))
	}
	data, _ := os.ReadFile(key)
	os.WriteFile(filepath.Join(dir, "stage0.rsa.pub"), data, 0o644)
	text, err := os.ReadFile("../../examples/busybox.image.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, dir, "busybox.image.yaml", string(text))
}

// TestExamples builds every examples/*.image.yaml. Examples that name the
// stage-0 repository (./stage0) are built from a copy next to a freshly
// converted one; the others in place.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.image.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			var c *Config
			if strings.Contains(string(data), "./stage0") {
				c = busyboxExample(t)
			} else {
				c, err = LoadConfig(f)
				if err != nil {
					t.Fatal(err)
				}
			}
			res := mustBuild(t, c, Options{Ref: "reef.local/example:latest"})
			out := t.TempDir()
			tag, _ := ParseTag("reef.local/example:latest")
			if err := res.Write(out, tag); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s, %d images", filepath.Base(f), mustDigest(t, res.Index), len(res.Images))
		})
	}
}

// TestRunBusybox builds the busybox example from the Debian-imported
// stage-0 repository, unpacks it with umoci and runs a command in it with
// runc: the process runs as the configured user, with the configured
// environment and working directory.
func TestRunBusybox(t *testing.T) {
	umoci := needTool(t, "umoci")
	runc := needTool(t, "runc")
	if os.Geteuid() != 0 {
		t.Skip("runc run needs root here (rootless setups need user namespaces)")
	}
	c := busyboxExample(t)
	res := mustBuild(t, c, Options{})
	layout := t.TempDir()
	tag, _ := ParseTag("reef.local/busybox:latest")
	if err := res.Write(layout, tag); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command(umoci, "unpack", "--image", layout+":latest", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	got := runInBundle(t, runc, bundle, []string{"sh", "-c", `id; echo "$GREETING"; pwd; echo ok`})
	t.Logf("container output:\n%s", got)
	for _, want := range []string{"uid=1000(app) gid=1000(app)", "hello from reef\n", "/work\n", "ok\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestSkopeo checks that skopeo reads both outputs and copies the layout
// into a docker archive.
func TestSkopeo(t *testing.T) {
	skopeo := needTool(t, "skopeo")
	dir := t.TempDir()
	c := writeConfig(t, dir, "img.yaml", melangeConfig(melangeRepo(t)))
	res := mustBuild(t, c, Options{})
	tag, _ := ParseTag("reef.local/skopeo:latest")
	layout := filepath.Join(dir, "layout")
	os.Mkdir(layout, 0o755)
	if err := res.Write(layout, tag); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, "img.tar")
	// The docker archive holds one image per platform, tagged
	// "<tag>-<arch>"; build a single-arch one for docker-archive reading.
	single := mustBuild(t, c, Options{Archs: []string{"x86_64"}})
	if err := single.Write(tarball, tag); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(skopeo, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for _, ref := range []string{"oci:" + layout + ":latest", "docker-archive:" + tarball} {
		out := run("inspect", "--override-arch", "amd64", "--override-os", "linux", ref)
		var info struct {
			Architecture string
			Layers       []string
		}
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("skopeo inspect %s: %v\n%s", ref, err, out)
		}
		if info.Architecture != "amd64" || len(info.Layers) != 1 {
			t.Errorf("skopeo inspect %s: %+v", ref, info)
		}
	}
	raw := run("inspect", "--raw", "oci:"+layout+":latest")
	if !strings.Contains(raw, "application/vnd.oci.image.index.v1+json") {
		t.Errorf("raw manifest is not an index: %s", raw)
	}
	archive := filepath.Join(dir, "copy.tar")
	run("copy", "--override-arch", "arm64", "oci:"+layout+":latest", "docker-archive:"+archive+":reef.local/copy:latest")
	if st, err := os.Stat(archive); err != nil || st.Size() == 0 {
		t.Errorf("skopeo copy wrote nothing: %v", err)
	}
	run("copy", "--all", "oci:"+layout+":latest", "oci:"+filepath.Join(dir, "copy-layout")+":latest")
}

// TestPublish pushes to an in-process registry and pulls the index back
// by digest.
func TestPublish(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	dir := t.TempDir()
	c := writeConfig(t, dir, "img.yaml", melangeConfig(melangeRepo(t)))
	res := mustBuild(t, c, Options{})
	want := mustDigest(t, res.Index)
	refs := []string{u.Host + "/reef/test:latest", u.Host + "/reef/test:v1"}
	got, err := res.Publish(context.Background(), refs, oci.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("published digest %s, built %s", got, want)
	}
	for _, r := range []string{u.Host + "/reef/test@" + want.String(), refs[1]} {
		ref, err := name.ParseReference(r, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Index(ref)
		if err != nil {
			t.Fatalf("pull %s: %v", r, err)
		}
		if d := mustDigest(t, idx); d != want {
			t.Errorf("pulled %s: digest %s, want %s", r, d, want)
		}
		im, _ := idx.IndexManifest()
		for _, m := range im.Manifests {
			img, err := idx.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := img.Layers(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runInBundle runs args in an unpacked bundle with runc (no terminal) and
// returns its standard output.
func runInBundle(t *testing.T, runc, bundle string, args []string) string {
	t.Helper()
	cfgPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = args
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	id := "reef-test-" + strings.ReplaceAll(filepath.Base(t.TempDir()), "_", "-")
	cmd := exec.Command(runc, "run", "--bundle", bundle, id)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	exec.Command(runc, "delete", "--force", id).Run()
	if err != nil {
		t.Fatalf("runc run %q: %v\nstdout: %s\nstderr: %s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
