package build

import (
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/build/expr"
	"github.com/reef-dev/reef/internal/build/pipelines"
)

// maxUsesDepth bounds how deeply uses: may nest.
const maxUsesDepth = 32

// Options control compilation.
type Options struct {
	// Arch is the apk architecture to build for ("x86_64", "aarch64", …;
	// Go/OCI names such as "amd64" are accepted). Empty means the
	// architecture reef runs on.
	Arch string
	// PipelineDirs are searched, in order, for uses: pipelines before
	// the built-ins.
	PipelineDirs []string
	// Libc is the libc flavour of host.triplet.gnu and host.triplet.rust:
	// "gnu" (the default) or "musl".
	Libc string
	// SourceDateEpoch is the SOURCE_DATE_EPOCH set in the build
	// environment unless the build file sets one.
	SourceDateEpoch int64
	// SkipTests leaves test blocks out of the plan (their pipelines are
	// then not resolved).
	SkipTests bool
}

// Compile expands cfg into the plan of its build for one architecture:
// see the package documentation. Errors name the file, line and field
// they are about.
func Compile(cfg *config.Configuration, opts Options) (*Build, error) {
	target := arch.Host()
	if opts.Arch != "" {
		a, err := arch.Parse(opts.Arch)
		if err != nil {
			return nil, err
		}
		target = a
	}
	libc := opts.Libc
	switch libc {
	case "":
		libc = "gnu"
	case "gnu", "musl":
	default:
		return nil, fmt.Errorf("libc flavour %q: want gnu or musl", libc)
	}
	p := &cfg.Package
	if ta := p.TargetArchitecture; len(ta) > 0 && !slices.Contains(ta, "all") && !slices.Contains(ta, target) {
		return nil, p.Pos.Errorf("target-architecture", "package %s does not build for %s (target-architecture: %s)", p.Name, target, strings.Join(ta, ", "))
	}
	c := &compiler{cfg: cfg, opts: opts, arch: target, defs: map[string]*definition{}}
	c.base = c.baseVars(libc)
	return c.compile()
}

type compiler struct {
	cfg  *config.Configuration
	opts Options
	arch string
	// base are the variables shared by every package context.
	base map[string]string
	defs map[string]*definition
}

// definition is a loaded pipeline definition.
type definition struct {
	// name is the uses: name.
	name string
	// file is where it was read from: a path in a pipeline directory,
	// or "builtin:NAME.yaml".
	file    string
	builtin bool
	pipe    *config.Pipeline
}

func (c *compiler) baseVars(libc string) map[string]string {
	cfg := c.cfg
	ai := archs[c.arch]
	v := cfg.BaseVars()
	maps.Copy(v, map[string]string{
		"package.srcdir":           WorkDir,
		"targets.outdir":           OutDir,
		"targets.destdir":          OutDir + "/" + cfg.Package.Name,
		"build.arch":               c.arch,
		"build.goarch":             ai.goarch,
		"host.triplet.gnu":         fmt.Sprintf(ai.gnu, libc),
		"host.triplet.rust":        fmt.Sprintf(ai.rust, libc),
		"cross.triplet.gnu.glibc":  fmt.Sprintf(ai.gnu, "gnu"),
		"cross.triplet.gnu.musl":   fmt.Sprintf(ai.gnu, "musl"),
		"cross.triplet.rust.glibc": fmt.Sprintf(ai.rust, "gnu"),
		"cross.triplet.rust.musl":  fmt.Sprintf(ai.rust, "musl"),
	})
	for k, val := range cfg.Vars {
		v["vars."+k] = val
	}
	v["targets.package."+cfg.Package.Name] = OutDir + "/" + cfg.Package.Name
	for _, sp := range cfg.Subpackages {
		v["targets.package."+sp.Name] = OutDir + "/" + sp.Name
	}
	for name := range cfg.Options {
		v["options."+name+".enabled"] = "false"
	}
	for _, name := range cfg.EnabledOptions {
		v["options."+name+".enabled"] = "true"
	}
	return v
}

// mainScope is the variables of the main package's context.
func (c *compiler) mainScope() *scope {
	v := maps.Clone(c.base)
	v["targets.contextdir"] = OutDir + "/" + c.cfg.Package.Name
	v["context.name"] = c.cfg.Package.Name
	return &scope{vars: v}
}

