package debimport

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reef-dev/reef/internal/version"
)

// maxDigits bounds one number of a mapped version. Longer digit runs in
// suffixes are cut to this length; a longer release component is an error.
const maxDigits = 18

// maxVersionLen bounds the Debian version strings MapVersion accepts.
const maxVersionLen = 256

// MapVersion maps a Debian version, "[epoch:]upstream[-revision]", to an
// apk version (shared/reference/apk-format.md §5) that keeps Debian's
// ordering wherever the apk grammar can express it. The rules, with
// examples, are documented in docs/debimport.md; in short:
//
//   - The epoch is dropped: "1:1.2.13.dfsg-1" → "1.2.13-r1".
//   - The leading "digits{.digits}" of the upstream version is kept, and
//     one letter right after it too ("1.1.1w", "2026b"); "p" followed by
//     digits becomes "_pN" ("9.2p1" → "9.2_p1").
//   - Every later part becomes an apk suffix: "~" parts are pre-releases,
//     "~rc1" → "_rc1", "~beta2"/"~b2" → "_beta2", "~alpha"/"~a" →
//     "_alpha", a bare "~" → "_alpha" (the lowest), anything else after
//     "~" → "_pre" with its first number; parts after "+", "." or "-"
//     sort after the release in Debian and become "_gitN", "_svnN",
//     "_hgN", "_cvsN" for those words and "_pN" otherwise, where N is the
//     part's first number ("+deb12u3" → "_p3"). Repack markers (dfsg, ds,
//     repack) and git hashes are dropped; "+really…" becomes "_p" and
//     ends the version.
//   - A binNMU's "+bN" is dropped: a rebuild keeps its source's version.
//   - The leading number of the Debian revision becomes "-rN"; the rest
//     of the revision becomes suffixes by the same rules, except that a
//     "~" part ends it ("~debNNuM" still becomes "_pM"):
//     "7.88.1-10+deb12u14" → "7.88.1_p14-r10", "3.0.18-1~deb12u1" →
//     "3.0.18_p1-r1", "1.2-1~bpo12+1" → "1.2-r1". A version without a
//     revision gets no "-r".
//
// Some Debian orderings cannot be expressed (epochs; revision suffixes
// sort above later revision numbers); docs/debimport.md lists them.
//
// MapVersion returns an error for strings that are not Debian versions
// (empty, bad characters, an epoch that is not a number, an upstream part
// that does not start with a digit) and for release numbers longer than 18
// digits. The result is checked with version.Valid.
func MapVersion(deb string) (string, error) {
	v, err := mapVersion(deb)
	if err != nil {
		return "", fmt.Errorf("version %q: %w", deb, err)
	}
	return v, nil
}

func mapVersion(deb string) (string, error) {
	if deb == "" {
		return "", errors.New("empty")
	}
	if len(deb) > maxVersionLen {
		return "", fmt.Errorf("longer than %d bytes", maxVersionLen)
	}
	if strings.TrimSpace(deb) != deb {
		return "", errors.New("leading or trailing white space")
	}
	rest := deb
	if epoch, after, ok := strings.Cut(rest, ":"); ok {
		if epoch == "" || !allDigits(epoch) {
			return "", fmt.Errorf("epoch %q is not a number", epoch)
		}
		rest = after
	}
	upstream, revision := rest, ""
	hasRevision := false
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		upstream, revision, hasRevision = rest[:i], rest[i+1:], true
		if revision == "" {
			return "", errors.New("empty Debian revision after \"-\"")
		}
	}
	if upstream == "" {
		return "", errors.New("empty upstream version")
	}
	// A binNMU (a rebuild of unchanged source, "+bN" at the end of the
	// version) maps to the version of its source.
	if hasRevision {
		revision = stripBinNMU(revision)
	} else {
		upstream = stripBinNMU(upstream)
	}
	for i := 0; i < len(upstream); i++ {
		c := upstream[i]
		if !isAlnum(c) && !strings.ContainsRune(".+~-:", rune(c)) {
			return "", fmt.Errorf("upstream version %q: character %q is not allowed in Debian versions", upstream, c)
		}
	}
	for i := 0; i < len(revision); i++ {
		c := revision[i]
		if !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return "", fmt.Errorf("Debian revision %q: character %q is not allowed", revision, c)
		}
	}
	if !isDigit(upstream[0]) {
		return "", fmt.Errorf("upstream version %q does not start with a digit, which apk versions must", upstream)
	}

	var b strings.Builder
	// Release: digits{.digits}.
	i := 0
	for {
		j := i
		for j < len(upstream) && isDigit(upstream[j]) {
			j++
		}
		if j-i > maxDigits {
			return "", fmt.Errorf("release number %q has more than %d digits", upstream[i:j], maxDigits)
		}
		b.WriteString(upstream[i:j])
		i = j
		if i+1 < len(upstream) && upstream[i] == '.' && isDigit(upstream[i+1]) {
			b.WriteByte('.')
			i++
			continue
		}
		break
	}
	// One letter right after the release, unless a word starts there.
	if i < len(upstream) && isLetter(upstream[i]) && (i+1 == len(upstream) || !isLetter(upstream[i+1])) {
		c := lower(upstream[i])
		i++
		if c == 'p' && i < len(upstream) && isDigit(upstream[i]) {
			// "9.2p1": OpenSSH-style patch level, as Alpine writes it.
			j := i
			for j < len(upstream) && isDigit(upstream[j]) {
				j++
			}
			b.WriteString("_p" + suffixNumber(upstream[i:j]))
			i = j
		} else {
			b.WriteByte(c)
		}
	}
	appendSuffixes(&b, upstream[i:], false)
	if hasRevision {
		j := 0
		for j < len(revision) && isDigit(revision[j]) {
			j++
		}
		r := strings.TrimLeft(revision[:j], "0")
		if r == "" {
			r = "0"
		}
		if len(r) > maxDigits {
			return "", fmt.Errorf("Debian revision %q: number has more than %d digits", revision, maxDigits)
		}
		appendSuffixes(&b, revision[j:], true)
		b.WriteString("-r" + r)
	}
	out := b.String()
	if !version.Valid(out) {
		// Not expected: the construction above follows the grammar.
		return "", fmt.Errorf("maps to %q, which is not a valid apk version", out)
	}
	return out, nil
}

