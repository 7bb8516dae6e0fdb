package oci

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
)

// Compression parameters. Together with the versions of the compression
// libraries they fix the compressed bytes of a layer: changing any of them
// changes layer digests (and the golden digests in the tests).
const (
	// DefaultLevel is the gzip level used when LayerOptions.Level is zero.
	// On 100 MB of libraries, executables and data files, level 1 of
	// klauspost/compress takes about 0.55 of the CPU time of level 5 (the
	// library's default, which apko uses) for a 9% larger layer; level 3
	// takes about three quarters of it for a 4% larger one
	// (BenchmarkLayer100MB). Compression is most of the CPU time of a cold
	// image build; level 1 is what brings the ~100 MB benchmark image
	// (image.BenchmarkBuildDebian) to half of apko's time on two cores.
	DefaultLevel = 1

	// BlockSize is the size of the independently compressed blocks. Each
	// block is deflated on its own, primed with the last 16 KiB of the
	// previous one, so the output depends on the block size but not on how
	// many blocks are compressed at once. 512 KiB rather than 1 MiB halves
	// the compressor's buffers (fresh memory is dear: a page fault per 4
	// KiB) for a layer 0.03% larger (bench/image.sh: ~10 ms less for
	// the 100 MB image).
	BlockSize = 512 << 10
)

// LayerOptions configures NewLayer. The zero value compresses at
// DefaultLevel with GOMAXPROCS workers and keeps the result in memory.
type LayerOptions struct {
	// Level is the gzip compression level, 1 (fastest) to 9 (smallest);
	// zero means DefaultLevel. The level is part of the output: the same
	// tar at two levels gives two digests.
	Level int

	// Concurrency bounds how many blocks are compressed at once; zero
	// means runtime.GOMAXPROCS(0). It never changes the output.
	Concurrency int

	// TempDir, if set, keeps the compressed bytes in an unlinked temporary
	// file in that directory instead of in memory. Call Layer.Close to
	// release it early. It is ignored when Cache is set: the cache file is
	// the storage then.
	TempDir string

	// Cache, if set, reuses a compressed layer with the same content (and
	// compression parameters) from an earlier build, and stores new ones.
	// Without CacheKey, looking up the cache costs one extra run of write
	// to learn the diffID (hashing only, no compression).
	Cache *Cache

	// CacheKey, if set together with Cache, names the layer's inputs: a
	// string that changes whenever the tar stream would (for example a
	// hash of the sorted package checksums, generated file contents,
	// ownership and time settings). On a hit, write is not called at
	// all; on a miss, the layer is compressed in a single pass and the key
	// is recorded. A key that fails to capture an input gives stale layers,
	// so leave it empty when in doubt.
	CacheKey string
}

// Layer is a gzip-compressed tar layer with OCI media type
// application/vnd.oci.image.layer.v1.tar+gzip. It implements v1.Layer.
// Its compressed bytes are kept (in memory, a temporary file or the cache)
// so that it can be written to any number of outputs and registries
// without being compressed again. A Layer is safe for concurrent use.
type Layer struct {
	diffID, digest v1.Hash
	size, usize    int64
	cached         bool
	blob           blobSource
}

// blobSource holds the compressed bytes of a layer.
type blobSource interface {
	open() (io.ReadCloser, error)
	close() error
}

var _ v1.Layer = (*Layer)(nil)

// NewLayer builds a layer from write, which must write an uncompressed tar
// stream to w and return. The stream is compressed as it is written (gzip,
// BlockSize blocks compressed in parallel, no file name or time in the
// header), while its diffID (sha256 of the tar) and digest (sha256 of the
// gzip stream) are computed in the same pass. The output depends only on
// the tar bytes and opts.Level.
//
// write may be called more than once (see LayerOptions.Cache) and must then
// produce the same bytes each time; NewLayer fails if it does not.
func NewLayer(write func(w io.Writer) error, opts LayerOptions) (*Layer, error) {
	level := opts.Level
	if level == 0 {
		level = DefaultLevel
	}
	if level < 1 || level > 9 {
		return nil, fmt.Errorf("layer: compression level %d out of range 1-9", level)
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = runtime.GOMAXPROCS(0)
	}
	c := compressor{level: level, concurrency: conc}
	if opts.Cache != nil {
		return opts.Cache.layer(write, c, opts.CacheKey)
	}

	var sink blobSink
	if opts.TempDir != "" {
		f, err := os.CreateTemp(opts.TempDir, ".reef-layer-*")
		if err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
		// Unlinked at once: nothing is left behind, whatever happens.
		os.Remove(f.Name())
		sink = &fileBlob{f: f}
	} else {
		sink = &memBlob{}
	}
	l, err := c.compress(write, sink)
	if err != nil {
		sink.close()
		return nil, err
	}
	l.blob = sink
	return l, nil
}

