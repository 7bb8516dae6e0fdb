package oci

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reef-dev/reef/internal/fsutil"
)

// dockerManifest is one entry of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteTarball writes idx to path as an image archive that is both a
// `docker save` archive and an OCI layout, the format docker save writes
// since Docker 25:
//
//	oci-layout, index.json   the layout, as WriteLayout writes it, with the
//	                         index named tag (ref name and containerd name)
//	blobs/sha256/<hex>       every layer, config, manifest and the index
//	manifest.json            docker's list of images: config, layers, tags
//
// So `docker load`, `skopeo ... docker-archive:PATH` and `skopeo ...
// oci-archive:PATH` all accept it. A single-platform index is tagged as
// tag in manifest.json; with several platforms each image is tagged
// "<tag>-<arch>" (arm/v7 gives "<tag>-arm_v7"), like apko, while the
// OCI side (and docker with the containerd store) keeps the whole index
// under tag. Each blob is stored once; entries have fixed owner, mode and
// time, so the archive is a function of idx and tag.
//
// The file is written under a temporary name in path's directory, synced
// and renamed, so path is never left half-written.
func WriteTarball(path string, tag name.Tag, idx v1.ImageIndex) error {
	ic, err := walkIndex(idx)
	if err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	top, err := topIndex(idx, tag.TagStr(), containerdName(tag), false)
	if err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	tags, err := archiveTags(tag, ic.images)
	if err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	var dm []dockerManifest
	for i, im := range ic.images {
		e := dockerManifest{Config: blobName(im.config), RepoTags: []string{tags[i]}, Layers: []string{}}
		for _, l := range im.layers {
			e.Layers = append(e.Layers, blobName(l))
		}
		dm = append(dm, e)
	}
	manifestJSON, err := json.Marshal(dm)
	if err != nil {
		return err
	}

	err = fsutil.WriteAtomic(path, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		tw := tar.NewWriter(bw)
		for _, d := range []string{"blobs/", "blobs/sha256/"} {
			if err := tw.WriteHeader(archiveHeader(d, tar.TypeDir, 0)); err != nil {
				return err
			}
		}
		for _, b := range ic.blobs {
			if err := tw.WriteHeader(archiveHeader(blobName(b.desc.Digest), tar.TypeReg, b.desc.Size)); err != nil {
				return err
			}
			rc, err := b.openVerified()
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		for _, f := range []struct {
			name string
			data []byte
		}{
			{"oci-layout", []byte(ociLayoutFile)},
			{"index.json", top},
			{"manifest.json", manifestJSON},
		} {
			if err := tw.WriteHeader(archiveHeader(f.name, tar.TypeReg, int64(len(f.data)))); err != nil {
				return err
			}
			if _, err := tw.Write(f.data); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	return nil
}

// archiveTags returns the docker tag of each image: tag itself for a
// single image, "<tag>-<arch>" for several.
func archiveTags(tag name.Tag, images []imageBlobs) ([]string, error) {
	// As docker save does (and go-containerregistry's tarball package):
	// the tag as the user wrote it, with an explicit ":latest".
	base := tag.String()
	if !strings.HasSuffix(base, ":"+tag.TagStr()) {
		base += ":" + tag.TagStr()
	}
	if len(images) == 1 {
		return []string{base}, nil
	}
	repo := strings.TrimSuffix(base, ":"+tag.TagStr())
	var tags []string
	seen := map[string]bool{}
	for _, im := range images {
		if im.desc.Platform == nil {
			return nil, fmt.Errorf("index entry %s has no platform", im.desc.Digest)
		}
		t := repo + ":" + tag.TagStr() + "-" + archTag(*im.desc.Platform)
		if _, err := name.NewTag(t); err != nil {
			return nil, fmt.Errorf("per-platform tag: %w", err)
		}
		if seen[t] {
			return nil, fmt.Errorf("two images would be tagged %s", t)
		}
		seen[t] = true
		tags = append(tags, t)
	}
	return tags, nil
}

// containerdName returns the fully qualified name containerd gives tag,
// which spells Docker Hub "docker.io" where go-containerregistry says
// "index.docker.io".
func containerdName(tag name.Tag) string {
	if tag.RegistryStr() == name.DefaultRegistry {
		return "docker.io/" + tag.RepositoryStr() + ":" + tag.TagStr()
	}
	return tag.Name()
}

func blobName(h v1.Hash) string {
	return filepath.ToSlash(filepath.Join("blobs", h.Algorithm, h.Hex))
}

// archiveHeader returns the header of an archive entry: owned by root,
// mode 0644 (0755 for directories), time Unix 0.
func archiveHeader(name string, typ byte, size int64) *tar.Header {
	mode := int64(0o644)
	if typ == tar.TypeDir {
		mode = 0o755
	}
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Size:     size,
		Mode:     mode,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatUSTAR,
	}
}
