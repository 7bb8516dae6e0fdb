package config

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/reef-dev/reef/internal/build/expr"
)

// Options control how a build file is loaded.
type Options struct {
	// Vars add to or override the file's vars, as melange's --vars-file
	// does.
	Vars map[string]string
	// BuildOptions enable entries of the file's options: block by name
	// (melange's --build-option): their vars are merged into vars and
	// their package changes applied to environment.contents.packages.
	BuildOptions []string
}

// Load reads and decodes the build file at path; see Parse.
func Load(path string, opts Options) (*Configuration, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path, opts)
}

// Parse decodes a build file strictly, applies the build options and vars
// of opts, computes var-transforms, runs the first (exact-text)
// substitution pass, expands range: subpackages and validates the result.
// file names the data in errors. Errors are *Error values.
func Parse(data []byte, file string, opts Options) (*Configuration, error) {
	cfg := &Configuration{}
	if err := decodeDocument(data, file, cfg, false); err != nil {
		return nil, err
	}
	cfg.File = file
	if cfg.Pos.File == "" {
		cfg.Pos = Pos{File: file, Line: 1}
	}
	if err := cfg.applyBuildOptions(opts.BuildOptions); err != nil {
		return nil, err
	}
	if len(opts.Vars) > 0 {
		if cfg.Vars == nil {
			cfg.Vars = map[string]string{}
		}
		maps.Copy(cfg.Vars, opts.Vars)
	}
	if err := cfg.validatePackage(); err != nil {
		return nil, err
	}
	vars, err := cfg.resolveVars()
	if err != nil {
		return nil, err
	}
	if err := cfg.applyVarTransforms(vars); err != nil {
		return nil, err
	}
	if err := cfg.firstPass(vars); err != nil {
		return nil, err
	}
	if err := cfg.expandRanges(vars); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParsePipeline decodes a pipeline definition file loosely: keys that a
// pipeline step does not have (such as description:) are ignored.
func ParsePipeline(data []byte, file string) (*Pipeline, error) {
	p := &Pipeline{}
	if err := decodeDocument(data, file, p, true); err != nil {
		return nil, err
	}
	if p.Pos.File == "" {
		p.Pos = Pos{File: file, Line: 1}
	}
	if err := validateSteps([]Pipeline{*p}, Pos{File: file, Line: 1}, ""); err != nil {
		return nil, err
	}
	return p, nil
}

// BaseVars returns the package variables that are known without an
// architecture, by name: package.name, package.version, package.epoch,
// package.full-version and package.description.
func (cfg *Configuration) BaseVars() map[string]string {
	return map[string]string{
		"package.name":         cfg.Package.Name,
		"package.version":      cfg.Package.Version,
		"package.epoch":        uitoa(cfg.Package.Epoch),
		"package.full-version": cfg.Package.FullVersion(),
		"package.description":  cfg.Package.Description,
	}
}

func (cfg *Configuration) applyBuildOptions(enabled []string) error {
	seen := map[string]bool{}
	for _, name := range enabled {
		if seen[name] {
			continue
		}
		seen[name] = true
		opt, ok := cfg.Options[name]
		if !ok {
			known := slices.Sorted(maps.Keys(cfg.Options))
			if len(known) == 0 {
				return &Error{File: cfg.File, Field: "options", Msg: fmt.Sprintf("build option %q is not defined: the file has no options: block", name)}
			}
			return &Error{File: cfg.File, Line: cfg.Pos.KeyLine("options"), Field: "options", Msg: fmt.Sprintf("build option %q is not defined; the file defines %s", name, strings.Join(known, ", "))}
		}
		if len(opt.Vars) > 0 {
			if cfg.Vars == nil {
				cfg.Vars = map[string]string{}
			}
			maps.Copy(cfg.Vars, opt.Vars)
		}
		pk := &cfg.Environment.Contents.Packages
		for _, rm := range opt.Environment.Contents.Packages.Remove {
			*pk = slices.DeleteFunc(*pk, func(p string) bool { return p == rm })
		}
		for _, add := range opt.Environment.Contents.Packages.Add {
			if !slices.Contains(*pk, add) {
				*pk = append(*pk, add)
			}
		}
		cfg.EnabledOptions = append(cfg.EnabledOptions, name)
	}
	slices.Sort(cfg.EnabledOptions)
	return nil
}

// MaxVarLen is the longest value a var may have once its references are
// resolved.
const MaxVarLen = 1 << 20

var errVarTooLong = fmt.Errorf("the value is longer than %d bytes once references are resolved", MaxVarLen)

// varNameRE is what a var name may be made of, so that ${{vars.NAME}} can
// reference it.
var varNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]+$`) })

// resolveVars expands references between vars values (and to package.*)
// with the exact-text pass, in dependency order, and returns the map of
// pass-1 variables: package.* and vars.*. References to anything else are
// kept for the second pass.
func (cfg *Configuration) resolveVars() (map[string]string, error) {
	for name := range cfg.Vars {
		if !varNameRE().MatchString(name) {
			return nil, cfg.Pos.Errorf("vars."+name, "a var name may only use letters, digits, '.', '-' and '_'")
		}
	}
	out := cfg.BaseVars()
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var resolve func(name string, chain []string) error
	resolve = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return cfg.Pos.Errorf("vars."+name, "vars refer to each other in a cycle: %s", strings.Join(append(chain, name), " → "))
		}
		state[name] = visiting
		var err error
		v, rerr := expr.Replace(cfg.Vars[name], func(ref string) (string, bool) {
			if err != nil {
				return "", false
			}
			if s, ok := out[ref]; ok && !strings.HasPrefix(ref, "vars.") {
				return s, true
			}
			if dep, ok := strings.CutPrefix(ref, "vars."); ok {
				if _, known := cfg.Vars[dep]; known {
					if err = resolve(dep, append(chain, name)); err != nil {
						return "", false
					}
					return out["vars."+dep], true
				}
			}
			return "", false
		})
		if err != nil {
			return err
		}
		if rerr == nil && len(v) > MaxVarLen {
			rerr = errVarTooLong
		}
		if rerr != nil {
			return cfg.Pos.Errorf("vars."+name, "%v", rerr)
		}
		out["vars."+name] = v
		state[name] = done
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Vars)) {
		if err := resolve(name, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// applyVarTransforms computes each var-transform in order; a transform may
// use the results of earlier ones. Results are stored in vars and in
// cfg.Vars.
func (cfg *Configuration) applyVarTransforms(vars map[string]string) error {
	for i, t := range cfg.VarTransforms {
		p := t.Pos
		if p.File == "" {
			p = Pos{File: cfg.File, Line: cfg.Pos.KeyLine("var-transforms"), Path: fmt.Sprintf("var-transforms[%d]", i)}
		}
		switch {
		case t.From == "":
			return p.Errorf("from", "missing: the text to transform, e.g. ${{package.version}}")
		case t.Match == "":
			return p.Errorf("match", "missing: a Go regular expression")
		case t.To == "":
			return p.Errorf("to", "missing: the name of the var to define")
		case !varNameRE().MatchString(t.To):
			return p.Errorf("to", "%q is not a var name: use letters, digits, '.', '-' and '_'", t.To)
		}
		from, err := expr.Subst(t.From, expr.MapLookup(vars))
		if err != nil {
			return p.Errorf("from", "%v (var-transforms can use package.*, vars.* and the results of earlier transforms)", err)
		}
		re, err := regexp.Compile(t.Match)
		if err != nil {
			return p.Errorf("match", "not a Go regular expression: %v", err)
		}
		v := re.ReplaceAllString(from, t.Replace)
		if len(v) > MaxVarLen {
			return p.Errorf("replace", "%v", errVarTooLong)
		}
		vars["vars."+t.To] = v
		if cfg.Vars == nil {
			cfg.Vars = map[string]string{}
		}
		cfg.Vars[t.To] = v
	}
	// Keep cfg.Vars in step with the resolved values.
	for k, v := range vars {
		if name, ok := strings.CutPrefix(k, "vars."); ok {
			cfg.Vars[name] = v
		}
	}
	return nil
}

// expandRanges replaces each subpackage with a range: by one subpackage per
// item of the named data entry, keys sorted as strings, with range.key and
// range.value substituted (exact-text pass).
func (cfg *Configuration) expandRanges(vars map[string]string) error {
	data := map[string]*Data{}
	for i := range cfg.Data {
		d := &cfg.Data[i]
		if d.Name == "" {
			return d.Pos.Errorf("name", "missing: the name subpackages use in range:")
		}
		if prev, dup := data[d.Name]; dup {
			return d.Pos.Errorf("name", "data %q is defined twice (first on line %d)", d.Name, prev.Pos.Line)
		}
		data[d.Name] = d
	}
	var out []Subpackage
	for _, sp := range cfg.Subpackages {
		if sp.Range == "" {
			out = append(out, sp)
			continue
		}
		d, ok := data[sp.Range]
		if !ok {
			known := slices.Sorted(maps.Keys(data))
			hint := "the file has no data: entries"
			if len(known) > 0 {
				hint = "data entries are " + strings.Join(known, ", ")
			}
			return sp.Pos.Errorf("range", "no data entry named %q; %s", sp.Range, hint)
		}
		keys := slices.Collect(maps.Keys(d.Items))
		sort.Strings(keys)
		m := maps.Clone(vars)
		for _, k := range keys {
			m["range.key"] = k
			m["range.value"] = d.Items[k]
			r := &replacer{lookup: expr.MapLookup(m)}
			x := r.subpackage(sp)
			if err := r.result(sp.Pos); err != nil {
				return err
			}
			x.Range = ""
			x.RangeItem = &DataItem{Key: k, Value: d.Items[k]}
			out = append(out, x)
		}
	}
	cfg.Subpackages = out
	return nil
}

// firstPass applies the exact-text substitution with vars to every field
// melange substitutes at parse time, except if: conditions, which are
// evaluated structurally by the compiler.
func (cfg *Configuration) firstPass(vars map[string]string) error {
	r := &replacer{lookup: expr.MapLookup(vars)}
	p := &cfg.Package
	p.Name = r.str(p.Name)
	p.Version = r.str(p.Version)
	p.Description = r.str(p.Description)
	p.URL = r.str(p.URL)
	p.Annotations = r.dict(p.Annotations)
	p.TargetArchitecture = r.list(p.TargetArchitecture)
	p.Dependencies = r.deps(p.Dependencies)
	p.Scriptlets = r.scriptlets(p.Scriptlets)
	cfg.Pipeline = r.steps(cfg.Pipeline)
	cfg.Environment = r.env(cfg.Environment)
	cfg.Test = r.test(cfg.Test)
	for i, sp := range cfg.Subpackages {
		if sp.Range == "" {
			cfg.Subpackages[i] = r.subpackage(sp)
		}
	}
	return r.result(cfg.Pos)
}

// replacer applies expr.Replace to the fields of a configuration and keeps
// the first error.
type replacer struct {
	lookup expr.Lookup
	err    error
}

func (r *replacer) result(pos Pos) error {
	if r.err != nil {
		return pos.Errorf("", "%v", r.err)
	}
	return nil
}

func (r *replacer) str(s string) string {
	if r.err != nil {
		return s
	}
	out, err := expr.Replace(s, r.lookup)
	if err != nil {
		r.err = err
		return s
	}
	return out
}

func (r *replacer) list(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = r.str(s)
	}
	return out
}

func (r *replacer) dict(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = r.str(v)
	}
	return out
}

func (r *replacer) deps(d Dependencies) Dependencies {
	d.Runtime = r.list(d.Runtime)
	d.Provides = r.list(d.Provides)
	d.Replaces = r.list(d.Replaces)
	d.ProviderPriority = r.str(d.ProviderPriority)
	d.ReplacesPriority = r.str(d.ReplacesPriority)
	return d
}

func (r *replacer) scriptlets(s *Scriptlets) *Scriptlets {
	if s == nil {
		return nil
	}
	c := *s
	c.Trigger.Script = r.str(c.Trigger.Script)
	c.Trigger.Paths = r.list(c.Trigger.Paths)
	c.PreInstall = r.str(c.PreInstall)
	c.PostInstall = r.str(c.PostInstall)
	c.PreDeinstall = r.str(c.PreDeinstall)
	c.PostDeinstall = r.str(c.PostDeinstall)
	c.PreUpgrade = r.str(c.PreUpgrade)
	c.PostUpgrade = r.str(c.PostUpgrade)
	return &c
}

func (r *replacer) steps(in []Pipeline) []Pipeline {
	if in == nil {
		return nil
	}
	out := make([]Pipeline, len(in))
	for i, p := range in {
		p.Name = r.str(p.Name)
		p.With = r.dict(p.With)
		p.Runs = r.str(p.Runs)
		p.WorkDir = r.str(p.WorkDir)
		p.Environment = r.dict(p.Environment)
		if p.Needs != nil {
			p.Needs = &Needs{Packages: r.list(p.Needs.Packages)}
		}
		p.Pipeline = r.steps(p.Pipeline)
		out[i] = p
	}
	return out
}

func (r *replacer) env(e Environment) Environment {
	e.Contents.Repositories = r.list(e.Contents.Repositories)
	e.Contents.BuildRepositories = r.list(e.Contents.BuildRepositories)
	e.Contents.RuntimeRepositories = r.list(e.Contents.RuntimeRepositories)
	e.Contents.Keyring = r.list(e.Contents.Keyring)
	e.Contents.Packages = r.list(e.Contents.Packages)
	e.Environment = r.dict(e.Environment)
	e.Annotations = r.dict(e.Annotations)
	e.Cmd = r.str(e.Cmd)
	e.WorkDir = r.str(e.WorkDir)
	e.VCSURL = r.str(e.VCSURL)
	e.Volumes = r.list(e.Volumes)
	return e
}

func (r *replacer) test(t *Test) *Test {
	if t == nil {
		return nil
	}
	c := *t
	c.Environment = r.env(c.Environment)
	c.Pipeline = r.steps(c.Pipeline)
	return &c
}

func (r *replacer) subpackage(sp Subpackage) Subpackage {
	sp.Name = r.str(sp.Name)
	sp.Description = r.str(sp.Description)
	sp.URL = r.str(sp.URL)
	sp.Commit = r.str(sp.Commit)
	sp.Annotations = r.dict(sp.Annotations)
	sp.Dependencies = r.deps(sp.Dependencies)
	sp.Scriptlets = r.scriptlets(sp.Scriptlets)
	sp.Pipeline = r.steps(sp.Pipeline)
	sp.Test = r.test(sp.Test)
	return sp
}
