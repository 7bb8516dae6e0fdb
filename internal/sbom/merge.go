package sbom

import (
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"
)

// merge imports emb, the SBOM that package host ships, under the host's
// element hostID. See ForImage.
func (b *builder) merge(hostID string, host Package, emb *Document) {
	described := map[string]bool{}
	for _, id := range emb.Described() {
		described[id] = true
	}
	isOS := func(p *SPDXPackage) bool {
		purpose := normEnum(p.PrimaryPackagePurpose)
		return purpose == PurposeOperatingSystem || p.SPDXID == "SPDXRef-OperatingSystem"
	}
	isHost := func(p *SPDXPackage) bool {
		if described[p.SPDXID] && strings.EqualFold(p.Name, host.Name) {
			return true
		}
		for _, r := range p.ExternalRefs {
			if r.Type != "purl" {
				continue
			}
			if u, err := packageurl.FromString(r.Locator); err == nil && u.Type == packageurl.TypeApk &&
				strings.EqualFold(u.Name, host.Name) {
				return true
			}
		}
		return false
	}

	pkgs := append([]SPDXPackage(nil), emb.Packages...)
	sort.SliceStable(pkgs, func(i, j int) bool { return pkgs[i].SPDXID < pkgs[j].SPDXID })
	files := append([]File(nil), emb.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].SPDXID < files[j].SPDXID })

	// If nothing matched by name, a document describing exactly one
	// package describes the host.
	anyHost := false
	for i := range pkgs {
		if isHost(&pkgs[i]) {
			anyHost = true
			break
		}
	}
	var soleDescribed string
	if !anyHost {
		n := 0
		for i := range pkgs {
			if described[pkgs[i].SPDXID] && !isOS(&pkgs[i]) {
				n++
				soleDescribed = pkgs[i].SPDXID
			}
		}
		if n != 1 {
			soleDescribed = ""
		}
	}

	prefix := host.Name + "-" + host.Version
	idmap := map[string]string{} // original SPDXID → new one; "" for dropped
	var hostEls, imported []SPDXPackage
	for _, p := range pkgs {
		if _, dup := idmap[p.SPDXID]; dup || p.SPDXID == "" || p.SPDXID == emb.SPDXID {
			continue
		}
		switch {
		case isOS(&p):
			idmap[p.SPDXID] = ""
		case isHost(&p) || p.SPDXID == soleDescribed:
			idmap[p.SPDXID] = hostID
			hostEls = append(hostEls, p)
		default:
			idmap[p.SPDXID] = b.id(prefix, strings.TrimPrefix(p.SPDXID, "SPDXRef-"))
			imported = append(imported, p)
		}
	}

	renamed := map[string]string{}
	exts := append([]ExtractedLicense(nil), emb.ExtractedLicenses...)
	sort.SliceStable(exts, func(i, j int) bool { return exts[i].LicenseID < exts[j].LicenseID })
	for _, el := range exts {
		ref, ok := strings.CutPrefix(el.LicenseID, "LicenseRef-")
		if !ok || ref == "" {
			continue
		}
		if _, done := renamed[el.LicenseID]; done {
			continue
		}
		text := firstNonEmpty(el.ExtractedText, el.LicenseID)
		renamed[el.LicenseID] = b.lic.define("LicenseRef-"+firstNonEmpty(sanitizeIDString(ref), "unknown"),
			ExtractedLicense{ExtractedText: text, Name: el.Name, Comment: el.Comment, SeeAlsos: el.SeeAlsos})
	}
	lic := func(s string) string {
		if strings.TrimSpace(s) == "" {
			return ""
		}
		return b.lic.expression(s, renamed)
	}
	// licenseInfoFromFiles and licenseInfoInFiles hold single licenses:
	// an expression contributes each of its licenses.
	lics := func(in []string) []string {
		var out []string
		seen := map[string]bool{}
		for _, s := range in {
			v := lic(s)
			e, err := parseLicense(v)
			if v == "" || v == None || v == NoAssertion || err != nil {
				if v != "" && !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
				continue
			}
			e.walk(func(x *lexpr) {
				if l := x.String(); !seen[l] {
					seen[l] = true
					out = append(out, l)
				}
			})
		}
		return out
	}

	// Files: a file must have a SHA-1 (SPDX 2.3 §8.4).
	fileSHA1 := map[string]string{} // new SPDXID → SHA-1
	for _, f := range files {
		if _, dup := idmap[f.SPDXID]; dup || f.SPDXID == "" {
			continue
		}
		nf := f
		nf.Checksums = cleanChecksums(f.Checksums)
		sha1 := ""
		for _, c := range nf.Checksums {
			if c.Algorithm == "SHA1" {
				sha1 = c.Value
			}
		}
		if sha1 == "" {
			idmap[f.SPDXID] = ""
			continue
		}
		nf.SPDXID = b.id(prefix, strings.TrimPrefix(f.SPDXID, "SPDXRef-"))
		idmap[f.SPDXID] = nf.SPDXID
		fileSHA1[nf.SPDXID] = sha1
		nf.FileName = firstNonEmpty(f.FileName, NoAssertion)
		nf.FileTypes = filterEnum(f.FileTypes, fileTypes)
		nf.LicenseConcluded = lic(f.LicenseConcluded)
		nf.LicenseInfoInFiles = lics(f.LicenseInfoInFiles)
		nf.Annotations = cleanAnnotations(f.Annotations)
		b.doc.Files = append(b.doc.Files, nf)
	}
	hasFiles := func(in []string) []string {
		var out []string
		seen := map[string]bool{}
		for _, id := range in {
			if n := idmap[id]; n != "" && fileSHA1[n] != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}
	setFiles := func(p *SPDXPackage, ids []string, code *PackageVerificationCode) {
		if len(ids) == 0 {
			p.FilesAnalyzed, p.HasFiles, p.VerificationCode, p.LicenseInfoFromFiles = ptr(false), nil, nil, nil
			return
		}
		if code == nil || !isHex(code.Value, 40) {
			var sums []string
			for _, id := range ids {
				sums = append(sums, fileSHA1[id])
			}
			code = &PackageVerificationCode{Value: verificationCode(sums)}
		}
		p.FilesAnalyzed, p.HasFiles = ptr(true), ids
		p.VerificationCode = &PackageVerificationCode{Value: strings.ToLower(code.Value), ExcludedFiles: code.ExcludedFiles}
	}

	for _, p := range imported {
		np := p
		np.SPDXID = idmap[p.SPDXID]
		np.Name = firstNonEmpty(strings.TrimSpace(p.Name), NoAssertion)
		np.DownloadLocation = cleanLocation(p.DownloadLocation)
		np.PrimaryPackagePurpose = cleanEnum(p.PrimaryPackagePurpose, purposes)
		np.ExternalRefs = cleanRefs(p.ExternalRefs)
		np.Supplier, np.Originator = agent(p.Supplier), agent(p.Originator)
		np.Checksums = cleanChecksums(p.Checksums)
		np.ReleaseDate, np.BuiltDate, np.ValidUntilDate = cleanDate(p.ReleaseDate), cleanDate(p.BuiltDate), cleanDate(p.ValidUntilDate)
		np.Homepage = cleanHomepage(p.Homepage)
		np.LicenseConcluded, np.LicenseDeclared = lic(p.LicenseConcluded), lic(p.LicenseDeclared)
		np.LicenseInfoFromFiles = lics(p.LicenseInfoFromFiles)
		np.Annotations = cleanAnnotations(p.Annotations)
		setFiles(&np, hasFiles(p.HasFiles), p.VerificationCode)
		b.add(np)
	}

	// The host takes over what its embedded views know and it does not.
	h := b.doc.Package(hostID)
	var hostFiles []string
	var hostCode *PackageVerificationCode
	for _, e := range hostEls {
		if h.LicenseDeclared == NoAssertion {
			if l := lic(e.LicenseDeclared); l != "" && l != NoAssertion {
				h.LicenseDeclared, h.LicenseConcluded = l, l
			}
		}
		if c := strings.TrimSpace(e.CopyrightText); h.CopyrightText == NoAssertion && c != "" && c != NoAssertion {
			h.CopyrightText = e.CopyrightText
		}
		for _, r := range cleanRefs(e.ExternalRefs) {
			if r.Category == CategorySecurity && !containsRef(h.ExternalRefs, r) {
				h.ExternalRefs = append(h.ExternalRefs, r)
			}
		}
		hostFiles = append(hostFiles, e.HasFiles...)
		if hostCode == nil && e.VerificationCode != nil {
			hostCode = e.VerificationCode
		}
	}
	if ids := hasFiles(hostFiles); len(ids) > 0 {
		setFiles(h, ids, hostCode)
	}

	// Relationships, with the embedded document's DESCRIBES dropped: the
	// image CONTAINS the host instead.
	rels := append([]Relationship(nil), emb.Relationships...)
	for _, id := range emb.DocumentDescribes {
		rels = append(rels, Relationship{Element: emb.SPDXID, Type: RelDescribes, Related: id})
	}
	for _, r := range rels {
		if r.Element == emb.SPDXID || r.Related == emb.SPDXID {
			continue
		}
		e := idmap[r.Element]
		rel := r.Related
		if rel != None && rel != NoAssertion {
			rel = idmap[r.Related]
		}
		if e == "" || rel == "" || e == rel {
			continue
		}
		typ, comment := normEnum(r.Type), r.Comment
		if !relationshipTypes[typ] {
			typ, comment = RelOther, firstNonEmpty(comment, "relationship type "+r.Type)
		}
		b.relc(e, typ, rel, comment)
	}

	// Whatever is still unconnected hangs off the host.
	mentioned := map[string]bool{}
	for _, r := range b.doc.Relationships {
		mentioned[r.Element], mentioned[r.Related] = true, true
	}
	for _, p := range b.doc.Packages {
		for _, f := range p.HasFiles {
			mentioned[f] = true
		}
	}
	var orphans []string
	for _, p := range imported {
		if n := idmap[p.SPDXID]; !mentioned[n] {
			orphans = append(orphans, n)
		}
	}
	for n := range fileSHA1 {
		if !mentioned[n] {
			orphans = append(orphans, n)
		}
	}
	sort.Strings(orphans)
	for _, n := range orphans {
		b.relc(hostID, RelOther, n, "Listed in the SBOM the package ships.")
	}
}