// subScope is the variables of a subpackage's context.
func (c *compiler) subScope(sp *config.Subpackage) *scope {
	v := maps.Clone(c.base)
	dir := OutDir + "/" + sp.Name
	v["targets.contextdir"] = dir
	v["targets.subpkgdir"] = dir
	v["subpkg.name"] = sp.Name
	v["context.name"] = sp.Name
	if sp.RangeItem != nil {
		v["range.key"] = sp.RangeItem.Key
		v["range.value"] = sp.RangeItem.Value
	}
	return &scope{vars: v}
}

// needs collects package names in order of first appearance.
type needs struct {
	list []string
	seen map[string]bool
}

func (n *needs) add(pkgs ...string) {
	if n.seen == nil {
		n.seen = map[string]bool{}
	}
	for _, p := range pkgs {
		if p != "" && !n.seen[p] {
			n.seen[p] = true
			n.list = append(n.list, p)
		}
	}
}

func (c *compiler) compile() (*Build, error) {
	cfg := c.cfg
	ms := c.mainScope()
	b := &Build{
		File:         cfg.File,
		Arch:         c.arch,
		BuildOptions: cfg.EnabledOptions,
		Variables:    ms.vars,
		Package:      cfg.Package,
		Capabilities: cfg.Capabilities,
	}
	deps, err := substDeps(cfg.Package.Dependencies, ms)
	if err != nil {
		return nil, err
	}
	b.Package.Dependencies = deps

	env, err := c.environment(&cfg.Environment, ms, nil)
	if err != nil {
		return nil, err
	}
	var buildNeeds needs
	buildNeeds.add(env.Contents.Packages...)

	main := &Output{
		Name:         cfg.Package.Name,
		Description:  cfg.Package.Description,
		URL:          cfg.Package.URL,
		Commit:       cfg.Package.Commit,
		Dependencies: deps,
		Options:      cfg.Package.Options,
		Scriptlets:   cfg.Package.Scriptlets,
		Checks:       cfg.Package.Checks,
		Annotations:  cfg.Package.Annotations,
		SetCap:       cfg.Package.SetCap,
	}
	if err := c.output(main, cfg.Pipeline, cfg.Pos, ms, &buildNeeds); err != nil {
		return nil, err
	}
	if main.Test, err = c.test(cfg.Test, ms, cfg.Package.Name); err != nil {
		return nil, err
	}
	b.Packages = append(b.Packages, main)

	for i := range cfg.Subpackages {
		sp := &cfg.Subpackages[i]
		ss := c.subScope(sp)
		if sp.If != "" {
			ok, err := ss.cond(sp.If)
			if err != nil {
				return nil, sp.Pos.Errorf("if", "subpackage %s: %v", sp.Name, err)
			}
			if !ok {
				continue
			}
		}
		deps, err := substDeps(sp.Dependencies, ss)
		if err != nil {
			return nil, err
		}
		commit := sp.Commit
		if commit == "" {
			commit = cfg.Package.Commit
		}
		o := &Output{
			Name:         sp.Name,
			Description:  sp.Description,
			URL:          sp.URL,
			Commit:       commit,
			Dependencies: deps,
			Options:      sp.Options,
			Scriptlets:   sp.Scriptlets,
			Checks:       sp.Checks,
			Annotations:  sp.Annotations,
			SetCap:       sp.SetCap,
		}
		if err := c.output(o, sp.Pipeline, sp.Pos, ss, &buildNeeds); err != nil {
			return nil, err
		}
		if o.Test, err = c.test(sp.Test, ss, sp.Name); err != nil {
			return nil, err
		}
		b.Packages = append(b.Packages, o)
	}

	env.Contents.Packages = buildNeeds.list
	setDefaultEnv(env.Environment, strconv.FormatInt(c.opts.SourceDateEpoch, 10))
	addBuildAccount(&env.Accounts)
	b.Environment = *env
	return b, nil
}

// output fills in the common fields of o and compiles its steps.
func (c *compiler) output(o *Output, steps []config.Pipeline, pos config.Pos, s *scope, n *needs) error {
	o.Origin = c.cfg.Package.Name
	o.Version = c.cfg.Package.FullVersion()
	o.Copyright = c.cfg.Package.Copyright
	o.Dir = OutDir + "/" + o.Name
	w := walk{scope: s, workDir: WorkDir, needs: n}
	out, _, err := c.steps(steps, pos, "pipeline", w)
	if err != nil {
		return err
	}
	o.Steps = out
	if o.Steps == nil {
		o.Steps = []Step{}
	}
	return nil
}

