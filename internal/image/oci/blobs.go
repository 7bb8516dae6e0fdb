package oci

import (
	"bytes"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// blob is one content-addressed blob of an image index: a layer, a config,
// a manifest or an index.
type blob struct {
	desc v1.Descriptor
	open func() (io.ReadCloser, error)
	file string // a file holding the blob (a cache entry) that may be hard-linked
	// trusted says the bytes open returns need no checking: the layer
	// was compressed by this process, or its cache file was checked
	// against its digest when it was looked up.
	trusted bool
}

// imageBlobs is what the outputs need to know about one image of an index.
type imageBlobs struct {
	desc   v1.Descriptor // the manifest's descriptor in its index
	config v1.Hash
	layers []v1.Hash
}

// indexContents lists the blobs of an index and everything below it.
type indexContents struct {
	blobs  []blob       // children before parents, the index last; no duplicates
	images []imageBlobs // in index order, depth first
}

// walkIndex collects the blobs of idx and of every image and index it
// refers to. Blob digests and sizes are checked when the blobs are read
// (see verifyReader), not here.
func walkIndex(idx v1.ImageIndex) (*indexContents, error) {
	ic := &indexContents{}
	seen := map[v1.Hash]bool{}
	add := func(b blob) {
		if !seen[b.desc.Digest] {
			seen[b.desc.Digest] = true
			ic.blobs = append(ic.blobs, b)
		}
	}
	if err := ic.walk(idx, add, 0); err != nil {
		return nil, err
	}
	return ic, nil
}

func (ic *indexContents) walk(idx v1.ImageIndex, add func(blob), depth int) error {
	if depth > 8 {
		return fmt.Errorf("image index nested too deeply")
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, desc := range im.Manifests {
		switch desc.MediaType {
		case types.OCIImageIndex, types.DockerManifestList:
			child, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return fmt.Errorf("index %s: %w", desc.Digest, err)
			}
			if err := ic.walk(child, add, depth+1); err != nil {
				return err
			}
		case types.OCIManifestSchema1, types.DockerManifestSchema2:
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return fmt.Errorf("image %s: %w", desc.Digest, err)
			}
			ib, err := imageContents(img, desc, add)
			if err != nil {
				return fmt.Errorf("image %s: %w", desc.Digest, err)
			}
			ic.images = append(ic.images, ib)
		default:
			return fmt.Errorf("index entry %s: unsupported media type %q", desc.Digest, desc.MediaType)
		}
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return err
	}
	add(rawBlob(v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}, raw))
	return nil
}

func imageContents(img v1.Image, desc v1.Descriptor, add func(blob)) (imageBlobs, error) {
	ib := imageBlobs{desc: desc}
	m, err := img.Manifest()
	if err != nil {
		return ib, err
	}
	layers, err := img.Layers()
	if err != nil {
		return ib, err
	}
	if len(layers) != len(m.Layers) {
		return ib, fmt.Errorf("manifest lists %d layers, image has %d", len(m.Layers), len(layers))
	}
	for i, l := range layers {
		ld := m.Layers[i]
		b := blob{desc: ld, open: l.Compressed}
		if rl, ok := l.(*Layer); ok && rl.digest == ld.Digest && rl.size == ld.Size {
			b.trusted = true
			if cb, ok := rl.blob.(*cacheBlob); ok {
				b.file = cb.path
			}
		}
		add(b)
		ib.layers = append(ib.layers, ld.Digest)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return ib, err
	}
	add(rawBlob(m.Config, rawCfg))
	ib.config = m.Config.Digest
	raw, err := img.RawManifest()
	if err != nil {
		return ib, err
	}
	add(rawBlob(v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: int64(len(raw))}, raw))
	return ib, nil
}

// rawBlob is a blob in memory (a config or manifest), checked as it is
// written like any other.
func rawBlob(desc v1.Descriptor, b []byte) blob {
	return blob{desc: desc, open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// openVerified opens a blob, through a verifyReader unless it is trusted.
func (b blob) openVerified() (io.ReadCloser, error) {
	rc, err := b.open()
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", b.desc.Digest, err)
	}
	if b.trusted {
		return rc, nil
	}
	h, err := v1.Hasher(b.desc.Digest.Algorithm)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &verifyReader{r: rc, c: rc, h: h, want: b.desc.Digest, size: b.desc.Size}, nil
}

// verifyReader passes a blob through, failing at the end if its size or
// digest differ from the expected ones.
type verifyReader struct {
	r    io.Reader
	c    io.Closer
	h    hash.Hash
	want v1.Hash
	size int64
	n    int64
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		return n, fmt.Errorf("blob %s: larger than its %d bytes", v.want, v.size)
	}
	if err == io.EOF {
		if v.n != v.size {
			return n, fmt.Errorf("blob %s: %d bytes, want %d", v.want, v.n, v.size)
		}
		if got := fmt.Sprintf("%x", v.h.Sum(nil)); got != v.want.Hex {
			return n, fmt.Errorf("blob %s: content has digest %s:%s", v.want, v.want.Algorithm, got)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.c.Close() }
