package yamlstrict

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on what a YAML document may expand to, so that hostile input
// (alias bombs, absurd nesting) fails cleanly.
const (
	maxNodes = 1 << 18
	maxDepth = 200
)

// Options adapt Decode to a file format.
type Options struct {
	// File names the document in errors and in Pos values.
	File string

	// Loose ignores keys that are not fields of the struct they are
	// decoded into. A field tagged `yaml:"name,loose"` is decoded loosely
	// whatever Loose says.
	Loose bool

	// ResolveScalars decodes a scalar into a string, bool or number field
	// as yaml.v3 resolves it (Node.Decode): 0755 is octal, yes is true,
	// a quoted "1" is not a number. Without it a string receives the
	// scalar's exact text, booleans are YAML 1.1's true and false words,
	// and numbers are decimal.
	ResolveScalars bool

	// Lines, when not nil, receives the line of every value decoded, by
	// field path ("accounts.users[0].uid"): for a struct field the line
	// of its key, for a list item or map entry the line of its value.
	Lines map[string]int

	// UnknownKey, when not nil, words the error for key, which is not a
	// field of the struct at path; known are the struct's keys in the
	// order of its fields. By default the message names the known keys
	// that key is Similar to, or else all of them.
	UnknownKey func(key, path string, known []string) string

	// DuplicateKey, when not nil, words the error for key, written a
	// second time in a mapping; first is the line of the first. By
	// default the message names the key and that line.
	DuplicateKey func(key string, first int) string
}

// Decode decodes doc, a document node from yaml.Unmarshal or
// yaml.Decoder.Decode, into out, a pointer to a struct. Errors about the
// document are *Error values.
//
// A field is decoded from the key named by its yaml tag; exported fields
// without a tag, tagged "-", or of type Pos are not. An interface field
// receives strings (exact text), []any and map[string]any, and nil for a
// null.
func Decode(doc *yaml.Node, out any, opts Options) error {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("yamlstrict: Decode needs a non-nil pointer, not %T", out)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return &Error{File: opts.File, Line: doc.Line, Msg: "not a YAML document"}
	}
	d := &decoder{opts: opts}
	return d.decode(doc.Content[0], v.Elem(), "", opts.Loose, 0)
}

// decoder holds the state of one Decode call.
type decoder struct {
	opts  Options
	nodes int
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: d.opts.File, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "want X, found Y" errors.
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
	if d.opts.Lines != nil && path != "" {
		if _, ok := d.opts.Lines[path]; !ok {
			d.opts.Lines[path] = n.Line
		}
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
		if v.Type().Key().Kind() != reflect.String {
			return d.errorf(n, path, "cannot decode into %s", v.Type())
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
			m.SetMapIndex(reflect.ValueOf(p.key).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return nil
	}
	if d.opts.ResolveScalars {
		if n.Kind != yaml.ScalarNode || n.Decode(v.Addr().Interface()) != nil {
			return d.errorf(n, path, "want %s, found %s", resolvedKind(v.Type()), describe(n))
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return d.errorf(n, path, "want %s, found %s", exactKind(v.Kind()), describe(n))
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

// exactKind names the values a field of kind k takes without
// ResolveScalars.
func exactKind(k reflect.Kind) string {
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

// resolvedKind names the values a field of type t takes with
// ResolveScalars.
func resolvedKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a number from 0 to %d", uint64(1)<<(t.Bits())-1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	}
	return t.String()
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
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

// pairs returns a mapping's key/value pairs in order, with "<<" merge keys
// expanded (keys written in the mapping win over merged ones) and repeated
// keys rejected.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) ([]pair, error) {
	if len(n.Content)%2 != 0 {
		return nil, d.errorf(n, path, "malformed mapping")
	}
	var out, merged []pair
	seen := map[string]int{}
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
			msg := fmt.Sprintf("key %q appears twice (first on line %d)", key, first)
			if d.opts.DuplicateKey != nil {
				msg = d.opts.DuplicateKey(key, first)
			}
			return nil, d.errorf(kn, joinPath(path, key), "%s", msg)
		}
		seen[key] = kn.Line
		out = append(out, pair{key: key, keyNode: kn, val: vn})
	}
	for _, p := range merged {
		if _, ok := seen[p.key]; !ok {
			seen[p.key] = p.keyNode.Line
			out = append(out, p)
		}
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
	if vn.Kind == yaml.SequenceNode {
		for _, c := range vn.Content {
			c, err := d.resolve(c, path)
			if err != nil {
				return nil, err
			}
			sources = append(sources, c)
		}
	} else {
		sources = []*yaml.Node{vn}
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

var posType = reflect.TypeFor[Pos]()

// field is a struct field that a YAML key decodes into.
type field struct {
	index int
	loose bool
}

// structFields returns the fields of struct type t by key, the keys in
// the order of the fields, and the index of t's Pos field (or -1).
func structFields(t reflect.Type) (map[string]field, []string, int) {
	fields := map[string]field{}
	var keys []string
	posIndex := -1
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type == posType {
			posIndex = i
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" || !f.IsExported() {
			continue
		}
		fields[name] = field{index: i, loose: opts == "loose"}
		keys = append(keys, name)
	}
	return fields, keys, posIndex
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, loose bool, depth int) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "want a mapping, found %s", describe(n))
	}
	fields, keys, posIndex := structFields(v.Type())
	pairs, err := d.pairs(n, path, depth)
	if err != nil {
		return err
	}
	pos := Pos{File: d.opts.File, Line: n.Line, Path: path, keys: make(map[string]int, len(pairs))}
	for _, p := range pairs {
		fpath := joinPath(path, p.key)
		f, ok := fields[p.key]
		if !ok {
			if loose {
				continue
			}
			msg := unknownKey(p.key, path, keys)
			if d.opts.UnknownKey != nil {
				msg = d.opts.UnknownKey(p.key, path, keys)
			}
			return d.errorf(p.keyNode, fpath, "%s", msg)
		}
		pos.keys[p.key] = p.keyNode.Line
		if d.opts.Lines != nil {
			d.opts.Lines[fpath] = p.keyNode.Line
		}
		fv := v.Field(f.index)
		if err := d.decode(p.val, fv, fpath, loose || f.loose, depth+1); err != nil {
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
