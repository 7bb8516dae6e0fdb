// Package version implements apk-tools version strings and dependency
// constraints: validation, comparison (exactly as apk-tools does, see
// shared/reference/apk-format.md §5) and the dependency grammar
// "[!]name[@tag][op version]".
//
// A version has the form
//
//	digits{.digits}…[a-z]?{_suffix[digits]}…[~hex][-rdigits]
//
// for example "1.2.3", "2.5.1a-r1", "1.0_rc2", "6.0_p1-r3" or
// "1.0~1a2b3c-r0". Versions are compared token by token with the rules of
// apk-tools 3 (src/version.c); the result agrees with apk-tools 2 on every
// vector in apk-tools' test/version.data.
package version

import "strings"

// tokenKind is the type of a version token. The order matters: when two
// versions disagree on the type of a token, the one whose token ranks lower
// is the greater version (see compare).
type tokenKind uint8

const (
	tokInitialDigit tokenKind = iota // the leading number
	tokDigit                         // ".N"
	tokLetter                        // a single [a-z] after a number
	tokSuffix                        // "_alpha", "_p", ...
	tokSuffixNo                      // the number after a suffix
	tokCommitHash                    // "~hex"
	tokRevision                      // "-rN"
	tokEnd                           // end of string
	tokInvalid                       // anything the grammar does not allow
)

// Suffix ranks. Anything below sufNone is a pre-release suffix.
const (
	sufInvalid uint8 = iota
	sufAlpha
	sufBeta
	sufPre
	sufRC
	sufNone
	sufCVS
	sufSVN
	sufGit
	sufHg
	sufP
)

