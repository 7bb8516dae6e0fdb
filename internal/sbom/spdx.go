package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Fixed values of every document this package writes.
const (
	SPDXVersion = "SPDX-2.3"
	DataLicense = "CC0-1.0"
	DocumentID  = "SPDXRef-DOCUMENT"

	// NoAssertion is SPDX's "the creator makes no assertion" value.
	NoAssertion = "NOASSERTION"
	// None is SPDX's "there is none" value.
	None = "NONE"

	// DefaultNamespaceBase prefixes document namespaces when the caller
	// gives none.
	DefaultNamespaceBase = "https://spdx.org/spdxdocs/reef"
)

// Package purposes (SPDX 2.3 §7.24). The schema spells them with an
// underscore; melange's "OPERATING-SYSTEM" is a schema violation.
const (
	PurposeApplication     = "APPLICATION"
	PurposeArchive         = "ARCHIVE"
	PurposeContainer       = "CONTAINER"
	PurposeOperatingSystem = "OPERATING_SYSTEM"
	PurposeSource          = "SOURCE"
	PurposeOther           = "OTHER"
)

// External reference categories (SPDX 2.3 §7.21). The schema spells them
// with a hyphen; older melange's "PACKAGE_MANAGER" is a schema violation.
const (
	CategoryPackageManager = "PACKAGE-MANAGER"
	CategorySecurity       = "SECURITY"
	CategoryPersistentID   = "PERSISTENT-ID"
	CategoryOther          = "OTHER"
)

// Relationship types used by this package (SPDX 2.3 §11.1).
const (
	RelDescribes     = "DESCRIBES"
	RelDescribedBy   = "DESCRIBED_BY"
	RelContains      = "CONTAINS"
	RelGeneratedFrom = "GENERATED_FROM"
	RelDependsOn     = "DEPENDS_ON"
	RelVariantOf     = "VARIANT_OF"
	RelOther         = "OTHER"
)

// Document is an SPDX 2.3 document in its JSON form. Field order is the
// order of the JSON output.
type Document struct {
	SPDXVersion          string                `json:"spdxVersion"`
	DataLicense          string                `json:"dataLicense"`
	SPDXID               string                `json:"SPDXID"`
	Name                 string                `json:"name"`
	DocumentNamespace    string                `json:"documentNamespace"`
	CreationInfo         CreationInfo          `json:"creationInfo"`
	Comment              string                `json:"comment,omitempty"`
	ExternalDocumentRefs []ExternalDocumentRef `json:"externalDocumentRefs,omitempty"`
	// DocumentDescribes is the older form of DESCRIBES relationships. This
	// package writes relationships instead, and reads both.
	DocumentDescribes []string           `json:"documentDescribes,omitempty"`
	Packages          []SPDXPackage      `json:"packages,omitempty"`
	Files             []File             `json:"files,omitempty"`
	ExtractedLicenses []ExtractedLicense `json:"hasExtractedLicensingInfos,omitempty"`
	Relationships     []Relationship     `json:"relationships,omitempty"`
}

// CreationInfo says when and by whom a document was made.
type CreationInfo struct {
	Created            string   `json:"created"` // UTC, "2006-01-02T15:04:05Z"
	Creators           []string `json:"creators"`
	LicenseListVersion string   `json:"licenseListVersion,omitempty"`
	Comment            string   `json:"comment,omitempty"`
}

// ExternalDocumentRef names another SPDX document whose elements this one
// refers to as "DocumentRef-<id>:SPDXRef-…".
type ExternalDocumentRef struct {
	ID           string   `json:"externalDocumentId"`
	SPDXDocument string   `json:"spdxDocument"` // its documentNamespace
	Checksum     Checksum `json:"checksum"`     // SHA1 of its bytes
}

// SPDXPackage is a package element of a Document (SPDX 2.3 §7).
type SPDXPackage struct {
	SPDXID           string `json:"SPDXID"`
	Name             string `json:"name"`
	VersionInfo      string `json:"versionInfo,omitempty"`
	PackageFileName  string `json:"packageFileName,omitempty"`
	Supplier         string `json:"supplier,omitempty"`
	Originator       string `json:"originator,omitempty"`
	DownloadLocation string `json:"downloadLocation"`
	// FilesAnalyzed is a pointer because SPDX's default, when absent, is
	// true. This package always writes it.
	FilesAnalyzed         *bool                    `json:"filesAnalyzed,omitempty"`
	VerificationCode      *PackageVerificationCode `json:"packageVerificationCode,omitempty"`
	Checksums             []Checksum               `json:"checksums,omitempty"`
	Homepage              string                   `json:"homepage,omitempty"`
	SourceInfo            string                   `json:"sourceInfo,omitempty"`
	LicenseConcluded      string                   `json:"licenseConcluded,omitempty"`
	LicenseInfoFromFiles  []string                 `json:"licenseInfoFromFiles,omitempty"`
	LicenseDeclared       string                   `json:"licenseDeclared,omitempty"`
	LicenseComments       string                   `json:"licenseComments,omitempty"`
	CopyrightText         string                   `json:"copyrightText,omitempty"`
	Summary               string                   `json:"summary,omitempty"`
	Description           string                   `json:"description,omitempty"`
	Comment               string                   `json:"comment,omitempty"`
	ExternalRefs          []ExternalRef            `json:"externalRefs,omitempty"`
	AttributionTexts      []string                 `json:"attributionTexts,omitempty"`
	PrimaryPackagePurpose string                   `json:"primaryPackagePurpose,omitempty"`
	ReleaseDate           string                   `json:"releaseDate,omitempty"`
	BuiltDate             string                   `json:"builtDate,omitempty"`
	ValidUntilDate        string                   `json:"validUntilDate,omitempty"`
	HasFiles              []string                 `json:"hasFiles,omitempty"`
	Annotations           []Annotation             `json:"annotations,omitempty"`
}

