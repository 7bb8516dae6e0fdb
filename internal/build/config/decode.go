package config

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on what a YAML document may expand to, so that hostile input
// (alias bombs, absurd nesting) fails cleanly.
const (
	maxNodes = 1 << 18
	maxDepth = 200
	// MaxFileSize is the largest build or pipeline file read.
	MaxFileSize = 16 << 20
)

// Error is a problem with a build or pipeline file, located by file, line
// and dotted field path ("subpackages[1].pipeline[0].with.uri").
type Error struct {
	File  string
	Line  int
	Field string
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

// Pos is where a mapping was written: its file, line and field path, and
// the line of each of its keys.
type Pos struct {
	File string
	Line int
	// Path is the dotted field path of the mapping, "" for the document.
	Path string
	// keys maps a key, or "key.subkey" for the entries of a map-valued
	// key, to its line.
	keys map[string]int
}

// KeyLine returns the line of key (or "key.subkey"), falling back to the
// mapping's own line when the key was not written.
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

var posType = reflect.TypeFor[Pos]()

// decodeDocument parses data as a single YAML document and decodes it into
// out, a pointer to a struct. With loose set unknown keys are ignored.
func decodeDocument(data []byte, file string, out any, loose bool) error {
	if len(data) > MaxFileSize {
		return &Error{File: file, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{File: file, Msg: "file is empty"}
		}
		return syntaxError(file, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return syntaxError(file, err)
	case !isEmptyDocument(&extra):
		return &Error{File: file, Line: extra.Line, Msg: "more than one YAML document; a build file is one document"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return &Error{File: file, Line: doc.Line, Msg: "not a YAML document"}
	}
	d := &decoder{file: file}
	return d.decode(doc.Content[0], reflect.ValueOf(out).Elem(), "", loose, 0)
}

func isEmptyDocument(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode {
		return len(n.Content) == 0 || len(n.Content) == 1 && isNull(n.Content[0])
	}
	return n.Kind == 0
}

// syntaxError turns a yaml.v3 error ("yaml: line 3: …") into an *Error.
func syntaxError(file string, err error) error {
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

type decoder struct {
	file  string
	nodes int
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return strconv.Quote(v)
	}
	return "an unexpected YAML node"
}

// resolve follows aliases and counts nodes against the budget.
func (d *decoder) resolve(n *yaml.Node, path string) (*yaml.Node, error) {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, d.errorf(n, path, "unknown alias *%s", n.Value)
		}
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxNodes {
		return nil, d.errorf(n, path, "document too large: more than %d values after expanding aliases", maxNodes)
	}
	return n, nil
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, loose bool, depth int) error {
	if depth > maxDepth {
		return d.errorf(n, path, "nested more than %d levels deep", maxDepth)
	}
	n, err := d.resolve(n, path)
	if err != nil {
		return err
	}
	if isNull(n) {
		v.SetZero()
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.decode(n, v.Elem(), path, loose, depth)
	case reflect.Interface:
		g, err := d.generic(n, path, depth)
		if err != nil {
			return err
		}
		if g != nil {
			v.Set(reflect.ValueOf(g))
		}
		return nil
	case reflect.Struct:
		return d.decodeStruct(n, v, path, loose, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errorf(n, path, "want a list, found %s", describe(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i), loose, depth+1); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.errorf(n, path, "want a mapping, found %s", describe(n))
		}
		pairs, err := d.pairs(n, path, depth)
		if err != nil {
			return err
		}
		m := reflect.MakeMapWithSize(v.Type(), len(pairs))
		for _, p := range pairs {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(p.val, ev, joinPath(path, p.key), loose, depth+1); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(p.key), ev)
		}
		v.Set(m)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return d.errorf(n, path, "want %s, found %s", kindName(v.Kind()), describe(n))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := parseBool(n.Value)
		if !ok {
			return d.errorf(n, path, "want true or false, found %s", describe(n))
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, v.Type().Bits())
		if err != nil {
			return d.errorf(n, path, "want a whole number, found %s", describe(n))
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(strings.TrimSpace(n.Value), 10, v.Type().Bits())
		if err != nil {
			return d.errorf(n, path, "want a non-negative whole number, found %s", describe(n))
		}
		v.SetUint(u)
	default:
		return d.errorf(n, path, "cannot decode into %s", v.Type())
	}
	return nil
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a number"
	}
	return k.String()
}

// parseBool accepts YAML 1.2's and YAML 1.1's spellings of booleans.
func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// generic decodes any YAML value into strings (exact text), []any and
// map[string]any; nulls become nil.
func (d *decoder) generic(n *yaml.Node, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf(n, path, "nested more than %d levels deep", maxDepth)
	}
	n, err := d.resolve(n, path)
	if err != nil {
		return nil, err
	}
	switch {
	case isNull(n):
		return nil, nil
	case n.Kind == yaml.ScalarNode:
		return n.Value, nil
	case n.Kind == yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			if out[i], err = d.generic(c, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case n.Kind == yaml.MappingNode:
		pairs, err := d.pairs(n, path, depth)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(pairs))
		for _, p := range pairs {
			if out[p.key], err = d.generic(p.val, joinPath(path, p.key), depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, d.errorf(n, path, "unexpected YAML node")
}

type pair struct {
	key      string
	keyNode  *yaml.Node
	val      *yaml.Node
	inMerged bool
}

// pairs returns a mapping's key/value pairs in order, with "<<" merge keys
// expanded (keys written in the mapping win over merged ones) and repeated
// keys rejected.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) ([]pair, error) {
	if len(n.Content)%2 != 0 {
		return nil, d.errorf(n, path, "malformed mapping")
	}
	var out []pair
	seen := map[string]int{}
	var merged []pair
	for i := 0; i < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		kn, err := d.resolve(kn, path)
		if err != nil {
			return nil, err
		}
		if kn.Kind != yaml.ScalarNode {
			return nil, d.errorf(kn, path, "a key must be text, found %s", describe(kn))
		}
		if kn.ShortTag() == "!!merge" {
			m, err := d.mergeSources(vn, path, depth)
			if err != nil {
				return nil, err
			}
			merged = append(merged, m...)
			continue
		}
		key := kn.Value
		if first, dup := seen[key]; dup {
			return nil, d.errorf(kn, joinPath(path, key), "key %q appears twice (first on line %d)", key, first)
		}
		seen[key] = kn.Line
		out = append(out, pair{key: key, keyNode: kn, val: vn})
	}
	for _, p := range merged {
		if _, ok := seen[p.key]; ok {
			continue
		}
		seen[p.key] = p.keyNode.Line
		p.inMerged = true
		out = append(out, p)
	}
	return out, nil
}

// mergeSources returns the pairs a "<<" key merges in: from one mapping or
// a list of mappings (earlier ones win).
func (d *decoder) mergeSources(vn *yaml.Node, path string, depth int) ([]pair, error) {
	if depth > maxDepth {
		return nil, d.errorf(vn, path, "nested more than %d levels deep", maxDepth)
	}
	vn, err := d.resolve(vn, path)
	if err != nil {
		return nil, err
	}
	var sources []*yaml.Node
	switch vn.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{vn}
	case yaml.SequenceNode:
		for _, c := range vn.Content {
			c, err := d.resolve(c, path)
			if err != nil {
				return nil, err
			}
			sources = append(sources, c)
		}
	}
	var out []pair
	have := map[string]bool{}
	for _, s := range sources {
		if s.Kind != yaml.MappingNode {
			return nil, d.errorf(s, path, "<< must merge a mapping or a list of mappings, found %s", describe(s))
		}
		ps, err := d.pairs(s, path, depth+1)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !have[p.key] {
				have[p.key] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// field is a struct field that a YAML key decodes into.
type field struct {
	index int
	loose bool
}

func structFields(t reflect.Type) (map[string]field, []string, int) {
	fields := map[string]field{}
	var names []string
	posIndex := -1
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type == posType {
			posIndex = i
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" || !f.IsExported() {
			continue
		}
		fields[name] = field{index: i, loose: opts == "loose"}
		names = append(names, name)
	}
	return fields, names, posIndex
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, loose bool, depth int) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "want a mapping, found %s", describe(n))
	}
	fields, names, posIndex := structFields(v.Type())
	pairs, err := d.pairs(n, path, depth)
	if err != nil {
		return err
	}
	pos := Pos{File: d.file, Line: n.Line, Path: path, keys: make(map[string]int, len(pairs))}
	for _, p := range pairs {
		f, ok := fields[p.key]
		if !ok {
			if loose {
				continue
			}
			return &Error{File: d.file, Line: p.keyNode.Line, Field: joinPath(path, p.key), Msg: unknownKey(p.key, path, names)}
		}
		pos.keys[p.key] = p.keyNode.Line
		fv := v.Field(f.index)
		if err := d.decode(p.val, fv, joinPath(path, p.key), loose || f.loose, depth+1); err != nil {
			return err
		}
		// Record where map entries and list items are, for errors about
		// values found valid here but wrong later.
		switch vn := p.val; {
		case fv.Kind() == reflect.Map && vn.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(vn.Content); i += 2 {
				pos.keys[p.key+"."+vn.Content[i].Value] = vn.Content[i].Line
			}
		case fv.Kind() == reflect.Slice && vn.Kind == yaml.SequenceNode:
			for i, c := range vn.Content {
				pos.keys[fmt.Sprintf("%s[%d]", p.key, i)] = c.Line
			}
		}
	}
	if posIndex >= 0 {
		v.Field(posIndex).Set(reflect.ValueOf(pos))
	}
	return nil
}

