package image

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/image/oci"
)

// ParseTag parses the TAG argument of a build ("repo:tag", "reg/repo",
// default tag "latest").
func ParseTag(tag string) (name.Tag, error) {
	t, err := name.NewTag(tag, name.WithDefaultTag("latest"))
	if err != nil {
		return name.Tag{}, fmt.Errorf("image tag %q: %w", tag, err)
	}
	return t, nil
}

// Write writes the result to out as apko does: an existing directory
// receives an OCI image layout (with the SBOMs as files next to
// index.json), any other path a docker-loadable tarball.
func (r *Result) Write(out string, tag name.Tag) error {
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return r.WriteLayout(out, tag)
	}
	return r.WriteTarball(out, tag)
}

// WriteLayout writes the OCI image layout into dir, which must exist.
// The index is named by the tag's tag part ("latest"), which tools
// address as oci:DIR:latest (skopeo) or DIR:latest (umoci); each image
// is also named "<tag>-<arch>" for tools that cannot pick a platform out
// of an index.
func (r *Result) WriteLayout(dir string, tag name.Tag) error {
	extra := map[string][]byte{}
	maps.Copy(extra, r.SBOMs)
	return oci.WriteLayout(dir, r.Index, oci.LayoutOptions{Tag: tag.TagStr(), PlatformTags: len(r.Images) > 1, ExtraFiles: extra})
}

// WriteTarball writes a docker-loadable archive (also an OCI layout) to
// path atomically.
func (r *Result) WriteTarball(path string, tag name.Tag) error {
	return oci.WriteTarball(path, tag, r.Index)
}

// WriteSBOMs writes the SBOM files into dir (created if needed).
func (r *Result) WriteSBOMs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range slices.Sorted(maps.Keys(r.SBOMs)) {
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, n), r.SBOMs[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Digest returns the index digest.
func (r *Result) Digest() (v1.Hash, error) { return r.Index.Digest() }

// Publish pushes the images by digest and the index to every reference
// and returns the index digest.
func (r *Result) Publish(ctx context.Context, refs []string, opts oci.PublishOptions) (v1.Hash, error) {
	return oci.Publish(ctx, r.Index, refs, opts)
}

// Close releases the layers' compressed bytes.
func (r *Result) Close() error {
	for _, im := range r.Images {
		for _, l := range im.Layers {
			l.Close()
		}
	}
	return nil
}

// BuildTo is `reef image build`: it loads the image file at cfgPath,
// builds it and writes it to out (an existing directory: OCI layout;
// otherwise a tarball), and the SBOMs into sbomPath when set. When it
// fails, out and sbomPath are left as they were: everything is built
// before anything is written, and files are written under temporary
// names and renamed. The caller closes the Result.
func BuildTo(ctx context.Context, cfgPath, tag, out, sbomPath string, opts Options) (*Result, error) {
	t, err := ParseTag(tag)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	if opts.Ref == "" {
		opts.Ref = t.String()
	}
	res, err := Build(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := res.Write(out, t); err != nil {
		res.Close()
		return nil, err
	}
	if sbomPath != "" && !opts.NoSBOM {
		if err := res.WriteSBOMs(sbomPath); err != nil {
			res.Close()
			return nil, err
		}
	}
	return res, nil
}
