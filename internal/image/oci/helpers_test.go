package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testEntry is a file, directory or symlink of a test layer.
type testEntry struct {
	name    string
	typ     byte
	mode    int64
	uid     int
	gid     int
	data    []byte
	link    string
	modTime time.Time
}

// tarOf writes entries (in order) as a tar with TarWriter.
func tarOf(entries []testEntry) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := NewTarWriter(w)
		for _, e := range entries {
			typ := e.typ
			if typ == 0 {
				typ = tar.TypeReg
			}
			mode := e.mode
			if mode == 0 {
				mode = 0o644
				if typ == tar.TypeDir {
					mode = 0o755
				}
			}
			h := &tar.Header{
				Name: e.name, Typeflag: typ, Mode: mode, Uid: e.uid, Gid: e.gid,
				Linkname: e.link, ModTime: e.modTime,
			}
			if typ == tar.TypeReg {
				h.Size = int64(len(e.data))
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
		}
		return tw.Close()
	}
}

// smallTar is the fixed tar of the golden tests.
var smallTar = []testEntry{
	{name: "etc", typ: tar.TypeDir, modTime: time.Unix(1700000000, 0)},
	{name: "etc/os-release", data: []byte("ID=reef\nNAME=\"reef test\"\n"), modTime: time.Unix(1700000000, 0)},
	{name: "usr", typ: tar.TypeDir},
	{name: "usr/bin", typ: tar.TypeDir},
	{name: "usr/bin/hello", mode: 0o755, data: []byte("#!/bin/sh\necho hello\n")},
	{name: "usr/bin/hi", typ: tar.TypeSymlink, link: "hello"},
}

// pseudoData returns n bytes of deterministic, moderately compressible
// data: words from a small vocabulary mixed with random bytes, so gzip has
// work to do on every block.
func pseudoData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := []string{"reef ", "layer ", "package ", "/usr/lib/", "libc.so.6 ", "ELF\x02\x01\x01 ", "\x00\x00\x00\x00", "x86_64 ", "deterministic "}
	var b bytes.Buffer
	b.Grow(n)
	for b.Len() < n {
		if r.IntN(4) == 0 {
			for range 1 + r.IntN(16) {
				b.WriteByte(byte(r.Uint32()))
			}
		} else {
			b.WriteString(words[r.IntN(len(words))])
		}
	}
	return b.Bytes()[:n]
}

// readAll reads a layer's uncompressed stream.
func readAll(t testing.TB, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustLayer(t testing.TB, write func(io.Writer) error, opts LayerOptions) *Layer {
	t.Helper()
	l, err := NewLayer(write, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustPlatform(t testing.TB, arch string) v1.Platform {
	t.Helper()
	p, err := OCIPlatform(arch)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig is the image config of the golden tests.
var testConfig = ImageConfig{
	Entrypoint: []string{"/usr/bin/hello"},
	Cmd:        []string{"--greet", "world"},
	Env:        []string{"PATH=/usr/sbin:/sbin:/usr/bin:/bin", "REEF_TEST=yes"},
	User:       "65532:65532",
	WorkingDir: "/home/build",
	StopSignal: "SIGTERM",
	Volumes:    []string{"/data"},
	Labels:     map[string]string{"org.opencontainers.image.title": "reef test"},
	Created:    time.Unix(1700000000, 0),
	Author:     "github.com/reef-dev/reef",
}

// buildTestIndex builds the golden two-platform index: the same small
// layer plus an arch-specific file for x86_64 and aarch64.
func buildTestIndex(t testing.TB, opts LayerOptions) v1.ImageIndex {
	t.Helper()
	var imgs []v1.Image
	for _, arch := range []string{"aarch64", "x86_64"} {
		var entries []testEntry
		entries = append(entries, smallTar[0],
			testEntry{name: "etc/apk", typ: tar.TypeDir},
			testEntry{name: "etc/apk/arch", data: []byte(arch + "\n")})
		entries = append(entries, smallTar[1:]...)
		l := mustLayer(t, tarOf(entries), opts)
		img, err := NewImage([]v1.Layer{l}, testConfig, mustPlatform(t, arch), map[string]string{"org.opencontainers.image.created": "2023-11-14T22:13:20Z"})
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	idx, err := NewIndex(imgs, map[string]string{"org.opencontainers.image.created": "2023-11-14T22:13:20Z"})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// checkImage reads every byte of img and checks it against the digests,
// sizes and diffIDs that its manifest and config declare (what
// go-containerregistry's validate package does, without its go-cmp
// dependency).
func checkImage(t testing.TB, img v1.Image) error {
	t.Helper()
	rawM, err := img.RawManifest()
	if err != nil {
		return err
	}
	if d, _ := img.Digest(); d.Hex != fmt.Sprintf("%x", sha256.Sum256(rawM)) {
		return fmt.Errorf("manifest digest %s does not match its bytes", d)
	}
	var m v1.Manifest
	if err := json.Unmarshal(rawM, &m); err != nil {
		return err
	}
	rawC, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if m.Config.Digest.Hex != fmt.Sprintf("%x", sha256.Sum256(rawC)) || m.Config.Size != int64(len(rawC)) {
		return fmt.Errorf("config descriptor %+v does not match the config", m.Config)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if len(layers) != len(m.Layers) || len(layers) != len(cf.RootFS.DiffIDs) {
		return fmt.Errorf("%d layers, %d in the manifest, %d diffIDs", len(layers), len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		gz, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if m.Layers[i].Digest.Hex != fmt.Sprintf("%x", sha256.Sum256(gz)) || m.Layers[i].Size != int64(len(gz)) {
			return fmt.Errorf("layer %d: descriptor %+v does not match its bytes", i, m.Layers[i])
		}
		rc, err = l.Uncompressed()
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return err
		}
		if cf.RootFS.DiffIDs[i].Hex != fmt.Sprintf("%x", h.Sum(nil)) {
			return fmt.Errorf("layer %d: diffID %s does not match its tar", i, cf.RootFS.DiffIDs[i])
		}
	}
	return nil
}

// checkIndex checks idx's digest and every image below it.
func checkIndex(t testing.TB, idx v1.ImageIndex) error {
	t.Helper()
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	if d, _ := idx.Digest(); d.Hex != fmt.Sprintf("%x", sha256.Sum256(raw)) {
		return fmt.Errorf("index digest %s does not match its bytes", d)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		switch d.MediaType {
		case types.OCIImageIndex:
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			if err := checkIndex(t, child); err != nil {
				return err
			}
		default:
			img, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			if err := checkImage(t, img); err != nil {
				return fmt.Errorf("image %s: %w", d.Digest, err)
			}
		}
	}
	return nil
}

func mustTag(t testing.TB, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}
