package sbom

import (
	"strings"
	"testing"
)

// messySBOM has every kind of defect an embedded SBOM might have.
var messySBOM = `{
  "spdxVersion": "SPDX-2.2", "SPDXID": "SPDXRef-DOCUMENT-apk-foo", "name": "apk-foo",
  "documentDescribes": ["SPDXRef-Package-foo", "SPDXRef-lonely"],
  "packages": [
    {"SPDXID": "SPDXRef-Package-foo", "name": "foo", "copyrightText": "Copyright ACME",
     "licenseDeclared": "MIT",
     "externalRefs": [{"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:acme:foo:1:*:*:*:*:*:*:*"},
                      {"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:github/acme/foo@v1"}],
     "hasFiles": ["SPDXRef-File-a", "SPDXRef-File-nosha1"]},
    {"SPDXID": "SPDXRef-OperatingSystem", "name": "unknown", "primaryPackagePurpose": "OPERATING-SYSTEM"},
    {"SPDXID": "SPDXRef-foo_bar", "name": "bar", "supplier": "ACME", "originator": "Person: ",
     "downloadLocation": "git@github.com:acme/bar", "primaryPackagePurpose": "application",
     "builtDate": "2024-01-01T00:00:00+02:00", "releaseDate": "yesterday", "homepage": "example.com",
     "licenseDeclared": "LicenseRef-custom OR gplv2", "licenseInfoFromFiles": ["MIT AND custom"],
     "hasFiles": ["SPDXRef-File-nosha1"], "packageVerificationCode": {"packageVerificationCodeValue": "x"},
     "checksums": [{"algorithm": "sha-256", "checksumValue": "` + strings.Repeat("AB", 32) + `"}, {"algorithm": "CRC", "checksumValue": "1"}],
     "externalRefs": [{"referenceCategory": "OTHER", "referenceType": "purl", "referenceLocator": "pkg:generic/bar@1"},
                      {"referenceCategory": "SECURITY", "referenceType": "cpe_23", "referenceLocator": "x"},
                      {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "has space"},
                      {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "not-a-purl"}],
     "annotations": [{"annotationDate": "2024-01-01T00:00:00Z", "annotationType": "review", "annotator": "Person: Ann", "comment": "ok"},
                     {"annotationDate": "bad", "annotationType": "OTHER", "annotator": "Person: Bob", "comment": "dropped"}]},
    {"SPDXID": "SPDXRef-lonely", "name": "lonely"},
    {"SPDXID": "SPDXRef-lonely", "name": "duplicate ID"}
  ],
  "files": [
    {"SPDXID": "SPDXRef-File-a", "fileName": "/usr/bin/foo", "fileTypes": ["binary", "weird"],
     "licenseInfoInFiles": ["MIT OR Apache-2.0"],
     "checksums": [{"algorithm": "SHA1", "checksumValue": "` + strings.Repeat("A", 40) + `"}]},
    {"SPDXID": "SPDXRef-File-nosha1", "fileName": "/x", "checksums": [{"algorithm": "SHA256", "checksumValue": "` + strings.Repeat("a", 64) + `"}]}
  ],
  "hasExtractedLicensingInfos": [{"licenseId": "LicenseRef-custom", "extractedText": "Custom licence text"}],
  "relationships": [
    {"spdxElementId": "SPDXRef-DOCUMENT-apk-foo", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Package-foo"},
    {"spdxElementId": "SPDXRef-Package-foo", "relationshipType": "generated-from", "relatedSpdxElement": "SPDXRef-foo_bar"},
    {"spdxElementId": "SPDXRef-foo_bar", "relationshipType": "BOGUS", "relatedSpdxElement": "SPDXRef-Package-foo"},
    {"spdxElementId": "SPDXRef-foo_bar", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "DocumentRef-x:SPDXRef-y"},
    {"spdxElementId": "SPDXRef-foo_bar", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "NOASSERTION"},
    {"spdxElementId": "SPDXRef-Package-foo", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-Package-foo"},
    {"spdxElementId": "SPDXRef-Package-foo", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-OperatingSystem"}
  ]
}`