// test compiles a test block for the package named pkg.
func (c *compiler) test(t *config.Test, s *scope, pkg string) (*Test, error) {
	if t == nil || c.opts.SkipTests {
		return nil, nil
	}
	env, err := c.environment(&t.Environment, s, &t.Pos)
	if err != nil {
		return nil, err
	}
	var n needs
	n.add(env.Contents.Packages...)
	n.add(pkg)
	w := walk{scope: s, workDir: WorkDir, needs: &n}
	steps, _, err := c.steps(t.Pipeline, t.Pos, "pipeline", w)
	if err != nil {
		return nil, err
	}
	if steps == nil {
		steps = []Step{}
	}
	env.Contents.Packages = n.list
	addBuildAccount(&env.Accounts)
	return &Test{Environment: *env, Steps: steps}, nil
}

// environment substitutes an environment block's packages and variables.
func (c *compiler) environment(e *config.Environment, s *scope, parent *config.Pos) (*config.Environment, error) {
	out := *e
	pos := e.Contents.Pos
	if pos.File == "" {
		pos = e.Pos
	}
	if pos.File == "" && parent != nil {
		pos = *parent
	}
	out.Contents.Packages = nil
	for i, p := range e.Contents.Packages {
		v, err := s.subst(p)
		if err != nil {
			return nil, pos.Errorf(fmt.Sprintf("packages[%d]", i), "%v", err)
		}
		out.Contents.Packages = append(out.Contents.Packages, v)
	}
	out.Environment = map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(e.Environment)) {
		v, err := s.subst(e.Environment[k])
		if err != nil {
			return nil, e.Pos.Errorf("environment."+k, "%v", err)
		}
		out.Environment[k] = v
	}
	out.Accounts.Users = slices.Clone(e.Accounts.Users)
	out.Accounts.Groups = slices.Clone(e.Accounts.Groups)
	return &out, nil
}

// defaultEnv are the variables melange sets in every build environment
// unless the build file sets them.
var defaultEnv = map[string]string{
	"HOME":               WorkDir,
	"GOPATH":             WorkDir + "/.cache/go",
	"GOMODCACHE":         "/var/cache/melange/gomodcache",
	"PIP_CACHE_DIR":      "/var/cache/melange/pip",
	"UV_CACHE_DIR":       "/var/cache/melange/uv",
	"COMPOSER_CACHE_DIR": "/var/cache/melange/composer",
	"npm_config_cache":   "/var/cache/melange/npm",
}

func setDefaultEnv(env map[string]string, sde string) {
	for k, v := range defaultEnv {
		if env[k] == "" {
			env[k] = v
		}
	}
	if env["SOURCE_DATE_EPOCH"] == "" {
		env["SOURCE_DATE_EPOCH"] = sde
	}
}

// addBuildAccount adds the build user and group (uid and gid 1000) unless
// the block defines them.
func addBuildAccount(a *config.Accounts) {
	if !slices.ContainsFunc(a.Groups, func(g config.Group) bool { return g.GroupName == "build" }) {
		a.Groups = append(a.Groups, config.Group{GroupName: "build", GID: 1000, Members: []string{"build"}})
	}
	if !slices.ContainsFunc(a.Users, func(u config.User) bool { return u.UserName == "build" }) {
		gid := uint32(1000)
		a.Users = append(a.Users, config.User{UserName: "build", UID: 1000, GID: &gid, HomeDir: WorkDir})
	}
}

// substDeps runs the second pass over a dependencies block and checks the
// priorities.
func substDeps(d config.Dependencies, s *scope) (config.Dependencies, error) {
	out := d
	list := func(key string, in []string) ([]string, error) {
		if in == nil {
			return nil, nil
		}
		r := make([]string, len(in))
		for i, v := range in {
			x, err := s.subst(v)
			if err != nil {
				return nil, d.Pos.Errorf(fmt.Sprintf("%s[%d]", key, i), "%v", err)
			}
			r[i] = x
		}
		return r, nil
	}
	var err error
	if out.Runtime, err = list("runtime", d.Runtime); err != nil {
		return out, err
	}
	if out.Provides, err = list("provides", d.Provides); err != nil {
		return out, err
	}
	if out.Replaces, err = list("replaces", d.Replaces); err != nil {
		return out, err
	}
	for _, f := range []struct {
		key string
		val *string
	}{{"provider-priority", &out.ProviderPriority}, {"replaces-priority", &out.ReplacesPriority}} {
		v, err := s.subst(*f.val)
		if err != nil {
			return out, d.Pos.Errorf(f.key, "%v", err)
		}
		if err := config.ValidatePriority(v); err != nil {
			return out, d.Pos.Errorf(f.key, "%v", err)
		}
		*f.val = v
	}
	return out, nil
}

