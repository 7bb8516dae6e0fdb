package sbom

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"
)

// Package describes one APK package: the fields of its .PKGINFO (or its
// entry in the installed database) that an SBOM records.
type Package struct {
	Name        string // pkgname (P:); required
	Version     string // pkgver (V:), including -rN; required
	Arch        string // arch (A:)
	Origin      string // origin (o:): the source package it was built from
	License     string // license (L:), as written; see NormalizeLicense
	Description string // pkgdesc (T:)
	URL         string // url (U:): the upstream project's home page
	Copyright   string // copyright notices; "" for NOASSERTION
	// Supplier overrides the document's supplier for this package: an
	// SPDX agent ("Organization: Wolfi") or an organization's name.
	Supplier  string
	BuildDate time.Time // builddate; the zero Time leaves it out
	// Identity is the package's "Q1…" checksum (index C:), the SHA-1 of
	// its control member. DataHash is .PKGINFO's datahash, the hex SHA-256
	// of its data member. Neither is a checksum of the .apk file, so they
	// are recorded as OTHER external references, not as checksums.
	Identity string
	DataHash string
	// Checksums are digests of the .apk file itself, by algorithm
	// ("SHA256", "sha-512", ...), hex.
	Checksums map[string]string
	// PURL overrides the computed purl.
	PURL string
	// Depends names the packages of the same image this one depends on,
	// as resolved at install time ([ForImage] adds DEPENDS_ON; other
	// names are ignored).
	Depends []string
}

// Source is an upstream input of a package build: a fetched archive (URL
// and a SHA-256 or SHA-512) or a git checkout (Repository and Commit).
type Source struct {
	Name    string // e.g. "hello"; default: from the URL or repository
	Version string // upstream version; default for git: Tag, then Commit
	License string // declared license of the source, if known

	URL    string // fetch: the archive's download URL
	SHA256 string // fetch: hex SHA-256 of the archive
	SHA512 string // fetch: hex SHA-512 of the archive

	Repository string // git: the clone URL
	Commit     string // git: the full commit hash
	Tag        string // git: the tag or branch that was checked out
	Path       string // git: a file or directory inside the repository
}

// PackageInput is what [ForPackage] describes.
type PackageInput struct {
	Package Package
	// Sources are the upstream sources the package was built from;
	// BuildFile is the build file itself (Repository, Commit and Path),
	// if it is kept in git. The package is GENERATED_FROM each.
	Sources   []Source
	BuildFile *Source
	// Namespace is the distribution the package is built for, as a purl
	// namespace and distro qualifier ("wolfi"); "" means "unknown" and no
	// distro qualifier, as melange does.
	Namespace string
	// Supplier of the package: an SPDX agent or an organization's name;
	// default "Organization: <Namespace>".
	Supplier string
	Created  time.Time // SOURCE_DATE_EPOCH; the zero Time is the Unix epoch
	// Tool names the creator tool with its version ("reef-0.3.0");
	// default "reef".
	Tool string
	// NamespaceBase prefixes the document namespace; default
	// DefaultNamespaceBase.
	NamespaceBase string
}

// ForPackage returns the SBOM of one APK package, the document a package
// build writes to /var/lib/db/sbom/<name>-<version>.spdx.json. It
// describes the package, its origin (when the package is a subpackage),
// its upstream sources and its build file.
func ForPackage(in PackageInput) (*Document, error) {
	p := in.Package
	if err := checkPackage(p); err != nil {
		return nil, err
	}
	ns := in.Namespace
	distro := ns
	if ns == "" || ns == "unknown" {
		ns, distro = "unknown", ""
	}
	supplier := agent(in.Supplier)
	if supplier == "" {
		supplier = agent(ns)
	}
	b := newBuilder("apk-"+p.Name+"-"+p.Version, in.Created, in.Tool)
	id, err := b.apkPackage(p, ns, distro, supplier)
	if err != nil {
		return nil, err
	}
	b.rel(DocumentID, RelDescribes, id)
	if p.Origin != "" && p.Origin != p.Name {
		b.rel(id, RelGeneratedFrom, b.originPackage(p.Origin, p.Version, supplier))
	}
	for i, s := range in.Sources {
		sid, err := b.sourcePackage("Upstream", s)
		if err != nil {
			return nil, fmt.Errorf("sbom: package %s-%s: source %d: %w", p.Name, p.Version, i+1, err)
		}
		b.rel(id, RelGeneratedFrom, sid)
	}
	if in.BuildFile != nil {
		sid, err := b.sourcePackage("BuildFile", *in.BuildFile)
		if err != nil {
			return nil, fmt.Errorf("sbom: package %s-%s: build file: %w", p.Name, p.Version, err)
		}
		b.rel(id, RelGeneratedFrom, sid)
	}
	return b.finish(in.NamespaceBase, "package")
}