// appendSuffixes maps the part of a Debian version after the release (or
// after the revision number) to apk suffixes, as MapVersion documents.
//
// In a revision (inRevision set) a "~" part ends the mapping, except for
// the stable-update marker "~debNNuM", which becomes "_pM": any suffix
// there would sort below the upstream version (a pre-release) or above
// every later revision (a post-release).
func appendSuffixes(b *strings.Builder, s string, inRevision bool) {
	i := 0
	for i < len(s) {
		// A part: an optional separator, a word, a number.
		sep := byte(0)
		if !isAlnum(s[i]) {
			sep = s[i]
			i++
		}
		// The whole alphanumeric run, to recognise hashes and "debNNuM".
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		run := strings.ToLower(s[i:j])
		if sep != 0 && isHash(run) {
			i = j
			continue
		}
		if n, ok := stableUpdate(run); ok {
			i = j
			if sep == '~' && !inRevision {
				b.WriteString("_pre" + n)
			} else {
				b.WriteString("_p" + n)
			}
			continue
		}
		if sep == '~' && inRevision {
			// "1.2-3~bpo12+1", "1.2-0~eo": below revision 3 (0) in
			// Debian. A suffix here would sort above every later
			// revision, so the rest of the revision is dropped.
			return
		}
		k := i
		for k < j && isLetter(s[k]) {
			k++
		}
		word := strings.ToLower(s[i:k])
		m := k
		for m < j && isDigit(s[m]) {
			m++
		}
		num := suffixNumber(s[k:m])
		i = m
		if sep == '~' && word == "" && num == "" {
			// A bare "~" sorts before everything that starts the same
			// way: "2.37~" is below every 2.37 pre-release.
			b.WriteString("_alpha")
			continue
		}
		if sep == '~' {
			b.WriteString("_" + preRelease(word) + num)
			continue
		}
		switch word {
		case "":
			// "+1", ".1", and an empty part such as the "+" of
			// "1.0+~cs2" or a trailing "." ("<< 2.4.0."), which Debian
			// sorts after the version without it.
			b.WriteString("_p" + num)
		case "dfsg", "ds", "repack":
			// Repack markers carry no version information.
		case "really":
			// "2.0+really1.9": the version claims 1.9 but must sort
			// after 2.0; keep that order and drop the claim.
			b.WriteString("_p")
			return
		case "git", "svn", "hg", "cvs":
			b.WriteString("_" + word + num)
		default:
			b.WriteString("_p" + num)
		}
	}
}

// stripBinNMU removes a trailing "+bN" from s, unless that leaves nothing.
func stripBinNMU(s string) string {
	i := strings.LastIndex(s, "+b")
	if i > 0 && allDigits(s[i+2:]) {
		return s[:i]
	}
	return s
}

// preRelease names the apk pre-release suffix for a word after "~".
func preRelease(word string) string {
	switch word {
	case "alpha", "a":
		return "alpha"
	case "beta", "b":
		return "beta"
	case "rc", "cr":
		return "rc"
	}
	return "pre"
}

// stableUpdate recognises Debian's stable-update marker "debNNuM" (as in
// "+deb12u3" or "~deb12u1") and returns M.
func stableUpdate(run string) (string, bool) {
	rest, ok := strings.CutPrefix(run, "deb")
	if !ok {
		return "", false
	}
	release, update, ok := strings.Cut(rest, "u")
	if !ok || release == "" || update == "" || !allDigits(release) || !allDigits(update) {
		return "", false
	}
	return suffixNumber(update), true
}

// isHash reports whether an alphanumeric run looks like an abbreviated
// commit hash: at least 7 lowercase hex digits mixing letters and digits.
func isHash(run string) bool {
	if len(run) < 7 {
		return false
	}
	letters, digits := false, false
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case isDigit(c):
			digits = true
		case 'a' <= c && c <= 'f':
			letters = true
		default:
			return false
		}
	}
	return letters && digits
}

// suffixNumber normalises the number of a suffix: leading zeros removed,
// at most maxDigits digits kept. An empty string stays empty.
func suffixNumber(d string) string {
	if d == "" {
		return ""
	}
	d = strings.TrimLeft(d, "0")
	if d == "" {
		return "0"
	}
	if len(d) > maxDigits {
		d = d[:maxDigits]
	}
	return d
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
