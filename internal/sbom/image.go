package sbom

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OSRelease holds the fields of /etc/os-release an SBOM uses.
type OSRelease struct {
	ID         string // "wolfi"
	VersionID  string // "20230201"
	Name       string // "Wolfi"
	PrettyName string // "Wolfi"
	HomeURL    string // "https://wolfi.dev"
}

// ParseOSRelease reads an os-release(5) file: KEY=value lines, values
// optionally quoted, "#" comments. At most 64 KiB are read.
func ParseOSRelease(r io.Reader) (OSRelease, error) {
	var o OSRelease
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			if v[0] == '"' {
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				} else {
					v = v[1 : len(v)-1]
				}
			} else {
				v = v[1 : len(v)-1]
			}
		}
		switch strings.TrimSpace(k) {
		case "ID":
			o.ID = v
		case "VERSION_ID":
			o.VersionID = v
		case "NAME":
			o.Name = v
		case "PRETTY_NAME":
			o.PrettyName = v
		case "HOME_URL":
			o.HomeURL = v
		}
	}
	if err := sc.Err(); err != nil {
		return OSRelease{}, fmt.Errorf("sbom: reading os-release: %w", err)
	}
	return o, nil
}

// ImageInput is what [ForImage] describes: one image, for one
// architecture.
type ImageInput struct {
	// Ref is the image's reference without digest,
	// "registry/repository[:tag]"; it may be empty.
	Ref string
	// Digest is the image manifest's digest, "sha256:<hex>"; required.
	Digest string
	// Arch is the OCI architecture ("amd64", "arm64"); APK names
	// ("x86_64", "aarch64") are translated.
	Arch string
	// OS is the image's /etc/os-release; the zero value if it has none.
	// Its ID is the purl namespace of the packages and, with VERSION_ID,
	// their distro qualifier.
	OS OSRelease
	// Packages are all installed packages.
	Packages []Package
	// Embedded are the SBOMs packages ship (/var/lib/db/sbom/*.spdx.json),
	// by package name; see ForImage.
	Embedded map[string]*Document
	// Layers are the digests of the image's layers, in order.
	Layers []string
	// Supplier of the packages: an SPDX agent or an organization's name;
	// default the OS's NAME (or ID).
	Supplier string
	Created  time.Time // SOURCE_DATE_EPOCH; the zero Time is the Unix epoch
	// Tool names the creator tool with its version; default "reef".
	Tool string
	// NamespaceBase prefixes the document namespace; default
	// DefaultNamespaceBase.
	NamespaceBase string
}

// ociArch translates APK architecture names to OCI ones.
func ociArch(a string) string {
	switch a {
	case "x86_64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "x86":
		return "386"
	case "armhf", "armv7":
		return "arm"
	case "loongarch64":
		return "loong64"
	}
	return a
}

// checkDigest requires "<algorithm>:<lower-case hex>" and returns the
// SPDX checksum of a sha256 or sha512 digest.
func checkDigest(what, d string) (Checksum, error) {
	alg, hexv, ok := strings.Cut(d, ":")
	if !ok {
		return Checksum{}, fmt.Errorf("sbom: %s digest %q: want sha256:<hex>", what, d)
	}
	c, err := checksum(alg, hexv)
	if err != nil || (c.Algorithm != "SHA256" && c.Algorithm != "SHA512") || hexv != c.Value {
		return Checksum{}, fmt.Errorf("sbom: %s digest %q: want sha256:<64 lower-case hex digits>", what, d)
	}
	return c, nil
}