func checkPackage(p Package) error {
	if p.Name == "" {
		return errors.New("sbom: package without a name")
	}
	if p.Version == "" {
		return fmt.Errorf("sbom: package %s: no version", p.Name)
	}
	if p.PURL != "" {
		if _, err := packageurl.FromString(p.PURL); err != nil {
			return fmt.Errorf("sbom: package %s-%s: PURL: %w", p.Name, p.Version, err)
		}
	}
	return nil
}

// apkIDParts name the SPDXID of an APK package, as melange does:
// SPDXRef-Package-apk-<name>-<version>.
func apkIDParts(p Package) []string { return []string{"Package", "apk", p.Name, p.Version} }

// apkPackage adds the element for p and returns its SPDXID.
func (b *builder) apkPackage(p Package, namespace, distro, supplier string) (string, error) {
	sums, err := checksums(p.Checksums)
	if err != nil {
		return "", fmt.Errorf("sbom: package %s-%s: %w", p.Name, p.Version, err)
	}
	purl := p.PURL
	if purl == "" {
		purl = APKPURL(namespace, p.Name, p.Version, p.Arch, distro, p.Origin)
	}
	refs := []ExternalRef{{Category: CategoryPackageManager, Type: "purl", Locator: purl}}
	if p.Identity != "" && !strings.ContainsAny(p.Identity, " \t\r\n") {
		refs = append(refs, ExternalRef{Category: CategoryOther, Type: "apk-identity", Locator: p.Identity,
			Comment: "APK package identity (index C:): SHA-1 of the control member"})
	}
	if p.DataHash != "" {
		c, err := checksum("SHA256", p.DataHash)
		if err != nil {
			return "", fmt.Errorf("sbom: package %s-%s: datahash: %w", p.Name, p.Version, err)
		}
		refs = append(refs, ExternalRef{Category: CategoryOther, Type: "apk-datahash", Locator: "sha256:" + c.Value,
			Comment: "SHA-256 of the data member (.PKGINFO datahash)"})
	}
	if s := agent(p.Supplier); s != "" {
		supplier = s
	}
	lic := b.lic.expression(p.License, nil)
	copyright := strings.TrimSpace(p.Copyright)
	if copyright == "" {
		copyright = NoAssertion
	}
	id := b.id(apkIDParts(p)...)
	el := SPDXPackage{
		SPDXID:                id,
		Name:                  p.Name,
		VersionInfo:           p.Version,
		Supplier:              supplier,
		DownloadLocation:      NoAssertion,
		FilesAnalyzed:         ptr(false),
		Checksums:             sums,
		Homepage:              homepage(p.URL),
		LicenseConcluded:      lic,
		LicenseDeclared:       lic,
		CopyrightText:         copyright,
		Description:           strings.TrimSpace(p.Description),
		ExternalRefs:          refs,
		PrimaryPackagePurpose: PurposeApplication,
	}
	if !p.BuildDate.IsZero() {
		el.BuiltDate = formatTime(p.BuildDate)
	}
	b.add(el)
	return id, nil
}

// homepage returns u if it is an absolute URL, else "".
func homepage(u string) string {
	u = strings.TrimSpace(u)
	if i := strings.Index(u, "://"); i > 0 && !strings.ContainsAny(u, " \t\r\n") {
		return u
	}
	return ""
}

// originPackage adds the source package an APK was built from and returns
// its SPDXID.
func (b *builder) originPackage(origin, version, supplier string) string {
	id := b.id("Source", origin, version)
	b.add(SPDXPackage{
		SPDXID:                id,
		Name:                  origin,
		VersionInfo:           version,
		Supplier:              supplier,
		DownloadLocation:      NoAssertion,
		FilesAnalyzed:         ptr(false),
		Comment:               "The distribution's source package (APK origin) the binary packages are built from.",
		PrimaryPackagePurpose: PurposeSource,
	})
	return id
}

