package sbom

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// LicenseListVersion is the SPDX License List version whose identifiers
// [NormalizeLicense] knows (licenses.txt, exceptions.txt).
const LicenseListVersion = "3.27"

//go:embed licenses.txt
var licensesTxt string

//go:embed exceptions.txt
var exceptionsTxt string

type idList struct {
	canon      map[string]string // lower-case ID → ID
	deprecated map[string]bool   // ID → deprecated
}

var (
	listsOnce  sync.Once
	licenseIDs idList
	exceptIDs  idList
)

func loadList(txt string) idList {
	l := idList{canon: map[string]string{}, deprecated: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		id, dep, _ := strings.Cut(line, " ")
		l.canon[strings.ToLower(id)] = id
		if dep == "deprecated" {
			l.deprecated[id] = true
		}
	}
	return l
}

func lists() (idList, idList) {
	listsOnce.Do(func() {
		licenseIDs = loadList(licensesTxt)
		exceptIDs = loadList(exceptionsTxt)
	})
	return licenseIDs, exceptIDs
}

// lexpr is a parsed license expression.
type lexpr struct {
	op          string // "AND", "OR", or "" for a simple expression
	left, right *lexpr
	id          string // license ID, LicenseRef-x, or unknown identifier
	plus        bool   // id"+"
	exception   string // WITH exception
	known       bool   // id is on the SPDX License List
	ref         bool   // id is LicenseRef-x
}

type licenseSyntaxError struct{ msg string }

func (e *licenseSyntaxError) Error() string { return e.msg }

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
}

func isIDString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return false
		}
	}
	return true
}

func tokenizeLicense(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	if len(toks) == 0 {
		return nil, &licenseSyntaxError{"empty license expression"}
	}
	return toks, nil
}

type licenseParser struct {
	toks []string
	pos  int
}

func (p *licenseParser) peekOp(op string) bool {
	return p.pos < len(p.toks) && strings.EqualFold(p.toks[p.pos], op)
}

// parseLicense parses s by SPDX 2.3 Annex D (WITH binds tighter than AND,
// AND tighter than OR). Operators are accepted in any case. Identifiers
// not on the License List are returned with known=false; it is a syntax
// error for an exception not to be on the list.
func parseLicense(s string) (*lexpr, error) {
	toks, err := tokenizeLicense(s)
	if err != nil {
		return nil, err
	}
	p := &licenseParser{toks: toks}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, &licenseSyntaxError{fmt.Sprintf("unexpected %q", p.toks[p.pos])}
	}
	return e, nil
}

const maxLicenseDepth = 64

func (p *licenseParser) or(depth int) (*lexpr, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peekOp("OR") {
		p.pos++
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &lexpr{op: "OR", left: l, right: r}
	}
	return l, nil
}

func (p *licenseParser) and(depth int) (*lexpr, error) {
	l, err := p.primary(depth)
	if err != nil {
		return nil, err
	}
	for p.peekOp("AND") {
		p.pos++
		r, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		l = &lexpr{op: "AND", left: l, right: r}
	}
	return l, nil
}

func (p *licenseParser) primary(depth int) (*lexpr, error) {
	if depth > maxLicenseDepth {
		return nil, &licenseSyntaxError{"license expression nested too deeply"}
	}
	if p.pos >= len(p.toks) {
		return nil, &licenseSyntaxError{"license expression ends early"}
	}
	t := p.toks[p.pos]
	if t == "(" {
		p.pos++
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos] != ")" {
			return nil, &licenseSyntaxError{"missing )"}
		}
		p.pos++
		return e, nil
	}
	if t == ")" || strings.EqualFold(t, "AND") || strings.EqualFold(t, "OR") || strings.EqualFold(t, "WITH") {
		return nil, &licenseSyntaxError{fmt.Sprintf("unexpected %q", t)}
	}
	p.pos++
	e, err := simpleLicense(t)
	if err != nil {
		return nil, err
	}
	if p.peekOp("WITH") {
		p.pos++
		if p.pos >= len(p.toks) {
			return nil, &licenseSyntaxError{"WITH without an exception"}
		}
		x := p.toks[p.pos]
		p.pos++
		_, exc := lists()
		canon, ok := exc.canon[strings.ToLower(x)]
		if !ok {
			return nil, &licenseSyntaxError{fmt.Sprintf("%q is not an SPDX license exception", x)}
		}
		if e.ref {
			return nil, &licenseSyntaxError{"WITH after a LicenseRef"}
		}
		e.exception = canon
	}
	return e, nil
}

func simpleLicense(t string) (*lexpr, error) {
	if ref, ok := strings.CutPrefix(t, "LicenseRef-"); ok {
		if !isIDString(ref) {
			return nil, &licenseSyntaxError{fmt.Sprintf("invalid license reference %q", t)}
		}
		return &lexpr{id: t, ref: true}, nil
	}
	id, plus := strings.CutSuffix(t, "+")
	if !isIDString(id) {
		return nil, &licenseSyntaxError{fmt.Sprintf("invalid license identifier %q", t)}
	}
	lic, _ := lists()
	if canon, ok := lic.canon[strings.ToLower(id)]; ok {
		return &lexpr{id: canon, plus: plus, known: true}, nil
	}
	return &lexpr{id: id, plus: plus}, nil
}

