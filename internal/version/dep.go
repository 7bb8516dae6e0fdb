package version

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Op is a version constraint operator: a set of the comparison results
// (Less, Equal, Greater) a version may have against the constraint's
// version, plus the Fuzzy flag, or the special Checksum operator.
type Op uint8

// Operator bits. Checksum is the "><" operator, which constrains the
// package identity rather than its version.
const (
	Less Op = 1 << iota
	Equal
	Greater
	Fuzzy
	Checksum

	// Any matches every version; it is the Op of a dependency without a
	// version.
	Any = Less | Equal | Greater
)

// String returns the operator as written in a dependency: "<", "<=", "=",
// ">=", ">", "~", "<~", ">~" or "><", and "" for Any (and for the zero Op,
// which is treated as Any). Other combinations, which do not occur in
// apk-tools, are formatted as "Op(n)".
func (o Op) String() string {
	switch o {
	case Less:
		return "<"
	case Less | Equal:
		return "<="
	case Less | Equal | Fuzzy:
		return "<~"
	case Equal:
		return "="
	case Equal | Fuzzy, Fuzzy:
		return "~"
	case Greater | Equal:
		return ">="
	case Greater | Equal | Fuzzy:
		return ">~"
	case Greater:
		return ">"
	case Checksum:
		return "><"
	case Any, 0:
		return ""
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// isAny reports whether o places no constraint on the version.
func (o Op) isAny() bool {
	return o == 0 || o&Checksum == 0 && o&Any == Any
}

// parseOp maps the operator spellings accepted by ParseDep to an Op.
func parseOp(s string) (Op, bool) {
	switch s {
	case "<":
		return Less, true
	case "<=":
		return Less | Equal, true
	case "<~":
		return Less | Equal | Fuzzy, true
	case "=":
		return Equal, true
	case "~", "=~":
		return Equal | Fuzzy, true
	case ">=":
		return Greater | Equal, true
	case ">~":
		return Greater | Equal | Fuzzy, true
	case ">":
		return Greater, true
	case "><":
		return Checksum, true
	}
	return 0, false
}

// Dep is a dependency, provide or conflict: "[!]name[@tag][op version]".
// A Dep with the zero Op places no constraint on the version, like Any.
type Dep struct {
	Name     string
	Tag      string // repository pin, without "@"
	Op       Op     // Any when no version is given
	Version  string // version, or the Q1 identity when Op == Checksum
	Conflict bool   // "!name"
}

func isOpChar(c byte) bool { return c == '<' || c == '>' || c == '=' || c == '~' }

// isNameChar reports whether c may appear in a dependency name: the
// package name characters [a-zA-Z0-9._+-] plus ":/,[]", which occur in
// provided names such as "so:libc.so.6", "cmd:[" or "/bin/sh".
func isNameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		return true
	}
	switch c {
	case '.', '_', '+', '-', ':', '/', ',', '[', ']':
		return true
	}
	return false
}

// isChecksumChar reports whether c may appear in a "><" identity: base64
// (as in "Q1…=") or hex.
func isChecksumChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) ||
		c == '+' || c == '/' || c == '='
}

// depError returns an error describing why dependency s is invalid.
func depError(s, format string, args ...any) error {
	return fmt.Errorf("version: invalid dependency %q: %s", s, fmt.Sprintf(format, args...))
}

