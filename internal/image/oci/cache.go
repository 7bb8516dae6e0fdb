package oci

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reef-dev/reef/internal/fsutil"
)

// Cache is a directory of compressed layers from earlier builds, so that
// warm builds skip compression. Its layout is
//
//	blobs/sha256/<digest>             compressed layers
//	<params>/diffid/<diffID>          "<digest> <size> <uncompressed size>"
//	<params>/key/<sha256 of CacheKey> "<diffID> <digest> <size> <uncompressed size>"
//
// where <params> names the compression level, block size and the versions
// of the compression libraries: the same tar compressed by another version
// may give other bytes, and a warm build must give the digest a cold build
// gives. Entries are written atomically, so several processes may share a
// cache; nothing is ever evicted (delete the directory to clean it).
//
// Blobs are not synced to disk when written: a blob is checked against its
// digest when a later build finds it, and one that a crash (or anything
// else) damaged is removed and counts as a miss. WriteLayout hard-links
// cached blobs into the layout when it can, so a cache file must never be
// modified in place.
type Cache struct {
	dir string
}

// NewCache returns the cache in dir, creating the directory if needed.
func NewCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return &Cache{dir: dir}, nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// cacheEntry is what the cache records about one layer.
type cacheEntry struct {
	diffID, digest v1.Hash
	size, usize    int64
}

func (c *Cache) layer(write func(io.Writer) error, comp compressor, key string) (*Layer, error) {
	params := comp.params()
	var keyPath string
	if key != "" {
		sum := sha256.Sum256([]byte(key))
		keyPath = filepath.Join(c.dir, params, "key", fmt.Sprintf("%x", sum))
		if e, err := readEntry(keyPath, true); err == nil {
			if l, ok := c.lookup(e); ok {
				return l, nil
			}
		}
		// A key miss most likely means new content: compress in one pass.
		l, err := c.compress(write, comp, v1.Hash{})
		if err != nil {
			return nil, err
		}
		e := cacheEntry{diffID: l.diffID, digest: l.digest, size: l.size, usize: l.usize}
		if err := writeEntry(keyPath, e, true); err != nil {
			return nil, err
		}
		return l, nil
	}

	// Without a key, hash the tar to learn the diffID first.
	hw := &hashWriter{w: io.Discard, h: sha256.New()}
	if err := write(hw); err != nil {
		return nil, fmt.Errorf("layer: writing tar: %w", err)
	}
	diffID := hw.sum()
	if e, err := readEntry(c.diffIDPath(params, diffID), false); err == nil {
		e.diffID = diffID
		if e.usize == hw.n {
			if l, ok := c.lookup(e); ok {
				return l, nil
			}
		}
	}
	return c.compress(write, comp, diffID)
}

// lookup returns the cached layer of e, if its blob is present and has the
// recorded size and digest. A damaged blob is removed.
func (c *Cache) lookup(e cacheEntry) (*Layer, bool) {
	p := c.blobPath(e.digest)
	if err := checkBlobFile(p, e.digest, e.size); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			os.Remove(p)
		}
		return nil, false
	}
	return &Layer{
		diffID: e.diffID, digest: e.digest, size: e.size, usize: e.usize,
		cached: true,
		blob:   &cacheBlob{path: p, digest: e.digest, size: e.size},
	}, true
}

// compress compresses the output of write into the cache and records its
// diffID. If want is set, the diffID must be want.
func (c *Cache) compress(write func(io.Writer) error, comp compressor, want v1.Hash) (*Layer, error) {
	dir := filepath.Join(c.dir, "blobs", "sha256")
	f, err := os.CreateTemp(dir, ".layer.tmp-*")
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name()) // fails harmlessly once renamed
	}()
	l, err := comp.compress(write, f)
	if err != nil {
		return nil, err
	}
	if want.Hex != "" && l.diffID != want {
		return nil, fmt.Errorf("layer: the tar writer is not deterministic: first run gave diffID %s, second %s", want, l.diffID)
	}
	// Readable by all, like the layout files it may be linked to. Not
	// synced: lookup checks the digest.
	if err := f.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	p := c.blobPath(l.digest)
	if err := os.Rename(f.Name(), p); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	e := cacheEntry{diffID: l.diffID, digest: l.digest, size: l.size, usize: l.usize}
	if err := writeEntry(c.diffIDPath(comp.params(), l.diffID), e, false); err != nil {
		return nil, err
	}
	l.blob = &cacheBlob{path: p, digest: l.digest, size: l.size}
	return l, nil
}

