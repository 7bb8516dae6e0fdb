package version

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{Less, "<"},
		{Less | Equal, "<="},
		{Less | Equal | Fuzzy, "<~"},
		{Equal, "="},
		{Equal | Fuzzy, "~"},
		{Fuzzy, "~"},
		{Greater | Equal, ">="},
		{Greater | Equal | Fuzzy, ">~"},
		{Greater, ">"},
		{Checksum, "><"},
		{Any, ""},
		{0, ""},
		{Less | Greater, "Op(5)"},
		{Checksum | Equal, "Op(18)"},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("Op(%d).String() = %q, want %q", uint8(tt.op), got, tt.want)
		}
	}
}

func TestParseDep(t *testing.T) {
	const q1 = "Q1SX5rh3XKjSQWFPEuJS7ZImOTaXA="
	tests := []struct {
		in   string
		want Dep
		str  string // canonical form; "" means in
	}{
		{"musl", Dep{Name: "musl", Op: Any}, ""},
		{"!musl", Dep{Name: "musl", Op: Any, Conflict: true}, ""},
		{"so:libc.so.6", Dep{Name: "so:libc.so.6", Op: Any}, ""},
		{"so:libc.musl-x86_64.so.1", Dep{Name: "so:libc.musl-x86_64.so.1", Op: Any}, ""},
		{"cmd:hello", Dep{Name: "cmd:hello", Op: Any}, ""},
		{"cmd:[", Dep{Name: "cmd:[", Op: Any}, ""},
		{"cmd:g++", Dep{Name: "cmd:g++", Op: Any}, ""},
		{"pc:zlib", Dep{Name: "pc:zlib", Op: Any}, ""},
		{"pc:gtk+-3.0>=3.24", Dep{Name: "pc:gtk+-3.0", Op: Greater | Equal, Version: "3.24"}, ""},
		{"/bin/sh", Dep{Name: "/bin/sh", Op: Any}, ""},
		{"py3.12:foo,bar[x]", Dep{Name: "py3.12:foo,bar[x]", Op: Any}, ""},
		{"Foo_Bar", Dep{Name: "Foo_Bar", Op: Any}, ""},
		{"musl@edge", Dep{Name: "musl", Tag: "edge", Op: Any}, ""},
		{"!musl@edge", Dep{Name: "musl", Tag: "edge", Op: Any, Conflict: true}, ""},
		{"musl@edge>=1.2", Dep{Name: "musl", Tag: "edge", Op: Greater | Equal, Version: "1.2"}, ""},
		{"musl=1.2.3-r0", Dep{Name: "musl", Op: Equal, Version: "1.2.3-r0"}, ""},
		{"musl<1.2", Dep{Name: "musl", Op: Less, Version: "1.2"}, ""},
		{"musl>1.2", Dep{Name: "musl", Op: Greater, Version: "1.2"}, ""},
		{"musl<=1.2", Dep{Name: "musl", Op: Less | Equal, Version: "1.2"}, ""},
		{"musl>=1.2", Dep{Name: "musl", Op: Greater | Equal, Version: "1.2"}, ""},
		{"musl~1.2", Dep{Name: "musl", Op: Equal | Fuzzy, Version: "1.2"}, ""},
		{"musl=~1.2", Dep{Name: "musl", Op: Equal | Fuzzy, Version: "1.2"}, "musl~1.2"},
		{"musl<~1.2", Dep{Name: "musl", Op: Less | Equal | Fuzzy, Version: "1.2"}, ""},
		{"musl>~1.2", Dep{Name: "musl", Op: Greater | Equal | Fuzzy, Version: "1.2"}, ""},
		{"!musl<1.2", Dep{Name: "musl", Op: Less, Version: "1.2", Conflict: true}, ""},
		{"musl><" + q1, Dep{Name: "musl", Op: Checksum, Version: q1}, ""},
		{"musl=1.0~abc123-r4", Dep{Name: "musl", Op: Equal, Version: "1.0~abc123-r4"}, ""},
		// Versions apk-tools 2 accepts but the strict grammar does not.
		{"foo>=1.0a2", Dep{Name: "foo", Op: Greater | Equal, Version: "1.0a2"}, ""},
		{"foo=1.0a2b3-r1", Dep{Name: "foo", Op: Equal, Version: "1.0a2b3-r1"}, ""},
		{"foo=1..2", Dep{Name: "foo", Op: Equal, Version: "1..2"}, ""},
	}
	for _, tt := range tests {
		got, err := ParseDep(tt.in)
		if err != nil {
			t.Errorf("ParseDep(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseDep(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if s := got.String(); s != str {
			t.Errorf("ParseDep(%q).String() = %q, want %q", tt.in, s, str)
		}
		again, err := ParseDep(got.String())
		if err != nil || again != got {
			t.Errorf("ParseDep(%q) = %+v, %v; want %+v (round trip)", got.String(), again, err, got)
		}
	}
}

func TestParseDepErrors(t *testing.T) {
	tests := []struct {
		in, why string
	}{
		{"", "empty dependency"},
		{"!", "empty name"},
		{"!!foo", `invalid character "!" in name`},
		{">=1.0", "empty name"},
		{"@edge", "empty name"},
		{"foo@", `empty tag`},
		{"foo@>1", `empty tag`},
		{"foo@ed!ge", `invalid character "!" in tag`},
		{"foo@a@b", `invalid character "@" in tag`},
		{"foo=", `missing version after "="`},
		{"foo>=", `missing version after ">="`},
		{"foo><", `missing version after "><"`},
		{"foo=<1", `unknown operator "=<"`},
		{"foo~=1", `unknown operator "~="`},
		{"foo==1", `unknown operator "=="`},
		{"foo<>1", `unknown operator "<>"`},
		{"foo>=<1", `unknown operator ">=<"`},
		{"foo=1.0-x", `invalid version "1.0-x"`},
		{"foo=1.0bc", `invalid version "1.0bc"`},
		{"foo=1.0_foo", `invalid version "1.0_foo"`},
		{"foo=1.0 ", `invalid version "1.0 "`},
		{"foo=1.0<2", `invalid version "1.0<2"`},
		{"foo><Q1abc$", `invalid character "$" in package identity`},
		{"fo$o", `invalid character "$" in name`},
		{"foo bar", `invalid character " " in name`},
		{"fóo", `invalid character "\xc3" in name`},
		{"foo\x00", `invalid character "\x00" in name`},
		{"foo#1", `invalid character "#" in name`},
	}
	for _, tt := range tests {
		d, err := ParseDep(tt.in)
		if err == nil {
			t.Errorf("ParseDep(%q) = %+v, want error %q", tt.in, d, tt.why)
			continue
		}
		if d != (Dep{}) {
			t.Errorf("ParseDep(%q) returned %+v with error, want zero Dep", tt.in, d)
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.why) {
			t.Errorf("ParseDep(%q) error %q does not mention %q", tt.in, msg, tt.why)
		}
		if tt.in != "" && !strings.Contains(msg, fmt.Sprintf("%q", tt.in)) {
			t.Errorf("ParseDep(%q) error %q does not quote the input", tt.in, msg)
		}
	}
}

func TestParseDeps(t *testing.T) {
	got, err := ParseDeps("  musl>=1.2\tso:libc.musl-x86_64.so.1\n\n!foo@edge  bar~2\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Dep{
		{Name: "musl", Op: Greater | Equal, Version: "1.2"},
		{Name: "so:libc.musl-x86_64.so.1", Op: Any},
		{Name: "foo", Tag: "edge", Op: Any, Conflict: true},
		{Name: "bar", Op: Equal | Fuzzy, Version: "2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDeps = %+v, want %+v", got, want)
	}

	for _, blank := range []string{"", " ", "\n\t \n"} {
		got, err := ParseDeps(blank)
		if err != nil || len(got) != 0 {
			t.Errorf("ParseDeps(%q) = %v, %v; want none", blank, got, err)
		}
	}

	_, err = ParseDeps("musl foo>= bar")
	if err == nil || !strings.Contains(err.Error(), `"foo>="`) {
		t.Errorf("ParseDeps with a bad entry: err = %v, want it to name \"foo>=\"", err)
	}
}

func TestDepString(t *testing.T) {
	tests := []struct {
		d    Dep
		want string
	}{
		{Dep{Name: "foo"}, "foo"},
		{Dep{Name: "foo", Version: "1.0"}, "foo"},
		{Dep{Name: "foo", Op: Any, Version: "1.0"}, "foo"},
		{Dep{Name: "foo", Tag: "t", Op: Less | Equal, Version: "1.0", Conflict: true}, "!foo@t<=1.0"},
		{Dep{Name: "foo", Op: Checksum, Version: "Q1abc="}, "foo><Q1abc="},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestMatchVersion(t *testing.T) {
	tests := []struct {
		dep  string
		v    string
		want bool
	}{
		{"foo", "1.0", true},
		{"foo", "", true},
		{"foo", "garbage", true},
		{"!foo", "1.0", true}, // Conflict is the caller's business

		{"foo=1.0", "1.0", true},
		{"foo=1.0", "1.0-r0", false},
		{"foo=1.0", "1.0.1", false},
		{"foo=1.0", "0.9", false},

		{"foo<1.0", "0.9", true},
		{"foo<1.0", "1.0_rc1", true},
		{"foo<1.0", "1.0", false},
		{"foo<1.0", "1.0-r1", false},

		{"foo<=1.0", "0.9", true},
		{"foo<=1.0", "1.0", true},
		{"foo<=1.0", "1.0-r1", false},

		{"foo>1.0", "1.0", false},
		{"foo>1.0", "1.0-r1", true},
		{"foo>1.0", "1.0_p1", true},
		{"foo>1.0", "1.0_rc1", false},

		{"foo>=1.0", "1.0", true},
		{"foo>=1.0", "2", true},
		{"foo>=1.0", "0.99", false},
		{"foo>=1.2.10", "1.2.9", false},
		{"foo>=1.2.10", "1.2.100000000000000000000", true},

		{"foo~3.6", "3.6", true},
		{"foo~3.6", "3.6.0", true},
		{"foo~3.6", "3.6.9", true},
		{"foo~3.6", "3.6_pre1", true},
		{"foo~3.6", "3.6-r5", true},
		{"foo~3.6", "3.60", false},
		{"foo~3.6", "3.7", false},
		{"foo~3.6", "3.5.9", false},
		{"foo~3.8.1", "3.8", false},
		{"foo=~3.6", "3.6.1", true},

		{"foo<~3.6", "3.5", true},
		{"foo<~3.6", "3.6.9", true},
		{"foo<~3.6", "3.7", false},
		{"foo>~3.6", "3.7", true},
		{"foo>~3.6", "3.6.1", true},
		{"foo>~3.6", "3.5", false},

		{"foo><Q1abc=", "1.0", false},
		{"foo><Q1abc=", "Q1abc=", false},
	}
	for _, tt := range tests {
		d, err := ParseDep(tt.dep)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.MatchVersion(tt.v); got != tt.want {
			t.Errorf("ParseDep(%q).MatchVersion(%q) = %v, want %v", tt.dep, tt.v, got, tt.want)
		}
	}

	// The zero Op matches everything, like Any.
	if !(Dep{Name: "foo", Version: "1.0"}).MatchVersion("2.0") {
		t.Error("Dep with zero Op does not match")
	}
	// A custom set: "not equal".
	ne := Dep{Name: "foo", Op: Less | Greater, Version: "1.0"}
	if ne.MatchVersion("1.0") || !ne.MatchVersion("1.1") || !ne.MatchVersion("0.9") {
		t.Error("Less|Greater does not mean \"not equal\"")
	}
}

func TestParseDepAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		d, _ := ParseDep("!so:libc.musl-x86_64.so.1@edge>=1.2.3_rc1-r0")
		d.MatchVersion("1.2.3-r0")
	})
	if allocs != 0 {
		t.Errorf("ParseDep+MatchVersion allocate %v times per run, want 0", allocs)
	}
}