// compressor holds the compression parameters of NewLayer.
type compressor struct {
	level, concurrency int
}

// compress runs write once, compressing its output into out, and returns
// the layer's hashes and sizes (the blob is left for the caller to set).
func (c compressor) compress(write func(io.Writer) error, out io.Writer) (*Layer, error) {
	zout := &hashWriter{w: out, h: sha256.New()}
	zw, err := pgzip.NewWriterLevel(zout, c.level)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	// Blocks in flight: a few more than workers so that the writer does not
	// wait for the slowest block.
	if err := zw.SetConcurrency(BlockSize, c.concurrency+2); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	// The zero time.Time would be written as a garbage mtime; Unix 0 means
	// "no time" in a gzip header.
	zw.ModTime = time.Unix(0, 0)
	zw.OS = 255 // unknown, as Go's compress/gzip writes

	in := &hashWriter{w: zw, h: sha256.New()}
	werr := write(in)
	cerr := zw.Close()
	if werr != nil {
		return nil, fmt.Errorf("layer: writing tar: %w", werr)
	}
	if cerr != nil {
		return nil, fmt.Errorf("layer: compressing: %w", cerr)
	}
	return &Layer{
		diffID: in.sum(),
		digest: zout.sum(),
		size:   zout.n,
		usize:  in.n,
	}, nil
}

// Digest returns the sha256 of the compressed layer.
func (l *Layer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID returns the sha256 of the uncompressed tar.
func (l *Layer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size returns the size of the compressed layer.
func (l *Layer) Size() (int64, error) { return l.size, nil }

// UncompressedSize returns the size of the tar stream.
func (l *Layer) UncompressedSize() int64 { return l.usize }

// MediaType returns application/vnd.oci.image.layer.v1.tar+gzip.
func (l *Layer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Cached reports whether the compressed bytes came from the cache.
func (l *Layer) Cached() bool { return l.cached }

// Compressed returns the gzip stream. Each call returns a new reader.
func (l *Layer) Compressed() (io.ReadCloser, error) {
	if l.blob == nil {
		return nil, errors.New("layer: closed")
	}
	return l.blob.open()
}

// Uncompressed returns the tar stream, decompressed from the stored gzip
// stream (write is not called again).
func (l *Layer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	zr, err := pgzip.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("layer %s: %w", l.digest, err)
	}
	return &gunzipReader{zr: zr, rc: rc}, nil
}

// Close releases the compressed bytes held in memory or in a temporary
// file. The layer cannot be read afterwards, and Close must not be called
// while it is being read. Layers from the cache keep their cache file.
func (l *Layer) Close() error {
	if l.blob == nil {
		return nil
	}
	err := l.blob.close()
	l.blob = nil
	return err
}

type gunzipReader struct {
	zr *pgzip.Reader
	rc io.ReadCloser
}

func (g *gunzipReader) Read(p []byte) (int, error) { return g.zr.Read(p) }

func (g *gunzipReader) Close() error {
	err := g.zr.Close()
	if cerr := g.rc.Close(); err == nil {
		err = cerr
	}
	return err
}

// hashWriter passes writes to w while hashing and counting them.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	n, err := hw.w.Write(p)
	hw.n += int64(n)
	return n, err
}

func (hw *hashWriter) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", hw.h.Sum(nil))}
}

// blobSink is a blobSource that is filled by writing to it.
type blobSink interface {
	io.Writer
	blobSource
}

// memBlob keeps a blob in memory as the list of chunks it was written in
// (pgzip writes one chunk per compressed block), so it never reallocates.
type memBlob struct {
	chunks [][]byte
}

func (m *memBlob) Write(p []byte) (int, error) {
	m.chunks = append(m.chunks, bytes.Clone(p))
	return len(p), nil
}

func (m *memBlob) open() (io.ReadCloser, error) {
	rs := make([]io.Reader, len(m.chunks))
	for i, c := range m.chunks {
		rs[i] = bytes.NewReader(c)
	}
	return io.NopCloser(io.MultiReader(rs...)), nil
}

func (m *memBlob) close() error {
	m.chunks = nil
	return nil
}

// fileBlob keeps a blob in an open (usually unlinked) file; readers use
// ReadAt, so any number can read at once.
type fileBlob struct {
	f *os.File
	n int64
}

func (fb *fileBlob) Write(p []byte) (int, error) {
	n, err := fb.f.Write(p)
	fb.n += int64(n)
	return n, err
}

func (fb *fileBlob) open() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(fb.f, 0, fb.n)), nil
}

func (fb *fileBlob) close() error { return fb.f.Close() }