// PackageVerificationCode is SPDX 2.3 §7.9: SHA-1 over the sorted SHA-1s of
// a package's files.
type PackageVerificationCode struct {
	Value         string   `json:"packageVerificationCodeValue"`
	ExcludedFiles []string `json:"packageVerificationCodeExcludedFiles,omitempty"`
}

// File is a file element of a Document (SPDX 2.3 §8).
type File struct {
	SPDXID             string       `json:"SPDXID"`
	FileName           string       `json:"fileName"`
	FileTypes          []string     `json:"fileTypes,omitempty"`
	Checksums          []Checksum   `json:"checksums"`
	LicenseConcluded   string       `json:"licenseConcluded,omitempty"`
	LicenseInfoInFiles []string     `json:"licenseInfoInFiles,omitempty"`
	LicenseComments    string       `json:"licenseComments,omitempty"`
	CopyrightText      string       `json:"copyrightText,omitempty"`
	Comment            string       `json:"comment,omitempty"`
	NoticeText         string       `json:"noticeText,omitempty"`
	FileContributors   []string     `json:"fileContributors,omitempty"`
	AttributionTexts   []string     `json:"attributionTexts,omitempty"`
	Annotations        []Annotation `json:"annotations,omitempty"`
}

// Checksum is an algorithm (SPDX spelling: "SHA256", "SHA512", ...) and a
// lower-case hex value.
type Checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

// ExternalRef points from a package to an identifier outside the document:
// a purl, a CPE, ...
type ExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
	Comment  string `json:"comment,omitempty"`
}

// Relationship says how two elements are related: Element <Type> Related.
type Relationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
	Comment string `json:"comment,omitempty"`
}

// ExtractedLicense defines a LicenseRef- identifier used in the document.
type ExtractedLicense struct {
	LicenseID     string   `json:"licenseId"`
	ExtractedText string   `json:"extractedText"`
	Name          string   `json:"name,omitempty"`
	Comment       string   `json:"comment,omitempty"`
	SeeAlsos      []string `json:"seeAlsos,omitempty"`
}

// Annotation is a comment on an element by an agent.
type Annotation struct {
	Date      string `json:"annotationDate"`
	Type      string `json:"annotationType"`
	Annotator string `json:"annotator"`
	Comment   string `json:"comment"`
}

// PURL returns the first purl among the package's external references, or
// "".
func (p *SPDXPackage) PURL() string {
	for _, r := range p.ExternalRefs {
		if r.Type == "purl" {
			return r.Locator
		}
	}
	return ""
}

// Package returns the package element with the given SPDXID, or nil.
func (d *Document) Package(id string) *SPDXPackage {
	for i := range d.Packages {
		if d.Packages[i].SPDXID == id {
			return &d.Packages[i]
		}
	}
	return nil
}

// Described returns the SPDXIDs the document describes: the targets of
// its DESCRIBES relationships and of documentDescribes, without
// duplicates, in document order.
func (d *Document) Described() []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, id := range d.DocumentDescribes {
		add(id)
	}
	for _, r := range d.Relationships {
		if r.Element == d.SPDXID && r.Type == RelDescribes {
			add(r.Related)
		}
		if r.Related == d.SPDXID && r.Type == RelDescribedBy {
			add(r.Element)
		}
	}
	return ids
}

// Write writes the document as JSON, indented by two spaces, with a
// trailing newline. HTML characters (&, <, >) are not escaped, so purls
// stay readable.
func (d *Document) Write(w io.Writer) error {
	b, err := d.MarshalIndent()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// MarshalIndent returns the bytes [Document.Write] writes.
func (d *Document) MarshalIndent() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("sbom: encoding %s: %w", d.Name, err)
	}
	return buf.Bytes(), nil
}

// MaxParseSize bounds the input of [Parse]. Real package SBOMs are a few
// kilobytes, or a few megabytes when they list every file.
const MaxParseSize = 64 << 20

// Parse reads an SPDX 2.x JSON document, such as the SBOMs melange embeds
// in packages. It reads at most [MaxParseSize] bytes, ignores unknown
// fields, and accepts melange's known deviations from the schema (they are
// repaired when the document is merged into an image SBOM, not here). It
// requires spdxVersion "SPDX-2.x" and an SPDXID.
func Parse(r io.Reader) (*Document, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxParseSize+1))
	if err != nil {
		return nil, fmt.Errorf("sbom: reading SPDX document: %w", err)
	}
	if len(data) > MaxParseSize {
		return nil, fmt.Errorf("sbom: SPDX document larger than %d bytes", MaxParseSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	var d Document
	if err := json.Unmarshal(data, &d); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("sbom: SPDX document: invalid JSON at byte %d: %w", se.Offset, err)
		}
		return nil, fmt.Errorf("sbom: SPDX document: %w", err)
	}
	if !strings.HasPrefix(d.SPDXVersion, "SPDX-2.") {
		return nil, fmt.Errorf("sbom: SPDX document: spdxVersion %q: want SPDX-2.x (JSON)", d.SPDXVersion)
	}
	if d.SPDXID == "" {
		return nil, errors.New("sbom: SPDX document: missing SPDXID")
	}
	return &d, nil
}
