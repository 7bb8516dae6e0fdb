package debimport

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reef-dev/reef/internal/apk"
)

// debArches maps Debian architecture names to apk ones.
var debArches = map[string]string{
	"all":      "noarch",
	"amd64":    "x86_64",
	"arm64":    "aarch64",
	"i386":     "x86",
	"armhf":    "armv7",
	"ppc64el":  "ppc64le",
	"s390x":    "s390x",
	"riscv64":  "riscv64",
	"loong64":  "loongarch64",
	"mips64el": "mips64el",
}

// MapArch maps a Debian architecture to an apk one: amd64 → x86_64, arm64
// → aarch64, i386 → x86, armhf → armv7, ppc64el → ppc64le, s390x, riscv64,
// loong64 → loongarch64, mips64el, and all → noarch. Other architectures
// (armel, for one, which has no apk counterpart) are an error.
func MapArch(debArch string) (string, error) {
	if a, ok := debArches[debArch]; ok {
		return a, nil
	}
	return "", fmt.Errorf("architecture %q %w", debArch, errUnknownArch)
}

var errUnknownArch = errors.New("has no apk equivalent (supported: amd64, arm64, i386, armhf, ppc64el, s390x, riscv64, loong64, mips64el, all)")

// relation is one alternative of a Debian relationship field:
// "name[:arch] [(op version)] [[arch …]] [<profile …>]".
type relation struct {
	name    string
	op      string // Debian operator: "", "<<", "<=", "=", ">=", ">>" (and the obsolete "<", ">")
	version string
	archs   []string // architecture restriction, "!" marks negation
}