// An embedded SBOM with every kind of defect is repaired while merging.
func TestMergeRepairs(t *testing.T) {
	emb := parseDoc(t, []byte(messySBOM))
	d, err := ForImage(ImageInput{
		Digest:   "sha256:" + strings.Repeat("1", 64),
		OS:       OSRelease{ID: "wolfi"},
		Packages: []Package{{Name: "foo", Version: "1-r0", License: "custom"}},
		Embedded: map[string]*Document{"foo": emb},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, d)

	host := d.Package("SPDXRef-Package-apk-foo-1-r0")
	if host.CopyrightText != "Copyright ACME" || len(host.HasFiles) != 1 || host.VerificationCode == nil {
		t.Errorf("host: %+v", host)
	}
	if host.VerificationCode.Value != verificationCode([]string{strings.Repeat("a", 40)}) {
		t.Errorf("verification code %q not computed from the file SHA-1s", host.VerificationCode.Value)
	}
	var refs []string
	for _, r := range host.ExternalRefs {
		refs = append(refs, r.Category+" "+r.Locator)
	}
	if got := strings.Join(refs, "\n"); !strings.Contains(got, "SECURITY cpe:2.3:a:acme:foo") || strings.Contains(got, "pkg:github") {
		t.Errorf("host refs:\n%s", got)
	}
	bar := d.Package("SPDXRef-foo-1-r0-foo-bar")
	if bar == nil {
		t.Fatalf("bar not imported; packages: %+v", d.Packages)
	}
	if bar.Supplier != "Organization: ACME" || bar.Originator != "" || bar.DownloadLocation != NoAssertion ||
		bar.PrimaryPackagePurpose != "APPLICATION" || bar.BuiltDate != "2023-12-31T22:00:00Z" || bar.ReleaseDate != "" ||
		bar.Homepage != "" || *bar.FilesAnalyzed || bar.VerificationCode != nil || bar.LicenseInfoFromFiles != nil ||
		len(bar.Checksums) != 1 || bar.Checksums[0].Value != strings.Repeat("ab", 32) || len(bar.Annotations) != 1 ||
		len(bar.ExternalRefs) != 1 || bar.ExternalRefs[0].Category != CategoryPackageManager {
		t.Errorf("bar not repaired: %+v", bar)
	}
	// The embedded LicenseRef-custom clashes with the package's own
	// "custom": both are kept, under different IDs.
	if host.LicenseDeclared != "LicenseRef-custom" || !strings.HasPrefix(bar.LicenseDeclared, "LicenseRef-custom-") ||
		!strings.HasSuffix(bar.LicenseDeclared, " OR LicenseRef-gplv2") {
		t.Errorf("licenses: host %q bar %q", host.LicenseDeclared, bar.LicenseDeclared)
	}
	if len(d.Files) != 1 || d.Files[0].Checksums[0].Value != strings.Repeat("a", 40) ||
		strings.Join(d.Files[0].FileTypes, ",") != "BINARY" || strings.Join(d.Files[0].LicenseInfoInFiles, ",") != "MIT,Apache-2.0" {
		t.Errorf("files: %+v", d.Files)
	}
	var rels []string
	for _, r := range d.Relationships {
		if strings.HasPrefix(r.Element, "SPDXRef-foo") || r.Element == host.SPDXID {
			rels = append(rels, r.Element+" "+r.Type+" "+r.Related+" "+r.Comment)
		}
	}
	want := []string{
		"SPDXRef-Package-apk-foo-1-r0 GENERATED_FROM SPDXRef-foo-1-r0-foo-bar ",
		"SPDXRef-Package-apk-foo-1-r0 OTHER SPDXRef-foo-1-r0-lonely Listed in the SBOM the package ships.",
		"SPDXRef-foo-1-r0-foo-bar DEPENDS_ON NOASSERTION ",
		"SPDXRef-foo-1-r0-foo-bar OTHER SPDXRef-Package-apk-foo-1-r0 relationship type BOGUS",
	}
	if strings.Join(rels, "\n") != strings.Join(want, "\n") {
		t.Errorf("relationships:\n%s\nwant\n%s", strings.Join(rels, "\n"), strings.Join(want, "\n"))
	}
}
