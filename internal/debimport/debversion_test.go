package debimport

import (
	"strings"
	"testing"
)

// debCompare compares two Debian versions as Debian policy §5.6.12
// defines: epochs numerically, then upstream versions and revisions by
// alternating non-digit parts (compared with "~" before everything, even
// the end, and letters before other characters) and digit parts (compared
// numerically). It is the oracle the ordering tests check MapVersion
// against.
func debCompare(a, b string) int {
	ea, ua, ra := splitDebVersion(a)
	eb, ub, rb := splitDebVersion(b)
	if c := compareDigits(ea, eb); c != 0 {
		return c
	}
	if c := debCompareFragment(ua, ub); c != 0 {
		return c
	}
	return debCompareFragment(ra, rb)
}

func splitDebVersion(v string) (epoch, upstream, revision string) {
	epoch = "0"
	if e, rest, ok := strings.Cut(v, ":"); ok {
		epoch, v = e, rest
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// debOrder is the weight of a character in a non-digit part.
func debOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case c == '~':
		return -1
	case isLetter(c):
		return int(c)
	}
	return int(c) + 256
}

func debCompareFragment(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			oa, ob := debOrder(a, i), debOrder(b, j)
			if i < len(a) && isDigit(a[i]) {
				oa = 0
			}
			if j < len(b) && isDigit(b[j]) {
				ob = 0
			}
			if oa != ob {
				if oa < ob {
					return -1
				}
				return 1
			}
			if i < len(a) && !isDigit(a[i]) {
				i++
			}
			if j < len(b) && !isDigit(b[j]) {
				j++
			}
		}
		si := i
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := compareDigits(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	return 0
}

// compareDigits compares two digit strings numerically; "" is 0.
func compareDigits(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func TestDebCompare(t *testing.T) {
	// The oracle itself, on the examples of Debian policy and dpkg's tests.
	ordered := []string{
		"1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0.1",
	}
	for i := 0; i+1 < len(ordered); i++ {
		if c := debCompare(ordered[i], ordered[i+1]); c >= 0 {
			t.Errorf("debCompare(%q, %q) = %d, want < 0", ordered[i], ordered[i+1], c)
		}
		if c := debCompare(ordered[i+1], ordered[i]); c <= 0 {
			t.Errorf("debCompare(%q, %q) = %d, want > 0", ordered[i+1], ordered[i], c)
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1:1.0", "2.0", 1},
		{"1.0-1", "1.0-1", 0},
		{"1.0-9+deb12u10", "1.0-10", -1},
		{"1.0-9+deb12u10", "1.0-9+deb12u9", 1},
		{"1.0-1~deb12u1", "1.0-1", -1},
		{"1.05", "1.5", 0},
		{"1.0", "1.0-0", 0},
		{"2.36-9", "2.36", 1},
	} {
		if got := debCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("debCompare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