// sourcePackage adds an upstream source or build file (kind "Upstream"
// or "BuildFile") and returns its SPDXID.
func (b *builder) sourcePackage(kind string, s Source) (string, error) {
	el := SPDXPackage{
		FilesAnalyzed:         ptr(false),
		Supplier:              NoAssertion,
		PrimaryPackagePurpose: PurposeSource,
	}
	var purl *packageurl.PackageURL
	switch {
	case s.URL != "" && s.Repository != "":
		return "", errors.New("both URL (fetch) and Repository (git) set")
	case s.URL != "":
		u, err := urlOK(s.URL)
		if err != nil {
			return "", err
		}
		el.Name = firstNonEmpty(s.Name, archiveBase(u), "source")
		el.VersionInfo = s.Version
		el.DownloadLocation = u
		sums := map[string]string{}
		if s.SHA256 != "" {
			sums["SHA256"] = s.SHA256
		}
		if s.SHA512 != "" {
			sums["SHA512"] = s.SHA512
		}
		cs, err := checksums(sums)
		if err != nil {
			return "", err
		}
		el.Checksums = cs
		var q packageurl.Qualifiers
		if len(cs) > 0 {
			var parts []string
			for _, c := range cs {
				parts = append(parts, strings.ToLower(c.Algorithm)+":"+c.Value)
			}
			q = append(q, packageurl.Qualifier{Key: "checksum", Value: strings.Join(parts, ",")})
		}
		q = append(q, packageurl.Qualifier{Key: "download_url", Value: u})
		purl = packageurl.NewPackageURL(packageurl.TypeGeneric, "", el.Name, s.Version, q, "")
	case s.Repository != "":
		rev := firstNonEmpty(s.Commit, s.Tag)
		el.VersionInfo = firstNonEmpty(s.Version, s.Tag, s.Commit)
		loc, err := vcsLocation(s.Repository, rev, s.Path)
		if err != nil {
			return "", err
		}
		el.DownloadLocation = loc
		if owner, repo, ok := githubRepo(s.Repository); ok {
			el.Name = firstNonEmpty(s.Name, repo)
			purl = packageurl.NewPackageURL(packageurl.TypeGithub, owner, repo, rev, nil, strings.Trim(s.Path, "/"))
		} else {
			el.Name = firstNonEmpty(s.Name, strings.TrimSuffix(path.Base(strings.TrimRight(s.Repository, "/")), ".git"), "source")
			vcs, _, _ := strings.Cut(loc, "#")
			q := packageurl.Qualifiers{{Key: "vcs_url", Value: vcs}}
			purl = packageurl.NewPackageURL(packageurl.TypeGeneric, "", el.Name, rev, q, strings.Trim(s.Path, "/"))
		}
		if s.Path != "" {
			el.Name = firstNonEmpty(s.Name, path.Base(s.Path))
		}
	default:
		return "", errors.New("neither URL (fetch) nor Repository (git) set")
	}
	if s.License != "" {
		el.LicenseDeclared = b.lic.expression(s.License, nil)
		el.LicenseConcluded = NoAssertion
	}
	el.ExternalRefs = []ExternalRef{{Category: CategoryPackageManager, Type: "purl", Locator: purl.ToString()}}
	el.SPDXID = b.id(kind, el.Name, el.VersionInfo)
	b.add(el)
	return el.SPDXID, nil
}

func urlOK(u string) (string, error) {
	u = strings.TrimSpace(u)
	if homepage(u) == "" {
		return "", fmt.Errorf("URL %q: want an absolute URL", u)
	}
	return u, nil
}

// vcsLocation returns an SPDX VCS download location,
// "git+https://host/repo.git@rev#path".
func vcsLocation(repo, rev, sub string) (string, error) {
	repo = strings.TrimSpace(repo)
	var loc string
	switch {
	case strings.HasPrefix(repo, "git+"):
		loc = repo
	case strings.Contains(repo, "://"):
		loc = "git+" + repo
	case strings.Contains(repo, "@") && strings.Contains(repo, ":"): // git@host:path
		userHost, p, _ := strings.Cut(repo, ":")
		loc = "git+ssh://" + userHost + "/" + strings.TrimLeft(p, "/")
	default:
		return "", fmt.Errorf("repository %q: want a URL", repo)
	}
	if strings.ContainsAny(loc, " \t\r\n") {
		return "", fmt.Errorf("repository %q: contains white space", repo)
	}
	if rev != "" {
		loc += "@" + rev
	}
	if sub = strings.Trim(sub, "/"); sub != "" {
		loc += "#" + sub
	}
	return loc, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// PackageSBOMDir is where packages carry their SBOM, relative to the root.
const PackageSBOMDir = "var/lib/db/sbom"

// PackageSBOMPath returns the path, relative to the root, of the SBOM a
// package carries: var/lib/db/sbom/<name>-<version>.spdx.json.
func PackageSBOMPath(name, version string) string {
	return PackageSBOMDir + "/" + name + "-" + version + ".spdx.json"
}