// walk is the state inherited by nested steps.
type walk struct {
	scope   *scope
	workDir string
	env     map[string]string
	origin  []Frame
	// uses is the innermost pipeline being expanded, and name the name
	// its caller gave, which its unnamed steps take.
	uses string
	name string
	// stack is the chain of uses: being expanded, to catch cycles.
	stack []string
	needs *needs
}

// steps compiles a list of steps written under key of the mapping at pos.
// ran counts the steps whose if: held.
func (c *compiler) steps(ps []config.Pipeline, pos config.Pos, key string, w walk) (out []Step, ran int, err error) {
	for i := range ps {
		p := ps[i] // a copy: the configuration may be compiled concurrently
		if p.Pos.File == "" {
			p.Pos = config.Pos{File: pos.File, Line: pos.KeyLine(key), Path: fmt.Sprintf("%s[%d]", pos.Field(key), i)}
		}
		s, ok, err := c.step(&p, w)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			ran++
			out = append(out, s...)
		}
	}
	return out, ran, nil
}

// absWorkDir makes a working directory absolute: relative ones are
// relative to WorkDir.
func absWorkDir(wd string) string {
	if path.IsAbs(wd) {
		return path.Clean(wd)
	}
	return path.Join(WorkDir, wd)
}

// enter applies a step's if:, working-directory, environment and needs to
// w. ok is false when the if: does not hold.
func (c *compiler) enter(p *config.Pipeline, w *walk, frame Frame) (ok bool, err error) {
	pos := p.Pos
	if p.If != "" {
		ok, err := w.scope.cond(p.If)
		if err != nil {
			return false, pos.Errorf("if", "%v", err)
		}
		if !ok {
			return false, nil
		}
	}
	w.origin = append(slices.Clip(w.origin), frame)
	if p.WorkDir != "" {
		wd, err := w.scope.subst(p.WorkDir)
		if err != nil {
			return false, pos.Errorf("working-directory", "%v", err)
		}
		w.workDir = absWorkDir(wd)
	}
	if len(p.Environment) > 0 {
		env := maps.Clone(w.env)
		if env == nil {
			env = map[string]string{}
		}
		for _, k := range slices.Sorted(maps.Keys(p.Environment)) {
			v, err := w.scope.subst(p.Environment[k])
			if err != nil {
				return false, pos.Errorf("environment."+k, "%v", err)
			}
			env[k] = v
		}
		w.env = env
	}
	if p.Needs != nil {
		for i, pkg := range p.Needs.Packages {
			v, err := w.scope.subst(pkg)
			if err != nil {
				return false, pos.Errorf(fmt.Sprintf("needs.packages[%d]", i), "%v", err)
			}
			w.needs.add(v)
		}
	}
	return true, nil
}

// step compiles one step and what it contains.
func (c *compiler) step(p *config.Pipeline, w walk) ([]Step, bool, error) {
	pos := p.Pos
	ok, err := c.enter(p, &w, Frame{File: pos.File, Line: pos.Line, Name: p.Name, Uses: p.Uses})
	if err != nil || !ok {
		return nil, false, err
	}
	if p.Uses != "" {
		if len(p.Pipeline) == 0 || c.hostSide(p.Uses) {
			// A step that melange already compiled (its .melange.yaml
			// inside a package) keeps uses: next to the expanded steps;
			// reef expands fetch and git-checkout itself, from with:.
			q := *p
			q.Pipeline = nil
			out, err := c.uses(&q, w)
			return out, true, err
		}
		// Otherwise the nested steps are the expansion, as in melange,
		// and uses: only names where they came from.
		w.uses = p.Uses
	}
	name := p.Name
	if name == "" {
		name = w.name
	}
	var out []Step
	if p.Runs != "" {
		runs, err := w.scope.subst(p.Runs)
		if err != nil {
			return nil, false, pos.Errorf("runs", "%v", err)
		}
		out = append(out, Step{
			Kind: KindRun, Name: name, Uses: w.uses, Label: p.Label,
			Origin: w.origin, WorkDir: w.workDir, Environment: maps.Clone(w.env), Runs: runs,
		})
	}
	children, ran, err := c.steps(p.Pipeline, pos, "pipeline", w)
	if err != nil {
		return nil, false, err
	}
	if err := checkAssertions(p, ran, c.arch); err != nil {
		return nil, false, err
	}
	return append(out, children...), true, nil
}