// String writes e canonically: upper-case operators, parentheses only
// where precedence needs them.
func (e *lexpr) String() string {
	var b strings.Builder
	e.write(&b, "")
	return b.String()
}

func (e *lexpr) write(b *strings.Builder, parent string) {
	if e.op == "" {
		b.WriteString(e.id)
		if e.plus {
			b.WriteByte('+')
		}
		if e.exception != "" {
			b.WriteString(" WITH ")
			b.WriteString(e.exception)
		}
		return
	}
	paren := parent == "AND" && e.op == "OR"
	if paren {
		b.WriteByte('(')
	}
	e.left.write(b, e.op)
	b.WriteByte(' ')
	b.WriteString(e.op)
	b.WriteByte(' ')
	e.right.write(b, e.op)
	if paren {
		b.WriteByte(')')
	}
}

func (e *lexpr) walk(f func(*lexpr)) {
	if e.op == "" {
		f(e)
		return
	}
	e.left.walk(f)
	e.right.walk(f)
}

// NormalizeLicense returns the canonical form of an SPDX license
// expression: identifiers spelled as in the SPDX License List, operators
// in upper case, no redundant parentheses. "NONE" and "NOASSERTION" are
// returned as they are. It is an error for an identifier not to be on the
// list (LicenseRef-… excepted), or for s not to be an expression.
func NormalizeLicense(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == None || s == NoAssertion {
		return s, nil
	}
	e, err := parseLicense(s)
	if err != nil {
		return "", fmt.Errorf("license %q: %w", s, err)
	}
	var unknown []string
	e.walk(func(x *lexpr) {
		if !x.known && !x.ref {
			unknown = append(unknown, x.id)
		}
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("license %q: %q is not on the SPDX License List (use LicenseRef-…)", s, unknown[0])
	}
	return e.String(), nil
}

// licenseSet turns license fields into valid expressions for one
// document, collecting the LicenseRef- definitions they need.
type licenseSet struct {
	refs map[string]ExtractedLicense // licenseId → definition
}

func newLicenseSet() *licenseSet { return &licenseSet{refs: map[string]ExtractedLicense{}} }

// sanitizeIDString maps s to an SPDX idstring: runs of other characters
// become one "-", "+" becomes "-or-later" at the end and "-plus-" inside.
func sanitizeIDString(s string) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isIDChar(c):
			b.WriteByte(c)
			dash = c == '-'
		case c == '+' && i == len(s)-1:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteString("or-later")
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.Trim(b.String(), "-")
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// define registers a LicenseRef with its text and returns the ID to use:
// id itself, or id plus a hash of the text if id is taken by another text.
func (ls *licenseSet) define(id string, def ExtractedLicense) string {
	def.LicenseID = id
	if old, ok := ls.refs[id]; ok {
		if old.ExtractedText == def.ExtractedText {
			return id
		}
		id = id + "-" + shortHash(def.ExtractedText)
		def.LicenseID = id
		if old, ok := ls.refs[id]; ok && old.ExtractedText == def.ExtractedText {
			return id
		}
	}
	ls.refs[id] = def
	return id
}

func (ls *licenseSet) unknownRef(name string) string {
	id := sanitizeIDString(name)
	if id == "" {
		id = "unknown"
	}
	return ls.define("LicenseRef-"+id, ExtractedLicense{
		ExtractedText: name,
		Name:          name,
		Comment:       fmt.Sprintf("%q is not an SPDX License List identifier or expression; the license text is not available.", name),
	})
}

// expression returns a valid license field value for raw: NOASSERTION if
// raw is empty, raw in canonical form if it is a valid expression, and
// otherwise raw with each unknown identifier (or, if raw is not an
// expression, all of raw) replaced by a LicenseRef defined in ls. renamed
// maps LicenseRef IDs defined by an imported document to the IDs they
// were given here; LicenseRefs neither renamed nor defined are defined
// with a placeholder text.
func (ls *licenseSet) expression(raw string, renamed map[string]string) string {
	raw = strings.TrimSpace(raw)
	switch raw {
	case "":
		return NoAssertion
	case None, NoAssertion:
		return raw
	}
	e, err := parseLicense(raw)
	if err != nil {
		return ls.unknownRef(raw)
	}
	e.walk(func(x *lexpr) {
		switch {
		case x.known:
		case x.ref:
			if to, ok := renamed[x.id]; ok {
				x.id = to
			} else if _, ok := ls.refs[x.id]; !ok {
				ls.refs[x.id] = ExtractedLicense{
					LicenseID:     x.id,
					ExtractedText: x.id,
					Comment:       "Named in a license field; the license text is not available.",
				}
			}
		default:
			name := x.id
			if x.plus {
				name += "+"
			}
			x.id, x.plus = ls.unknownRef(name), false
		}
	})
	return e.String()
}

// extracted returns the definitions, sorted by ID.
func (ls *licenseSet) extracted() []ExtractedLicense {
	out := make([]ExtractedLicense, 0, len(ls.refs))
	for _, d := range ls.refs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LicenseID < out[j].LicenseID })
	return out
}
