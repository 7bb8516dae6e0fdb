package sca

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// pcRequire is a module named in a pkg-config Requires field.
type pcRequire struct {
	field string // "Requires", "Requires.private" or "Requires.internal"
	name  string
}

// requireFields are the pkg-config fields whose modules become pc:
// depends. Field names are case-sensitive, as in pkg-config.
var requireFields = map[string]bool{
	"Requires": true, "Requires.private": true, "Requires.internal": true,
}

// pcFile adds the pc: entries of the pkg-config file open as fh: a provide
// (or vendored name) for the file itself and a depend per required
// module. The provide's version is the package version, as in melange.
func (s *scanner) pcFile(rel string, fh *os.File, f *findings) {
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		f.warn("%s: %v", rel, err)
		return
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxTextFile+1))
	if err != nil {
		f.warn("%s: %v", rel, err)
		return
	}
	if len(data) > maxTextFile {
		f.warn("%s: pkg-config file larger than %d bytes, ignored", rel, maxTextFile)
		return
	}
	reqs, warnings, err := parsePkgConfig(data)
	for _, w := range warnings {
		f.warn("%s: %s", rel, w)
	}
	if err != nil {
		f.warn("%s: %v", rel, err)
		return
	}
	name := strings.TrimSuffix(path.Base(rel), ".pc")
	provide := "pc:" + name + "=" + s.opts.Version
	if !inDir(rel, pkgconfigDirs) {
		f.add(kVendored, provide, "pkg-config file "+rel+" (not in a pkg-config directory)")
		return
	}
	f.add(kProvide, provide, "pkg-config file "+rel)
	for _, r := range reqs {
		f.add(kDepend, "pc:"+r.name, r.field+" of "+rel)
	}
}

// parsePkgConfig returns the modules that a pkg-config file requires. It
// follows pkg-config's syntax: "name=value" variables, "Field: value"
// fields, "#" comments ("\#" is a literal "#"), backslash-newline
// continuations and ${name} references ("$$" is a literal "$"). A module
// list is separated by commas and blanks; each module may be followed by
// a comparison ("foo >= 1.2", "foo>=1.2"), which is dropped. Undefined
// variables expand to nothing, with a warning.
func parsePkgConfig(data []byte) (reqs []pcRequire, warnings []string, err error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\\\n", "")
	vars := map[string]string{"pcfiledir": "", "pc_sysrootdir": "", "pc_top_builddir": ""}
	warned := map[string]bool{}
	undefined := func(name string) {
		if !warned[name] {
			warned[name] = true
			warnings = append(warnings, fmt.Sprintf("undefined variable %q", name))
		}
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(stripPCComment(line))
		i := 0
		for i < len(line) && isPCTagChar(line[i]) {
			i++
		}
		tag := line[:i]
		rest := strings.TrimLeft(line[i:], " \t")
		if tag == "" || rest == "" {
			continue
		}
		switch rest[0] {
		case '=':
			v, err := expandPC(strings.TrimSpace(rest[1:]), vars, undefined)
			if err != nil {
				return nil, warnings, err
			}
			vars[tag] = v
		case ':':
			if !requireFields[tag] {
				continue
			}
			v, err := expandPC(strings.TrimSpace(rest[1:]), vars, undefined)
			if err != nil {
				return nil, warnings, err
			}
			names, bad := parsePCModules(v)
			if bad {
				warnings = append(warnings, fmt.Sprintf("%s: comparison without module name in %q", tag, v))
			}
			for _, n := range names {
				reqs = append(reqs, pcRequire{field: tag, name: n})
			}
		}
	}
	return reqs, warnings, nil
}

func isPCTagChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.'
}

// stripPCComment removes a "#" comment from line and unescapes "\#".
func stripPCComment(line string) string {
	if !strings.Contains(line, "#") {
		return line
	}
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '#':
			b.WriteByte('#')
			i++
		case line[i] == '#':
			return b.String()
		default:
			b.WriteByte(line[i])
		}
	}
	return b.String()
}

// expandPC substitutes ${name} references in s.
func expandPC(s string, vars map[string]string, undefined func(string)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '$' && i+1 < len(s) {
			switch s[i+1] {
			case '$':
				b.WriteByte('$')
				i += 2
				continue
			case '{':
				if end := strings.IndexByte(s[i+2:], '}'); end >= 0 {
					name := s[i+2 : i+2+end]
					v, ok := vars[name]
					if !ok {
						undefined(name)
					}
					if b.Len()+len(v) > maxTextFile {
						return "", errors.New("variable expansion too large")
					}
					b.WriteString(v)
					i += end + 3
					continue
				}
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), nil
}

func isPCSep(c byte) bool { return c == ' ' || c == '\t' || c == ',' }
func isPCOp(c byte) bool  { return c == '<' || c == '>' || c == '=' || c == '!' }

// parsePCModules splits a Requires value into module names. bad reports a
// comparison that follows no module name.
func parsePCModules(s string) (names []string, bad bool) {
	i := 0
	for {
		for i < len(s) && isPCSep(s[i]) {
			i++
		}
		if i >= len(s) {
			return names, bad
		}
		start := i
		for i < len(s) && !isPCSep(s[i]) && !isPCOp(s[i]) {
			i++
		}
		name := s[start:i]
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && isPCOp(s[j]) {
			for j < len(s) && isPCOp(s[j]) {
				j++
			}
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			for j < len(s) && !isPCSep(s[j]) {
				j++
			}
			i = j
		}
		if name == "" {
			bad = true
			continue
		}
		names = append(names, name)
	}
}
