package sbom

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var created = time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("CEST", 2*3600))

func helloInput() PackageInput {
	return PackageInput{
		Package: Package{
			Name:        "hello-doc",
			Version:     "2.12.1-r3",
			Arch:        "x86_64",
			Origin:      "hello",
			License:     "gpl-3.0-or-later and (MIT OR custom)",
			Description: "documentation for hello",
			URL:         "https://www.gnu.org/software/hello/",
			Copyright:   "Copyright 1992-2022 Free Software Foundation, Inc.",
			BuildDate:   time.Unix(1700000000, 0),
			DataHash:    "3A6C21F20A07BEBF261162B5AB13CB041D7C1CC3E1EDC644AAA99F109F87D887",
			Identity:    "Q1h0jCGAhLD8rfB1MvWm1dnaqkS8Q=",
		},
		Sources: []Source{
			{URL: "https://ftp.gnu.org/gnu/hello/hello-2.12.1.tar.gz", Name: "hello", Version: "2.12.1",
				SHA256: "8d99142afd92576f30b0cd7cb42a8dc6809998bc5d607d88761f512e26c7db20", License: "GPL-3.0-or-later"},
			{Repository: "https://github.com/Example/Widgets.git", Commit: "0123456789abcdef0123456789abcdef01234567", Tag: "v1.2.3"},
			{Repository: "https://gitlab.com/group/tool.git", Commit: "89abcdef0123456789abcdef0123456789abcdef"},
		},
		BuildFile: &Source{Repository: "https://github.com/wolfi-dev/os", Commit: "3e459bd956a5635e5757c15b9c9d53b48d9c40db", Path: "hello.yaml", License: "Apache-2.0"},
		Namespace: "wolfi",
		Supplier:  "Wolfi",
		Created:   created,
		Tool:      "reef-test",
	}
}

func TestForPackage(t *testing.T) {
	d, err := ForPackage(helloInput())
	if err != nil {
		t.Fatal(err)
	}
	data := mustValid(t, d)
	golden(t, "package.spdx.json", data)

	if d.CreationInfo.Created != "2024-05-06T05:08:09Z" {
		t.Errorf("created = %q, want UTC", d.CreationInfo.Created)
	}
	if d.Name != "apk-hello-doc-2.12.1-r3" {
		t.Errorf("name = %q", d.Name)
	}
	if !strings.HasPrefix(d.DocumentNamespace, DefaultNamespaceBase+"/package/apk-hello-doc-2.12.1-r3-") {
		t.Errorf("namespace = %q", d.DocumentNamespace)
	}
	apk := d.Package("SPDXRef-Package-apk-hello-doc-2.12.1-r3")
	if apk == nil {
		t.Fatal("no apk element")
	}
	if got, want := apk.PURL(), "pkg:apk/wolfi/hello-doc@2.12.1-r3?arch=x86_64&distro=wolfi&upstream=hello"; got != want {
		t.Errorf("purl = %q, want %q", got, want)
	}
	if want := "GPL-3.0-or-later AND (MIT OR LicenseRef-custom)"; apk.LicenseDeclared != want || apk.LicenseConcluded != want {
		t.Errorf("licenses = %q / %q, want %q", apk.LicenseDeclared, apk.LicenseConcluded, want)
	}
	if apk.Supplier != "Organization: Wolfi" || apk.BuiltDate != "2023-11-14T22:13:20Z" {
		t.Errorf("supplier %q builtDate %q", apk.Supplier, apk.BuiltDate)
	}
	if len(apk.Checksums) != 0 {
		t.Errorf("datahash or identity recorded as a package checksum: %v", apk.Checksums)
	}
	var other []string
	for _, r := range apk.ExternalRefs {
		if r.Category == CategoryOther {
			other = append(other, r.Type+"="+r.Locator)
		}
	}
	if want := []string{"apk-identity=Q1h0jCGAhLD8rfB1MvWm1dnaqkS8Q=", "apk-datahash=sha256:3a6c21f20a07bebf261162b5ab13cb041d7c1cc3e1edc644aaa99f109f87d887"}; strings.Join(other, " ") != strings.Join(want, " ") {
		t.Errorf("OTHER refs = %v, want %v", other, want)
	}

	purls := map[string]string{}
	for _, p := range d.Packages {
		purls[p.SPDXID] = p.PURL()
	}
	for _, want := range []string{
		"pkg:generic/hello@2.12.1?checksum=sha256:8d99142afd92576f30b0cd7cb42a8dc6809998bc5d607d88761f512e26c7db20&download_url=https:%2F%2Fftp.gnu.org%2Fgnu%2Fhello%2Fhello-2.12.1.tar.gz",
		"pkg:github/example/widgets@0123456789abcdef0123456789abcdef01234567",
		"pkg:generic/tool@89abcdef0123456789abcdef0123456789abcdef?vcs_url=git%2Bhttps:%2F%2Fgitlab.com%2Fgroup%2Ftool.git%4089abcdef0123456789abcdef0123456789abcdef",
		"pkg:github/wolfi-dev/os@3e459bd956a5635e5757c15b9c9d53b48d9c40db#hello.yaml",
	} {
		found := false
		for _, p := range purls {
			found = found || p == want
		}
		if !found {
			t.Errorf("no source with purl %s; have %v", want, purls)
		}
	}
	var gen []string
	for _, r := range d.Relationships {
		if r.Type == RelGeneratedFrom {
			gen = append(gen, r.Related)
		}
	}
	sort.Strings(gen)
	if len(gen) != 5 { // origin, 3 sources, build file
		t.Errorf("GENERATED_FROM %v, want 5", gen)
	}
	if src := d.Package("SPDXRef-Source-hello-2.12.1-r3"); src == nil || src.PrimaryPackagePurpose != PurposeSource {
		t.Errorf("origin package missing or wrong: %+v", src)
	}
	if len(d.ExtractedLicenses) != 1 || d.ExtractedLicenses[0].LicenseID != "LicenseRef-custom" || d.ExtractedLicenses[0].ExtractedText != "custom" {
		t.Errorf("extracted licenses = %+v", d.ExtractedLicenses)
	}
}

