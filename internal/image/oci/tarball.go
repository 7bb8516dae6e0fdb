package oci

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
// The file is written under a temporary name in path's directory and
// renamed, so path is never left half-written.
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

	// The archive's size, for preallocation: every name is short enough
	// for a single ustar header block.
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(ociLayoutFile)},
		{"index.json", top},
		{"manifest.json", manifestJSON},
	}
	size := int64(2*blockSize + 2*blockSize) // two directories, end of archive
	for _, b := range ic.blobs {
		size += blockSize + padded(b.desc.Size)
	}
	for _, f := range files {
		size += blockSize + padded(int64(len(f.data)))
	}

	// Not synced (see fsutil.ReplaceFile): an archive is quick to make
	// again, and syncing ~50 MB costs more than the rest of writing it.
	err = fsutil.ReplaceFileSize(path, 0o644, size, func(w io.Writer) error {
		aw := newArchiveWriter(w)
		for _, d := range []string{"blobs/", "blobs/sha256/"} {
			if err := aw.header(archiveHeader(d, tar.TypeDir, 0)); err != nil {
				return err
			}
		}
		for _, b := range ic.blobs {
			if err := aw.header(archiveHeader(blobName(b.desc.Digest), tar.TypeReg, b.desc.Size)); err != nil {
				return err
			}
			if err := aw.blob(b); err != nil {
				return err
			}
		}
		for _, f := range files {
			if err := aw.header(archiveHeader(f.name, tar.TypeReg, int64(len(f.data)))); err != nil {
				return err
			}
			if err := aw.content(bytes.NewReader(f.data), int64(len(f.data))); err != nil {
				return err
			}
		}
		return aw.close()
	})
	if err != nil {
		return fmt.Errorf("image archive %s: %w", path, err)
	}
	return nil
}

// archiveWriter writes a tar archive like archive/tar's Writer, except
// that an entry's content can be copied from a file by the kernel
// (copy_file_range) when the archive is a file too: a cached layer goes
// into the archive without passing through the process.
type archiveWriter struct {
	f  *os.File // the archive, if it is a file
	bw *bufio.Writer
}

func newArchiveWriter(w io.Writer) *archiveWriter {
	f, _ := w.(*os.File)
	return &archiveWriter{f: f, bw: bufio.NewWriterSize(w, 1<<20)}
}

// header writes an entry's header block(s); the entry's content follows
// with content or blob.
func (aw *archiveWriter) header(h *tar.Header) error {
	// archive/tar encodes the header; nothing else goes through its Writer.
	var hb bytes.Buffer
	if err := tar.NewWriter(&hb).WriteHeader(h); err != nil {
		return err
	}
	_, err := aw.bw.Write(hb.Bytes())
	return err
}

// content writes an entry's size bytes from r and pads them to a whole
// block.
func (aw *archiveWriter) content(r io.Reader, size int64) error {
	n, err := io.Copy(aw.bw, r)
	if err != nil {
		return err
	}
	return aw.pad(n, size)
}

// blob writes b's bytes as an entry's content, checked against its digest
// unless it is trusted, copied by the kernel when it is a trusted cache
// file.
func (aw *archiveWriter) blob(b blob) error {
	if aw.f != nil && b.trusted && b.file != "" {
		src, err := os.Open(b.file)
		if err == nil {
			defer src.Close()
			if err := aw.bw.Flush(); err != nil {
				return err
			}
			n, err := io.Copy(aw.f, src) // copy_file_range
			if err != nil {
				return fmt.Errorf("blob %s: %w", b.desc.Digest, err)
			}
			return aw.pad(n, b.desc.Size)
		}
	}
	rc, err := b.openVerified()
	if err != nil {
		return err
	}
	defer rc.Close()
	return aw.content(rc, b.desc.Size)
}

// pad checks that n bytes were written for an entry of size bytes and
// pads them to a whole block.
func (aw *archiveWriter) pad(n, size int64) error {
	if n != size {
		return fmt.Errorf("archive entry: wrote %d bytes, want %d", n, size)
	}
	var zero [blockSize]byte
	_, err := aw.bw.Write(zero[:(blockSize-size%blockSize)%blockSize])
	return err
}

// close writes the end-of-archive marker (two zero blocks) and flushes.
func (aw *archiveWriter) close() error {
	var zero [2 * blockSize]byte
	if _, err := aw.bw.Write(zero[:]); err != nil {
		return err
	}
	return aw.bw.Flush()
}

// blockSize is the size of a tar block.
const blockSize = 512

// padded returns n rounded up to whole blocks.
func padded(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

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