func (c *Cache) blobPath(h v1.Hash) string {
	return filepath.Join(c.dir, "blobs", "sha256", h.Hex)
}

func (c *Cache) diffIDPath(params string, diffID v1.Hash) string {
	return filepath.Join(c.dir, params, "diffid", diffID.Hex)
}

// readEntry parses an entry file; withDiffID says whether it starts with
// the diffID (key entries) or not (diffID entries, named after it).
func readEntry(path string, withDiffID bool) (cacheEntry, error) {
	var e cacheEntry
	b, err := os.ReadFile(path)
	if err != nil {
		return e, err
	}
	f := strings.Fields(string(b))
	if withDiffID {
		if len(f) != 4 {
			return e, fmt.Errorf("%s: malformed cache entry", path)
		}
		if e.diffID, err = v1.NewHash(f[0]); err != nil {
			return e, fmt.Errorf("%s: %w", path, err)
		}
		f = f[1:]
	}
	if len(f) != 3 {
		return e, fmt.Errorf("%s: malformed cache entry", path)
	}
	if e.digest, err = v1.NewHash(f[0]); err != nil {
		return e, fmt.Errorf("%s: %w", path, err)
	}
	if e.size, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return e, fmt.Errorf("%s: %w", path, err)
	}
	if e.usize, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return e, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

func writeEntry(path string, e cacheEntry, withDiffID bool) error {
	s := fmt.Sprintf("%s %d %d\n", e.digest, e.size, e.usize)
	if withDiffID {
		s = e.diffID.String() + " " + s
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	// Not synced: syncing a small file on ext4 also writes out the blob
	// it names, still being written back; an entry a crash damaged fails
	// to parse or names a blob that fails its check, and is a miss.
	err := fsutil.ReplaceFile(path, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	})
	if err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	return nil
}

// params names the compression parameters for cache entries, for example
// "gzip1-512k-pgzipv1.3.0-compressv1.20.3".
func (comp compressor) params() string {
	return fmt.Sprintf("gzip%d-%dk-%s", comp.level, BlockSize>>10, libVersions)
}

// libVersions names the versions of the compression libraries linked in.
var libVersions = func() string {
	pg, kc := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Replace != nil {
				m = m.Replace
			}
			switch m.Path {
			case "github.com/klauspost/pgzip":
				pg = m.Version
			case "github.com/klauspost/compress":
				kc = m.Version
			}
		}
	}
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == '\x00' {
				return '_'
			}
			return r
		}, s)
	}
	return "pgzip" + clean(pg) + "-compress" + clean(kc)
}()

// checkBlobFile checks that the file at p is a regular file of size bytes
// with the given digest.
func checkBlobFile(p string, digest v1.Hash, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", p)
	}
	_, err = io.Copy(io.Discard, &verifyReader{r: f, c: f, h: sha256.New(), want: digest, size: size})
	return err
}

// cacheBlob is a compressed layer in the cache, written by this process or
// checked against its digest when it was looked up.
type cacheBlob struct {
	path   string
	digest v1.Hash
	size   int64
}

func (cb *cacheBlob) open() (io.ReadCloser, error) {
	f, err := os.Open(cb.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("layer %s: removed from the cache while in use: %w", cb.digest, err)
		}
		return nil, err
	}
	return f, nil
}

func (cb *cacheBlob) close() error { return nil }
