package sbom

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/package-url/packageurl-go"
)

// Enumerations of the SPDX 2.3 JSON schema.
var (
	purposes = set("OTHER", "INSTALL", "ARCHIVE", "FIRMWARE", "APPLICATION", "FRAMEWORK", "LIBRARY",
		"CONTAINER", "SOURCE", "DEVICE", "OPERATING_SYSTEM", "FILE")
	refCategories = set(CategoryOther, CategoryPersistentID, CategorySecurity, CategoryPackageManager)
	fileTypes     = set("OTHER", "DOCUMENTATION", "IMAGE", "VIDEO", "ARCHIVE", "SPDX", "APPLICATION",
		"SOURCE", "BINARY", "TEXT", "AUDIO")
	relationshipTypes = set("VARIANT_OF", "COPY_OF", "PATCH_FOR", "TEST_DEPENDENCY_OF", "CONTAINED_BY",
		"DATA_FILE_OF", "OPTIONAL_COMPONENT_OF", "ANCESTOR_OF", "GENERATES", "CONTAINS",
		"OPTIONAL_DEPENDENCY_OF", "FILE_ADDED", "REQUIREMENT_DESCRIPTION_FOR", "DEV_DEPENDENCY_OF",
		"DEPENDENCY_OF", "BUILD_DEPENDENCY_OF", "DESCRIBES", "PREREQUISITE_FOR", "HAS_PREREQUISITE",
		"PROVIDED_DEPENDENCY_OF", "DYNAMIC_LINK", "DESCRIBED_BY", "METAFILE_OF", "DEPENDENCY_MANIFEST_OF",
		"PATCH_APPLIED", "RUNTIME_DEPENDENCY_OF", "TEST_OF", "TEST_TOOL_OF", "DEPENDS_ON",
		"SPECIFICATION_FOR", "FILE_MODIFIED", "DISTRIBUTION_ARTIFACT", "AMENDS", "DOCUMENTATION_OF",
		"GENERATED_FROM", "STATIC_LINK", "OTHER", "BUILD_TOOL_OF", "TEST_CASE_OF", "PACKAGE_OF",
		"DESCENDANT_OF", "FILE_DELETED", "EXPANDED_FROM_ARCHIVE", "DEV_TOOL_OF", "EXAMPLE_OF")
)

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// The regular expressions are compiled on first use rather than when the
// program starts: every reef command would pay for them otherwise.
var (
	elementIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`) })
	docRefRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^DocumentRef-[A-Za-z0-9.-]+$`) })
	refTypeRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9.-]+$`) })
)

// locationOK checks a downloadLocation: NONE, NOASSERTION, or a URL
// (including VCS forms such as git+https://…@rev).
func locationOK(l string) bool {
	return l == None || l == NoAssertion ||
		(strings.Contains(l, "://") && !strings.ContainsAny(l, " \t\r\n"))
}

// refTypeOK checks an external reference type: an idstring such as
// "purl" or "cpe23Type", or a URI.
func refTypeOK(t string) bool {
	return refTypeRE().MatchString(t) || (strings.Contains(t, "://") && !strings.ContainsAny(t, " \t\r\n"))
}

// agentOK checks an SPDX agent: "Person: …", "Organization: …" or
// "Tool: …" with a name.
func agentOK(s string) error {
	for _, p := range []string{"Person: ", "Organization: ", "Tool: "} {
		if rest, ok := strings.CutPrefix(s, p); ok && strings.TrimSpace(rest) != "" {
			return nil
		}
	}
	return fmt.Errorf("%q is not \"Person: …\", \"Organization: …\" or \"Tool: …\"", s)
}

func dateOK(s string) error {
	if _, err := time.Parse(timeFormat, s); err != nil {
		return fmt.Errorf("%q is not a UTC time like 2006-01-02T15:04:05Z", s)
	}
	return nil
}

// Validate checks the rules of the SPDX 2.3 specification that the JSON
// schema does not: the fixed document fields, SPDXID syntax and
// uniqueness, that relationships refer to elements that exist, that the
// document DESCRIBES something, license expressions (identifiers on the
// SPDX License List, LicenseRefs defined), agents, UTC dates, checksums,
// purls, and files only in packages whose files were analyzed. It reports
// every problem found, joined.
func (d *Document) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if d.SPDXVersion != SPDXVersion {
		bad("spdxVersion %q: want %q", d.SPDXVersion, SPDXVersion)
	}
	if d.DataLicense != DataLicense {
		bad("dataLicense %q: want %q", d.DataLicense, DataLicense)
	}
	if d.SPDXID != DocumentID {
		bad("SPDXID %q: want %q", d.SPDXID, DocumentID)
	}
	if strings.TrimSpace(d.Name) == "" {
		bad("document name is empty")
	}
	if ns := d.DocumentNamespace; !strings.Contains(ns, "://") || strings.ContainsAny(ns, "# \t\r\n") {
		bad("documentNamespace %q: want an absolute URI without \"#\"", ns)
	}
	if err := dateOK(d.CreationInfo.Created); err != nil {
		bad("creationInfo.created: %v", err)
	}
	if len(d.CreationInfo.Creators) == 0 {
		bad("creationInfo.creators is empty")
	}
	for _, c := range d.CreationInfo.Creators {
		if err := agentOK(c); err != nil {
			bad("creationInfo.creators: %v", err)
		}
	}

	docRefs := map[string]bool{}
	for _, r := range d.ExternalDocumentRefs {
		if !docRefRE().MatchString(r.ID) {
			bad("externalDocumentRefs: %q is not DocumentRef-[A-Za-z0-9.-]+", r.ID)
		}
		if !strings.Contains(r.SPDXDocument, "://") {
			bad("externalDocumentRefs %s: spdxDocument %q is not a URI", r.ID, r.SPDXDocument)
		}
		if r.Checksum.Algorithm != "SHA1" || !isHex(r.Checksum.Value, 40) {
			bad("externalDocumentRefs %s: want a SHA1 checksum", r.ID)
		}
		docRefs[r.ID] = true
	}

	defined := map[string]bool{}
	for _, e := range d.ExtractedLicenses {
		ref, ok := strings.CutPrefix(e.LicenseID, "LicenseRef-")
		if !ok || !isIDString(ref) {
			bad("hasExtractedLicensingInfos: %q is not LicenseRef-[A-Za-z0-9.-]+", e.LicenseID)
		}
		if defined[e.LicenseID] {
			bad("hasExtractedLicensingInfos: %s defined twice", e.LicenseID)
		}
		if e.ExtractedText == "" {
			bad("hasExtractedLicensingInfos %s: empty extractedText", e.LicenseID)
		}
		defined[e.LicenseID] = true
	}
	license := func(where, s string, expr bool) {
		if s == "" || s == None || s == NoAssertion {
			return
		}
		e, err := parseLicense(s)
		if err != nil {
			bad("%s: license %q: %v", where, s, err)
			return
		}
		if !expr && e.op != "" {
			bad("%s: %q: want a single license, not an expression", where, s)
		}
		e.walk(func(x *lexpr) {
			switch {
			case x.ref:
				if !defined[x.id] {
					bad("%s: %s is not defined in hasExtractedLicensingInfos", where, x.id)
				}
			case !x.known:
				bad("%s: %q is not on the SPDX License List", where, x.id)
			}
		})
	}
	checksums := func(where string, cs []Checksum) {
		for _, c := range cs {
			info, ok := checksumAlgorithms[strings.ToUpper(c.Algorithm)]
			if !ok || info.name != c.Algorithm {
				bad("%s: checksum algorithm %q", where, c.Algorithm)
				continue
			}
			if v, err := checksum(c.Algorithm, c.Value); err != nil || v.Value != c.Value {
				bad("%s: %s checksum %q: want lower-case hex of the right length", where, c.Algorithm, c.Value)
			}
		}
	}

	ids := map[string]string{} // SPDXID → "package" or "file"
	element := func(kind, id string) {
		if !elementIDRE().MatchString(id) {
			bad("%s %q: SPDXID is not SPDXRef-[A-Za-z0-9.-]+", kind, id)
		}
		if _, dup := ids[id]; dup || id == DocumentID {
			bad("%s %q: SPDXID used twice", kind, id)
		}
		ids[id] = kind
	}
	files := map[string]bool{}
	for _, f := range d.Files {
		element("file", f.SPDXID)
		files[f.SPDXID] = true
		where := "file " + f.SPDXID
		if f.FileName == "" {
			bad("%s: empty fileName", where)
		}
		if len(f.Checksums) == 0 {
			bad("%s: no checksums", where)
		}
		hasSHA1 := false
		for _, c := range f.Checksums {
			hasSHA1 = hasSHA1 || c.Algorithm == "SHA1"
		}
		if !hasSHA1 {
			bad("%s: no SHA1 checksum", where)
		}
		checksums(where, f.Checksums)
		for _, t := range f.FileTypes {
			if !fileTypes[t] {
				bad("%s: fileType %q", where, t)
			}
		}
		license(where+": licenseConcluded", f.LicenseConcluded, true)
		for _, l := range f.LicenseInfoInFiles {
			license(where+": licenseInfoInFiles", l, false)
		}
	}
	for i := range d.Packages {
		p := &d.Packages[i]
		element("package", p.SPDXID)
		where := "package " + p.SPDXID
		if strings.TrimSpace(p.Name) == "" {
			bad("%s: empty name", where)
		}
		if !locationOK(p.DownloadLocation) {
			bad("%s: downloadLocation %q: want NONE, NOASSERTION or a URL", where, p.DownloadLocation)
		}
		for _, a := range []struct{ field, v string }{{"supplier", p.Supplier}, {"originator", p.Originator}} {
			if a.v != "" && a.v != NoAssertion {
				if err := agentOK(a.v); err != nil || strings.HasPrefix(a.v, "Tool: ") {
					bad("%s: %s %q: want \"Person: …\", \"Organization: …\" or NOASSERTION", where, a.field, a.v)
				}
			}
		}
		if h := p.Homepage; h != "" && h != None && h != NoAssertion && homepage(h) == "" {
			bad("%s: homepage %q is not a URL", where, h)
		}
		analyzed := p.FilesAnalyzed == nil || *p.FilesAnalyzed
		if analyzed && p.VerificationCode == nil {
			bad("%s: files analyzed (filesAnalyzed absent or true) but no packageVerificationCode", where)
		}
		if !analyzed && (len(p.HasFiles) > 0 || p.VerificationCode != nil || len(p.LicenseInfoFromFiles) > 0) {
			bad("%s: filesAnalyzed is false but hasFiles, packageVerificationCode or licenseInfoFromFiles is set", where)
		}
		if c := p.VerificationCode; c != nil && !isHex(c.Value, 40) {
			bad("%s: packageVerificationCode %q: want 40 lower-case hex digits", where, c.Value)
		}
		checksums(where, p.Checksums)
		license(where+": licenseConcluded", p.LicenseConcluded, true)
		license(where+": licenseDeclared", p.LicenseDeclared, true)
		for _, l := range p.LicenseInfoFromFiles {
			license(where+": licenseInfoFromFiles", l, false)
		}
		if p.PrimaryPackagePurpose != "" && !purposes[p.PrimaryPackagePurpose] {
			bad("%s: primaryPackagePurpose %q", where, p.PrimaryPackagePurpose)
		}
		for _, date := range []struct{ field, v string }{{"releaseDate", p.ReleaseDate}, {"builtDate", p.BuiltDate}, {"validUntilDate", p.ValidUntilDate}} {
			if date.v != "" {
				if err := dateOK(date.v); err != nil {
					bad("%s: %s: %v", where, date.field, err)
				}
			}
		}
		for _, r := range p.ExternalRefs {
			if !refCategories[r.Category] {
				bad("%s: referenceCategory %q", where, r.Category)
			}
			if strings.ContainsAny(r.Locator, " \t\r\n") || r.Locator == "" {
				bad("%s: referenceLocator %q: empty or contains white space", where, r.Locator)
			}
			if !refTypeOK(r.Type) {
				bad("%s: referenceType %q", where, r.Type)
			}
			if r.Type == "purl" {
				if r.Category != CategoryPackageManager {
					bad("%s: purl %q in category %s, want PACKAGE-MANAGER", where, r.Locator, r.Category)
				}
				if _, err := packageurl.FromString(r.Locator); err != nil {
					bad("%s: purl %q: %v", where, r.Locator, err)
				}
			}
		}
		for _, f := range p.HasFiles {
			if !files[f] {
				bad("%s: hasFiles %q is not a file of the document", where, f)
			}
		}
		for _, a := range p.Annotations {
			if err := dateOK(a.Date); err != nil {
				bad("%s: annotationDate: %v", where, err)
			}
		}
	}
	ref := func(id string, related bool) error {
		if _, ok := ids[id]; ok || id == DocumentID {
			return nil
		}
		if related && (id == None || id == NoAssertion) {
			return nil
		}
		if doc, el, ok := strings.Cut(id, ":"); ok && docRefs[doc] && (el == DocumentID || elementIDRE().MatchString(el)) {
			return nil
		}
		return fmt.Errorf("%q is not an element of the document", id)
	}
	describes := false
	for _, r := range d.Relationships {
		where := fmt.Sprintf("relationship %s %s %s", r.Element, r.Type, r.Related)
		if !relationshipTypes[r.Type] {
			bad("%s: relationshipType %q", where, r.Type)
		}
		if err := ref(r.Element, false); err != nil {
			bad("%s: %v", where, err)
		}
		if err := ref(r.Related, true); err != nil {
			bad("%s: %v", where, err)
		}
		if r.Element == DocumentID && r.Type == RelDescribes {
			describes = true
		}
	}
	if len(d.DocumentDescribes) > 0 {
		describes = true
		for _, id := range d.DocumentDescribes {
			if err := ref(id, false); err != nil {
				bad("documentDescribes: %v", err)
			}
		}
	}
	if !describes {
		bad("the document DESCRIBES nothing")
	}
	return errors.Join(errs...)
}
