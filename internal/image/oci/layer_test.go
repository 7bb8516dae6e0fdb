package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Golden digests of the small fixed tar (smallTar) at DefaultLevel. They
// change only if the tar writer, the compression parameters or the
// compression libraries change; if that is intended, update them from the
// test's failure message and say why in the commit.
const (
	goldenSmallDiffID = "sha256:39ba21dcb0f25626509ded6ae1bdac9aaafa600758d8e50aa274a1edd0445047"
	goldenSmallDigest = "sha256:2d6c5368253c192ba3f3e8e2c60d3775eb40b383bb2a8ec7959f70d441d90442"
)

func TestLayerGolden(t *testing.T) {
	l := mustLayer(t, tarOf(smallTar), LayerOptions{})
	diffID, _ := l.DiffID()
	digest, _ := l.Digest()
	if diffID.String() != goldenSmallDiffID || digest.String() != goldenSmallDigest {
		t.Errorf("small layer: diffID %s digest %s\nwant diffID %s digest %s", diffID, digest, goldenSmallDiffID, goldenSmallDigest)
	}

	// The hashes are those of the bytes served.
	var raw bytes.Buffer
	if err := tarOf(smallTar)(&raw); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(raw.Bytes())); got != diffID.String() {
		t.Errorf("diffID %s, sha256 of the tar %s", diffID, got)
	}
	rc, _ := l.Compressed()
	gz, _ := io.ReadAll(rc)
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(gz)); got != digest.String() {
		t.Errorf("digest %s, sha256 of the gzip stream %s", digest, got)
	}
	if size, _ := l.Size(); size != int64(len(gz)) {
		t.Errorf("Size %d, stream has %d bytes", size, len(gz))
	}
	if l.UncompressedSize() != int64(raw.Len()) {
		t.Errorf("UncompressedSize %d, tar has %d bytes", l.UncompressedSize(), raw.Len())
	}
	if mt, _ := l.MediaType(); mt != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Errorf("media type %s", mt)
	}

	// The gzip header: no flags (no name, comment or extra), time 0, OS
	// unknown; and the standard library reads the stream.
	if len(gz) < 10 || gz[3] != 0 || !bytes.Equal(gz[4:8], []byte{0, 0, 0, 0}) || gz[9] != 255 {
		t.Errorf("gzip header % x", gz[:10])
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, raw.Bytes()) {
		t.Error("compress/gzip decompresses to other bytes")
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header name %q time %v", zr.Name, zr.ModTime)
	}
	if !bytes.Equal(readAll(t, l), raw.Bytes()) {
		t.Error("Uncompressed differs from the tar written")
	}
}

// TestLayerConcurrencyIndependent checks that the compressed bytes depend
// on neither GOMAXPROCS nor LayerOptions.Concurrency, with a stream of
// many blocks, and that both hashes are right.
func TestLayerConcurrencyIndependent(t *testing.T) {
	data := pseudoData(7*BlockSize+12345, 1)
	write := tarOf([]testEntry{{name: "big", data: data}, {name: "small", data: []byte("x")}})
	var want string
	for _, procs := range []int{1, 2, 8} {
		for _, conc := range []int{0, 1, 3, 16} {
			t.Run(fmt.Sprintf("procs%d-conc%d", procs, conc), func(t *testing.T) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				l := mustLayer(t, write, LayerOptions{Concurrency: conc})
				rc, _ := l.Compressed()
				gz, _ := io.ReadAll(rc)
				got := fmt.Sprintf("%x", sha256.Sum256(gz))
				if d, _ := l.Digest(); d.Hex != got {
					t.Fatalf("Digest %s, stream hashes to %s", d.Hex, got)
				}
				if want == "" {
					want = got
				} else if got != want {
					t.Fatalf("digest %s, first run gave %s", got, want)
				}
			})
		}
	}
	// A stream whose length is an exact multiple of the block size ends
	// with an empty block; still deterministic and readable.
	exact := func(w io.Writer) error { _, err := w.Write(data[:2*BlockSize]); return err }
	a := mustLayer(t, exact, LayerOptions{Concurrency: 1})
	b := mustLayer(t, exact, LayerOptions{Concurrency: 8})
	if da, _ := a.Digest(); func() bool { db, _ := b.Digest(); return da != db }() {
		t.Error("exact-multiple stream: digests differ with concurrency")
	}
	if !bytes.Equal(readAll(t, a), data[:2*BlockSize]) {
		t.Error("exact-multiple stream does not round-trip")
	}
}

