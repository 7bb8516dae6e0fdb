package build

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/build/expr"
)

// maxExpand bounds how deeply variable values that themselves hold
// references are expanded.
const maxExpand = 8

// archInfo describes an apk architecture for the build.* and *.triplet.*
// variables. The GNU and Rust triplets follow apko's, with the libc
// flavour spliced in where "%s" is.
type archInfo struct {
	goarch string
	gnu    string
	rust   string
}

var archs = map[string]archInfo{
	"x86":         {"386", "i486-pc-linux-%s", "i686-unknown-linux-%s"},
	"x86_64":      {"amd64", "x86_64-pc-linux-%s", "x86_64-unknown-linux-%s"},
	"aarch64":     {"arm64", "aarch64-unknown-linux-%s", "aarch64-unknown-linux-%s"},
	"armhf":       {"arm", "arm-unknown-linux-%seabihf", "armv6-unknown-linux-%seabihf"},
	"armv7":       {"arm", "armv7l-unknown-linux-%seabihf", "armv7-unknown-linux-%seabihf"},
	"ppc64le":     {"ppc64le", "powerpc64le-unknown-linux-%s", "powerpc64le-unknown-linux-%s"},
	"s390x":       {"s390x", "s390x-ibm-linux-%s", "s390x-unknown-linux-%s"},
	"riscv64":     {"riscv64", "riscv64-unknown-linux-%s", "riscv64-unknown-linux-%s"},
	"loongarch64": {"loong64", "loongarch64-unknown-linux-%s", "loongarch64-unknown-linux-%s"},
}

// scope resolves ${{…}} names while compiling: the fixed variables of a
// package context and the inputs of the pipeline being expanded.
type scope struct {
	vars map[string]string
	// inputs are the visible inputs.* by input name: the current
	// pipeline's declared inputs over those inherited from the pipelines
	// that use it.
	inputs map[string]string
	// pipeline is the uses: name whose inputs these are, for messages.
	pipeline string

	// expanded memoizes values whose references were expanded;
	// expanding marks those being expanded, to catch cycles.
	expanded  map[string]string
	expanding map[string]bool
}

func (s *scope) get(name string) (string, bool) {
	if in, ok := strings.CutPrefix(name, "inputs."); ok {
		v, ok := s.inputs[in]
		return v, ok
	}
	v, ok := s.vars[name]
	return v, ok
}

// lookup returns an expr.Lookup that expands references inside values
// (a var-transform's replacement may hold ${{host.triplet.gnu}}, for
// instance). Expanded values are memoized, so that values referring to
// each other many times cost linear work; a value that refers back to
// itself is an error. Errors met while expanding a value are stored in
// *errp.
func (s *scope) lookup(depth int, errp *error) expr.Lookup {
	return func(name string) (string, bool) {
		v, ok := s.get(name)
		if !ok || !strings.Contains(v, "${{") || *errp != nil {
			return v, ok
		}
		if x, done := s.expanded[name]; done {
			return x, true
		}
		if depth >= maxExpand || s.expanding[name] {
			*errp = fmt.Errorf("the value of ${{%s}} refers to itself, or nests references more than %d deep", name, maxExpand)
			return "", true
		}
		if s.expanding == nil {
			s.expanding = map[string]bool{}
			s.expanded = map[string]string{}
		}
		s.expanding[name] = true
		defer delete(s.expanding, name)
		var inner error
		x, err := expr.Subst(v, s.lookup(depth+1, &inner))
		if err == nil {
			err = inner
		}
		if err != nil {
			*errp = fmt.Errorf("in the value of ${{%s}}: %w", name, err)
			return "", true
		}
		s.expanded[name] = x
		return x, true
	}
}

// subst runs the second substitution pass over text.
func (s *scope) subst(text string) (string, error) {
	var inner error
	out, err := expr.Subst(text, s.lookup(0, &inner))
	if err == nil {
		err = inner
	}
	if err != nil {
		return "", s.explain(text, err)
	}
	return out, nil
}

// cond evaluates an if: condition.
func (s *scope) cond(text string) (bool, error) {
	var inner error
	ok, err := expr.Eval(text, s.lookup(0, &inner))
	if err == nil {
		err = inner
	}
	if err != nil {
		return false, s.explain(text, err)
	}
	return ok, nil
}

// explain adds what would fix an undefined-variable error: where the
// name is defined, or the defined names close to it.
func (s *scope) explain(text string, err error) error {
	var ue *expr.UndefinedError
	if !errors.As(err, &ue) {
		return err
	}
	msg := err.Error()
	if err == error(ue) && strings.Count(text, "\n") > 0 {
		line := 1 + strings.Count(text[:min(ue.Offset, len(text))], "\n")
		msg = fmt.Sprintf("line %d of the text: %s", line, msg)
	}
	name := ue.Names[0]
	var hint string
	switch {
	case name == "targets.subpkgdir" || name == "subpkg.name":
		hint = name + " is only defined in subpackage pipelines; in the main package use targets.destdir or targets.contextdir"
	case strings.HasPrefix(name, "range."):
		hint = name + " is only defined in subpackages with a range:"
	case strings.HasPrefix(name, "inputs."):
		if s.pipeline == "" {
			hint = "inputs.* are only defined inside pipeline definitions (uses:)"
		} else {
			hint = fmt.Sprintf("pipeline %s declares no input %q", s.pipeline, strings.TrimPrefix(name, "inputs."))
		}
	case strings.HasPrefix(name, "vars."):
		hint = "define it under vars: or as a var-transforms to:"
	}
	if close := s.closeNames(name); len(close) > 0 {
		if hint != "" {
			hint += "; "
		}
		hint += "did you mean " + strings.Join(close, " or ") + "?"
	}
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return errors.New(msg)
}

func (s *scope) closeNames(name string) []string {
	var out []string
	consider := func(n string) {
		if n != name && config.Similar(name, n) {
			out = append(out, "${{"+n+"}}")
		}
	}
	for _, n := range slices.Sorted(maps.Keys(s.vars)) {
		consider(n)
	}
	for _, n := range slices.Sorted(maps.Keys(s.inputs)) {
		consider("inputs." + n)
	}
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}
