package version

import "testing"

func FuzzCompare(f *testing.F) {
	for _, s := range [][2]string{
		{"1.0", "1.0.1"},
		{"1.0", "1.0bc"},
		{"1.05", "1.5"},
		{"8.2.0015", "8.2.002"},
		{"1.0_rc1", "1.0"},
		{"1.0-r1", "1.0_p1"},
		{"0.1.0_alpha_pre2", "0.1.0_alpha"},
		{"1.0~1234-r1", "1.0~2345-r0"},
		{"23_foo", "4_beta"},
		{"123456789012345678901234567890", "1"},
		{"", "a"},
		{"1.0a2", "1.0a3"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := Compare(a, b), Compare(b, a)
		if ab < -1 || ab > 1 {
			t.Fatalf("Compare(%q, %q) = %d, want -1, 0 or 1", a, b, ab)
		}
		if ab != -ba {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if r := Compare(a, a); r != 0 {
			t.Fatalf("Compare(%q, %q) = %d, want 0", a, a, r)
		}
		if r := CompareFuzzy(a, a); r != 0 {
			t.Fatalf("CompareFuzzy(%q, %q) = %d, want 0", a, a, r)
		}
		// A fuzzy comparison differs from a plain one only by reporting
		// a prefix match as equal.
		if r := CompareFuzzy(a, b); r != ab && r != 0 {
			t.Fatalf("CompareFuzzy(%q, %q) = %d, Compare = %d", a, b, r, ab)
		}
		// The validators must not panic either.
		Valid(a)
		validV2(a)
	})
}

func FuzzParseDep(f *testing.F) {
	for _, s := range []string{
		"musl", "!musl", "so:libc.so.6", "cmd:hello", "pc:zlib", "/bin/sh",
		"musl@edge>=1.2", "foo=1.0-r0", "foo<~1.2", "foo>~1.2", "foo=~1",
		"foo><Q1SX5rh3XKjSQWFPEuJS7ZImOTaXA=", "foo>=1.0a2", "foo=",
		"!", "@x", "foo@", "foo==1", "foo=1.0~abc-r1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDep(s)
		if err != nil {
			return
		}
		str := d.String()
		d2, err := ParseDep(str)
		if err != nil {
			t.Fatalf("ParseDep(%q) = %+v, but ParseDep(%q): %v", s, d, str, err)
		}
		if d2 != d {
			t.Fatalf("ParseDep(%q) = %+v, but ParseDep(%q) = %+v", s, d, str, d2)
		}
		if str2 := d2.String(); str2 != str {
			t.Fatalf("String not stable: %q then %q", str, str2)
		}
		d.MatchVersion(s)
	})
}
