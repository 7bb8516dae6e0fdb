package yamlstrict

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a problem with a YAML file, located by file, line and dotted
// field path ("subpackages[1].pipeline[0].with.uri").
type Error struct {
	File  string // "" when the data has no file name
	Line  int    // 1-based; 0 when not known
	Field string // "" for the document as a whole
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString("field " + e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// SyntaxError turns an error of the yaml.v3 parser ("yaml: line 3: …")
// into an *Error about file.
func SyntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line, msg = n, rest[i+2:]
			}
		}
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// Pos is where a mapping was written: its file, line and field path, and
// the line of each of its keys. Decode fills a struct's field of type Pos.
type Pos struct {
	File string
	Line int
	// Path is the dotted field path of the mapping, "" for the document.
	Path string
	// keys maps a key, or "key.subkey" for the entries of a map-valued
	// key, or "key[i]" for the items of a list-valued key, to its line.
	keys map[string]int
}

// KeyLine returns the line of key (or "key.subkey", "key[i]"), falling
// back to the enclosing key and then to the mapping's own line when the
// key was not written.
func (p Pos) KeyLine(key string) int {
	if l, ok := p.keys[key]; ok {
		return l
	}
	if i := strings.LastIndexAny(key, ".["); i > 0 {
		return p.KeyLine(key[:i])
	}
	return p.Line
}

// Field returns the dotted path of key inside the mapping.
func (p Pos) Field(key string) string { return joinPath(p.Path, key) }

// Errorf returns an *Error about key (which may be "") of the mapping.
func (p Pos) Errorf(key, format string, args ...any) *Error {
	line := p.Line
	if key != "" {
		line = p.KeyLine(key)
	}
	return &Error{File: p.File, Line: line, Field: p.Field(key), Msg: fmt.Sprintf(format, args...)}
}

// joinPath appends key ("name", or "[2]" for a list item) to a field path.
func joinPath(path, key string) string {
	switch {
	case key == "":
		return path
	case path == "":
		return key
	case strings.HasPrefix(key, "["):
		return path + key
	}
	return path + "." + key
}