func checkAssertions(p *config.Pipeline, ran int, arch string) error {
	if p.Assertions == nil || p.Assertions.RequiredSteps == ran {
		return nil
	}
	return p.Pos.Errorf("assertions.required-steps", "%d nested steps run on %s, and the assertion requires %d", ran, arch, p.Assertions.RequiredSteps)
}

// hostSide reports whether uses names a host-side built-in (no pipeline
// directory overrides it).
func (c *compiler) hostSide(uses string) bool {
	if !slices.Contains(pipelines.HostSide, uses) {
		return false
	}
	d, err := c.resolve(uses, config.Pos{})
	return err == nil && d.builtin
}

// uses expands a uses: step.
func (c *compiler) uses(p *config.Pipeline, w walk) ([]Step, error) {
	pos := p.Pos
	if slices.Contains(w.stack, p.Uses) {
		return nil, pos.Errorf("uses", "pipeline %s uses itself: %s", p.Uses, strings.Join(append(w.stack, p.Uses), " → "))
	}
	if len(w.stack) >= maxUsesDepth {
		return nil, pos.Errorf("uses", "uses: nested more than %d deep", maxUsesDepth)
	}
	def, err := c.resolve(p.Uses, pos)
	if err != nil {
		return nil, err
	}
	inputs, err := c.inputs(def, p, w.scope)
	if err != nil {
		return nil, err
	}
	merged := maps.Clone(w.scope.inputs)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, inputs)
	w.scope = &scope{vars: w.scope.vars, inputs: merged, pipeline: def.name}
	w.stack = append(slices.Clip(w.stack), def.name)
	w.uses = def.name
	w.name = p.Name

	dp := def.pipe
	// The definition's own top-level fields act like a step wrapping
	// its steps, evaluated with its inputs.
	top := *dp
	top.Pos.File = def.file
	if top.Pos.Line == 0 {
		top.Pos.Line = 1
	}
	wd := w
	if ok, err := c.enterDefinition(&top, &wd); err != nil || !ok {
		return nil, err
	}
	if def.builtin && slices.Contains(pipelines.HostSide, def.name) {
		st := Step{
			Kind: def.name, Name: p.Name, Uses: def.name, Label: p.Label,
			Origin: w.origin, WorkDir: wd.workDir, Environment: maps.Clone(wd.env),
		}
		if err := hostStep(&st, inputs, pos); err != nil {
			return nil, err
		}
		return []Step{st}, checkAssertions(p, 0, c.arch)
	}
	var out []Step
	if dp.Runs != "" {
		runs, err := wd.scope.subst(dp.Runs)
		if err != nil {
			return nil, top.Pos.Errorf("runs", "%v", err)
		}
		name := dp.Name
		if p.Name != "" {
			name = p.Name
		}
		origin := append(slices.Clip(wd.origin), Frame{File: def.file, Line: top.Pos.KeyLine("runs"), Name: dp.Name})
		out = append(out, Step{
			Kind: KindRun, Name: name, Uses: def.name, Label: p.Label,
			Origin: origin, WorkDir: wd.workDir, Environment: maps.Clone(wd.env), Runs: runs,
		})
	}
	children, ran, err := c.steps(dp.Pipeline, top.Pos, "pipeline", wd)
	if err != nil {
		return nil, err
	}
	if err := checkAssertions(&top, ran, c.arch); err != nil {
		return nil, err
	}
	if err := checkAssertions(p, ran, c.arch); err != nil {
		return nil, err
	}
	return append(out, children...), nil
}

// enterDefinition is enter for a pipeline definition's top level (its
// if:, working-directory, environment and needs); it adds nothing to the
// origin chain, where the caller's step and the definition's steps stand.
func (c *compiler) enterDefinition(p *config.Pipeline, w *walk) (bool, error) {
	origin := w.origin
	ok, err := c.enter(p, w, Frame{})
	w.origin = origin
	return ok, err
}