// ParseDep parses a single dependency "[!]name[@tag][op version]".
//
// The name (and tag) may use [a-zA-Z0-9._+-] and ":/,[]". The operator is
// one of "<", "<=", "=", ">=", ">", "~" (also spelled "=~"), "<~", ">~",
// or "><", which is followed by a package identity such as "Q1…=" (base64
// or hex characters) instead of a version. Other spellings apk-tools
// happens to accept, such as "=<" or "~=", are rejected.
//
// The version after an operator must be accepted by apk-tools 2: any
// version that Valid accepts, and also the looser forms of the v2 grammar
// found in old indexes, such as "1.0a2" (a letter followed by digits).
// Such versions compare as apk-tools 3 compares them (see Compare). An
// empty version is always an error.
//
// On success the returned Dep's strings are substrings of s.
func ParseDep(s string) (Dep, error) {
	var d Dep
	if s == "" {
		return d, errors.New("version: empty dependency")
	}
	rest := s
	if rest[0] == '!' {
		d.Conflict = true
		rest = rest[1:]
	}

	i := 0
	for i < len(rest) && isNameChar(rest[i]) {
		i++
	}
	d.Name, rest = rest[:i], rest[i:]
	if rest != "" && rest[0] != '@' && !isOpChar(rest[0]) {
		return Dep{}, depError(s, "invalid character %q in name", rest[:1])
	}
	if d.Name == "" {
		return Dep{}, depError(s, "empty name")
	}

	if rest != "" && rest[0] == '@' {
		rest = rest[1:]
		i = 0
		for i < len(rest) && isNameChar(rest[i]) {
			i++
		}
		d.Tag, rest = rest[:i], rest[i:]
		if rest != "" && !isOpChar(rest[0]) {
			return Dep{}, depError(s, "invalid character %q in tag", rest[:1])
		}
		if d.Tag == "" {
			return Dep{}, depError(s, "empty tag after \"@\"")
		}
	}

	if rest == "" {
		d.Op = Any
		return d, nil
	}

	i = 0
	for i < len(rest) && isOpChar(rest[i]) {
		i++
	}
	op, ok := parseOp(rest[:i])
	if !ok {
		return Dep{}, depError(s, "unknown operator %q", rest[:i])
	}
	d.Op, d.Version = op, rest[i:]
	if d.Version == "" {
		return Dep{}, depError(s, "missing version after %q", rest[:i])
	}
	if op == Checksum {
		for j := 0; j < len(d.Version); j++ {
			if !isChecksumChar(d.Version[j]) {
				return Dep{}, depError(s, "invalid character %q in package identity", d.Version[j:j+1])
			}
		}
		return d, nil
	}
	if !Valid(d.Version) && !validV2(d.Version) {
		return Dep{}, depError(s, "invalid version %q", d.Version)
	}
	return d, nil
}

// isDepSep reports whether c separates dependencies in a list.
func isDepSep(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r'
}

// ParseDeps parses a list of dependencies separated by spaces, tabs or
// newlines (carriage returns are ignored too), as found in .PKGINFO, APKINDEX and world files. It returns the
// first error encountered. An empty or all-blank list yields no
// dependencies and no error.
func ParseDeps(s string) ([]Dep, error) {
	fields := strings.FieldsFunc(s, isDepSep)
	if len(fields) == 0 {
		return nil, nil
	}
	deps := make([]Dep, 0, len(fields))
	for _, f := range fields {
		d, err := ParseDep(f)
		if err != nil {
			return nil, err
		}
		deps = append(deps, d)
	}
	return deps, nil
}

// String returns d in canonical form, "[!]name[@tag][op version]", such
// that ParseDep(d.String()) returns d for every d that ParseDep returned.
// The version is omitted when d.Op places no constraint (Any or zero).
func (d Dep) String() string {
	var b strings.Builder
	b.Grow(len(d.Name) + len(d.Tag) + len(d.Version) + 5)
	if d.Conflict {
		b.WriteByte('!')
	}
	b.WriteString(d.Name)
	if d.Tag != "" {
		b.WriteByte('@')
		b.WriteString(d.Tag)
	}
	if !d.Op.isAny() {
		b.WriteString(d.Op.String())
		b.WriteString(d.Version)
	}
	return b.String()
}

// MatchVersion reports whether version v satisfies d's version constraint.
// d.Name and d.Conflict are ignored: the caller matches names and inverts
// the result for conflicts.
//
// A Dep whose Op is Any (or zero) matches every version. Otherwise v is
// compared with d.Version (with CompareFuzzy when d.Op has Fuzzy) and
// matches if the result (Less, Equal or Greater) is in d.Op. A Checksum
// dependency never matches a version: it constrains the package identity,
// which the caller must compare with d.Version itself.
func (d Dep) MatchVersion(v string) bool {
	op := d.Op
	if op&Checksum != 0 {
		return false
	}
	if op.isAny() {
		return true
	}
	var r Op
	switch compare(v, d.Version, op&Fuzzy != 0) {
	case -1:
		r = Less
	case 0:
		r = Equal
	default:
		r = Greater
	}
	return r&op != 0
}