func containsRef(refs []ExternalRef, r ExternalRef) bool {
	for _, x := range refs {
		if x.Category == r.Category && x.Type == r.Type && x.Locator == r.Locator {
			return true
		}
	}
	return false
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// normEnum upper-cases an enum value and writes "-" as "_", the schema's
// spelling of purposes and relationship types.
func normEnum(s string) string {
	return strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(s)), "-", "_")
}

// cleanEnum returns s in the schema's spelling if it is one of allowed,
// else "".
func cleanEnum(s string, allowed map[string]bool) string {
	if v := normEnum(s); allowed[v] {
		return v
	}
	return ""
}

func filterEnum(in []string, allowed map[string]bool) []string {
	var out []string
	for _, s := range in {
		if v := cleanEnum(s, allowed); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// cleanRefs repairs reference categories ("PACKAGE_MANAGER" →
// "PACKAGE-MANAGER") and drops references the schema or the purl spec
// rejects.
func cleanRefs(in []ExternalRef) []ExternalRef {
	var out []ExternalRef
	for _, r := range in {
		cat := strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(r.Category)), "_", "-")
		if !refCategories[cat] {
			cat = CategoryOther
		}
		if !refTypeOK(r.Type) || r.Locator == "" || strings.ContainsAny(r.Locator, " \t\r\n") {
			continue
		}
		if r.Type == "purl" {
			if _, err := packageurl.FromString(r.Locator); err != nil {
				continue
			}
			cat = CategoryPackageManager
		}
		out = append(out, ExternalRef{Category: cat, Type: r.Type, Locator: r.Locator, Comment: r.Comment})
	}
	return out
}

func cleanChecksums(in []Checksum) []Checksum {
	var out []Checksum
	for _, c := range in {
		if v, err := checksum(c.Algorithm, c.Value); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// cleanDate converts an RFC 3339 time to SPDX's UTC form; anything else
// becomes "".
func cleanDate(s string) string {
	if s == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return formatTime(t)
}

func cleanHomepage(s string) string {
	if s == None || s == NoAssertion {
		return s
	}
	return homepage(s)
}

func cleanLocation(s string) string {
	s = strings.TrimSpace(s)
	if !locationOK(s) {
		return NoAssertion
	}
	return s
}

func cleanAnnotations(in []Annotation) []Annotation {
	var out []Annotation
	for _, a := range in {
		a.Type = strings.ToUpper(strings.TrimSpace(a.Type))
		a.Date = cleanDate(a.Date)
		if (a.Type != "OTHER" && a.Type != "REVIEW") || a.Date == "" || agentOK(a.Annotator) != nil {
			continue
		}
		out = append(out, a)
	}
	return out
}
