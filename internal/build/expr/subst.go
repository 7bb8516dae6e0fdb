package expr

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest text substitution may produce; longer results
// (values that multiply through references) are an ErrTooLong.
const MaxLen = 16 << 20

// ErrTooLong reports a substitution result longer than MaxLen.
var ErrTooLong = errors.New("substituted text is longer than 16 MiB")

// Lookup resolves a variable name such as "package.version" (without the
// braces). ok is false when the name is not defined.
type Lookup func(name string) (value string, ok bool)

// MapLookup returns a Lookup over a fixed map of names to values.
func MapLookup(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// UndefinedError reports references to names that are not defined.
type UndefinedError struct {
	// Names are the undefined names, in order of first appearance.
	Names []string
	// Offset is the byte offset of the first undefined reference in the
	// text that was substituted.
	Offset int
}

func (e *UndefinedError) Error() string {
	refs := make([]string, len(e.Names))
	for i, n := range e.Names {
		refs[i] = "${{" + n + "}}"
	}
	if len(refs) == 1 {
		return "undefined variable " + refs[0]
	}
	return "undefined variables " + strings.Join(refs, ", ")
}

// SyntaxError reports a malformed reference or condition.
type SyntaxError struct {
	// Offset is the byte offset in the input where the problem is.
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("at offset %d: %s", e.Offset, e.Msg)
}

// IsNameChar reports whether c may appear in a variable name.
func IsNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_'
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// Ref is one ${{…}} reference in a string.
type Ref struct {
	// Name is the variable name, without blanks or braces.
	Name string
	// Start and End delimit the whole reference, "${{" to "}}", as byte
	// offsets: s[Start:End].
	Start, End int
}

// parseRef parses a reference that starts at s[i] ("${{"). It allows blanks
// around the name, as the tolerant pass does.
func parseRef(s string, i int) (Ref, error) {
	j := i + 3
	for j < len(s) && isBlank(s[j]) {
		j++
	}
	start := j
	for j < len(s) && IsNameChar(s[j]) {
		j++
	}
	name := s[start:j]
	for j < len(s) && isBlank(s[j]) {
		j++
	}
	if name == "" {
		return Ref{}, &SyntaxError{Offset: i, Msg: fmt.Sprintf("%q: a variable name ([A-Za-z0-9._-]) must follow ${{", excerpt(s, i))}
	}
	if !strings.HasPrefix(s[j:], "}}") {
		return Ref{}, &SyntaxError{Offset: i, Msg: fmt.Sprintf("%q: ${{%s must be closed by }}", excerpt(s, i), name)}
	}
	return Ref{Name: name, Start: i, End: j + 2}, nil
}

// excerpt returns up to 40 bytes of s from i, for error messages.
func excerpt(s string, i int) string {
	e := s[i:]
	if len(e) > 40 {
		e = e[:40] + "…"
	}
	return e
}

// Refs returns the references in s in order. It fails on the first
// malformed one.
func Refs(s string) ([]Ref, error) {
	var refs []Ref
	for i := 0; ; {
		k := strings.Index(s[i:], "${{")
		if k < 0 {
			return refs, nil
		}
		r, err := parseRef(s, i+k)
		if err != nil {
			return refs, err
		}
		refs = append(refs, r)
		i = r.End
	}
}

// Subst is the tolerant second pass: it replaces every reference in s with
// its value from lookup. Blanks around the name are allowed. Every name
// must be defined: the error is an *UndefinedError naming all undefined
// ones, or a *SyntaxError for a "${{" that does not start a well-formed
// reference. Replaced values are not scanned again.
func Subst(s string, lookup Lookup) (string, error) {
	if !strings.Contains(s, "${{") {
		return s, nil
	}
	var b strings.Builder
	var undefined []string
	var seen map[string]bool
	first := 0
	i := 0
	for {
		k := strings.Index(s[i:], "${{")
		if k < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+k])
		r, err := parseRef(s, i+k)
		if err != nil {
			return "", err
		}
		if v, ok := lookup(r.Name); ok {
			if b.Len()+len(v) > MaxLen {
				return "", ErrTooLong
			}
			b.WriteString(v)
		} else if !seen[r.Name] {
			if seen == nil {
				seen = map[string]bool{}
				first = r.Start
			}
			seen[r.Name] = true
			undefined = append(undefined, r.Name)
		}
		i = r.End
	}
	if undefined != nil {
		return "", &UndefinedError{Names: undefined, Offset: first}
	}
	return b.String(), nil
}

// Replace is the exact-text first pass: it replaces each reference written
// exactly "${{name}}", without blanks, whose name lookup knows. Other text,
// including references to unknown names and references with blanks, is
// kept as it is. Replaced values are not scanned again. The only error is
// ErrTooLong.
func Replace(s string, lookup Lookup) (string, error) {
	if !strings.Contains(s, "${{") {
		return s, nil
	}
	var b strings.Builder
	i := 0
	for {
		k := strings.Index(s[i:], "${{")
		if k < 0 {
			b.WriteString(s[i:])
			break
		}
		start := i + k
		b.WriteString(s[i:start])
		j := start + 3
		for j < len(s) && IsNameChar(s[j]) {
			j++
		}
		if j > start+3 && strings.HasPrefix(s[j:], "}}") {
			if v, ok := lookup(s[start+3 : j]); ok {
				if b.Len()+len(v) > MaxLen {
					return "", ErrTooLong
				}
				b.WriteString(v)
				i = j + 2
				continue
			}
		}
		b.WriteString("${{")
		i = start + 3
	}
	return b.String(), nil
}
