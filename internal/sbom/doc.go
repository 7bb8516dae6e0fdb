// Package sbom writes SPDX 2.3 JSON software bills of materials for APK
// packages, OCI images and OCI image indexes, and reads the SBOMs that
// melange-built packages ship in /var/lib/db/sbom.
//
// Three constructors cover the three documents reef writes:
//
//   - [ForPackage]: the SBOM a package build embeds at
//     /var/lib/db/sbom/<name>-<version>.spdx.json (what melange writes);
//   - [ForImage]: the SBOM of one image (one architecture), listing every
//     installed package, whether or not it ships an SBOM of its own, and
//     merging in the SBOMs that packages do ship;
//   - [ForIndex]: the SBOM of a multi-architecture image index.
//
// Every document is valid against the official SPDX 2.3 JSON schema and
// passes [Document.Validate], which adds the rules the schema cannot express
// (identifier syntax, references, license expressions, UTC times). The
// output is deterministic: the same input gives the same bytes. Nothing
// reads the clock or a random source; the creation time is the caller's
// (SOURCE_DATE_EPOCH), the document namespace is derived from the
// document's content, element identifiers are derived from names and
// versions, and packages, files and relationships are sorted.
//
// # Packages in an image
//
// Each installed package becomes an SPDX package with the purl
//
//	pkg:apk/<namespace>/<name>@<version>?arch=<arch>&distro=<distro>[&upstream=<origin>]
//
// where the namespace is the distribution ID from /etc/os-release and distro
// is "<ID>-<VERSION_ID>" (the form Syft and Grype read). The upstream
// qualifier names the origin (source package) when it differs from the
// package name; the origin also appears as a package of purpose SOURCE that
// the binary package is GENERATED_FROM. The supplier is the distribution
// ("Organization: <NAME>").
//
// # Licenses
//
// A package's license field becomes both licenseDeclared (what the
// packager declared) and licenseConcluded (reef performs no license
// scanning of its own, so it concludes what the distribution declared). A
// field that is a valid SPDX license expression is kept, in canonical
// form: identifiers in the SPDX License List's spelling, operators in upper
// case (deprecated identifiers such as "GPL-2.0" are kept: SPDX 2.3 still
// accepts them, and rewriting them would change what was declared). An
// identifier that is not on the list ("custom", "GPLv2+") becomes
// LicenseRef-<sanitized identifier>, defined in hasExtractedLicensingInfos
// with the original text; a field that is not an expression at all ("GPL
// v2", "BSD/MIT") becomes one LicenseRef for the whole text. An empty field
// is NOASSERTION. See [NormalizeLicense].
//
// # Checksums
//
// A package checksum in SPDX is a checksum of the package file. The .apk
// file's own digest (SHA-256 of the whole file) is recorded as a checksum
// when the caller knows it. The APK identity (the "Q1…" SHA-1 of the
// control member) and the datahash (SHA-256 of the data member) are digests
// of parts of the file, not of the file, so they are recorded as external
// references of category OTHER, types "apk-identity" and "apk-datahash".
//
// # Embedded SBOMs
//
// When an image package ships an SBOM, the installed package stays the one
// authority for its purl, version, supplier and license (a purl in the
// embedded document, such as melange's "pkg:apk/unknown/…" or a
// "pkg:github/…" on the package itself, would give scanners a second,
// wrong identity); from the embedded document the package takes its
// copyright text, its CPEs, its files (with the package verification
// code) and, when the installed package has none, its declared license.
// Everything else the document lists (build file, upstream sources) is
// imported and stays related to the package as the document said.
package sbom
