package sbom

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts can be merged
// into an image SBOM that is valid.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","documentDescribes":["SPDXRef-a"],"packages":[{"SPDXID":"SPDXRef-a","name":"x","licenseDeclared":"MIT and custom"}]}`))
	f.Add([]byte(`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","packages":[{"SPDXID":"SPDXRef-a","name":"x","hasFiles":["SPDXRef-f"]}],"files":[{"SPDXID":"SPDXRef-f","fileName":"/a","checksums":[{"algorithm":"SHA1","checksumValue":"0000000000000000000000000000000000000000"}]}],"relationships":[{"spdxElementId":"SPDXRef-a","relationshipType":"contains","relatedSpdxElement":"SPDXRef-f"}],"hasExtractedLicensingInfos":[{"licenseId":"LicenseRef-x y","extractedText":""}]}`))
	f.Add([]byte(messySBOM))
	m, _ := filepath.Glob(filepath.Join(fixtures, "melange-built-repo/packages/x86_64/*.apk"))
	m2, _ := filepath.Glob(filepath.Join(fixtures, "wolfi-packages/x86_64/*.apk"))
	for _, p := range append(m, m2...) {
		if a := readAPK(f, p); a.sbom != nil {
			f.Add(a.sbom)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = d.Validate()
		name := "x"
		for _, p := range d.Packages {
			if p.Name != "" && !strings.ContainsAny(p.Name, "\x00") {
				name = p.Name
				break
			}
		}
		img, err := ForImage(ImageInput{
			Digest:   "sha256:" + strings.Repeat("0", 64),
			OS:       OSRelease{ID: "wolfi"},
			Packages: []Package{{Name: name, Version: "1-r0"}, {Name: name + "-other", Version: "1-r0"}},
			Embedded: map[string]*Document{name: d, name + "-other": d},
		})
		if err != nil {
			t.Fatalf("merging a parsed document: %v", err)
		}
		var buf bytes.Buffer
		if err := img.Write(&buf); err != nil {
			t.Fatal(err)
		}
	})
}