// TestLayerWriteBoundaries checks that how the tar writer chunks its
// writes does not matter.
func TestLayerWriteBoundaries(t *testing.T) {
	data := pseudoData(3*BlockSize+7, 2)
	var digests []string
	for _, chunk := range []int{1 << 30, 512, 4093, BlockSize + 1} {
		l := mustLayer(t, func(w io.Writer) error {
			for p := data; len(p) > 0; {
				n := min(chunk, len(p))
				if _, err := w.Write(p[:n]); err != nil {
					return err
				}
				p = p[n:]
			}
			return nil
		}, LayerOptions{})
		d, _ := l.Digest()
		digests = append(digests, d.Hex)
	}
	for _, d := range digests[1:] {
		if d != digests[0] {
			t.Fatalf("digests differ with write sizes: %v", digests)
		}
	}
}

func TestLayerOptions(t *testing.T) {
	data := pseudoData(2*BlockSize+99, 3)
	write := func(w io.Writer) error { _, err := w.Write(data); return err }
	mem := mustLayer(t, write, LayerOptions{})
	dir := t.TempDir()
	file := mustLayer(t, write, LayerOptions{TempDir: dir})
	dm, _ := mem.Digest()
	df, _ := file.Digest()
	if dm != df {
		t.Errorf("TempDir changes the digest: %s vs %s", df, dm)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("TempDir holds %d files; the spool file should be unlinked", len(ents))
	}
	if !bytes.Equal(readAll(t, file), data) {
		t.Error("file-backed layer does not round-trip")
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := file.Compressed(); err == nil {
		t.Error("Compressed after Close succeeded")
	}

	best := mustLayer(t, write, LayerOptions{Level: 9})
	if db, _ := best.Digest(); db == dm {
		t.Error("level 9 gives the default level's digest")
	}
	if _, err := NewLayer(write, LayerOptions{Level: 10}); err == nil {
		t.Error("level 10 accepted")
	}
	boom := errors.New("boom")
	if _, err := NewLayer(func(w io.Writer) error { w.Write(data); return boom }, LayerOptions{}); !errors.Is(err, boom) {
		t.Errorf("write error: got %v", err)
	}
}

func TestCache(t *testing.T) {
	cache, err := NewCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	data := pseudoData(2*BlockSize+5, 4)
	var calls atomic.Int32
	write := func(w io.Writer) error {
		calls.Add(1)
		_, err := w.Write(data)
		return err
	}
	ref := mustLayer(t, write, LayerOptions{})
	refDigest, _ := ref.Digest()

	// By diffID: one hashing pass, then one compressing pass on a miss.
	calls.Store(0)
	cold := mustLayer(t, write, LayerOptions{Cache: cache})
	if cold.Cached() || calls.Load() != 2 {
		t.Errorf("cold: cached %v, write called %d times (want false, 2)", cold.Cached(), calls.Load())
	}
	calls.Store(0)
	warm := mustLayer(t, write, LayerOptions{Cache: cache})
	if !warm.Cached() || calls.Load() != 1 {
		t.Errorf("warm: cached %v, write called %d times (want true, 1)", warm.Cached(), calls.Load())
	}
	for _, l := range []*Layer{cold, warm} {
		d, _ := l.Digest()
		if d != refDigest {
			t.Errorf("cached layer digest %s, uncached %s", d, refDigest)
		}
		if !bytes.Equal(readAll(t, l), data) {
			t.Error("cached layer does not round-trip")
		}
	}
	// Another level is another cache entry.
	l9 := mustLayer(t, write, LayerOptions{Cache: cache, Level: 9})
	if l9.Cached() {
		t.Error("level 9 hit the level-3 entry")
	}

	// By key: a miss compresses in one pass, a hit does not call write.
	calls.Store(0)
	k1 := mustLayer(t, write, LayerOptions{Cache: cache, CacheKey: "pkgs: a=1 b=2"})
	if calls.Load() != 1 {
		t.Errorf("key miss: write called %d times, want 1", calls.Load())
	}
	calls.Store(0)
	k2 := mustLayer(t, write, LayerOptions{Cache: cache, CacheKey: "pkgs: a=1 b=2"})
	if !k2.Cached() || calls.Load() != 0 {
		t.Errorf("key hit: cached %v, write called %d times (want true, 0)", k2.Cached(), calls.Load())
	}
	d1, _ := k1.Digest()
	d2, _ := k2.Digest()
	id2, _ := k2.DiffID()
	rid, _ := ref.DiffID()
	if d1 != refDigest || d2 != refDigest || id2 != rid || k2.UncompressedSize() != int64(len(data)) {
		t.Errorf("key layers: digests %s %s diffID %s usize %d", d1, d2, id2, k2.UncompressedSize())
	}

	// The entries live under a directory naming the parameters and the
	// library versions.
	ents, _ := os.ReadDir(cache.Dir())
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !strings.Contains(strings.Join(names, " "), "gzip1-512k-pgzip") {
		t.Errorf("cache directory holds %v", names)
	}

	// WriteLayout hard-links cached blobs (same file system here).
	img, err := NewImage([]v1.Layer{warm}, ImageConfig{}, mustPlatform(t, "x86_64"), nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := NewIndex([]v1.Image{img}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lay := filepath.Join(filepath.Dir(cache.Dir()), "layout")
	os.Mkdir(lay, 0o755)
	if err := WriteLayout(lay, idx, LayoutOptions{}); err != nil {
		t.Fatal(err)
	}
	fiCache, _ := os.Stat(filepath.Join(cache.Dir(), "blobs", "sha256", refDigest.Hex))
	fiLayout, err := os.Stat(filepath.Join(lay, "blobs", "sha256", refDigest.Hex))
	if err != nil || !os.SameFile(fiCache, fiLayout) || fiLayout.Mode().Perm() != 0o644 {
		t.Errorf("layout blob not linked to the cache: %v %v", fiLayout, err)
	}

	// A non-deterministic writer is caught.
	var n atomic.Int32
	flaky := func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "run %d", n.Add(1))
		return err
	}
	if _, err := NewLayer(flaky, LayerOptions{Cache: cache}); err == nil || !strings.Contains(err.Error(), "not deterministic") {
		t.Errorf("flaky writer: got %v", err)
	}

	// A damaged cache blob (a crash before it reached the disk, say) is
	// a miss, by diffID and by key: the layer is compressed again and the
	// blob repaired.
	p := filepath.Join(cache.Dir(), "blobs", "sha256", refDigest.Hex)
	for _, key := range []string{"", "pkgs: a=1 b=2"} {
		b, _ := os.ReadFile(p)
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		again := mustLayer(t, write, LayerOptions{Cache: cache, CacheKey: key})
		if d, _ := again.Digest(); again.Cached() || d != refDigest {
			t.Errorf("key %q: damaged cache blob: cached %v, digest %s", key, again.Cached(), d)
		}
		if !bytes.Equal(readAll(t, again), data) {
			t.Errorf("key %q: layer from a repaired cache does not round-trip", key)
		}
		if err := checkBlobFile(p, refDigest, again.size); err != nil {
			t.Errorf("key %q: blob not repaired: %v", key, err)
		}
		if hit := mustLayer(t, write, LayerOptions{Cache: cache, CacheKey: key}); !hit.Cached() {
			t.Errorf("key %q: no hit after the repair", key)
		}
	}
	// A truncated blob too.
	if err := os.Truncate(p, 10); err != nil {
		t.Fatal(err)
	}
	if again := mustLayer(t, write, LayerOptions{Cache: cache}); again.Cached() {
		t.Error("truncated cache blob: hit")
	}
}

func TestTarWriter(t *testing.T) {
	var buf bytes.Buffer
	tw := NewTarWriter(&buf)
	hdrs := []*tar.Header{
		{Name: "/etc", Typeflag: tar.TypeDir, Mode: 0o40755},
		{Name: "etc/./passwd", Typeflag: tar.TypeReg, Mode: 0o100644, Size: 0,
			ModTime: time.Unix(5, 999), AccessTime: time.Unix(7, 0), ChangeTime: time.Unix(8, 0), Uname: "root"},
		{Name: "bin/ln", Typeflag: tar.TypeLink, Linkname: "/bin/busybox", Devmajor: 3},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "a/../../x", Typeflag: tar.TypeReg}); err == nil {
		t.Error("a name with .. accepted")
	}
	tw.Close()
	tr := tar.NewReader(&buf)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %o %d %d %d %s %s %d", h.Name, h.Mode, h.ModTime.Unix(), h.AccessTime.Unix(), h.ChangeTime.Unix(), h.Uname, h.Linkname, h.Devmajor))
	}
	want := []string{
		"etc/ 755 0 -62135596800 -62135596800   0",
		"etc/passwd 644 5 -62135596800 -62135596800 root  0",
		"bin/ln 0 0 -62135596800 -62135596800  bin/busybox 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("headers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if hdrs[0].Name != "/etc" {
		t.Error("WriteHeader modified its argument")
	}
}