// parseRelation parses one alternative.
func parseRelation(s string) (relation, error) {
	var r relation
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && !strings.ContainsRune(" \t\n([<:", rune(s[i])) {
		i++
	}
	r.name = s[:i]
	if r.name == "" {
		return r, fmt.Errorf("missing package name in %q", clip(s, 80))
	}
	if !apk.ValidName(r.name) {
		return r, fmt.Errorf("invalid package name %q", clip(r.name, 80))
	}
	if i < len(s) && s[i] == ':' {
		// Architecture qualifier (":any", ":native", ":amd64"): apk has
		// no multi-arch, so the name alone is meant.
		j := i + 1
		for j < len(s) && (isAlnum(s[j]) || s[j] == '-') {
			j++
		}
		if j == i+1 {
			return r, fmt.Errorf("empty architecture qualifier in %q", clip(s, 80))
		}
		i = j
	}
	rest := strings.TrimSpace(s[i:])
	if strings.HasPrefix(rest, "(") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return r, fmt.Errorf("unclosed \"(\" in %q", clip(s, 80))
		}
		inner := strings.TrimSpace(rest[1:end])
		rest = strings.TrimSpace(rest[end+1:])
		j := 0
		for j < len(inner) && strings.ContainsRune("<>=", rune(inner[j])) {
			j++
		}
		r.op, r.version = inner[:j], strings.TrimSpace(inner[j:])
		switch r.op {
		case "<<", "<=", "=", ">=", ">>", "<", ">":
		case "":
			return r, fmt.Errorf("missing or invalid version relation in %q (want <<, <=, =, >= or >>)", clip(s, 80))
		default:
			return r, fmt.Errorf("invalid version relation %q in %q (want <<, <=, =, >= or >>)", r.op, clip(s, 80))
		}
		if r.version == "" {
			return r, fmt.Errorf("missing version in %q", clip(s, 80))
		}
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, fmt.Errorf("unclosed \"[\" in %q", clip(s, 80))
		}
		r.archs = strings.Fields(rest[1:end])
		if len(r.archs) == 0 {
			return r, fmt.Errorf("empty architecture list in %q", clip(s, 80))
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	// Build-profile restrictions ("<!nocheck>") belong to source packages;
	// they do not restrict a binary package's relations.
	for strings.HasPrefix(rest, "<") {
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return r, fmt.Errorf("unclosed \"<\" in %q", clip(s, 80))
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	if rest != "" {
		return r, fmt.Errorf("unexpected %q in %q", clip(rest, 40), clip(s, 80))
	}
	return r, nil
}

// appliesTo reports whether r's architecture restriction includes debArch.
// Terms are architecture names or wildcards ("any", "linux-any",
// "any-amd64"); a list of "!"-terms excludes instead.
func (r relation) appliesTo(debArch string) bool {
	if len(r.archs) == 0 {
		return true
	}
	negated := strings.HasPrefix(r.archs[0], "!")
	for _, a := range r.archs {
		a = strings.TrimPrefix(a, "!")
		if a == debArch || a == "any" || a == "linux-any" || a == "any-"+debArch {
			return !negated
		}
	}
	return negated
}

// apkOps maps Debian relation operators to apk ones. The obsolete "<" and
// ">" mean "<=" and ">=" in Debian.
var apkOps = map[string]string{
	"":   "",
	"<<": "<",
	"<=": "<=",
	"<":  "<=",
	"=":  "=",
	">=": ">=",
	">":  ">=",
	">>": ">",
}

// apkDep renders r as an apk dependency. A version that does not map is
// dropped with a warning, leaving the bare name, which is the more
// permissive constraint.
func (r relation) apkDep() (dep, warning string) {
	if r.op == "" {
		return r.name, ""
	}
	v, err := MapVersion(r.version)
	if err != nil {
		return r.name, fmt.Sprintf("%s (%s %s): %v; depending on any version", r.name, r.op, r.version, err)
	}
	return r.name + apkOps[r.op] + v, ""
}

// MapDepends maps a Debian relationship field such as Depends or
// Pre-Depends to apk dependencies, for a package of Debian architecture
// debArch:
//
//   - entries are separated by commas; of "a | b" alternatives the first
//     whose architecture restriction ("[amd64]", "[!i386]") includes
//     debArch is taken, and an entry with none is dropped;
//   - ":any" and other architecture qualifiers are removed;
//   - "(>= v)" becomes ">=v'" with v' = MapVersion(v); likewise "<=" and
//     "=", while ">>" becomes ">" and "<<" becomes "<";
//   - a version that MapVersion rejects is dropped (the bare name remains)
//     and reported in warnings;
//   - virtual packages stay plain names, and duplicates are removed.
//
// A syntax error (a bad name or operator, unbalanced brackets) is an error.
func MapDepends(field, debArch string) (deps, warnings []string, err error) {
	seen := map[string]bool{}
	for _, entry := range splitList(field) {
		var chosen *relation
		for _, alt := range strings.Split(entry, "|") {
			r, err := parseRelation(alt)
			if err != nil {
				return nil, nil, err
			}
			if chosen == nil && r.appliesTo(debArch) {
				chosen = &r
			}
		}
		if chosen == nil {
			continue
		}
		d, w := chosen.apkDep()
		if w != "" {
			warnings = append(warnings, w)
		}
		if !seen[d] {
			seen[d] = true
			deps = append(deps, d)
		}
	}
	return deps, warnings, nil
}

// MapProvides maps a Debian Provides field to apk provides: "name" stays a
// virtual name, "name (= v)" becomes "name=v'" with v' = MapVersion(v). A
// version that does not map leaves the bare name and a warning. Other
// operators, alternatives and architecture restrictions are errors, as in
// Debian.
func MapProvides(field string) (provides, warnings []string, err error) {
	seen := map[string]bool{}
	for _, entry := range splitList(field) {
		if strings.Contains(entry, "|") {
			return nil, nil, fmt.Errorf("alternatives are not allowed in Provides: %q", clip(entry, 80))
		}
		r, err := parseRelation(entry)
		if err != nil {
			return nil, nil, err
		}
		if r.op != "" && r.op != "=" {
			return nil, nil, fmt.Errorf("Provides allows only \"=\" versions: %q", clip(entry, 80))
		}
		if len(r.archs) > 0 {
			return nil, nil, fmt.Errorf("architecture restrictions are not allowed in Provides: %q", clip(entry, 80))
		}
		d, w := r.apkDep()
		if w != "" {
			warnings = append(warnings, w)
		}
		if !seen[d] {
			seen[d] = true
			provides = append(provides, d)
		}
	}
	return provides, warnings, nil
}

// splitList splits a comma-separated field, dropping empty entries (a
// trailing comma is common in hand-written control files).
func splitList(field string) []string {
	var out []string
	for _, e := range strings.Split(field, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
