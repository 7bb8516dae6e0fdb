package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// index is an image index built by NewIndex.
type index struct {
	images   []v1.Image
	manifest *v1.IndexManifest
	raw      []byte
	digest   v1.Hash
}

var _ v1.ImageIndex = (*index)(nil)

// NewIndex returns an OCI image index (application/vnd.oci.image.index.v1+json)
// of images, one per platform, with annotations. Each entry's platform is
// read from the image's config; entries are sorted by architecture and
// variant (386, amd64, arm/v6, arm/v7, arm64, ...), as apko sorts them, so
// the order of images does not matter. Two images for one platform are an
// error.
func NewIndex(images []v1.Image, annotations map[string]string) (v1.ImageIndex, error) {
	type entry struct {
		key  string
		img  v1.Image
		desc v1.Descriptor
	}
	var entries []entry
	seen := map[string]bool{}
	for _, img := range images {
		p, err := imagePlatform(img)
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		k := platformKey(p)
		if seen[k] {
			return nil, fmt.Errorf("index: two images for platform %s", p.String())
		}
		seen[k] = true
		raw, err := img.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		mt, err := img.MediaType()
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		entries = append(entries, entry{key: k, img: img, desc: v1.Descriptor{
			MediaType: mt, Size: int64(len(raw)), Digest: d, Platform: &p,
		}})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })

	im := &v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{},
		Annotations:   annotations,
	}
	idx := &index{manifest: im}
	for _, e := range entries {
		im.Manifests = append(im.Manifests, e.desc)
		idx.images = append(idx.images, e.img)
	}
	raw, err := json.Marshal(im)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	idx.raw = raw
	idx.digest, _, err = v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return idx, nil
}

// imagePlatform returns the platform an image's config declares.
func imagePlatform(img v1.Image) (v1.Platform, error) {
	if i, ok := img.(*image); ok {
		return i.platform, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Platform{}, err
	}
	p := cf.Platform()
	if p == nil || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("image config has no architecture")
	}
	return *p, nil
}

func (x *index) MediaType() (types.MediaType, error)       { return types.OCIImageIndex, nil }
func (x *index) Digest() (v1.Hash, error)                  { return x.digest, nil }
func (x *index) Size() (int64, error)                      { return int64(len(x.raw)), nil }
func (x *index) IndexManifest() (*v1.IndexManifest, error) { return x.manifest.DeepCopy(), nil }
func (x *index) RawManifest() ([]byte, error)              { return x.raw, nil }
func (x *index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("index %s: no child index %s", x.digest, h)
}

func (x *index) Image(h v1.Hash) (v1.Image, error) {
	for i, d := range x.manifest.Manifests {
		if d.Digest == h {
			return x.images[i], nil
		}
	}
	return nil, fmt.Errorf("index %s: no image %s", x.digest, h)
}
