package sbom

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"
)

// IndexInput is what [ForIndex] describes: a multi-architecture image
// index and its images.
type IndexInput struct {
	// Ref is the index's reference without digest,
	// "registry/repository[:tag]"; it may be empty.
	Ref string
	// Digest is the index's digest, "sha256:<hex>"; required.
	Digest string
	Images []IndexImage
	// Created, Tool and NamespaceBase are as in ImageInput.
	Created       time.Time
	Tool          string
	NamespaceBase string
}

// IndexImage is one image of an index.
type IndexImage struct {
	Digest string // the image manifest's digest; required
	Arch   string // OCI architecture; APK names are translated
	// SBOM is the image's own SBOM, from ForImage, if there is one. The
	// index SBOM then refers to it as an external document, identified by
	// its namespace and the SHA-1 of the bytes Document.Write writes: write
	// it with Write, unchanged.
	SBOM *Document
}

// ForIndex returns the SBOM of an image index. It describes the index
// (purpose CONTAINER, purl pkg:oci/… without arch); each image is a
// VARIANT_OF it, with the same SPDXID as in the image's own SBOM, and is
// DESCRIBED_BY that SBOM when given.
func ForIndex(in IndexInput) (*Document, error) {
	digest, err := checkDigest("index", in.Digest)
	if err != nil {
		return nil, err
	}
	if len(in.Images) == 0 {
		return nil, errors.New("sbom: index without images")
	}
	repo, _ := splitRef(in.Ref)
	name := repo
	if name == "" {
		name = "image"
	}
	b := newBuilder(name+"@"+in.Digest, in.Created, in.Tool)
	indexID := b.id("ImageIndex", in.Digest)
	b.add(SPDXPackage{
		SPDXID:                indexID,
		Name:                  name,
		VersionInfo:           in.Digest,
		DownloadLocation:      NoAssertion,
		FilesAnalyzed:         ptr(false),
		Checksums:             []Checksum{digest},
		ExternalRefs:          []ExternalRef{{Category: CategoryPackageManager, Type: "purl", Locator: ociPURL(in.Ref, in.Digest, "")}},
		PrimaryPackagePurpose: PurposeContainer,
		Comment:               "Image index (multi-architecture image).",
	})
	b.rel(DocumentID, RelDescribes, indexID)

	imgs := append([]IndexImage(nil), in.Images...)
	sort.SliceStable(imgs, func(i, j int) bool {
		if a, c := ociArch(imgs[i].Arch), ociArch(imgs[j].Arch); a != c {
			return a < c
		}
		return imgs[i].Digest < imgs[j].Digest
	})
	for _, img := range imgs {
		arch := ociArch(img.Arch)
		c, err := checkDigest("image ("+firstNonEmpty(arch, "unknown arch")+")", img.Digest)
		if err != nil {
			return nil, err
		}
		id := b.id("Image", img.Digest)
		b.add(SPDXPackage{
			SPDXID:                id,
			Name:                  name,
			VersionInfo:           img.Digest,
			DownloadLocation:      NoAssertion,
			FilesAnalyzed:         ptr(false),
			Checksums:             []Checksum{c},
			ExternalRefs:          []ExternalRef{{Category: CategoryPackageManager, Type: "purl", Locator: ociPURL(in.Ref, img.Digest, arch)}},
			PrimaryPackagePurpose: PurposeContainer,
			Comment:               "Image manifest, architecture " + firstNonEmpty(arch, "unknown") + ".",
		})
		b.rel(id, RelVariantOf, indexID)
		if img.SBOM != nil {
			data, err := img.SBOM.MarshalIndent()
			if err != nil {
				return nil, err
			}
			if img.SBOM.DocumentNamespace == "" {
				return nil, fmt.Errorf("sbom: SBOM of image %s has no documentNamespace", img.Digest)
			}
			sum := sha1.Sum(data)
			docID := "DocumentRef-" + sanitizeID("image-"+firstNonEmpty(arch, "unknown")+"-"+img.Digest)
			b.doc.ExternalDocumentRefs = append(b.doc.ExternalDocumentRefs, ExternalDocumentRef{
				ID:           docID,
				SPDXDocument: img.SBOM.DocumentNamespace,
				Checksum:     Checksum{Algorithm: "SHA1", Value: hex.EncodeToString(sum[:])},
			})
			b.rel(id, RelDescribedBy, docID+":"+DocumentID)
		}
	}
	return b.finish(in.NamespaceBase, "index")
}
