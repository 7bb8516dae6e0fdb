package debimport

import (
	"errors"
	"strings"
	"testing"
)

func TestParseControl(t *testing.T) {
	p, err := ParseControl([]byte(testControl))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Package":        "demo",
		"package":        "demo", // names are case-insensitive
		"Version":        "1:1.0~rc1-2+deb12u3",
		"Depends":        "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any",
		"Description":    "demo package for tests\nA longer description\n.\nover several lines.",
		"Missing":        "",
		"Installed-Size": "12",
	} {
		if got := p.Get(name); got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
	if got := summary(p.Get("Description")); got != "demo package for tests" {
		t.Errorf("summary = %q", got)
	}
	if p.Fields[0].Line != 1 || p.Fields[2].Name != "Version" || p.Fields[2].Line != 3 {
		t.Errorf("fields: %+v", p.Fields[:3])
	}
}

func TestParseControlValid(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		field    string
		want     string
	}{
		{"blank lines around", "\n\nPackage: a\nVersion: 1\n\n\n", "Version", "1"},
		{"no final newline", "Package: a\nVersion: 1", "Version", "1"},
		{"CRLF", "Package: a\r\nVersion: 1\r\n", "Version", "1"},
		{"tab continuation", "Package: a\nVersion: 1\nDepends: b,\n\tc\n", "Depends", "b,\nc"},
		{"empty value", "Package: a\nVersion: 1\nHomepage:\n", "Homepage", ""},
		{"colon in value", "Package: a\nVersion: 1\nHomepage: https://x.org/\n", "Homepage", "https://x.org/"},
		{"value spacing", "Package:    a  \nVersion:1\n", "Package", "a"},
	} {
		p, err := ParseControl([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := p.Get(tc.field); got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, tc.field, got, tc.want)
		}
	}
}

func TestParseControlErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "", 1, "empty control file"},
		{"only blank", "\n\n", 1, "empty control file"},
		{"no colon", "Package: a\nVersion 1\n", 2, `"Version 1" is not a "Field: value" line`},
		{"continuation first", " Package: a\n", 1, "continuation line without a field"},
		{"duplicate", "Package: a\nVersion: 1\npackage: b\n", 3, "duplicate field package"},
		{"two paragraphs", "Package: a\nVersion: 1\n\nPackage: b\n", 4, "more than one paragraph"},
		{"missing version", "Package: a\n", 1, "required field Version"},
		{"empty package", "Package:\nVersion: 1\n", 1, "required field Package"},
		{"bad name", "Pack age: a\nVersion: 1\n", 1, `invalid field name "Pack age"`},
		{"dash name", "-Package: a\nVersion: 1\n", 1, "invalid field name"},
		{"comment", "#Package: a\nVersion: 1\n", 1, "invalid field name"},
		{"too big", "Package: a\nVersion: 1\nX: " + strings.Repeat("x", maxControlSize) + "\n", 1, "over the limit"},
	} {
		_, err := ParseControl([]byte(tc.in))
		var ce *ControlError
		if !errors.As(err, &ce) {
			t.Errorf("%s: error %v, want a *ControlError", tc.name, err)
			continue
		}
		if ce.Line != tc.line || !strings.Contains(ce.Msg, tc.msg) {
			t.Errorf("%s: error %q (line %d), want line %d and %q", tc.name, err, ce.Line, tc.line, tc.msg)
		}
	}
}
