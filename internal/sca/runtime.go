package sca

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
)

var rubyAPIVersion = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`) })

// runtimeDirs records, during the walk, the directories that call for a
// language runtime or documentation tool:
//
//   - a directory pythonX.Y/site-packages (anywhere; the last one in walk
//     order wins) → python-X.Y-base;
//   - a directory [usr/]lib/ruby/gems/X.Y.Z/gems → ruby-X.Y;
//   - an entry [usr/]lib/perlN/*_perl → perl~N;
//   - in a "-doc" package, entries directly in usr/share/man → man-db and
//     in usr/share/info → texinfo.
func (s *scanner) runtimeDirs(rel string, mode fs.FileMode) {
	parts := strings.Split(rel, "/")
	n := len(parts)
	base := parts[n-1]
	if mode.IsDir() && n >= 2 && base == "site-packages" {
		if v, ok := strings.CutPrefix(parts[n-2], "python"); ok && v != "" {
			s.pythonVer = v
		}
	}
	if mode.IsDir() && base == "gems" {
		switch {
		case n == 6 && parts[0] == "usr" && parts[1] == "lib" && parts[2] == "ruby" && parts[3] == "gems" && rubyAPIVersion().MatchString(parts[4]):
			if s.rubyUsr == "" {
				s.rubyUsr = parts[4]
			}
		case n == 5 && parts[0] == "lib" && parts[1] == "ruby" && parts[2] == "gems" && rubyAPIVersion().MatchString(parts[3]):
			if s.rubyLib == "" {
				s.rubyLib = parts[3]
			}
		}
	}
	if strings.HasSuffix(base, "_perl") {
		switch {
		case n == 4 && parts[0] == "usr" && parts[1] == "lib" && isPerlDir(parts[2]):
			if s.perlUsr == "" {
				s.perlUsr = parts[2][len("perl"):]
			}
		case n == 3 && parts[0] == "lib" && isPerlDir(parts[1]):
			if s.perlLib == "" {
				s.perlLib = parts[1][len("perl"):]
			}
		}
	}
	if strings.HasSuffix(s.opts.Name, "-doc") {
		switch path.Dir(rel) {
		case "usr/share/man":
			if s.manWhy == "" {
				s.manWhy = rel
			}
		case "usr/share/info":
			if s.infoWhy == "" {
				s.infoWhy = rel
			}
		}
	}
}

// isPerlDir matches melange's glob "perl[0-9]*".
func isPerlDir(s string) bool {
	return len(s) > len("perl") && strings.HasPrefix(s, "perl") && s[4] >= '0' && s[4] <= '9'
}

// runtimeFindings turns what runtimeDirs recorded into depends, skipping a
// runtime the package already declares a dependency on (as melange: any
// python* name; ruby or ruby-*; perl).
func (s *scanner) runtimeFindings() []finding {
	var out []finding
	declared := func(match func(string) bool) bool { return slices.ContainsFunc(s.opts.Declared, match) }
	if s.pythonVer != "" && !declared(func(d string) bool { return strings.HasPrefix(d, "python") }) {
		out = append(out, finding{kDepend, "python-" + s.pythonVer + "-base", "python" + s.pythonVer + "/site-packages directory"})
	}
	ruby := s.rubyUsr
	if ruby == "" {
		ruby = s.rubyLib
	}
	if ruby != "" && !declared(func(d string) bool { return d == "ruby" || strings.HasPrefix(d, "ruby-") }) {
		ver := ruby[:strings.LastIndexByte(ruby, '.')]
		out = append(out, finding{kDepend, "ruby-" + ver, "ruby/gems/" + ruby + "/gems directory"})
	}
	perl := s.perlUsr
	if perl == "" {
		perl = s.perlLib
	}
	if perl != "" && !slices.Contains(s.opts.Declared, "perl") {
		out = append(out, finding{kDepend, "perl~" + perl, "perl" + perl + " module directory"})
	}
	if s.manWhy != "" {
		out = append(out, finding{kDepend, "man-db", "man pages in a -doc package (" + s.manWhy + ")"})
	}
	if s.infoWhy != "" {
		out = append(out, finding{kDepend, "texinfo", "info pages in a -doc package (" + s.infoWhy + ")"})
	}
	return out
}
