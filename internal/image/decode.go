package image

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxYAMLNodes bounds the nodes a document may expand to through aliases,
// so that a "billion laughs" file fails instead of exhausting memory.
const maxYAMLNodes = 100000

// decodeYAML decodes one YAML document into out (a pointer to a struct)
// strictly: every mapping key must name a field (by its yaml tag), no key
// may repeat, and every value must have the field's type. Errors are
// *ConfigError values with the line and the dotted field path. pos
// receives where each field's value is written.
//
// The decoder walks yaml.Node trees itself rather than using
// yaml.Decoder.KnownFields, so that an error names the field path and the
// file, not only a line.
func decodeYAML(data []byte, file string, out any, pos map[string]Pos) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return yamlSyntaxError(file, err)
	}
	if doc.Kind == 0 {
		return nil // empty file
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return &ConfigError{File: file, Line: doc.Line, Msg: "not a single YAML document"}
	}
	d := &decoder{file: file, pos: pos}
	return d.decode(doc.Content[0], reflect.ValueOf(out).Elem(), "")
}

// yamlSyntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into a
// *ConfigError.
func yamlSyntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return &ConfigError{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

type decoder struct {
	file  string
	pos   map[string]Pos
	nodes int
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) error {
	return &ConfigError{File: d.file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, field string) error {
	d.nodes++
	if d.nodes > maxYAMLNodes {
		return d.errorf(n, field, "document too large (more than %d nodes after expanding aliases)", maxYAMLNodes)
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return d.errorf(n, field, "unknown alias")
		}
		n = n.Alias
	}
	if field != "" {
		if _, ok := d.pos[field]; !ok {
			d.pos[field] = Pos{d.file, n.Line}
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
		return d.decode(n, v.Elem(), field)
	case reflect.Struct:
		return d.decodeStruct(n, v, field)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errorf(n, field, "want a list, found %s", kindName(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.errorf(n, field, "want a mapping, found %s", kindName(n))
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		err := d.eachPair(n, field, func(key string, kn, vn *yaml.Node) error {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(vn, ev, field+"."+key); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
			return nil
		})
		if err != nil {
			return err
		}
		v.Set(m)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return d.errorf(n, field, "want %s, found %s", scalarKind(v.Type()), kindName(n))
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		return d.errorf(n, field, "want %s, found %q", scalarKind(v.Type()), n.Value)
	}
	return nil
}

func scalarKind(t reflect.Type) string {
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

// eachPair calls fn for every key/value pair of the mapping n, with merge
// keys ("<<: *anchor") expanded and duplicate keys refused.
func (d *decoder) eachPair(n *yaml.Node, field string, fn func(key string, kn, vn *yaml.Node) error) error {
	seen := map[string]bool{}
	var walk func(n *yaml.Node, merged bool) error
	walk = func(n *yaml.Node, merged bool) error {
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			for kn.Kind == yaml.AliasNode && kn.Alias != nil {
				kn = kn.Alias
			}
			if kn.Kind != yaml.ScalarNode {
				return d.errorf(kn, field, "mapping keys must be strings, found %s", kindName(kn))
			}
			if kn.ShortTag() == "!!merge" {
				for vn.Kind == yaml.AliasNode && vn.Alias != nil {
					vn = vn.Alias
				}
				list := []*yaml.Node{vn}
				if vn.Kind == yaml.SequenceNode {
					list = vn.Content
				}
				for _, m := range list {
					for m.Kind == yaml.AliasNode && m.Alias != nil {
						m = m.Alias
					}
					if m.Kind != yaml.MappingNode {
						return d.errorf(m, field, "a merge key (<<) needs a mapping, found %s", kindName(m))
					}
					if err := walk(m, true); err != nil {
						return err
					}
				}
				continue
			}
			key := kn.Value
			if seen[key] {
				if merged {
					continue // keys written in the mapping itself win over merged ones
				}
				return d.errorf(kn, join(field, key), "defined twice in the same mapping")
			}
			seen[key] = true
			if err := fn(key, kn, vn); err != nil {
				return err
			}
		}
		return nil
	}
	// Keys written in the mapping itself take precedence over merged
	// keys, whatever their order: visit them first.
	var own, merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].ShortTag() == "!!merge" {
			merges = append(merges, n.Content[i], n.Content[i+1])
		} else {
			own = append(own, n.Content[i], n.Content[i+1])
		}
	}
	if err := walk(&yaml.Node{Kind: yaml.MappingNode, Content: own}, false); err != nil {
		return err
	}
	return walk(&yaml.Node{Kind: yaml.MappingNode, Content: merges}, true)
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// structFields maps yaml names to field indexes for a struct type.
func structFields(t reflect.Type) (map[string]int, []string) {
	m := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
		names = append(names, name)
	}
	slices.Sort(names)
	return m, names
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, field string) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, field, "want a mapping, found %s", kindName(n))
	}
	fields, names := structFields(v.Type())
	return d.eachPair(n, field, func(key string, kn, vn *yaml.Node) error {
		i, ok := fields[key]
		if !ok {
			msg := fmt.Sprintf("unknown field (known fields here: %s)", strings.Join(names, ", "))
			if s := suggest(key, names); s != "" {
				msg = fmt.Sprintf("unknown field; did you mean %q? (known fields here: %s)", s, strings.Join(names, ", "))
			}
			return d.errorf(kn, join(field, key), "%s", msg)
		}
		d.pos[join(field, key)] = Pos{d.file, kn.Line}
		return d.decode(vn, v.Field(i), join(field, key))
	})
}

// suggest returns the known name closest to key when it is a likely typo.
func suggest(key string, names []string) string {
	best, bestD := "", 3
	norm := func(s string) string { return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s)) }
	for _, n := range names {
		if norm(n) == norm(key) {
			return n
		}
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
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
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