// inputs computes the inputs of a uses: step: the with: values,
// substituted in the caller's scope, then the defaults of the inputs not
// given (or given empty), substituted with the pipeline's own inputs
// visible. Every declared input is defined, possibly empty.
func (c *compiler) inputs(def *definition, p *config.Pipeline, caller *scope) (map[string]string, error) {
	pos := p.Pos
	decl := def.pipe.Inputs
	for _, k := range slices.Sorted(maps.Keys(p.With)) {
		if _, ok := decl[k]; !ok {
			return nil, pos.Errorf("with."+k, "%s", undeclaredInput(def, k))
		}
	}
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(p.With)) {
		v, err := caller.subst(p.With[k])
		if err != nil {
			return nil, pos.Errorf("with."+k, "%v", err)
		}
		if v != "" {
			out[k] = v
		}
	}
	// Defaults may refer to other inputs of the same pipeline; resolve
	// them on demand, catching cycles.
	resolving := map[string]bool{}
	var resolve func(k string) error
	resolve = func(k string) error {
		if _, done := out[k]; done {
			return nil
		}
		if resolving[k] {
			return fmt.Errorf("the defaults of inputs of %s refer to each other in a cycle through %q", def.name, k)
		}
		resolving[k] = true
		s := &scope{vars: caller.vars, pipeline: def.name, inputs: map[string]string{}}
		maps.Copy(s.inputs, caller.inputs)
		var ierr error
		for _, ref := range inputRefs(decl[k].Default) {
			if _, declared := decl[ref]; declared && ref != k {
				if ierr = resolve(ref); ierr != nil {
					break
				}
			}
		}
		if ierr != nil {
			return ierr
		}
		maps.Copy(s.inputs, out)
		v, err := s.subst(decl[k].Default)
		if err != nil {
			return fmt.Errorf("default of input %q: %w", k, err)
		}
		out[k] = v
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(decl)) {
		if err := resolve(k); err != nil {
			return nil, &config.Error{File: def.file, Line: def.pipe.Pos.KeyLine("inputs." + k), Field: "inputs." + k, Msg: err.Error()}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(decl)) {
		in := decl[k]
		if in.Required && out[k] == "" {
			what := ""
			if d := strings.TrimSpace(in.Description); d != "" {
				what = " (" + firstLine(d) + ")"
			}
			return nil, pos.Errorf("with", "pipeline %s requires input %q%s; give it under with:", def.name, k, what)
		}
		if err := checkHexInput(k, out[k]); err != nil {
			key := "with." + k
			if _, given := p.With[k]; !given {
				key = "uses"
			}
			return nil, pos.Errorf(key, "%v", err)
		}
	}
	return out, nil
}

// inputRefs returns the input names referenced as ${{inputs.X}} in s (up
// to the first malformed reference, which substitution then reports).
func inputRefs(s string) []string {
	refs, _ := expr.Refs(s)
	var out []string
	for _, r := range refs {
		if name, ok := strings.CutPrefix(r.Name, "inputs."); ok {
			out = append(out, name)
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i]) + " …"
	}
	return s
}

func undeclaredInput(def *definition, k string) string {
	decl := slices.Sorted(maps.Keys(def.pipe.Inputs))
	if len(decl) == 0 {
		return fmt.Sprintf("pipeline %s (%s) takes no inputs, so with: %s is not allowed", def.name, def.file, k)
	}
	var close []string
	for _, d := range decl {
		if config.Similar(k, d) {
			close = append(close, strconv.Quote(d))
		}
	}
	msg := fmt.Sprintf("pipeline %s (%s) has no input %q", def.name, def.file, k)
	if len(close) > 0 {
		msg += "; did you mean " + strings.Join(close, " or ") + "?"
	}
	return msg + "; its inputs are " + strings.Join(decl, ", ")
}

// checkHexInput checks the inputs melange format-checks by name.
func checkHexInput(k, v string) error {
	want := map[string]int{"expected-sha256": 64, "expected-sha512": 128, "expected-commit": 40}[k]
	if want == 0 || v == "" {
		return nil
	}
	if _, err := hex.DecodeString(v); err != nil || len(v) != want {
		return fmt.Errorf("%s %q: want %d hexadecimal digits", k, v, want)
	}
	return nil
}