// unknownKey words the error for a key the schema does not have: the
// allowed keys close to it, or all of them when none is close.
func unknownKey(key, path string, allowed []string) string {
	where := path
	if where == "" {
		where = "the top level"
	}
	var close []string
	for _, a := range allowed {
		if similar(key, a) {
			close = append(close, a)
		}
	}
	if len(close) > 0 {
		return fmt.Sprintf("unknown key %q in %s; did you mean %s?", key, where, quoteList(close, " or "))
	}
	sorted := slices.Clone(allowed)
	slices.Sort(sorted)
	return fmt.Sprintf("unknown key %q in %s; allowed keys are %s", key, where, strings.Join(sorted, ", "))
}

func quoteList(l []string, sep string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, sep)
}

// similar reports whether a is a likely misspelling of b: a small edit
// distance, a different case or separator, or one a prefix of the other.
func similar(a, b string) bool {
	na := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(a))
	nb := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(b))
	if na == nb {
		return true
	}
	if len(na) >= 3 && len(nb) >= 3 && (strings.HasPrefix(na, nb) || strings.HasPrefix(nb, na)) {
		return true
	}
	limit := 1
	if len(b) >= 5 {
		limit = 2
	}
	if len(b) >= 12 {
		limit = 3
	}
	return editDistance(na, nb) <= limit
}

// editDistance is the Levenshtein distance, with adjacent transpositions
// counting as one edit.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Similar reports whether a and b are close enough that one is likely a
// misspelling of the other; error messages use it to suggest names.
func Similar(a, b string) bool { return similar(a, b) }
