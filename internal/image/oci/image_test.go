package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// goldenIndexDigest is the digest of buildTestIndex's index. See the note
// on goldenSmallDigest before updating it.
const goldenIndexDigest = "sha256:546331f8e213b835c2e965cb772ca2fe5eb98f719d9dbcbdaaf0864f5de45cf1"

func TestPlatformMapping(t *testing.T) {
	cases := []struct{ apk, oci string }{
		{"x86_64", "linux/amd64"},
		{"aarch64", "linux/arm64"},
		{"armv7", "linux/arm/v7"},
		{"armhf", "linux/arm/v6"},
		{"x86", "linux/386"},
		{"ppc64le", "linux/ppc64le"},
		{"s390x", "linux/s390x"},
		{"riscv64", "linux/riscv64"},
		{"loongarch64", "linux/loong64"},
	}
	for _, c := range cases {
		p, err := OCIPlatform(c.apk)
		if err != nil || p.String() != c.oci {
			t.Errorf("OCIPlatform(%q) = %v, %v; want %s", c.apk, p.String(), err, c.oci)
			continue
		}
		back, err := APKArch(p)
		if err != nil || back != c.apk {
			t.Errorf("APKArch(%s) = %q, %v; want %q", p.String(), back, err, c.apk)
		}
		// OCI spellings are accepted too.
		ociName := strings.TrimPrefix(c.oci, "linux/")
		if p2, err := OCIPlatform(ociName); err != nil || p2.String() != c.oci {
			t.Errorf("OCIPlatform(%q) = %v, %v", ociName, p2.String(), err)
		}
	}
	if p, err := OCIPlatform("arm64/v8"); err != nil || p.String() != "linux/arm64" {
		t.Errorf("OCIPlatform(arm64/v8) = %v, %v", p.String(), err)
	}
	for _, bad := range []string{"", "mips", "arm", "amd64/v9", "x86-64"} {
		if _, err := OCIPlatform(bad); err == nil {
			t.Errorf("OCIPlatform(%q) succeeded", bad)
		}
	}
	if _, err := APKArch(v1.Platform{OS: "windows", Architecture: "amd64"}); err == nil {
		t.Error("APKArch accepted windows")
	}
}

