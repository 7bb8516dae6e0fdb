package debimport

import (
	"bytes"
	"fmt"
	"strings"
)

// Paragraph is one stanza of a deb822 file (deb-control(5)): fields in file
// order. Field names compare case-insensitively, as in Debian.
type Paragraph struct {
	Fields []Field
}

// Field is one field of a Paragraph.
type Field struct {
	Name  string
	Value string // the first line, then "\n" and each continuation line with its leading space or tab removed
	Line  int    // 1-based line of the field name
}

// Get returns the value of the named field, or "" when it is absent.
func (p *Paragraph) Get(name string) string {
	v, _ := p.Lookup(name)
	return v
}

// Lookup returns the value of the named field and whether it is present.
func (p *Paragraph) Lookup(name string) (string, bool) {
	for _, f := range p.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// ControlError describes a syntax error in a control file.
type ControlError struct {
	Line int // 1-based
	Msg  string
}

func (e *ControlError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// maxControlSize bounds a control file; real ones are a few KiB, the
// largest (long Provides lists) a few hundred.
const maxControlSize = 4 << 20

// ParseControl parses a binary package's control file: exactly one
// paragraph of "Name: value" fields, where lines starting with a space or
// tab continue the previous field. Blank lines before and after the
// paragraph are allowed; a second paragraph, a duplicate field, a line
// without a colon or a continuation without a field is an error. The
// Package and Version fields are required.
func ParseControl(data []byte) (*Paragraph, error) {
	paras, err := parseParagraphs(data, false)
	if err != nil {
		return nil, err
	}
	if len(paras) == 0 {
		return nil, &ControlError{1, "empty control file"}
	}
	if len(paras) > 1 {
		return nil, &ControlError{paras[1].Fields[0].Line, "more than one paragraph (a binary package's control file has exactly one)"}
	}
	p := paras[0]
	for _, req := range []string{"Package", "Version"} {
		if strings.TrimSpace(p.Get(req)) == "" {
			return nil, &ControlError{1, fmt.Sprintf("required field %s is missing or empty", req)}
		}
	}
	return p, nil
}

// parseParagraphs splits deb822 text into paragraphs. With lenient set
// (used for debian/copyright files, which are documentation and often
// hand-edited), lines starting with "#" are comments and malformed lines
// are skipped instead of failing the parse.
func parseParagraphs(data []byte, lenient bool) ([]*Paragraph, error) {
	if len(data) > maxControlSize && !lenient {
		return nil, &ControlError{1, fmt.Sprintf("file is %d bytes, over the limit of %d", len(data), maxControlSize)}
	}
	var paras []*Paragraph
	var cur *Paragraph
	seen := map[string]bool{}
	lines := bytes.Split(data, []byte("\n"))
	if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
		lines = lines[:n-1]
	}
	for i, raw := range lines {
		lineNo := i + 1
		line := strings.TrimSuffix(string(raw), "\r")
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		if lenient && strings.HasPrefix(line, "#") {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil {
				if lenient {
					continue
				}
				return nil, &ControlError{lineNo, "continuation line without a field before it"}
			}
			f := &cur.Fields[len(cur.Fields)-1]
			f.Value += "\n" + line[1:]
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validFieldName(name) {
			if lenient {
				continue
			}
			if !ok {
				return nil, &ControlError{lineNo, fmt.Sprintf("%q is not a \"Field: value\" line", clip(line, 60))}
			}
			return nil, &ControlError{lineNo, fmt.Sprintf("invalid field name %q", clip(name, 60))}
		}
		if cur == nil {
			cur = &Paragraph{}
			paras = append(paras, cur)
			clear(seen)
		}
		key := strings.ToLower(name)
		if seen[key] {
			if lenient {
				continue
			}
			return nil, &ControlError{lineNo, fmt.Sprintf("duplicate field %s", name)}
		}
		seen[key] = true
		cur.Fields = append(cur.Fields, Field{Name: name, Value: strings.TrimSpace(value), Line: lineNo})
	}
	return paras, nil
}

// validFieldName reports whether s is a deb822 field name: printable ASCII
// without spaces or colons, not starting with "#" or "-".
func validFieldName(s string) bool {
	if s == "" || s[0] == '#' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// summary returns the synopsis of a Description field: its first line.
func summary(desc string) string {
	first, _, _ := strings.Cut(desc, "\n")
	return strings.TrimSpace(first)
}

// clip shortens s for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