func TestForPackageMinimal(t *testing.T) {
	d, err := ForPackage(PackageInput{Package: Package{Name: "x", Version: "1-r0"}})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, d)
	apk := d.Packages[0]
	if apk.PURL() != "pkg:apk/unknown/x@1-r0" || apk.LicenseDeclared != NoAssertion || apk.Supplier != "Organization: unknown" {
		t.Errorf("got %+v", apk)
	}
	if d.CreationInfo.Created != "1970-01-01T00:00:00Z" || d.CreationInfo.Creators[0] != "Tool: reef" {
		t.Errorf("creation info %+v", d.CreationInfo)
	}
}

func TestForPackageErrors(t *testing.T) {
	for name, in := range map[string]PackageInput{
		"no name":      {Package: Package{Version: "1-r0"}},
		"no version":   {Package: Package{Name: "x"}},
		"bad checksum": {Package: Package{Name: "x", Version: "1-r0", Checksums: map[string]string{"SHA256": "abc"}}},
		"bad alg":      {Package: Package{Name: "x", Version: "1-r0", Checksums: map[string]string{"CRC32": "abcd1234"}}},
		"bad datahash": {Package: Package{Name: "x", Version: "1-r0", DataHash: "zz"}},
		"bad purl":     {Package: Package{Name: "x", Version: "1-r0", PURL: "not a purl"}},
		"empty source": {Package: Package{Name: "x", Version: "1-r0"}, Sources: []Source{{}}},
		"both kinds":   {Package: Package{Name: "x", Version: "1-r0"}, Sources: []Source{{URL: "https://a/b.tgz", Repository: "https://a/b"}}},
		"relative URL": {Package: Package{Name: "x", Version: "1-r0"}, Sources: []Source{{URL: "b.tgz"}}},
		"bad repo":     {Package: Package{Name: "x", Version: "1-r0"}, Sources: []Source{{Repository: "not a url", Commit: "abc"}}},
	} {
		if _, err := ForPackage(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// imageFixture builds an image from the real melange-built and Wolfi
// packages (with their embedded SBOMs) plus one package that ships none.
func imageFixture(t *testing.T) ImageInput {
	t.Helper()
	var paths []string
	for _, glob := range []string{"melange-built-repo/packages/x86_64/*.apk", "wolfi-packages/x86_64/*.apk"} {
		m, err := filepath.Glob(filepath.Join(fixtures, glob))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 8 {
		t.Skipf("fixtures not found under %s", fixtures)
	}
	in := ImageInput{
		Ref:      "registry.example/reef/test:latest",
		Digest:   "sha256:" + strings.Repeat("ab", 32),
		Arch:     "x86_64",
		OS:       OSRelease{ID: "wolfi", VersionID: "20230201", Name: "Wolfi", PrettyName: "Wolfi", HomeURL: "https://wolfi.dev"},
		Layers:   []string{"sha256:" + strings.Repeat("01", 32)},
		Embedded: map[string]*Document{},
		Created:  created,
		Tool:     "reef-test",
	}
	for _, p := range paths {
		a := readAPK(t, p)
		if a.sbom != nil {
			in.Embedded[a.pkg.Name] = parseDoc(t, a.sbom)
		}
		in.Packages = append(in.Packages, a.pkg)
	}
	in.Packages = append(in.Packages, Package{
		Name: "libcrypto3", Version: "3.3.0-r1", Arch: "x86_64", Origin: "openssl", License: "Apache-2.0",
		Checksums: map[string]string{"sha-256": strings.Repeat("c", 64)}, Depends: []string{"pretend-baselayout", "not-installed"},
	}, Package{
		Name: "libssl3", Version: "3.3.0-r1", Arch: "x86_64", Origin: "openssl", License: "GPLv2+",
	})
	return in
}

func TestForImage(t *testing.T) {
	in := imageFixture(t)
	d, err := ForImage(in)
	if err != nil {
		t.Fatal(err)
	}
	data := mustValid(t, d)
	golden(t, "image-x86_64.spdx.json", data)

	// Every installed package is there, with a distro-qualified purl, a
	// supplier and a license.
	for _, p := range in.Packages {
		id := "SPDXRef-Package-apk-" + sanitizeID(p.Name+"-"+p.Version)
		el := d.Package(id)
		if el == nil {
			t.Errorf("package %s missing", p.Name)
			continue
		}
		if !strings.Contains(el.PURL(), "pkg:apk/wolfi/"+p.Name+"@"+p.Version+"?arch=x86_64&distro=wolfi-20230201") {
			t.Errorf("%s: purl %q", p.Name, el.PURL())
		}
		if el.Supplier != "Organization: Wolfi" || el.LicenseDeclared == "" {
			t.Errorf("%s: supplier %q license %q", p.Name, el.Supplier, el.LicenseDeclared)
		}
		found := false
		for _, r := range d.Relationships {
			found = found || (r.Type == RelContains && r.Related == id && strings.HasPrefix(r.Element, "SPDXRef-Image-"))
		}
		if !found {
			t.Errorf("%s: image does not CONTAIN it", p.Name)
		}
	}
	// No apk package appears twice (melange's second view of perl-json
	// is merged), and melange's schema violations are gone.
	apkPURLs := map[string]int{}
	for _, p := range d.Packages {
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" && strings.HasPrefix(r.Locator, "pkg:apk/") {
				apkPURLs[r.Locator]++
			}
		}
	}
	if len(apkPURLs) != len(in.Packages) {
		t.Errorf("%d apk purls for %d packages: %v", len(apkPURLs), len(in.Packages), apkPURLs)
	}
	if bytes.Contains(data, []byte("OPERATING-SYSTEM")) || bytes.Contains(data, []byte("PACKAGE_MANAGER")) {
		t.Error("melange's schema violations were copied")
	}
	// The old-style hello-wolfi SBOM lists its files: the host package
	// takes them over with the embedded verification code.
	hw := d.Package("SPDXRef-Package-apk-hello-wolfi-2.12.1-r0")
	if hw == nil || hw.FilesAnalyzed == nil || !*hw.FilesAnalyzed || len(hw.HasFiles) != 46 ||
		hw.VerificationCode == nil || hw.VerificationCode.Value != "88112ad4b8921d90d6ac0f6e878f1ff2dbae068a" {
		t.Errorf("hello-wolfi files not merged: %+v", hw)
	}
	if !strings.HasPrefix(hw.CopyrightText, "Copyright 1992") {
		t.Errorf("hello-wolfi copyright not taken over: %q", hw.CopyrightText)
	}
	// perl-json's upstream source and build file hang off the package.
	pj := d.Package("SPDXRef-Package-apk-perl-json-4.11-r0")
	var rels []string
	for _, r := range d.Relationships {
		if r.Element == pj.SPDXID {
			rels = append(rels, r.Type+" "+r.Related)
		}
	}
	if want := []string{
		"DESCRIBED_BY SPDXRef-perl-json-4.11-r0-Package-Melange-perl-json.yaml-36535284015e3319b91d6980663f26f46d32b63b",
		"GENERATED_FROM SPDXRef-perl-json-4.11-r0-Package-Source-github.com-makamaka-JSON-4.11-2e2812bb38a143ef2e0a553104c0a58a693f8ca7-0",
	}; strings.Join(rels, "\n") != strings.Join(want, "\n") {
		t.Errorf("perl-json relationships:\n%s\nwant\n%s", strings.Join(rels, "\n"), strings.Join(want, "\n"))
	}
	cpes := 0
	for _, r := range pj.ExternalRefs {
		if r.Type == "cpe23Type" {
			cpes++
		}
	}
	if cpes != 6 {
		t.Errorf("perl-json: %d CPEs taken over, want 6", cpes)
	}
	// Both openssl subpackages come from one origin element.
	var fromOpenSSL []string
	for _, r := range d.Relationships {
		if r.Type == RelGeneratedFrom && r.Related == "SPDXRef-Source-openssl-3.3.0-r1" {
			fromOpenSSL = append(fromOpenSSL, r.Element)
		}
	}
	if len(fromOpenSSL) != 2 {
		t.Errorf("GENERATED_FROM openssl: %v", fromOpenSSL)
	}
	if lc := d.Package("SPDXRef-Package-apk-libcrypto3-3.3.0-r1"); !strings.HasSuffix(lc.PURL(), "&upstream=openssl") || len(lc.Checksums) != 1 {
		t.Errorf("libcrypto3: %+v", lc)
	}
	if ls := d.Package("SPDXRef-Package-apk-libssl3-3.3.0-r1"); ls.LicenseDeclared != "LicenseRef-GPLv2-or-later" {
		t.Errorf("libssl3 license %q", ls.LicenseDeclared)
	}
	dep := Relationship{Element: "SPDXRef-Package-apk-libcrypto3-3.3.0-r1", Type: RelDependsOn, Related: "SPDXRef-Package-apk-pretend-baselayout-1.0.0-r0"}
	found := false
	for _, r := range d.Relationships {
		found = found || r == dep
		if r.Type == RelDescribes && r.Element != DocumentID {
			t.Errorf("embedded DESCRIBES copied: %+v", r)
		}
	}
	if !found {
		t.Error("DEPENDS_ON missing")
	}
}

// Same input, in any order, gives the same bytes.
func TestForImageDeterministic(t *testing.T) {
	in := imageFixture(t)
	d1, err := ForImage(in)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := d1.MarshalIndent()

	in2 := imageFixture(t)
	for i, j := 0, len(in2.Packages)-1; i < j; i, j = i+1, j-1 {
		in2.Packages[i], in2.Packages[j] = in2.Packages[j], in2.Packages[i]
	}
	for _, e := range in2.Embedded {
		for i, j := 0, len(e.Packages)-1; i < j; i, j = i+1, j-1 {
			e.Packages[i], e.Packages[j] = e.Packages[j], e.Packages[i]
		}
		for i, j := 0, len(e.Files)-1; i < j; i, j = i+1, j-1 {
			e.Files[i], e.Files[j] = e.Files[j], e.Files[i]
		}
	}
	d2, err := ForImage(in2)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := d2.MarshalIndent()
	if !bytes.Equal(b1, b2) {
		t.Error("input order changes the output")
	}

	in.Created = in.Created.Add(time.Second)
	d3, err := ForImage(in)
	if err != nil {
		t.Fatal(err)
	}
	if d3.DocumentNamespace == d1.DocumentNamespace {
		t.Error("namespace does not depend on the content")
	}
}

func TestForImageNoOSRelease(t *testing.T) {
	d, err := ForImage(ImageInput{
		Digest:   "sha256:" + strings.Repeat("0", 64),
		Packages: []Package{{Name: "busybox", Version: "1.36.1-r0", Arch: "aarch64"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, d)
	if p := d.Package("SPDXRef-Package-apk-busybox-1.36.1-r0"); p.PURL() != "pkg:apk/unknown/busybox@1.36.1-r0?arch=aarch64" {
		t.Errorf("purl %q", p.PURL())
	}
	if d.Package("SPDXRef-OperatingSystem") != nil {
		t.Error("OS element without os-release")
	}
}

func TestForImageErrors(t *testing.T) {
	ok := "sha256:" + strings.Repeat("0", 64)
	for name, in := range map[string]ImageInput{
		"no digest":       {},
		"bad digest":      {Digest: "sha256:XYZ"},
		"upper digest":    {Digest: "sha256:" + strings.Repeat("A", 64)},
		"bad layer":       {Digest: ok, Layers: []string{"nope"}},
		"duplicate":       {Digest: ok, Packages: []Package{{Name: "a", Version: "1-r0"}, {Name: "a", Version: "2-r0"}}},
		"embedded orphan": {Digest: ok, Embedded: map[string]*Document{"ghost": {SPDXVersion: "SPDX-2.3", SPDXID: DocumentID}}},
		"no version":      {Digest: ok, Packages: []Package{{Name: "a"}}},
	} {
		if _, err := ForImage(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestForIndex(t *testing.T) {
	var imgs []IndexImage
	for i, arch := range []string{"aarch64", "x86_64"} {
		d, err := ForImage(ImageInput{
			Ref:      "registry.example/reef/test:latest",
			Digest:   "sha256:" + strings.Repeat(string(rune('a'+i)), 64),
			Arch:     arch,
			OS:       OSRelease{ID: "wolfi", VersionID: "20230201"},
			Packages: []Package{{Name: "busybox", Version: "1.36.1-r0", Arch: arch, License: "GPL-2.0-only"}},
			Created:  created,
		})
		if err != nil {
			t.Fatal(err)
		}
		mustValid(t, d)
		imgs = append(imgs, IndexImage{Digest: "sha256:" + strings.Repeat(string(rune('a'+i)), 64), Arch: arch, SBOM: d})
	}
	d, err := ForIndex(IndexInput{
		Ref:     "registry.example/reef/test:latest",
		Digest:  "sha256:" + strings.Repeat("9", 64),
		Images:  imgs,
		Created: created,
	})
	if err != nil {
		t.Fatal(err)
	}
	data := mustValid(t, d)
	golden(t, "index.spdx.json", data)

	if len(d.ExternalDocumentRefs) != 2 {
		t.Fatalf("external document refs: %+v", d.ExternalDocumentRefs)
	}
	for _, img := range imgs {
		data, err := img.SBOM.MarshalIndent()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(data)
		found := false
		for _, r := range d.ExternalDocumentRefs {
			found = found || (r.SPDXDocument == img.SBOM.DocumentNamespace && r.Checksum.Value == hex.EncodeToString(sum[:]))
		}
		if !found {
			t.Errorf("no external document ref with the SHA-1 of the %s SBOM", img.Arch)
		}
	}
	variants := 0
	for _, r := range d.Relationships {
		if r.Type == RelVariantOf && r.Related == "SPDXRef-ImageIndex-sha256-"+strings.Repeat("9", 64) {
			variants++
		}
	}
	if variants != 2 {
		t.Errorf("%d VARIANT_OF", variants)
	}
	// The image elements have the same SPDXIDs as in their own SBOMs.
	for _, img := range imgs {
		id := "SPDXRef-Image-sha256-" + strings.TrimPrefix(img.Digest, "sha256:")
		if d.Package(id) == nil || img.SBOM.Package(id) == nil {
			t.Errorf("image %s: SPDXID %s not shared", img.Arch, id)
		}
	}
	if p := d.Package("SPDXRef-Image-sha256-" + strings.Repeat("a", 64)); p.PURL() != "pkg:oci/test@sha256:"+strings.Repeat("a", 64)+"?arch=arm64&repository_url=registry.example%2Freef%2Ftest&tag=latest" {
		t.Errorf("image purl %q", p.PURL())
	}
	if _, err := ForIndex(IndexInput{Digest: "sha256:" + strings.Repeat("9", 64)}); err == nil {
		t.Error("index without images: no error")
	}
}

func TestNormalizeLicense(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"GPL-3.0-or-later", "GPL-3.0-or-later", ""},
		{"MIT AND (LGPL-2.1-or-later OR BSD-3-Clause)", "MIT AND (LGPL-2.1-or-later OR BSD-3-Clause)", ""},
		{"GPL-2.0 WITH Classpath-exception-2.0", "GPL-2.0 WITH Classpath-exception-2.0", ""}, // deprecated ID, still valid
		{"(GPL-1.0-or-later OR Artistic-1.0-Perl)", "GPL-1.0-or-later OR Artistic-1.0-Perl", ""},
		{"mit or apache-2.0", "MIT OR Apache-2.0", ""},
		{"(MIT OR Apache-2.0) AND Zlib", "(MIT OR Apache-2.0) AND Zlib", ""},
		{"MIT OR Apache-2.0 AND Zlib", "MIT OR Apache-2.0 AND Zlib", ""},
		{"((MIT))", "MIT", ""},
		{"GPL-2.0+", "GPL-2.0+", ""},
		{"LicenseRef-foo AND MIT", "LicenseRef-foo AND MIT", ""},
		{"NOASSERTION", "NOASSERTION", ""},
		{"NONE", "NONE", ""},
		{"custom", "", "not on the SPDX License List"},
		{"GPLv2+", "", "not on the SPDX License List"},
		{"", "", "empty"},
		{"GPL v2", "", "unexpected"},
		{"BSD/MIT", "", "invalid license identifier"},
		{"MIT AND", "", "ends early"},
		{"(MIT", "", "missing )"},
		{"MIT)", "", "unexpected"},
		{"MIT WITH custom-exception", "", "not an SPDX license exception"},
		{"LicenseRef-x WITH Classpath-exception-2.0", "", "WITH after a LicenseRef"},
		{strings.Repeat("(", 100) + "MIT" + strings.Repeat(")", 100), "", "too deeply"},
	} {
		got, err := NormalizeLicense(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormalizeLicense(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeLicense(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// The license fields of packages: what a document records for each.
func TestLicenseFields(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		refs     map[string]string // LicenseRef → extractedText
	}{
		{"GPL-3.0-or-later", "GPL-3.0-or-later", nil},
		{"MIT AND (LGPL-2.1-or-later OR BSD-3-Clause)", "MIT AND (LGPL-2.1-or-later OR BSD-3-Clause)", nil},
		{"GPL-2.0 WITH Classpath-exception-2.0", "GPL-2.0 WITH Classpath-exception-2.0", nil},
		{"custom", "LicenseRef-custom", map[string]string{"LicenseRef-custom": "custom"}},
		{"", "NOASSERTION", nil},
		{"  ", "NOASSERTION", nil},
		{"GPLv2+", "LicenseRef-GPLv2-or-later", map[string]string{"LicenseRef-GPLv2-or-later": "GPLv2+"}},
		{"MIT AND custom", "MIT AND LicenseRef-custom", map[string]string{"LicenseRef-custom": "custom"}},
		{"GPL v2", "LicenseRef-GPL-v2", map[string]string{"LicenseRef-GPL-v2": "GPL v2"}},
		{"BSD/MIT", "LicenseRef-BSD-MIT", map[string]string{"LicenseRef-BSD-MIT": "BSD/MIT"}},
		{"Public Domain", "LicenseRef-Public-Domain", map[string]string{"LicenseRef-Public-Domain": "Public Domain"}},
		{"GPL-2.0-only WITH custom-exception", "LicenseRef-GPL-2.0-only-WITH-custom-exception", map[string]string{"LicenseRef-GPL-2.0-only-WITH-custom-exception": "GPL-2.0-only WITH custom-exception"}},
		{"???", "LicenseRef-unknown", map[string]string{"LicenseRef-unknown": "???"}},
		{"LicenseRef-acme", "LicenseRef-acme", map[string]string{"LicenseRef-acme": "LicenseRef-acme"}},
	} {
		ls := newLicenseSet()
		if got := ls.expression(tc.in, nil); got != tc.want {
			t.Errorf("%q → %q, want %q", tc.in, got, tc.want)
		}
		got := map[string]string{}
		for _, e := range ls.extracted() {
			got[e.LicenseID] = e.ExtractedText
		}
		if len(got) != len(tc.refs) {
			t.Errorf("%q: extracted %v, want %v", tc.in, got, tc.refs)
		}
		for k, v := range tc.refs {
			if got[k] != v {
				t.Errorf("%q: extracted %v, want %v", tc.in, got, tc.refs)
			}
		}
		// Each one makes a valid package SBOM.
		d, err := ForPackage(PackageInput{Package: Package{Name: "p", Version: "1-r0", License: tc.in}})
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		mustValid(t, d)
	}

	// Two texts that sanitize alike get distinct LicenseRefs.
	ls := newLicenseSet()
	a, b := ls.expression("BSD/MIT", nil), ls.expression("BSD MIT", nil)
	if a == b || ls.expression("BSD/MIT", nil) != a {
		t.Errorf("collision handling: %q %q", a, b)
	}
}

func TestAPKPURL(t *testing.T) {
	for _, tc := range []struct{ ns, name, ver, arch, distro, origin, want string }{
		{"wolfi", "crane", "0.20.2-r1", "x86_64", "wolfi", "", "pkg:apk/wolfi/crane@0.20.2-r1?arch=x86_64&distro=wolfi"},
		{"wolfi", "libcrypto3", "3.3.0-r1", "aarch64", "wolfi-20230201", "openssl", "pkg:apk/wolfi/libcrypto3@3.3.0-r1?arch=aarch64&distro=wolfi-20230201&upstream=openssl"},
		{"alpine", "py3-PyYAML", "6.0.1-r0", "x86_64", "alpine-3.19.1", "py3-PyYAML", "pkg:apk/alpine/py3-pyyaml@6.0.1-r0?arch=x86_64&distro=alpine-3.19.1"},
		{"unknown", "x", "1.0_git20240101+abc-r0", "", "", "", "pkg:apk/unknown/x@1.0_git20240101%2Babc-r0"},
		{"Wolfi", "gtk+3.0", "3.24-r0", "x86_64", "wolfi", "gtk+3.0", "pkg:apk/wolfi/gtk%2B3.0@3.24-r0?arch=x86_64&distro=wolfi"},
	} {
		if got := APKPURL(tc.ns, tc.name, tc.ver, tc.arch, tc.distro, tc.origin); got != tc.want {
			t.Errorf("APKPURL(%q, %q, ...) = %q, want %q", tc.ns, tc.name, got, tc.want)
		}
	}
}

func TestParseOSRelease(t *testing.T) {
	o, err := ParseOSRelease(strings.NewReader("# comment\nID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi \\\"rolling\\\"\"\nVERSION_ID='20230201'\nHOME_URL=\"https://wolfi.dev\"\nbogus\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o != (OSRelease{ID: "wolfi", VersionID: "20230201", Name: "Wolfi", PrettyName: `Wolfi "rolling"`, HomeURL: "https://wolfi.dev"}) {
		t.Errorf("got %+v", o)
	}
}

// melange's own SBOMs violate the schema in known ways; Parse reads them
// anyway, Validate names the violations.
func TestParseMelangeSBOMs(t *testing.T) {
	m, _ := filepath.Glob(filepath.Join(fixtures, "*/packages/*/*.apk"))
	m2, _ := filepath.Glob(filepath.Join(fixtures, "wolfi-packages/*/*.apk"))
	m = append(m, m2...)
	if len(m) == 0 {
		t.Skip("no fixtures")
	}
	violations := map[string]bool{}
	for _, p := range m {
		a := readAPK(t, p)
		if a.sbom == nil {
			continue
		}
		d := parseDoc(t, a.sbom)
		if len(d.Described()) == 0 {
			t.Errorf("%s: describes nothing", filepath.Base(p))
		}
		if err := schemaCheck(t, a.sbom); err != nil {
			violations["schema"] = true
		}
		err := d.Validate()
		if err == nil {
			continue
		}
		for _, v := range []string{`primaryPackagePurpose "OPERATING-SYSTEM"`, `referenceCategory "PACKAGE_MANAGER"`, "is not a UTC time", `SPDXID "SPDXRef-DOCUMENT-apk-`} {
			if strings.Contains(err.Error(), v) {
				violations[v] = true
			}
		}
	}
	for _, v := range []string{"schema", `primaryPackagePurpose "OPERATING-SYSTEM"`, `referenceCategory "PACKAGE_MANAGER"`, "is not a UTC time", `SPDXID "SPDXRef-DOCUMENT-apk-`} {
		if !violations[v] {
			t.Errorf("expected melange violation %s not found", v)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":    "{",
		"not SPDX 2":  `{"spdxVersion":"SPDX-3.0","SPDXID":"SPDXRef-DOCUMENT"}`,
		"no SPDXID":   `{"spdxVersion":"SPDX-2.3"}`,
		"wrong types": `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","packages":{}}`,
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Parse(io.MultiReader(strings.NewReader(`{"name":"`), endless{})); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("too big: %v", err)
	}
	d, err := Parse(strings.NewReader("\xef\xbb\xbf" + `{"spdxVersion":"SPDX-2.2","SPDXID":"SPDXRef-DOCUMENT","unknown":1,"documentDescribes":["SPDXRef-a"]}`))
	if err != nil || d.Described()[0] != "SPDXRef-a" {
		t.Errorf("tolerant parse: %v %+v", err, d)
	}
}

func TestValidateCatches(t *testing.T) {
	d, err := ForPackage(helloInput())
	if err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(d *Document){
		"bad id":         func(d *Document) { d.Packages[0].SPDXID = "SPDXRef-a_b" },
		"dangling rel":   func(d *Document) { d.Relationships[0].Related = "SPDXRef-nope" },
		"no describes":   func(d *Document) { d.Relationships = nil },
		"undefined ref":  func(d *Document) { d.ExtractedLicenses = nil },
		"bad license":    func(d *Document) { d.Packages[0].LicenseDeclared = "GPLv2" },
		"local time":     func(d *Document) { d.CreationInfo.Created = "2024-01-01T00:00:00+02:00" },
		"files analyzed": func(d *Document) { d.Packages[0].FilesAnalyzed = nil },
		"bad supplier":   func(d *Document) { d.Packages[0].Supplier = "Wolfi" },
		"bad purl":       func(d *Document) { d.Packages[0].ExternalRefs[0].Locator = "pkg:" },
		"upper checksum": func(d *Document) { d.Packages[0].Checksums = []Checksum{{"SHA256", strings.Repeat("A", 64)}} },
		"bad category":   func(d *Document) { d.Packages[0].ExternalRefs[0].Category = "PACKAGE_MANAGER" },
		"bad purpose":    func(d *Document) { d.Packages[0].PrimaryPackagePurpose = "OPERATING-SYSTEM" },
		"duplicate id":   func(d *Document) { d.Packages[1].SPDXID = d.Packages[0].SPDXID },
		"bad namespace":  func(d *Document) { d.DocumentNamespace = "urn#x" },
		"bad download":   func(d *Document) { d.Packages[0].DownloadLocation = "" },
		"bad doc id":     func(d *Document) { d.SPDXID = "SPDXRef-DOCUMENT-apk-x" },
		"bad relationship": func(d *Document) {
			d.Relationships[0].Type = "DESCRIBES_BY"
		},
	} {
		c := *d
		c.Packages = append([]SPDXPackage(nil), d.Packages...)
		for i := range c.Packages {
			c.Packages[i].ExternalRefs = append([]ExternalRef(nil), d.Packages[i].ExternalRefs...)
		}
		c.Relationships = append([]Relationship(nil), d.Relationships...)
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate passed", name)
		}
	}
	if err := d.Validate(); err != nil {
		t.Errorf("the original was changed: %v", err)
	}
}

func TestPackageSBOMPath(t *testing.T) {
	if got := PackageSBOMPath("hello-wolfi", "2.12.1-r0"); got != "var/lib/db/sbom/hello-wolfi-2.12.1-r0.spdx.json" {
		t.Errorf("got %q", got)
	}
}

// endless reads as an unending run of "x".
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
