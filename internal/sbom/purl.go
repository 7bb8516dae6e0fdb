package sbom

import (
	"net/url"
	"path"
	"strings"

	"github.com/package-url/packageurl-go"
)

// APKPURL returns the package URL of an APK package:
//
//	pkg:apk/<namespace>/<name>@<version>?arch=<arch>&distro=<distro>&upstream=<origin>
//
// namespace is the distribution's ID ("wolfi", "alpine"); distro is the
// qualifier scanners read to pick a security feed, "<ID>" or
// "<ID>-<VERSION_ID>"; origin is the source package. Empty qualifiers are
// left out, and so is upstream when it equals name. Namespace and name are
// lower-cased, as the purl spec says for apk.
func APKPURL(namespace, name, version, arch, distro, origin string) string {
	var q packageurl.Qualifiers
	if arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: arch})
	}
	if distro != "" {
		q = append(q, packageurl.Qualifier{Key: "distro", Value: distro})
	}
	if origin != "" && origin != name {
		q = append(q, packageurl.Qualifier{Key: "upstream", Value: origin})
	}
	return packageurl.NewPackageURL(packageurl.TypeApk, strings.ToLower(namespace), strings.ToLower(name), version, q, "").ToString()
}

// githubRepo returns owner and repository of a github.com git URL
// ("https://github.com/o/r.git", "git@github.com:o/r"), lower-cased.
func githubRepo(repo string) (owner, name string, ok bool) {
	s := repo
	if rest, found := strings.CutPrefix(s, "git@github.com:"); found {
		s = rest
	} else {
		u, err := url.Parse(s)
		if err != nil || !strings.EqualFold(u.Host, "github.com") {
			return "", "", false
		}
		s = u.Path
	}
	s = strings.Trim(s, "/")
	s = strings.TrimSuffix(s, ".git")
	owner, name, found := strings.Cut(s, "/")
	if !found || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return strings.ToLower(owner), strings.ToLower(name), true
}

// archiveBase strips a directory and archive extensions from a URL path:
// ".../hello-2.12.tar.gz" → "hello-2.12".
func archiveBase(rawURL string) string {
	p := rawURL
	if u, err := url.Parse(rawURL); err == nil && u.Path != "" {
		p = u.Path
	}
	b := path.Base(p)
	for _, ext := range []string{".gz", ".xz", ".bz2", ".zst", ".lz", ".lzma", ".Z", ".tar", ".tgz", ".tbz2", ".txz", ".zip", ".jar", ".gem", ".crate"} {
		b = strings.TrimSuffix(b, ext)
	}
	if b == "." || b == "/" {
		return ""
	}
	return b
}

// ociPURL returns pkg:oci/<name>@<digest>?arch=…&repository_url=…&tag=…
// for an image reference "registry/path/name[:tag]" (or "" for none).
func ociPURL(ref, digest, arch string) string {
	repo, tag := splitRef(ref)
	name := path.Base(repo)
	if repo == "" {
		name = "image"
	}
	var q packageurl.Qualifiers
	if arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: arch})
	}
	if repo != "" {
		q = append(q, packageurl.Qualifier{Key: "repository_url", Value: repo})
	}
	if tag != "" {
		q = append(q, packageurl.Qualifier{Key: "tag", Value: tag})
	}
	return packageurl.NewPackageURL(packageurl.TypeOCI, "", strings.ToLower(name), digest, q, "").ToString()
}

// splitRef splits "registry/path/name:tag@sha256:…" into the repository
// and the tag; a digest is dropped.
func splitRef(ref string) (repo, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon], ref[colon+1:]
	}
	return ref, ""
}
