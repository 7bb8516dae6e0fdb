package build

import (
	"bytes"
	"maps"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/reef-dev/reef/internal/build/config"
)

// The .melange.yaml control file of every package is the compiled build
// as a build file that reef (and melange) can load again: the package
// block, the build environment with its packages locked to the versions
// installed ("name=version"), and each package's steps after compilation
// (every uses: expanded into the runs: it produced, every ${{…}}
// substituted; fetch and git-checkout stay uses: with their final
// inputs). melange embeds its compiled, locked configuration in the same
// place.

type embedFile struct {
	Package      embedPackage         `yaml:"package"`
	Environment  embedEnvironment     `yaml:"environment"`
	Capabilities *config.Capabilities `yaml:"capabilities,omitempty"`
	Pipeline     []embedStep          `yaml:"pipeline,omitempty"`
	Subpackages  []embedSubpackage    `yaml:"subpackages,omitempty"`
	Test         *embedTest           `yaml:"test,omitempty"`
}

type embedPackage struct {
	Name               string            `yaml:"name"`
	Version            string            `yaml:"version"`
	Epoch              uint64            `yaml:"epoch"`
	Description        string            `yaml:"description,omitempty"`
	URL                string            `yaml:"url,omitempty"`
	Commit             string            `yaml:"commit,omitempty"`
	Annotations        map[string]string `yaml:"annotations,omitempty"`
	TargetArchitecture []string          `yaml:"target-architecture,omitempty"`
	Copyright          []embedCopyright  `yaml:"copyright,omitempty"`
	Dependencies       *embedDeps        `yaml:"dependencies,omitempty"`
	Options            *embedOptions     `yaml:"options,omitempty"`
	Scriptlets         *embedScriptlets  `yaml:"scriptlets,omitempty"`
	Checks             *embedChecks      `yaml:"checks,omitempty"`
	SetCap             []embedSetCap     `yaml:"setcap,omitempty"`
	Timeout            string            `yaml:"timeout,omitempty"`
}

type embedCopyright struct {
	License     string   `yaml:"license"`
	Paths       []string `yaml:"paths,omitempty"`
	Attestation string   `yaml:"attestation,omitempty"`
	LicensePath string   `yaml:"license-path,omitempty"`
}

type embedDeps struct {
	Runtime          []string `yaml:"runtime,omitempty"`
	Provides         []string `yaml:"provides,omitempty"`
	Replaces         []string `yaml:"replaces,omitempty"`
	ProviderPriority string   `yaml:"provider-priority,omitempty"`
	ReplacesPriority string   `yaml:"replaces-priority,omitempty"`
}

type embedOptions struct {
	NoProvides           bool `yaml:"no-provides,omitempty"`
	NoDepends            bool `yaml:"no-depends,omitempty"`
	NoCommands           bool `yaml:"no-commands,omitempty"`
	NoVersionedShlibDeps bool `yaml:"no-versioned-shlib-deps,omitempty"`
}

type embedScriptlets struct {
	Trigger       *embedTrigger `yaml:"trigger,omitempty"`
	PreInstall    string        `yaml:"pre-install,omitempty"`
	PostInstall   string        `yaml:"post-install,omitempty"`
	PreDeinstall  string        `yaml:"pre-deinstall,omitempty"`
	PostDeinstall string        `yaml:"post-deinstall,omitempty"`
	PreUpgrade    string        `yaml:"pre-upgrade,omitempty"`
	PostUpgrade   string        `yaml:"post-upgrade,omitempty"`
}

type embedTrigger struct {
	Script string   `yaml:"script,omitempty"`
	Paths  []string `yaml:"paths,omitempty"`
}

type embedChecks struct {
	Disabled []string `yaml:"disabled,omitempty"`
}

type embedSetCap struct {
	Path   string            `yaml:"path"`
	Add    map[string]string `yaml:"add"`
	Reason string            `yaml:"reason"`
}

type embedEnvironment struct {
	Contents    embedContents     `yaml:"contents"`
	Environment map[string]string `yaml:"environment,omitempty"`
	Accounts    *embedAccounts    `yaml:"accounts,omitempty"`
}

type embedContents struct {
	Repositories []string `yaml:"repositories,omitempty"`
	Keyring      []string `yaml:"keyring,omitempty"`
	Packages     []string `yaml:"packages,omitempty"`
}

type embedAccounts struct {
	RunAs  string       `yaml:"run-as,omitempty"`
	Users  []embedUser  `yaml:"users,omitempty"`
	Groups []embedGroup `yaml:"groups,omitempty"`
}

type embedUser struct {
	UserName string  `yaml:"username"`
	UID      uint32  `yaml:"uid"`
	GID      *uint32 `yaml:"gid,omitempty"`
	Shell    string  `yaml:"shell,omitempty"`
	HomeDir  string  `yaml:"homedir,omitempty"`
}

