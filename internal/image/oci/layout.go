package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/fsutil"
)

// Annotation keys used on the entries of a layout's index.json.
const (
	// AnnotationRefName is the OCI annotation naming an index.json entry;
	// tools address it as oci:DIR:NAME (skopeo) or DIR:NAME (umoci).
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationImageName is containerd's full image name, used by docker
	// load with the containerd image store.
	AnnotationImageName = "io.containerd.image.name"
)

// ociLayoutFile is the content of the oci-layout file.
const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// LayoutOptions configures WriteLayout.
type LayoutOptions struct {
	// Tag names the image in index.json (AnnotationRefName), e.g.
	// "latest": skopeo then reads it as oci:DIR:latest and umoci as
	// DIR:latest. Empty means no name.
	Tag string

	// PlatformTags additionally lists each image of a multi-platform index
	// in index.json, named "<Tag>-<arch>" (arm/v7 gives "<Tag>-arm_v7"),
	// for tools that cannot pick a platform out of an index (umoci).
	// index.json then has several entries, and tools that expect exactly
	// one (skopeo oci:DIR without a name) need a name.
	PlatformTags bool

	// ExtraFiles are written into the layout directory next to
	// index.json, e.g. "sbom-x86_64.spdx.json". Names are relative
	// slash-separated paths; they may not escape the directory or collide
	// with the layout's own files.
	ExtraFiles map[string][]byte
}

// WriteLayout writes idx as an OCI image layout into dir, which must exist.
// index.json holds one entry, the index itself (so the layout's index
// digest is the digest Publish pushes), named opts.Tag.
//
// Every file is written to a temporary name, synced and renamed; blobs and
// extra files come first and index.json last, so a failure leaves either
// the previous index.json or none, never one that refers to missing blobs.
// Blobs already present with the right size are kept; blobs of earlier
// builds are not removed. Blob contents are checked against their digests
// while they are written.
func WriteLayout(dir string, idx v1.ImageIndex, opts LayoutOptions) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("OCI layout: %s is not a directory", dir)
	}
	for name := range opts.ExtraFiles {
		if err := checkExtraName(name); err != nil {
			return fmt.Errorf("OCI layout %s: %w", dir, err)
		}
	}
	top, err := topIndex(idx, opts.Tag, "", opts.PlatformTags)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	ic, err := walkIndex(idx)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}

	blobDir := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0) + 2)
	for _, b := range ic.blobs {
		g.Go(func() error { return writeBlobFile(dir, b) })
	}
	for name, data := range opts.ExtraFiles {
		g.Go(func() error {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			return fsutil.WriteFileAtomic(p, data, 0o644)
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "oci-layout"), []byte(ociLayoutFile), 0o644); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "index.json"), top, 0o644); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	return nil
}

// writeBlobFile writes b to dir/blobs/<alg>/<hex> unless a file of the
// right size is there. A blob in a layer cache is hard-linked rather than
// copied when the cache is on the same file system (after syncing it, and
// checking its digest unless it is trusted).
func writeBlobFile(dir string, b blob) error {
	p := filepath.Join(dir, "blobs", b.desc.Digest.Algorithm, b.desc.Digest.Hex)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == b.desc.Size {
		return nil
	}
	if b.file != "" {
		if err := linkBlob(p, b); err == nil {
			return nil
		}
		// Another file system, or links not allowed: copy.
	}
	rc, err := b.openVerified()
	if err != nil {
		return err
	}
	defer rc.Close()
	return fsutil.WriteAtomic(p, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, rc)
		return err
	})
}

// linkBlob hard-links b.file to p through a temporary name.
func linkBlob(p string, b blob) error {
	f, err := os.Open(b.file)
	if err != nil {
		return err
	}
	defer f.Close()
	if !b.trusted {
		h, err := v1.Hasher(b.desc.Digest.Algorithm)
		if err != nil {
			return err
		}
		vr := &verifyReader{r: f, c: f, h: h, want: b.desc.Digest, size: b.desc.Size}
		if _, err := io.Copy(io.Discard, vr); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-link-%x", p, rand.Uint64())
	if err := os.Link(b.file, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// checkExtraName rejects extra file names that are not plain relative
// paths inside the layout or that would replace the layout's own files.
func checkExtraName(name string) error {
	if name == "" || !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("extra file %q: not a relative slash-separated path inside the layout", name)
	}
	first, _, _ := strings.Cut(name, "/")
	switch first {
	case "index.json", "oci-layout", "blobs", "manifest.json", "repositories":
		return fmt.Errorf("extra file %q: would replace the layout's own %s", name, first)
	}
	return nil
}

// topIndex returns the index.json of a layout or archive holding idx: one
// entry for idx named tag (and fullName, for containerd), plus, with
// platformTags and more than one image, one entry per image named
// "<tag>-<arch>".
func topIndex(idx v1.ImageIndex, tag, fullName string, platformTags bool) ([]byte, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, err
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return nil, err
	}
	entry := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: d}
	if tag != "" {
		entry.Annotations = map[string]string{AnnotationRefName: tag}
		if fullName != "" {
			entry.Annotations[AnnotationImageName] = fullName
		}
	}
	top := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{entry},
	}
	if platformTags {
		if tag == "" {
			return nil, errors.New("per-platform names need a tag")
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		if len(im.Manifests) > 1 {
			for _, m := range im.Manifests {
				if m.Platform == nil {
					return nil, fmt.Errorf("index entry %s has no platform", m.Digest)
				}
				e := v1.Descriptor{MediaType: m.MediaType, Size: m.Size, Digest: m.Digest, Platform: m.Platform,
					Annotations: map[string]string{AnnotationRefName: tag + "-" + archTag(*m.Platform)}}
				top.Manifests = append(top.Manifests, e)
			}
		}
	}
	return json.Marshal(top)
}
