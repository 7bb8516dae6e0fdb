package yamlstrict

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type item struct {
	Name  string `yaml:"name"`
	Count uint32 `yaml:"count"`
	Pos   Pos    `yaml:"-"`
}

type notes struct {
	Text string `yaml:"text"`
}

// doc is a representative configuration: scalars of each kind, a
// pointer, lists, maps, nested structs, a generic value and a loose field.
type doc struct {
	Name    string            `yaml:"name"`
	Version string            `yaml:"version"`
	Enabled bool              `yaml:"enabled"`
	Level   int               `yaml:"level"`
	Size    *uint16           `yaml:"size"`
	Tags    []string          `yaml:"tags"`
	Env     map[string]string `yaml:"env"`
	Items   []item            `yaml:"items"`
	Extra   any               `yaml:"extra"`
	Notes   notes             `yaml:"notes,loose"`
	Pos     Pos               `yaml:"-"`
	hidden  string
}

func decodeString(data string, out any, opts Options) error {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(data), &n); err != nil {
		return SyntaxError(opts.File, err)
	}
	return Decode(&n, out, opts)
}

func TestDecodeErrors(t *testing.T) {
	callerWords := Options{
		File:           "t.yaml",
		ResolveScalars: true,
		UnknownKey: func(key, path string, known []string) string {
			return fmt.Sprintf("unknown field %q in %q (%d known)", key, path, len(known))
		},
		DuplicateKey: func(key string, first int) string { return "defined twice" },
	}
	deep := strings.Repeat("[", 250) + strings.Repeat("]", 250)
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 7; i++ {
		prev := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&bomb, "a%d: &a%d [%s]\n", i, i, strings.Repeat(prev+", ", 9)+prev)
	}
	bomb.WriteString("extra: *a6\n")
	for _, tc := range []struct {
		name, yaml string
		opts       Options
		want       string // the whole error, or its end
	}{
		{"unknown key, suggestion", "name: a\nverison: 1\n", Options{},
			`t.yaml:2: field verison: unknown key "verison" in the top level; did you mean "version"?`},
		{"unknown key in list item", "items:\n  - name: a\n  - count: 1\n    nmae: b\n", Options{},
			`t.yaml:4: field items[1].nmae: unknown key "nmae" in items[1]; did you mean "name"?`},
		{"unknown key, several suggestions", "names: x\n", Options{},
			`t.yaml:1: field names: unknown key "names" in the top level; did you mean "name" or "notes"?`},
		{"unknown key, no suggestion", "bogus: 1\n", Options{},
			`t.yaml:1: field bogus: unknown key "bogus" in the top level; allowed keys are enabled, env, extra, items, level, name, notes, size, tags, version`},
		{"unexported field", "hidden: x\n", Options{},
			`t.yaml:1: field hidden: unknown key "hidden" in the top level; allowed keys are enabled, env, extra, items, level, name, notes, size, tags, version`},
		{"unknown key, caller's wording", "items: [{nmae: b}]\n", callerWords,
			`t.yaml:1: field items[0].nmae: unknown field "nmae" in "items[0]" (2 known)`},
		{"unknown key merged in", "items:\n  - <<: {nmae: x}\n", Options{},
			`t.yaml:2: field items[0].nmae: unknown key "nmae" in items[0]; did you mean "name"?`},
		{"duplicate key", "name: a\ntags: []\nname: b\n", Options{},
			`t.yaml:3: field name: key "name" appears twice (first on line 1)`},
		{"duplicate key, caller's wording", "env:\n  A: 1\n  A: 2\n", callerWords,
			`t.yaml:3: field env.A: defined twice`},
		{"want a list", "tags: a\n", Options{}, `t.yaml:1: field tags: want a list, found "a"`},
		{"want a mapping", "env: [a]\n", Options{}, `t.yaml:1: field env: want a mapping, found a list`},
		{"want a mapping at the top", "- a\n", Options{}, `t.yaml:1: want a mapping, found a list`},
		{"want text", "name: {a: b}\n", Options{}, `t.yaml:1: field name: want text, found a mapping`},
		{"want a number", "level: [1]\n", Options{}, `t.yaml:1: field level: want a number, found a list`},
		{"want a whole number", "level: 1.5\n", Options{}, `t.yaml:1: field level: want a whole number, found "1.5"`},
		{"want non-negative", "size: -1\n", Options{}, `t.yaml:1: field size: want a non-negative whole number, found "-1"`},
		{"out of range", "size: 70000\n", Options{}, `t.yaml:1: field size: want a non-negative whole number, found "70000"`},
		{"want a bool", "enabled: maybe\n", Options{}, `t.yaml:1: field enabled: want true or false, found "maybe"`},
		{"long value cut", "tags: " + strings.Repeat("x", 50) + "\n", Options{},
			`t.yaml:1: field tags: want a list, found "` + strings.Repeat("x", 40) + `…"`},
		{"resolved: quoted number", "size: '1'\n", callerWords, `t.yaml:1: field size: want a number from 0 to 65535, found "1"`},
		{"resolved: range", "items: [{count: -1}]\n", callerWords, `t.yaml:1: field items[0].count: want a number from 0 to 4294967295, found "-1"`},
		{"resolved: string", "name: [a]\n", callerWords, `t.yaml:1: field name: want a string, found a list`},
		{"resolved: bool", "enabled: maybe\n", callerWords, `t.yaml:1: field enabled: want true or false, found "maybe"`},
		{"key not text", "env:\n  [a]: b\n", Options{}, `t.yaml:2: field env: a key must be text, found a list`},
		{"merge a scalar", "env:\n  <<: x\n", Options{}, `t.yaml:2: field env: << must merge a mapping or a list of mappings, found "x"`},
		{"merge a list of scalars", "env:\n  <<: [{a: b}, x]\n", Options{}, `t.yaml:2: field env: << must merge a mapping or a list of mappings, found "x"`},
		{"syntax", "tags: [a\n", Options{}, `t.yaml:1: invalid YAML: did not find expected ',' or ']'`},
		{"nested paths", "items:\n  - name: a\n    count: x\n", Options{}, `t.yaml:3: field items[0].count: want a non-negative whole number, found "x"`},
		{"generic path", "extra:\n  a: [x, {b: 1, b: 2}]\n", Options{}, `t.yaml:2: field extra.a[1].b: key "b" appears twice (first on line 2)`},
		{"too deep", "extra: " + deep + "\n", Options{}, `t.yaml:1: field extra` + strings.Repeat("[0]", 200) + `: nested more than 200 levels deep`},
		{"alias bomb", bomb.String(), Options{Loose: true}, `: document too large: more than 262144 values after expanding aliases`},
		{"recursive alias", "extra: &a [*a]\n", Options{}, `nested more than 200 levels deep`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.File == "" {
				tc.opts.File = "t.yaml"
			}
			var d doc
			err := decodeString(tc.yaml, &d, tc.opts)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			got := err.Error()
			if strings.HasPrefix(tc.want, "t.yaml") && got != tc.want || !strings.HasSuffix(got, tc.want) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	const data = `# a comment
name: n
version: 3.10
enabled: yes
level: -3
size: 0755
tags: [a, ~, "b"]
env:
  <<: [{A: a, B: b}, {B: no, C: c}]
  A: own
items:
  - &one
    name: x
    count: 1
  - <<: *one
    count: 2
extra: {k: [1, two, ~], n: ~}
notes: {text: t, ignored: 1}
`
	var d doc
	if err := decodeString(data, &d, Options{File: "t.yaml"}); err != nil {
		t.Fatal(err)
	}
	size := uint16(755)
	want := doc{
		Name: "n", Version: "3.10", Enabled: true, Level: -3, Size: &size,
		Tags:  []string{"a", "", "b"},
		Env:   map[string]string{"A": "own", "B": "b", "C": "c"},
		Items: []item{{Name: "x", Count: 1}, {Name: "x", Count: 2}},
		Extra: map[string]any{"k": []any{"1", "two", nil}, "n": nil},
		Notes: notes{Text: "t"},
	}
	p := d.Pos
	if p.File != "t.yaml" || p.Line != 2 || p.Path != "" {
		t.Errorf("top-level Pos = %+v", p)
	}
	for key, line := range map[string]int{"version": 3, "tags[2]": 7, "env.A": 10, "items[1]": 15, "items[1].name": 15, "nope": 2} {
		if got := p.KeyLine(key); got != line {
			t.Errorf("KeyLine(%q) = %d, want %d", key, got, line)
		}
	}
	if p := d.Items[1].Pos; p.Path != "items[1]" || p.KeyLine("count") != 16 || p.KeyLine("name") != 13 {
		t.Errorf("items[1] Pos = %+v", p)
	}
	if e := d.Items[1].Pos.Errorf("count", "too many"); e.Error() != "t.yaml:16: field items[1].count: too many" {
		t.Errorf("Errorf: %v", e)
	}
	d.Pos = Pos{}
	for i := range d.Items {
		d.Items[i].Pos = Pos{}
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
}

// TestMerge checks the precedence of merged keys: keys written in the
// mapping win, then earlier sources, each with its own keys before the
// ones it merges.
func TestMerge(t *testing.T) {
	var d doc
	data := "env:\n  <<: [{A: 1, <<: {A: 0, B: 0, C: 0}}, {B: 2, D: 2}]\n  D: own\n"
	if err := decodeString(data, &d, Options{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "0", "C": "0", "D": "own"}
	if !reflect.DeepEqual(d.Env, want) {
		t.Errorf("env = %v, want %v", d.Env, want)
	}
}

func TestNulls(t *testing.T) {
	size := uint16(1)
	d := doc{Name: "x", Size: &size, Tags: []string{"a"}, Env: map[string]string{"a": "b"}, Extra: 1}
	err := decodeString("name: ~\nsize: null\ntags:\nenv: ~\nextra: ~\nitems: [~]\n", &d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "" || d.Size != nil || d.Tags != nil || d.Env != nil || d.Extra != nil || len(d.Items) != 1 || d.Items[0].Name != "" {
		t.Errorf("nulls decoded to %+v", d)
	}
	// An empty document is a null: out is zeroed.
	d = doc{Name: "x"}
	if err := decodeString("---\n", &d, Options{}); err != nil || d.Name != "" {
		t.Errorf("empty document: %v, %+v", err, d)
	}
}

func TestResolveScalars(t *testing.T) {
	var d doc
	err := decodeString("version: 3.10\nenabled: y\nsize: 0o755\nlevel: 0x10\nextra: 0755\n", &d, Options{ResolveScalars: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != "3.10" || !d.Enabled || *d.Size != 0o755 || d.Level != 16 || d.Extra != "0755" {
		t.Errorf("got %+v (size %d)", d, *d.Size)
	}
}

func TestLoose(t *testing.T) {
	var d doc
	err := decodeString("name: a\nbogus: 1\nitems: [{x: 1, name: b}]\n", &d, Options{Loose: true})
	if err != nil || d.Name != "a" || d.Items[0].Name != "b" {
		t.Errorf("loose: %v, %+v", err, d)
	}
}

func TestLines(t *testing.T) {
	lines := map[string]int{}
	var d doc
	data := "name: a\ntags:\n  - x\n  - y\nenv:\n  A:\n    b\nitems:\n  - count:\n      1\n"
	if err := decodeString(data, &d, Options{Lines: lines}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"name": 1, "tags": 2, "tags[0]": 3, "tags[1]": 4, "env": 5, "env.A": 7, "items": 8, "items[0]": 9, "items[0].count": 9}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines = %v\nwant    %v", lines, want)
	}
}

func TestSyntaxError(t *testing.T) {
	for _, tc := range []struct{ err, want string }{
		{"yaml: line 3: mapping values are not allowed in this context", "f.yaml:3: invalid YAML: mapping values are not allowed in this context"},
		{"yaml: control characters are not allowed", "f.yaml: invalid YAML: control characters are not allowed"},
	} {
		if got := SyntaxError("f.yaml", errors.New(tc.err)).Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "f", Line: 2, Field: "a.b", Msg: "m"}, "f:2: field a.b: m"},
		{Error{File: "f", Msg: "m"}, "f: m"},
		{Error{Line: 2, Msg: "m"}, "line 2: m"},
		{Error{Field: "a", Msg: "m"}, "field a: m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestDecodeMisuse(t *testing.T) {
	var n yaml.Node
	yaml.Unmarshal([]byte("a: 1"), &n)
	if err := Decode(&n, doc{}, Options{}); err == nil {
		t.Error("Decode into a non-pointer succeeded")
	}
	var d doc
	if err := Decode(n.Content[0], &d, Options{}); err == nil || !strings.Contains(err.Error(), "not a YAML document") {
		t.Errorf("Decode of a mapping node: %v", err)
	}
	var m struct {
		M map[int]string `yaml:"m"`
	}
	if err := decodeString("m: {1: a}\n", &m, Options{}); err == nil || !strings.Contains(err.Error(), "cannot decode into map[int]string") {
		t.Errorf("map[int]string: %v", err)
	}
}

func TestSimilar(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"verison", "version", true}, {"run", "runs", true}, {"working_directory", "working-directory", true},
		{"WITH", "with", true}, {"repos", "repositories", true}, {"entrypiont", "entrypoint", true},
		{"bogus", "epoch", false}, {"x", "if", false}, {"usr", "uid", false},
		{strings.Repeat("a", 70), strings.Repeat("a", 69) + "b", false},
	} {
		if got := Similar(tc.a, tc.b); got != tc.want {
			t.Errorf("Similar(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("name: n\nversion: 3.10\nenabled: yes\nsize: 0755\ntags: [a, ~]\nenv: {<<: {A: a}, B: b}\nitems: [{name: x, count: 1}]\nextra: {k: [1, ~]}\nnotes: {x: 1}\n"), false, false)
	f.Add([]byte("items:\n  - &i {name: x}\n  - <<: [*i, {count: 2}]\n"), true, false)
	f.Add([]byte("extra: &a [*a]\n"), false, true)
	f.Add([]byte("a0: &a [x, x]\na1: &b [*a, *a]\nextra: [*b, *b]\n"), false, true)
	f.Add([]byte("name: a\nname: b\n[x]: 1\n<<: 5\n"), true, true)
	f.Fuzz(func(t *testing.T, data []byte, resolve, loose bool) {
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			if SyntaxError("f.yaml", err) == nil {
				t.Fatal("no syntax error")
			}
			return
		}
		if n.Kind == 0 {
			return
		}
		var d doc
		err := Decode(&n, &d, Options{File: "f.yaml", ResolveScalars: resolve, Loose: loose, Lines: map[string]int{}})
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.File != "f.yaml") {
			t.Fatalf("error %v (%T) is not an *Error about f.yaml", err, err)
		}
	})
}