type embedGroup struct {
	GroupName string   `yaml:"groupname"`
	GID       uint32   `yaml:"gid"`
	Members   []string `yaml:"members,omitempty"`
}

type embedStep struct {
	Name        string            `yaml:"name,omitempty"`
	Uses        string            `yaml:"uses,omitempty"`
	With        map[string]string `yaml:"with,omitempty"`
	Runs        string            `yaml:"runs,omitempty"`
	WorkDir     string            `yaml:"working-directory,omitempty"`
	Environment map[string]string `yaml:"environment,omitempty"`
}

type embedSubpackage struct {
	Name         string            `yaml:"name"`
	Description  string            `yaml:"description,omitempty"`
	URL          string            `yaml:"url,omitempty"`
	Commit       string            `yaml:"commit,omitempty"`
	Annotations  map[string]string `yaml:"annotations,omitempty"`
	Dependencies *embedDeps        `yaml:"dependencies,omitempty"`
	Options      *embedOptions     `yaml:"options,omitempty"`
	Scriptlets   *embedScriptlets  `yaml:"scriptlets,omitempty"`
	Checks       *embedChecks      `yaml:"checks,omitempty"`
	SetCap       []embedSetCap     `yaml:"setcap,omitempty"`
	Pipeline     []embedStep       `yaml:"pipeline,omitempty"`
	Test         *embedTest        `yaml:"test,omitempty"`
}

type embedTest struct {
	Environment embedEnvironment `yaml:"environment"`
	Pipeline    []embedStep      `yaml:"pipeline,omitempty"`
}

// embeddedConfig renders the .melange.yaml of this build.
func (r *runner) embeddedConfig() ([]byte, error) {
	return embedBuild(r.b, r.guest.Packages)
}

