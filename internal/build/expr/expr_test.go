package expr

import (
	"errors"
	"strings"
	"testing"
)

var vars = map[string]string{
	"package.name":    "hello",
	"package.version": "2.10",
	"vars.empty":      "",
	"range.key":       "64",
	"build.arch":      "x86_64",
	"inputs.q":        `it's "quoted"`,
}

func TestSubst(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		undef    []string
		syntax   bool
	}{
		{in: "", want: ""},
		{in: "plain text", want: "plain text"},
		{in: "${{package.name}}", want: "hello"},
		{in: "${{ package.name }}", want: "hello"},
		{in: "${{\tpackage.name\t}}", want: "hello"},
		{in: "${{package.name}}-${{package.version}}.tar.gz", want: "hello-2.10.tar.gz"},
		{in: "a${{vars.empty}}b", want: "ab"},
		{in: "shell ${VAR} and $VAR and ${{package.name}}", want: "shell ${VAR} and $VAR and hello"},
		{in: "$${{package.name}}", want: "$hello"},
		{in: "${{package.name}}}", want: "hello}"},
		{in: "${{nope}}", undef: []string{"nope"}},
		{in: "${{nope}} ${{also.nope}} ${{nope}}", undef: []string{"nope", "also.nope"}},
		{in: "${{", syntax: true},
		{in: "${{}}", syntax: true},
		{in: "${{ }}", syntax: true},
		{in: "${{package.name", syntax: true},
		{in: "${{package name}}", syntax: true},
		{in: `${{range.key == "64" && "x" || ""}}`, syntax: true},
	} {
		got, err := Subst(tc.in, MapLookup(vars))
		var ue *UndefinedError
		var se *SyntaxError
		switch {
		case tc.undef != nil:
			if !errors.As(err, &ue) {
				t.Errorf("Subst(%q) = %q, %v; want undefined %v", tc.in, got, err, tc.undef)
				continue
			}
			if len(ue.Names) != len(tc.undef) {
				t.Errorf("Subst(%q) undefined %v, want %v", tc.in, ue.Names, tc.undef)
			}
			for i := range ue.Names {
				if ue.Names[i] != tc.undef[i] {
					t.Errorf("Subst(%q) undefined %v, want %v", tc.in, ue.Names, tc.undef)
				}
			}
		case tc.syntax:
			if !errors.As(err, &se) {
				t.Errorf("Subst(%q) = %q, %v; want a syntax error", tc.in, got, err)
			}
		case err != nil || got != tc.want:
			t.Errorf("Subst(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSubstOffset(t *testing.T) {
	_, err := Subst("line1\nline2 ${{x}}", MapLookup(vars))
	var ue *UndefinedError
	if !errors.As(err, &ue) || ue.Offset != 12 {
		t.Fatalf("err = %#v, want offset 12", err)
	}
	if got := ue.Error(); got != "undefined variable ${{x}}" {
		t.Errorf("message %q", got)
	}
}

func TestReplace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"${{package.name}}", "hello"},
		{"${{ package.name }}", "${{ package.name }}"}, // blanks: left for the second pass
		{"${{unknown}}-${{package.version}}", "${{unknown}}-2.10"},
		{"${{", "${{"},
		{"${{${{package.name}}}}", "${{hello}}"},
		{"a ${{package.name", "a ${{package.name"},
		{`"${{range.key}}" == ""`, `"64" == ""`},
	} {
		if got, err := Replace(tc.in, MapLookup(vars)); err != nil || got != tc.want {
			t.Errorf("Replace(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRefs(t *testing.T) {
	refs, err := Refs("a ${{x}} b ${{ y.z }}")
	if err != nil || len(refs) != 2 || refs[0].Name != "x" || refs[1].Name != "y.z" || refs[1].Start != 11 || refs[1].End != 21 {
		t.Fatalf("Refs = %+v, %v", refs, err)
	}
}

func TestEval(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		err  bool
	}{
		// Every form the Wolfi corpus uses.
		{in: `${{build.arch}} == 'aarch64'`, want: false},
		{in: `${{build.arch}} == 'x86_64'`, want: true},
		{in: `${{build.arch}} == "aarch64"`, want: false},
		{in: `${{build.arch}} != 'aarch64'`, want: true},
		{in: `${{build.arch}} == "x86_64"`, want: true},
		{in: `"${{range.key}}" == ""`, want: false},
		{in: `${{build.arch}} != 'x86_64' && ${{build.arch}} != 'x86' && ${{build.arch}} != 'mips64'`, want: false},
		{in: `"${{range.key}}" == "64"`, want: true},
		{in: `${{build.arch}} != 'x86_64'`, want: false},
		// Operators, precedence and grouping.
		{in: `'a' == 'a' || 'a' == 'b' && 'c' == 'd'`, want: true},
		{in: `('a' == 'a' || 'a' == 'b') && 'c' == 'd'`, want: false},
		{in: `(('a' == 'a'))`, want: true},
		{in: `'a' != 'a' || 'b' == 'b'`, want: true},
		{in: "  'a'=='a'  ", want: true},
		{in: "'a' == 'a' &&\n 'b' == 'b'", want: true},
		// Quoting.
		{in: `'it\'s' == "it's"`, want: true},
		{in: `"a\"b" == 'a"b'`, want: true},
		{in: `'\n' == "\n"`, want: true},
		{in: `'\x' == "\\x"`, want: true},
		{in: `${{inputs.q}} == 'it\'s "quoted"'`, want: true},
		{in: `${{ build.arch }} == 'x86_64'`, want: true},
		{in: `'${{package.name}}-${{package.version}}' == 'hello-2.10'`, want: true},
		// Errors.
		{in: ``, err: true},
		{in: `'a'`, err: true},
		{in: `'a' =`, err: true},
		{in: `'a' == `, err: true},
		{in: `'a' == 'b' &&`, err: true},
		{in: `('a' == 'a'`, err: true},
		{in: `'a' == 'a')`, err: true},
		{in: `'a == 'a'`, err: true},
		{in: `x86_64 == 'x86_64'`, err: true},
		{in: `${{nope}} == ''`, err: true},
		{in: `'${{nope}}' == ''`, err: true},
		{in: `'a' === 'a'`, err: true},
	} {
		got, err := Eval(tc.in, MapLookup(vars))
		if tc.err {
			if err == nil {
				t.Errorf("Eval(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Eval(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestEvalDepth(t *testing.T) {
	deep := ""
	for range 200 {
		deep += "("
	}
	if _, err := Eval(deep+"'a'=='a'", MapLookup(nil)); err == nil {
		t.Fatal("deep nesting accepted")
	}
}

func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"", "${{package.name}}", "${{ a }}${{b", "x ${{}} y", "${{${{package.version}}}}", "$${{{{}}}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Subst(s, MapLookup(vars))
		if err == nil {
			refs, rerr := Refs(s)
			if rerr != nil {
				t.Fatalf("Subst accepted %q but Refs failed: %v", s, rerr)
			}
			for _, r := range refs {
				if _, ok := vars[r.Name]; !ok {
					t.Fatalf("Subst(%q) = %q without error, but %q is undefined", s, out, r.Name)
				}
			}
		}
		// The exact pass never fails and is the identity without
		// variables.
		if got, err := Replace(s, MapLookup(nil)); err != nil || got != s {
			t.Fatalf("Replace(%q, nothing) = %q, %v", s, got, err)
		}
		if _, err := Replace(s, MapLookup(vars)); err != nil {
			t.Fatalf("Replace(%q): %v", s, err)
		}
	})
}

func FuzzCondition(f *testing.F) {
	for _, s := range []string{`${{build.arch}} == 'x86_64'`, `('a'=='b' || "c" != 'd') && ${{range.key}} == "64"`, `'\'' == "'"`, `((`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v1, err1 := Eval(s, MapLookup(vars))
		v2, err2 := Eval(s, MapLookup(vars))
		if v1 != v2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("Eval(%q) is not deterministic", s)
		}
	})
}

func TestTooLong(t *testing.T) {
	big := MapLookup(map[string]string{"big": strings.Repeat("x", 1<<20)})
	many := strings.Repeat("${{big}}", 17)
	if _, err := Subst(many, big); !errors.Is(err, ErrTooLong) {
		t.Errorf("Subst: %v", err)
	}
	if _, err := Replace(many, big); !errors.Is(err, ErrTooLong) {
		t.Errorf("Replace: %v", err)
	}
}

func TestLinear(t *testing.T) {
	// Unclosed and unknown references must not make the passes
	// quadratic.
	s := strings.Repeat("${{a", 1<<16) + "}}"
	if out, err := Replace(s, MapLookup(vars)); err != nil || out != s {
		t.Errorf("Replace changed the text: %v", err)
	}
	if _, err := Subst(strings.Repeat("${{x}}", 1<<16), MapLookup(vars)); err == nil {
		t.Error("Subst accepted undefined names")
	}
}
