package version

import "strings"

// Token states of the apk-tools 2 validator, in its order.
const (
	v2DigitOrZero = iota // after "."; leading zeros are special
	v2Digit
	v2Letter
	v2Suffix
	v2SuffixNo
	v2Revision
)

// validV2 reports whether apk-tools 2 (apk_version_validate) accepts s.
//
// The v2 validator is looser than Valid: it accepts a letter followed by
// more digits ("1.0a2", "1.0a2b3"), a leading letter ("a1"), empty
// components ("1..2", "1."), repeated revisions ("1-r1-r2"), a suffix that
// merely starts with a known suffix name when digits follow it, and the
// empty string. It rejects upper-case letters, "~hash" and any other
// character. ParseDep uses it (with the empty string excluded) so that
// dependencies apk-tools 2 accepts in real indexes still parse.
func validV2(s string) bool {
	t := v2Digit
	i := 0
	for {
		if i >= len(s) {
			return true
		}
		// Consume the value of the current token.
		switch t {
		case v2DigitOrZero:
			if s[i] == '0' {
				for i < len(s) && s[i] == '0' {
					i++
				}
				// The zeros form their own token; digits (possibly
				// none) follow as a plain number.
				t = v2Digit
				continue
			}
			for i < len(s) && isDigit(s[i]) {
				i++
			}
		case v2Digit, v2SuffixNo, v2Revision:
			for i < len(s) && isDigit(s[i]) {
				i++
			}
		case v2Letter:
			i++
		case v2Suffix:
			n := v2SuffixLen(s[i:])
			if n == 0 {
				return false
			}
			i += n
		}
		if i >= len(s) {
			return true
		}
		// Decide the type of the next token from the next byte.
		c := s[i]
		var n int
		switch {
		case (t == v2Digit || t == v2DigitOrZero) && isLower(c):
			n = v2Letter
		case t == v2Letter && isDigit(c):
			n = v2Digit
		case t == v2Suffix && isDigit(c):
			n = v2SuffixNo
		default:
			switch {
			case c == '.':
				n = v2DigitOrZero
			case c == '_':
				n = v2Suffix
			case c == '-' && i+1 < len(s) && s[i+1] == 'r':
				n = v2Revision
				i++
			default:
				return false
			}
			i++
		}
		if n < t && !(n == v2DigitOrZero && t == v2Digit ||
			n == v2Suffix && t == v2SuffixNo ||
			n == v2Digit && t == v2Letter) {
			return false
		}
		t = n
	}
}

// v2SuffixLen returns the length of the known suffix name that s starts
// with, trying the pre-release names first as apk-tools 2 does, or 0.
func v2SuffixLen(s string) int {
	for _, suf := range [...]string{"alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"} {
		if strings.HasPrefix(s, suf) {
			return len(suf)
		}
	}
	return 0
}