// embedBuild renders b as a build file, with the build environment's
// packages replaced by locked (when not nil).
func embedBuild(b *Build, locked []string) ([]byte, error) {
	p := &b.Package
	f := embedFile{
		Package: embedPackage{
			Name:               p.Name,
			Version:            p.Version,
			Epoch:              p.Epoch,
			Description:        p.Description,
			URL:                p.URL,
			Commit:             p.Commit,
			Annotations:        p.Annotations,
			TargetArchitecture: p.TargetArchitecture,
			Dependencies:       embedDependencies(p.Dependencies),
			Options:            embedOpts(p.Options),
			Scriptlets:         embedScripts(p.Scriptlets),
			Checks:             embedCheck(p.Checks),
			SetCap:             embedCaps(p.SetCap),
			Timeout:            p.Timeout,
		},
		Environment: embedEnv(b.Environment, locked),
	}
	for _, c := range p.Copyright {
		f.Package.Copyright = append(f.Package.Copyright, embedCopyright{License: c.License, Paths: c.Paths, Attestation: c.Attestation, LicensePath: c.LicensePath})
	}
	if len(b.Capabilities.Add)+len(b.Capabilities.Drop) > 0 {
		caps := b.Capabilities
		f.Capabilities = &caps
	}
	for i, o := range b.Packages {
		steps := embedSteps(o.Steps)
		if i == 0 {
			f.Pipeline = steps
			f.Test = embedTests(o.Test)
			continue
		}
		f.Subpackages = append(f.Subpackages, embedSubpackage{
			Name:         o.Name,
			Description:  o.Description,
			URL:          o.URL,
			Commit:       o.Commit,
			Annotations:  o.Annotations,
			Dependencies: embedDependencies(o.Dependencies),
			Options:      embedOpts(o.Options),
			Scriptlets:   embedScripts(o.Scriptlets),
			Checks:       embedCheck(o.Checks),
			SetCap:       embedCaps(o.SetCap),
			Pipeline:     steps,
			Test:         embedTests(o.Test),
		})
	}
	var buf bytes.Buffer
	buf.WriteString("# The compiled build (reef): uses: expanded, variables substituted,\n# build environment locked to the packages it was built with.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&f); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func embedEnv(e config.Environment, locked []string) embedEnvironment {
	out := embedEnvironment{
		Contents: embedContents{
			Repositories: slices.Concat(e.Contents.Repositories, e.Contents.BuildRepositories),
			Keyring:      e.Contents.Keyring,
			Packages:     e.Contents.Packages,
		},
		Environment: e.Environment,
	}
	if locked != nil {
		out.Contents.Packages = locked
	}
	a := e.Accounts
	if a.RunAs != "" || len(a.Users) > 0 || len(a.Groups) > 0 {
		out.Accounts = &embedAccounts{RunAs: a.RunAs}
		for _, u := range a.Users {
			out.Accounts.Users = append(out.Accounts.Users, embedUser{UserName: u.UserName, UID: u.UID, GID: u.GID, Shell: u.Shell, HomeDir: u.HomeDir})
		}
		for _, g := range a.Groups {
			out.Accounts.Groups = append(out.Accounts.Groups, embedGroup{GroupName: g.GroupName, GID: g.GID, Members: g.Members})
		}
	}
	return out
}

func embedTests(t *Test) *embedTest {
	if t == nil {
		return nil
	}
	return &embedTest{Environment: embedEnv(t.Environment, nil), Pipeline: embedSteps(t.Steps)}
}

func embedDependencies(d config.Dependencies) *embedDeps {
	if d.IsZero() {
		return nil
	}
	return &embedDeps{Runtime: d.Runtime, Provides: d.Provides, Replaces: d.Replaces, ProviderPriority: d.ProviderPriority, ReplacesPriority: d.ReplacesPriority}
}

func embedOpts(o *config.PackageOptions) *embedOptions {
	if o == nil || *o == (config.PackageOptions{}) {
		return nil
	}
	return &embedOptions{NoProvides: o.NoProvides, NoDepends: o.NoDepends, NoCommands: o.NoCommands, NoVersionedShlibDeps: o.NoVersionedShlibDeps}
}

func embedScripts(s *config.Scriptlets) *embedScriptlets {
	if s == nil {
		return nil
	}
	out := &embedScriptlets{PreInstall: s.PreInstall, PostInstall: s.PostInstall, PreDeinstall: s.PreDeinstall,
		PostDeinstall: s.PostDeinstall, PreUpgrade: s.PreUpgrade, PostUpgrade: s.PostUpgrade}
	if s.Trigger.Script != "" || len(s.Trigger.Paths) > 0 {
		out.Trigger = &embedTrigger{Script: s.Trigger.Script, Paths: s.Trigger.Paths}
	}
	if *out == (embedScriptlets{}) {
		return nil
	}
	return out
}

func embedCheck(c config.Checks) *embedChecks {
	if len(c.Disabled) == 0 {
		return nil
	}
	return &embedChecks{Disabled: c.Disabled}
}

func embedCaps(cs []config.Capability) []embedSetCap {
	var out []embedSetCap
	for _, c := range cs {
		out = append(out, embedSetCap{Path: c.Path, Add: c.Add, Reason: c.Reason})
	}
	return out
}

func embedSteps(steps []Step) []embedStep {
	var out []embedStep
	for _, s := range steps {
		e := embedStep{Name: s.Name, WorkDir: s.WorkDir, Environment: maps.Clone(s.Environment)}
		if e.WorkDir == WorkDir {
			e.WorkDir = ""
		}
		switch s.Kind {
		case KindRun:
			e.Runs = s.Runs
		case KindFetch:
			f := s.Fetch
			e.Uses = "fetch"
			e.With = map[string]string{
				"uri":              f.URI,
				"directory":        f.Directory,
				"strip-components": strconv.Itoa(f.StripComponents),
				"extract":          strconv.FormatBool(f.Extract),
				"delete":           strconv.FormatBool(f.Delete),
				"timeout":          strconv.Itoa(f.Timeout),
				"dns-timeout":      strconv.Itoa(f.DNSTimeout),
				"retry-limit":      strconv.Itoa(f.RetryLimit),
			}
			set := func(k, v string) {
				if v != "" {
					e.With[k] = v
				}
			}
			set("expected-sha256", f.ExpectedSHA256)
			set("expected-sha512", f.ExpectedSHA512)
			if f.ExpectedNone {
				set("expected-none", "true")
			}
			set("purl-name", f.PurlName)
			set("purl-version", f.PurlVersion)
			set("reason", f.Reason)
		case KindGitCheckout:
			g := s.GitCheckout
			e.Uses = "git-checkout"
			e.With = map[string]string{
				"repository":     g.Repository,
				"destination":    g.Destination,
				"depth":          strconv.Itoa(g.Depth),
				"submodule-jobs": strconv.Itoa(g.SubmoduleJobs),
				"max-retries":    strconv.Itoa(g.MaxRetries),
			}
			set := func(k, v string) {
				if v != "" {
					e.With[k] = v
				}
			}
			set("branch", g.Branch)
			set("tag", g.Tag)
			set("expected-commit", g.ExpectedCommit)
			if g.ExpectedCommitIsBranchTip {
				set("expected-commit-is-branch-tip", "true")
			}
			if g.RecurseSubmodules {
				set("recurse-submodules", "true")
			}
			if g.ShallowSubmodules {
				set("shallow-submodules", "true")
			}
			var picks string
			for _, cp := range g.CherryPicks {
				ref := cp.Commit
				if cp.Branch != "" {
					ref = cp.Branch + "/" + cp.Commit
				}
				picks += ref + ": " + cp.Comment + "\n"
			}
			set("cherry-picks", picks)
			if len(g.SparsePaths) > 0 {
				var sp string
				for _, p := range g.SparsePaths {
					sp += p + "\n"
				}
				set("sparse-paths", sp)
			}
			set("type-hint", g.TypeHint)
			set("reason", g.Reason)
		}
		out = append(out, e)
	}
	return out
}