// suffixRank returns the rank of a suffix name, or sufInvalid.
func suffixRank(s string) uint8 {
	switch s {
	case "alpha":
		return sufAlpha
	case "beta":
		return sufBeta
	case "pre":
		return sufPre
	case "rc":
		return sufRC
	case "cvs":
		return sufCVS
	case "svn":
		return sufSVN
	case "git":
		return sufGit
	case "hg":
		return sufHg
	case "p":
		return sufP
	}
	return sufInvalid
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isHex(c byte) bool   { return isDigit(c) || 'a' <= c && c <= 'f' }

// tokenizer walks a version string one token at a time. It lives on the
// stack of its caller and never allocates: token values are substrings of
// the input.
type tokenizer struct {
	s      string
	pos    int
	val    string // the token's text: digits, letter or hash (not the separator)
	kind   tokenKind
	suffix uint8 // suffix rank when kind == tokSuffix
}

// first positions t on the first token of s, which must be a number.
func (t *tokenizer) first(s string) {
	t.s = s
	t.pos = 0
	t.kind = tokInitialDigit
	t.digits()
}

// digits reads a run of decimal digits as the value of the current token;
// an empty run makes the token invalid.
func (t *tokenizer) digits() {
	start := t.pos
	for t.pos < len(t.s) && isDigit(t.s[t.pos]) {
		t.pos++
	}
	t.val = t.s[start:t.pos]
	if start == t.pos {
		t.kind = tokInvalid
	}
}

// next advances t to the next token. The first byte decides the token
// type; a type that may not follow the current one yields tokInvalid.
func (t *tokenizer) next() {
	if t.pos >= len(t.s) {
		t.kind = tokEnd
		return
	}
	c := t.s[t.pos]
	switch {
	case isLower(c):
		if t.kind > tokDigit {
			t.kind = tokInvalid
			return
		}
		t.val = t.s[t.pos : t.pos+1]
		t.kind = tokLetter
		t.pos++
	case c == '.' || isDigit(c):
		if c == '.' {
			if t.kind > tokDigit {
				t.kind = tokInvalid
				return
			}
			t.pos++
		}
		switch t.kind {
		case tokInitialDigit, tokDigit:
			t.kind = tokDigit
		case tokSuffix:
			t.kind = tokSuffixNo
		default:
			t.kind = tokInvalid
			return
		}
		t.digits()
	case c == '_':
		if t.kind > tokSuffixNo {
			t.kind = tokInvalid
			return
		}
		t.pos++
		start := t.pos
		for t.pos < len(t.s) && isLower(t.s[t.pos]) {
			t.pos++
		}
		t.val = t.s[start:t.pos]
		t.suffix = suffixRank(t.val)
		if t.suffix == sufInvalid {
			t.kind = tokInvalid
			return
		}
		t.kind = tokSuffix
	case c == '~':
		if t.kind >= tokCommitHash {
			t.kind = tokInvalid
			return
		}
		t.pos++
		start := t.pos
		for t.pos < len(t.s) && isHex(t.s[t.pos]) {
			t.pos++
		}
		t.val = t.s[start:t.pos]
		if t.val == "" {
			t.kind = tokInvalid
			return
		}
		t.kind = tokCommitHash
	case c == '-':
		if t.kind >= tokRevision || t.pos+1 >= len(t.s) || t.s[t.pos+1] != 'r' {
			t.kind = tokInvalid
			return
		}
		t.pos += 2
		t.kind = tokRevision
		t.digits()
	default:
		t.kind = tokInvalid
	}
}

// compareNumbers compares two non-empty runs of decimal digits by numeric
// value, at any length.
func compareNumbers(a, b string) int {
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

// compareTokens compares two tokens of the same kind.
func compareTokens(a, b *tokenizer) int {
	switch a.kind {
	case tokDigit:
		// A ".N" component with a leading zero on either side is compared
		// as a byte string (Gentoo rules): 1.05 < 1.5, 8.2.0015 < 8.2.002.
		if a.val[0] == '0' || b.val[0] == '0' {
			return strings.Compare(a.val, b.val)
		}
		return compareNumbers(a.val, b.val)
	case tokInitialDigit, tokSuffixNo, tokRevision:
		return compareNumbers(a.val, b.val)
	case tokSuffix:
		switch {
		case a.suffix < b.suffix:
			return -1
		case a.suffix > b.suffix:
			return 1
		}
		return 0
	default: // tokLetter, tokCommitHash
		return strings.Compare(a.val, b.val)
	}
}

// compare implements Compare and CompareFuzzy.
func compare(a, b string, fuzzy bool) int {
	if a == b {
		return 0
	}
	var ta, tb tokenizer
	ta.first(a)
	tb.first(b)
	for ta.kind == tb.kind && ta.kind < tokEnd {
		if r := compareTokens(&ta, &tb); r != 0 {
			return r
		}
		ta.next()
		tb.next()
	}
	// Both ended, or both turned invalid at the same point.
	if ta.kind == tb.kind {
		return 0
	}
	if fuzzy && tb.kind == tokEnd {
		return 0
	}
	// All tokens so far were equal; the longer version is greater unless
	// it continues with a pre-release suffix.
	if ta.kind == tokSuffix && ta.suffix < sufNone {
		return -1
	}
	if tb.kind == tokSuffix && tb.suffix < sufNone {
		return 1
	}
	if ta.kind > tb.kind {
		return -1
	}
	return 1
}

// Compare compares two version strings as apk-tools does and returns -1 if
// a < b, 0 if a and b are equal and +1 if a > b.
//
// Numbers compare by value, except that a ".N" component with a leading
// zero on either side compares as a byte string, so 1.05 < 1.5 and
// 8.2.0015 < 8.2.002. Suffixes rank alpha < beta < pre < rc < (none) < cvs
// < svn < git < hg < p. When one version has more tokens than the other,
// the longer one is greater unless the extra token is a pre-release suffix:
// 1.0 < 1.0.1, 1.0 < 1.0a, 1.0_rc1 < 1.0, 1.0-r1 < 1.0_p1.
//
// Compare accepts any string, valid or not (see Valid), and orders invalid
// versions as apk-tools does: tokens are compared up to the first one that
// breaks the grammar in either version, and a broken token ranks after the
// end of a version. So 1.0 < 1.0bc (the "b" still counts) and "1.0bc" and
// "1.0bd" compare equal.
//
// Compare(a, a) == 0 and Compare(a, b) == -Compare(b, a) for all a and b.
// Compare does not allocate.
//
// apk-tools reads numbers into 64-bit integers; Compare compares them at any
// length, which makes a difference only for numbers of 20 or more digits.
func Compare(a, b string) int {
	return compare(a, b, false)
}

// CompareFuzzy is like Compare, but reports 0 when b is a token-wise prefix
// of a. It implements the "~" operator: a is the candidate version and b
// the version from the constraint, so CompareFuzzy("3.6.9", "3.6") == 0
// and CompareFuzzy("3.6_pre1", "3.6") == 0, while
// CompareFuzzy("3.6", "3.6.9") == -1. Unlike Compare it is not
// antisymmetric.
func CompareFuzzy(a, b string) int {
	return compare(a, b, true)
}

// Valid reports whether s is a well-formed version under the strict
// apk-tools 3 grammar
//
//	digits{.digits}…[a-z]?{_suffix[digits]}…[~hex][-rdigits]
//
// where suffix is one of alpha, beta, pre, rc, cvs, svn, git, hg or p and
// hex is lower-case. The empty string is not valid. Looser forms that
// apk-tools 2 accepted, such as "1.0a2", are not valid; ParseDep still
// accepts them in dependencies.
func Valid(s string) bool {
	var t tokenizer
	for t.first(s); t.kind < tokEnd; t.next() {
	}
	return t.kind == tokEnd
}
