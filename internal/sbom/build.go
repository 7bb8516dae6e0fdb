package sbom

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultTool names the creator tool when the caller gives none.
const DefaultTool = "reef"

// timeFormat is SPDX's date format: UTC, seconds, "Z".
const timeFormat = "2006-01-02T15:04:05Z"

// formatTime formats t in SPDX's UTC form; the zero Time is the Unix epoch.
func formatTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format(timeFormat)
}

// builder assembles one document.
type builder struct {
	doc  *Document
	ids  map[string]bool
	next map[string]int // SPDXID base → suffixes used
	lic  *licenseSet
	rels map[Relationship]bool
}

func newBuilder(name string, created time.Time, tool string) *builder {
	if tool == "" {
		tool = DefaultTool
	}
	return &builder{
		doc: &Document{
			SPDXVersion: SPDXVersion,
			DataLicense: DataLicense,
			SPDXID:      DocumentID,
			Name:        name,
			CreationInfo: CreationInfo{
				Created:            formatTime(created),
				Creators:           []string{"Tool: " + tool},
				LicenseListVersion: LicenseListVersion,
			},
		},
		ids:  map[string]bool{DocumentID: true},
		next: map[string]int{},
		lic:  newLicenseSet(),
		rels: map[Relationship]bool{},
	}
}

// sanitizeID maps every character outside [A-Za-z0-9.-] to "-".
func sanitizeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isIDChar(c) {
			b[i] = '-'
		}
	}
	return string(b)
}

// id returns a new, unique SPDXID "SPDXRef-<parts joined by ->",
// sanitized; a clash gets a numeric suffix.
func (b *builder) id(parts ...string) string {
	base := "SPDXRef-" + sanitizeID(strings.Join(parts, "-"))
	id := base
	for b.ids[id] {
		b.next[base]++
		id = base + "-" + strconv.Itoa(b.next[base]+1)
	}
	b.ids[id] = true
	return id
}

func (b *builder) rel(element, typ, related string) {
	b.relc(element, typ, related, "")
}

func (b *builder) relc(element, typ, related, comment string) {
	r := Relationship{Element: element, Type: typ, Related: related, Comment: comment}
	if !b.rels[r] {
		b.rels[r] = true
		b.doc.Relationships = append(b.doc.Relationships, r)
	}
}

func (b *builder) add(p SPDXPackage) { b.doc.Packages = append(b.doc.Packages, p) }

// finish sorts the document, defines its LicenseRefs, derives the
// namespace from the content and checks the result.
func (b *builder) finish(namespaceBase, kind string) (*Document, error) {
	d := b.doc
	d.ExtractedLicenses = b.lic.extracted()
	sort.SliceStable(d.Packages, func(i, j int) bool { return d.Packages[i].SPDXID < d.Packages[j].SPDXID })
	sort.SliceStable(d.Files, func(i, j int) bool { return d.Files[i].SPDXID < d.Files[j].SPDXID })
	sort.SliceStable(d.ExternalDocumentRefs, func(i, j int) bool { return d.ExternalDocumentRefs[i].ID < d.ExternalDocumentRefs[j].ID })
	sort.SliceStable(d.Relationships, func(i, j int) bool {
		a, c := d.Relationships[i], d.Relationships[j]
		if a.Element != c.Element {
			return a.Element < c.Element
		}
		if a.Type != c.Type {
			return a.Type < c.Type
		}
		if a.Related != c.Related {
			return a.Related < c.Related
		}
		return a.Comment < c.Comment
	})
	if namespaceBase == "" {
		namespaceBase = DefaultNamespaceBase
	}
	d.DocumentNamespace = ""
	content, err := d.MarshalIndent()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	d.DocumentNamespace = strings.TrimRight(namespaceBase, "/") + "/" + kind + "/" +
		url.PathEscape(sanitizeID(d.Name)) + "-" + hex.EncodeToString(sum[:])
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("sbom: internal error: generated document is invalid: %w", err)
	}
	return d, nil
}

// checksumAlgorithms maps upper-case spellings to SPDX's names and hex
// lengths (0: any).
var checksumAlgorithms = map[string]struct {
	name string
	hex  int
}{
	"SHA1": {"SHA1", 40}, "SHA224": {"SHA224", 56}, "SHA256": {"SHA256", 64},
	"SHA384": {"SHA384", 96}, "SHA512": {"SHA512", 128},
	"SHA3-256": {"SHA3-256", 64}, "SHA3-384": {"SHA3-384", 96}, "SHA3-512": {"SHA3-512", 128},
	"BLAKE2B-256": {"BLAKE2b-256", 64}, "BLAKE2B-384": {"BLAKE2b-384", 96}, "BLAKE2B-512": {"BLAKE2b-512", 128},
	"BLAKE3": {"BLAKE3", 0}, "MD2": {"MD2", 32}, "MD4": {"MD4", 32}, "MD5": {"MD5", 32},
	"MD6": {"MD6", 0}, "ADLER32": {"ADLER32", 8},
}

// checksum returns the SPDX checksum for an algorithm name in any common
// spelling ("sha256", "SHA-256", "SHA256") and a hex value.
func checksum(alg, value string) (Checksum, error) {
	a := strings.ToUpper(strings.TrimSpace(alg))
	if strings.HasPrefix(a, "SHA-") && !strings.HasPrefix(a, "SHA-3") {
		a = "SHA" + a[4:]
	}
	a = strings.Replace(a, "SHA-3-", "SHA3-", 1)
	info, ok := checksumAlgorithms[a]
	if !ok {
		return Checksum{}, fmt.Errorf("unknown checksum algorithm %q", alg)
	}
	v := strings.ToLower(strings.TrimSpace(value))
	if _, err := hex.DecodeString(v); err != nil || v == "" || (info.hex != 0 && len(v) != info.hex) {
		return Checksum{}, fmt.Errorf("%s checksum %q: want %s hex digits", info.name, value, hexLen(info.hex))
	}
	return Checksum{Algorithm: info.name, Value: v}, nil
}

func hexLen(n int) string {
	if n == 0 {
		return "lower-case"
	}
	return strconv.Itoa(n)
}

// checksums converts a map of checksums, sorted by algorithm.
func checksums(m map[string]string) ([]Checksum, error) {
	var out []Checksum
	for alg, v := range m {
		c, err := checksum(alg, v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Algorithm < out[j].Algorithm })
	return out, nil
}

// agent returns an SPDX supplier/originator value: "Organization: x",
// "Person: x" and "NOASSERTION" are kept, anything else is taken as an
// organization's name.
func agent(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "", s == "Organization:", s == "Person:":
		return ""
	case s == NoAssertion, strings.HasPrefix(s, "Organization: "), strings.HasPrefix(s, "Person: "):
		if strings.TrimSpace(s[strings.Index(s, ":")+1:]) == "" {
			return ""
		}
		return s
	}
	return "Organization: " + s
}

// verificationCode computes SPDX 2.3 §7.9's package verification code from
// the files' SHA-1s.
func verificationCode(sha1s []string) string {
	s := append([]string(nil), sha1s...)
	sort.Strings(s)
	h := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(h[:])
}

func ptr[T any](v T) *T { return &v }