func TestImageConfig(t *testing.T) {
	l := mustLayer(t, tarOf(smallTar), LayerOptions{})
	p := mustPlatform(t, "armv7")
	img, err := NewImage([]v1.Layer{l}, testConfig, p, map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkImage(t, img); err != nil {
		t.Fatalf("validate: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	diffID, _ := l.DiffID()
	c := cf.Config
	if cf.Architecture != "arm" || cf.Variant != "v7" || cf.OS != "linux" ||
		cf.Created.Unix() != 1700000000 || cf.Author != testConfig.Author ||
		len(cf.RootFS.DiffIDs) != 1 || cf.RootFS.DiffIDs[0] != diffID || cf.RootFS.Type != "layers" ||
		strings.Join(c.Entrypoint, " ") != "/usr/bin/hello" || strings.Join(c.Cmd, " ") != "--greet world" ||
		strings.Join(c.Env, ",") != strings.Join(testConfig.Env, ",") || c.User != "65532:65532" ||
		c.WorkingDir != "/home/build" || c.StopSignal != "SIGTERM" || len(c.Volumes) != 1 ||
		c.Labels["org.opencontainers.image.title"] != "reef test" {
		t.Errorf("config file: %+v", cf)
	}
	if len(cf.History) != 1 || cf.History[0].CreatedBy != "reef" || cf.History[0].Created.Unix() != 1700000000 {
		t.Errorf("history: %+v", cf.History)
	}
	raw, _ := img.RawConfigFile()
	if !bytes.Contains(raw, []byte(`"created":"2023-11-14T22:13:20Z"`)) {
		t.Errorf("created not in RFC 3339 UTC: %s", raw)
	}
	m, _ := img.Manifest()
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON ||
		m.Layers[0].MediaType != types.OCILayer || m.Annotations["a"] != "b" {
		t.Errorf("manifest: %+v", m)
	}

	// History: explicit entries, one per layer plus empty ones.
	cfg := testConfig
	cfg.History = []History{{CreatedBy: "apk add", Comment: "packages"}, {CreatedBy: "config", EmptyLayer: true}}
	img2, err := NewImage([]v1.Layer{l}, cfg, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf2, _ := img2.ConfigFile()
	if len(cf2.History) != 2 || cf2.History[0].Comment != "packages" || !cf2.History[1].EmptyLayer {
		t.Errorf("history: %+v", cf2.History)
	}
	cfg.History = cfg.History[1:]
	if _, err := NewImage([]v1.Layer{l}, cfg, p, nil); err == nil {
		t.Error("history without an entry for the layer accepted")
	}
	for _, bad := range []ImageConfig{
		{Env: []string{"NOVALUE"}},
		{WorkingDir: "relative"},
		{Volumes: []string{"data"}},
	} {
		if _, err := NewImage([]v1.Layer{l}, bad, p, nil); err == nil {
			t.Errorf("bad config %+v accepted", bad)
		}
	}
	if _, err := NewImage(nil, ImageConfig{}, v1.Platform{}, nil); err == nil {
		t.Error("image without architecture accepted")
	}
}

func TestIndex(t *testing.T) {
	idx := buildTestIndex(t, LayerOptions{})
	if err := checkIndex(t, idx); err != nil {
		t.Fatalf("validate: %v", err)
	}
	im, _ := idx.IndexManifest()
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index manifest: %+v", im)
	}
	// Sorted by architecture: amd64 before arm64, whatever the input order.
	for i, want := range []string{"linux/amd64", "linux/arm64"} {
		d := im.Manifests[i]
		if d.Platform == nil || d.Platform.String() != want || d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("entry %d: %+v, want platform %s", i, d, want)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.Architecture != d.Platform.Architecture {
			t.Errorf("entry %d: config architecture %s", i, cf.Architecture)
		}
	}
	d, _ := idx.Digest()
	if d.String() != goldenIndexDigest {
		t.Errorf("index digest %s, golden %s", d, goldenIndexDigest)
	}

	// Two images of one platform are an error.
	img, _ := idx.Image(im.Manifests[0].Digest)
	if _, err := NewIndex([]v1.Image{img, img}, nil); err == nil {
		t.Error("duplicate platform accepted")
	}
}

// TestLayoutReproducible builds the index twice, from scratch, into two
// directories and compares every file.
func TestLayoutReproducible(t *testing.T) {
	var trees []map[string]string
	for range 2 {
		dir := t.TempDir()
		idx := buildTestIndex(t, LayerOptions{TempDir: t.TempDir()})
		if err := WriteLayout(dir, idx, LayoutOptions{Tag: "latest", ExtraFiles: map[string][]byte{
			"sbom-x86_64.spdx.json": []byte(`{"spdxVersion":"SPDX-2.3"}`),
			"sboms/index.spdx.json": []byte(`{}`),
		}}); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, hashTree(t, dir))
	}
	if fmt.Sprint(trees[0]) != fmt.Sprint(trees[1]) {
		t.Errorf("layouts differ:\n%v\n%v", trees[0], trees[1])
	}
	if _, ok := trees[0]["sboms/index.spdx.json"]; !ok {
		t.Errorf("extra file missing: %v", trees[0])
	}
}

func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = fmt.Sprintf("%o %x", fi.Mode(), sha256.Sum256(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWriteLayout(t *testing.T) {
	idx := buildTestIndex(t, LayerOptions{})
	dir := t.TempDir()
	if err := WriteLayout(dir, idx, LayoutOptions{Tag: "v1", PlatformTags: true}); err != nil {
		t.Fatal(err)
	}
	// go-containerregistry reads it back, down to every layer byte.
	lp, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkIndex(t, lp); err != nil {
		t.Fatalf("validate: %v", err)
	}
	top, _ := lp.IndexManifest()
	want, _ := idx.Digest()
	if len(top.Manifests) != 3 || top.Manifests[0].Digest != want ||
		top.Manifests[0].Annotations[AnnotationRefName] != "v1" ||
		top.Manifests[1].Annotations[AnnotationRefName] != "v1-amd64" ||
		top.Manifests[2].Annotations[AnnotationRefName] != "v1-arm64" {
		t.Errorf("index.json: %+v", top)
	}
	inner, err := lp.ImageIndex(want)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := inner.Digest(); d != want {
		t.Errorf("layout index digest %s, built %s", d, want)
	}
	for _, mode := range []string{"index.json", "oci-layout", "blobs/sha256/" + want.Hex} {
		fi, err := os.Stat(filepath.Join(dir, mode))
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v", mode, fi.Mode(), err)
		}
	}

	// Writing again over the same directory is fine and leaves no
	// temporary files.
	if err := WriteLayout(dir, idx, LayoutOptions{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	for name := range hashTree(t, dir) {
		if strings.Contains(name, ".tmp-") {
			t.Errorf("temporary file left: %s", name)
		}
	}

	// Bad extra names and a missing directory are refused up front.
	for _, bad := range []string{"../x", "/abs", "index.json", "blobs/sha256/x", "a/../b", ""} {
		if err := WriteLayout(t.TempDir(), idx, LayoutOptions{ExtraFiles: map[string][]byte{bad: nil}}); err == nil {
			t.Errorf("extra file %q accepted", bad)
		}
	}
	if err := WriteLayout(filepath.Join(dir, "missing"), idx, LayoutOptions{}); err == nil {
		t.Error("missing directory accepted")
	}
}

// failingLayer is a layer whose bytes cannot be read.
type failingLayer struct{ *Layer }

func (failingLayer) Compressed() (io.ReadCloser, error) { return nil, fmt.Errorf("disk on fire") }

// lyingLayer serves other bytes than its digest says.
type lyingLayer struct{ *Layer }

func (lyingLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("not the layer")), nil
}

// TestWriteLayoutFailure checks that a failed write leaves no index.json,
// and that the previous one survives.
func TestWriteLayoutFailure(t *testing.T) {
	good := mustLayer(t, tarOf(smallTar), LayerOptions{})
	p := mustPlatform(t, "x86_64")
	for _, bad := range []v1.Layer{failingLayer{good}, lyingLayer{good}} {
		img, err := NewImage([]v1.Layer{bad}, ImageConfig{}, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := NewIndex([]v1.Image{img}, nil)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := WriteLayout(dir, idx, LayoutOptions{}); err == nil {
			t.Errorf("%T: WriteLayout succeeded", bad)
		}
		if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
			t.Errorf("%T: index.json written despite the failure", bad)
		}
		// A previous good layout is kept as it was.
		other := mustLayer(t, tarOf(smallTar[:2]), LayerOptions{})
		goodImg, _ := NewImage([]v1.Layer{other}, ImageConfig{}, p, nil)
		goodIdx, _ := NewIndex([]v1.Image{goodImg}, nil)
		if err := WriteLayout(dir, goodIdx, LayoutOptions{}); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		if err := WriteLayout(dir, idx, LayoutOptions{}); err == nil {
			t.Errorf("%T: second WriteLayout succeeded", bad)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		if !bytes.Equal(before, after) {
			t.Errorf("%T: index.json changed by a failed write", bad)
		}
		if err := WriteTarball(filepath.Join(dir, "x.tar"), mustTag(t, "x:y"), idx); err == nil {
			t.Errorf("%T: WriteTarball succeeded", bad)
		}
		if _, err := os.Stat(filepath.Join(dir, "x.tar")); err == nil {
			t.Errorf("%T: x.tar written despite the failure", bad)
		}
	}
}

func TestWriteTarball(t *testing.T) {
	idx := buildTestIndex(t, LayerOptions{})
	dir := t.TempDir()
	tag := mustTag(t, "example.com/reef/test:v1")
	path := filepath.Join(dir, "image.tar")
	if err := WriteTarball(path, tag, idx); err != nil {
		t.Fatal(err)
	}
	// Byte-for-byte reproducible.
	path2 := filepath.Join(dir, "image2.tar")
	if err := WriteTarball(path2, tag, idx); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(path2)
	if !bytes.Equal(a, b) {
		t.Error("two writes of one index differ")
	}

	// docker's view: manifest.json, one entry per platform tagged
	// <tag>-<arch>; go-containerregistry's tarball reader loads each.
	files := tarFiles(t, a)
	var dm []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &dm); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	for i, arch := range []string{"amd64", "arm64"} {
		wantTag := "example.com/reef/test:v1-" + arch
		if len(dm) != 2 || dm[i].RepoTags[0] != wantTag {
			t.Fatalf("manifest.json: %+v", dm)
		}
		img, err := tarball.ImageFromPath(path, ptr(mustTag(t, wantTag)))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkImage(t, img); err != nil {
			t.Fatalf("validate %s: %v", wantTag, err)
		}
		want, _ := idx.Image(im.Manifests[i].Digest)
		wc, _ := want.ConfigName()
		gc, _ := img.ConfigName()
		if wc != gc {
			t.Errorf("%s: config %s, want %s", wantTag, gc, wc)
		}
	}
	// The OCI view: index.json names the index.
	var top v1.IndexManifest
	json.Unmarshal(files["index.json"], &top)
	d, _ := idx.Digest()
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != d ||
		top.Manifests[0].Annotations[AnnotationRefName] != "v1" ||
		top.Manifests[0].Annotations[AnnotationImageName] != "example.com/reef/test:v1" {
		t.Errorf("index.json: %s", files["index.json"])
	}
	if _, ok := files["blobs/sha256/"+d.Hex]; !ok {
		t.Error("index blob missing")
	}

	// A single-platform index is tagged as is; Docker Hub names get
	// containerd's spelling.
	img, _ := idx.Image(im.Manifests[0].Digest)
	one, _ := NewIndex([]v1.Image{img}, nil)
	path3 := filepath.Join(dir, "one.tar")
	if err := WriteTarball(path3, mustTag(t, "reef"), one); err != nil {
		t.Fatal(err)
	}
	c, _ := os.ReadFile(path3)
	files = tarFiles(t, c)
	json.Unmarshal(files["manifest.json"], &dm)
	json.Unmarshal(files["index.json"], &top)
	if len(dm) != 1 || dm[0].RepoTags[0] != "reef:latest" ||
		top.Manifests[0].Annotations[AnnotationImageName] != "docker.io/library/reef:latest" {
		t.Errorf("single-platform archive: %s %s", files["manifest.json"], files["index.json"])
	}
	if _, err := tarball.ImageFromPath(path3, nil); err != nil {
		t.Errorf("single-platform archive: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// tarFiles returns the regular files of a tar, checking the headers.
func tarFiles(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: owner %d:%d time %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if h.Typeflag == tar.TypeReg {
			files[h.Name], _ = io.ReadAll(tr)
		}
	}
}

// An archive of layers held in the layer cache (the layer copied from its
// cache file by the kernel) is byte-for-byte the archive of the same
// layers held in memory, for a cold build (blobs this process wrote) and
// a warm one (blobs checked when found), and its images read back whole.
func TestWriteTarballFromCache(t *testing.T) {
	dir := t.TempDir()
	tag := mustTag(t, "example.com/reef/test:v1")
	write := func(name string, opts LayerOptions) []byte {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := WriteTarball(p, tag, buildTestIndex(t, opts)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mem := write("mem.tar", LayerOptions{})
	cache, err := NewCache(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cold.tar", "warm.tar"} {
		if got := write(name, LayerOptions{Cache: cache}); !bytes.Equal(got, mem) {
			t.Errorf("%s differs from the archive of in-memory layers", name)
		}
		img, err := tarball.ImageFromPath(filepath.Join(dir, name), ptr(mustTag(t, "example.com/reef/test:v1-amd64")))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkImage(t, img); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
