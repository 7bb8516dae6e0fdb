package expr

import (
	"fmt"
	"strings"
)

// maxDepth bounds the nesting of parentheses in a condition.
const maxDepth = 100

// Eval evaluates the condition expr:
//
//	expr       = and { "||" and }
//	and        = atom { "&&" atom }
//	atom       = "(" expr ")" | value ( "==" | "!=" ) value
//	value      = '…' | "…" | ${{name}}
//
// Comparisons are on strings. References, bare or inside quoted strings,
// are resolved with lookup; an undefined name is an *UndefinedError and a
// malformed expression a *SyntaxError. Both sides of && and || are always
// evaluated, so that a mistake in a branch that happens not to matter on
// one architecture is still reported.
func Eval(expr string, lookup Lookup) (bool, error) {
	p := &condParser{s: expr, lookup: lookup}
	v, err := p.or(0)
	if err != nil {
		return false, err
	}
	p.blanks()
	if p.i != len(p.s) {
		return false, p.errorf("unexpected %q", excerpt(p.s, p.i))
	}
	return v, nil
}

type condParser struct {
	s      string
	i      int
	lookup Lookup
}

func (p *condParser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.i, Msg: fmt.Sprintf(format, args...)}
}

func (p *condParser) blanks() {
	for p.i < len(p.s) && (isBlank(p.s[p.i]) || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// op consumes the two-byte operator tok if it comes next.
func (p *condParser) op(tok string) bool {
	p.blanks()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *condParser) or(depth int) (bool, error) {
	v, err := p.and(depth)
	if err != nil {
		return false, err
	}
	for p.op("||") {
		w, err := p.and(depth)
		if err != nil {
			return false, err
		}
		v = v || w
	}
	return v, nil
}

func (p *condParser) and(depth int) (bool, error) {
	v, err := p.atom(depth)
	if err != nil {
		return false, err
	}
	for p.op("&&") {
		w, err := p.atom(depth)
		if err != nil {
			return false, err
		}
		v = v && w
	}
	return v, nil
}

func (p *condParser) atom(depth int) (bool, error) {
	p.blanks()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		if depth >= maxDepth {
			return false, p.errorf("parentheses nested more than %d deep", maxDepth)
		}
		p.i++
		v, err := p.or(depth + 1)
		if err != nil {
			return false, err
		}
		if !p.op(")") {
			return false, p.errorf("missing ) to close the ( before it")
		}
		return v, nil
	}
	lhs, err := p.value()
	if err != nil {
		return false, err
	}
	var eq bool
	switch {
	case p.op("=="):
		eq = true
	case p.op("!="):
	default:
		if p.i >= len(p.s) {
			return false, p.errorf("expected == or != at the end of the condition")
		}
		return false, p.errorf("expected == or != before %q", excerpt(p.s, p.i))
	}
	rhs, err := p.value()
	if err != nil {
		return false, err
	}
	return (lhs == rhs) == eq, nil
}

func (p *condParser) value() (string, error) {
	p.blanks()
	if p.i >= len(p.s) {
		return "", p.errorf("expected a quoted string or ${{…}} at the end of the condition")
	}
	switch c := p.s[p.i]; {
	case c == '\'' || c == '"':
		start := p.i
		p.i++
		var b strings.Builder
		for {
			if p.i >= len(p.s) {
				p.i = start
				return "", p.errorf("unterminated string %s", excerpt(p.s, start))
			}
			ch := p.s[p.i]
			if ch == c {
				p.i++
				break
			}
			if ch == '\\' && p.i+1 < len(p.s) {
				p.i++
				switch e := p.s[p.i]; e {
				case '\\', '\'', '"':
					b.WriteByte(e)
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte('\\')
					b.WriteByte(e)
				}
				p.i++
				continue
			}
			b.WriteByte(ch)
			p.i++
		}
		lit := b.String()
		v, err := Subst(lit, p.lookup)
		if err != nil {
			switch e := err.(type) {
			case *SyntaxError:
				return "", &SyntaxError{Offset: start + 1 + e.Offset, Msg: e.Msg}
			case *UndefinedError:
				return "", &UndefinedError{Names: e.Names, Offset: start + 1 + e.Offset}
			}
			return "", err
		}
		return v, nil
	case strings.HasPrefix(p.s[p.i:], "${{"):
		r, err := parseRef(p.s, p.i)
		if err != nil {
			return "", err
		}
		p.i = r.End
		v, ok := p.lookup(r.Name)
		if !ok {
			return "", &UndefinedError{Names: []string{r.Name}, Offset: r.Start}
		}
		return v, nil
	default:
		return "", p.errorf("expected a quoted string or ${{…}}, found %q", excerpt(p.s, p.i))
	}
}