// ForImage returns the SBOM of one image. It describes the image
// (purpose CONTAINER, purl pkg:oci/…), which CONTAINS its layers, its
// operating system (from os-release) and every installed package.
//
// Packages appear whether or not they ship an SBOM. When one does
// (Embedded[name]), its content is merged under the package: the element
// the embedded document describes is identified with the installed
// package (its copyright text, CPEs and files are taken over), its other
// packages, files and relationships are imported with SPDXIDs made
// unique, its operating-system element is dropped, and its schema
// violations are repaired (purposes, reference categories, dates,
// licenses). A package that lists several views of itself (melange
// documents with a pkg:apk purl for the same name) gets them merged too.
func ForImage(in ImageInput) (*Document, error) {
	digest, err := checkDigest("image", in.Digest)
	if err != nil {
		return nil, err
	}
	arch := ociArch(in.Arch)
	repo, _ := splitRef(in.Ref)
	name := repo
	if name == "" {
		name = "image"
	}
	b := newBuilder(name+"@"+in.Digest, in.Created, in.Tool)

	imageID := b.id("Image", in.Digest)
	b.add(SPDXPackage{
		SPDXID:                imageID,
		Name:                  name,
		VersionInfo:           in.Digest,
		DownloadLocation:      NoAssertion,
		FilesAnalyzed:         ptr(false),
		Checksums:             []Checksum{digest},
		ExternalRefs:          []ExternalRef{{Category: CategoryPackageManager, Type: "purl", Locator: ociPURL(in.Ref, in.Digest, arch)}},
		PrimaryPackagePurpose: PurposeContainer,
		Comment:               "Image manifest, architecture " + firstNonEmpty(arch, "unknown") + ".",
	})
	b.rel(DocumentID, RelDescribes, imageID)

	for i, l := range in.Layers {
		c, err := checkDigest(fmt.Sprintf("layer %d", i+1), l)
		if err != nil {
			return nil, err
		}
		id := b.id("Layer", l)
		b.add(SPDXPackage{
			SPDXID:                id,
			Name:                  l,
			VersionInfo:           l,
			DownloadLocation:      NoAssertion,
			FilesAnalyzed:         ptr(false),
			Checksums:             []Checksum{c},
			PrimaryPackagePurpose: PurposeArchive,
			Comment:               fmt.Sprintf("Layer %d of the image.", i+1),
		})
		b.rel(imageID, RelContains, id)
	}

	osID := strings.ToLower(strings.TrimSpace(in.OS.ID))
	namespace, distro := osID, osID
	if osID == "" {
		namespace, distro = "unknown", ""
	} else if in.OS.VersionID != "" {
		distro += "-" + in.OS.VersionID
	}
	supplier := agent(firstNonEmpty(in.Supplier, in.OS.Name, osID))
	if osID != "" {
		id := b.id("OperatingSystem")
		b.add(SPDXPackage{
			SPDXID:                id,
			Name:                  osID,
			VersionInfo:           in.OS.VersionID,
			Supplier:              supplier,
			DownloadLocation:      NoAssertion,
			FilesAnalyzed:         ptr(false),
			Homepage:              homepage(in.OS.HomeURL),
			Description:           in.OS.PrettyName,
			PrimaryPackagePurpose: PurposeOperatingSystem,
		})
		b.rel(imageID, RelContains, id)
	}

	pkgs := append([]Package(nil), in.Packages...)
	sort.SliceStable(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	ids := map[string]string{}     // package name → SPDXID
	origins := map[string]string{} // origin + "\x00" + version → SPDXID
	for i, p := range pkgs {
		if err := checkPackage(p); err != nil {
			return nil, err
		}
		if i > 0 && pkgs[i-1].Name == p.Name {
			return nil, fmt.Errorf("sbom: package %s listed twice (%s and %s)", p.Name, pkgs[i-1].Version, p.Version)
		}
		id, err := b.apkPackage(p, namespace, distro, supplier)
		if err != nil {
			return nil, err
		}
		ids[p.Name] = id
		b.rel(imageID, RelContains, id)
		if p.Origin != "" && p.Origin != p.Name {
			k := p.Origin + "\x00" + p.Version
			oid, ok := origins[k]
			if !ok {
				oid = b.originPackage(p.Origin, p.Version, firstNonEmpty(agent(p.Supplier), supplier))
				origins[k] = oid
			}
			b.rel(id, RelGeneratedFrom, oid)
		}
	}
	for _, p := range pkgs {
		for _, dep := range p.Depends {
			if did, ok := ids[dep]; ok && dep != p.Name {
				b.rel(ids[p.Name], RelDependsOn, did)
			}
		}
	}

	names := make([]string, 0, len(in.Embedded))
	for n := range in.Embedded {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		emb := in.Embedded[n]
		if emb == nil {
			continue
		}
		hostID, ok := ids[n]
		if !ok {
			return nil, fmt.Errorf("sbom: embedded SBOM for %q, which is not among the image's packages", n)
		}
		var host Package
		for _, p := range pkgs {
			if p.Name == n {
				host = p
			}
		}
		b.merge(hostID, host, emb)
	}
	return b.finish(in.NamespaceBase, "image")
}
