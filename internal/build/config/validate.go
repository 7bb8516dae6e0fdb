package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reef-dev/reef/internal/version"
)

// packageNameRE is melange's rule for package names.
var packageNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z\d][a-zA-Z\d+_.-]*$`) })

// ValidPackageName reports whether name is a valid package name.
func ValidPackageName(name string) bool { return packageNameRE().MatchString(name) }

// Archs are the apk architecture names a build can target.
var Archs = []string{"aarch64", "armhf", "armv7", "loongarch64", "ppc64le", "riscv64", "s390x", "x86", "x86_64"}

// ociArchs maps the OCI / Go names people write by mistake to apk names.
var ociArchs = map[string]string{
	"amd64": "x86_64", "arm64": "aarch64", "386": "x86", "i386": "x86", "i686": "x86",
	"arm": "armv7", "arm/v7": "armv7", "arm/v6": "armhf", "loong64": "loongarch64",
}

// allowedCaps are the file capabilities setcap: may add.
var allowedCaps = []string{"cap_ipc_lock", "cap_net_admin", "cap_net_bind_service", "cap_net_raw", "cap_sys_admin"}

func nameHint(name string) string {
	if strings.Contains(name, "${{") {
		return " (it holds a reference the first substitution pass could not resolve: names may only use package.*, vars.* and range.*, written without blanks)"
	}
	return ""
}

func (cfg *Configuration) validatePackage() error {
	p := &cfg.Package
	pos := p.Pos
	if pos.File == "" {
		pos = Pos{File: cfg.File, Line: cfg.Pos.KeyLine("package"), Path: "package"}
	}
	if p.Name == "" {
		return pos.Errorf("name", "missing: every build file needs package.name")
	}
	if p.Version == "" {
		return pos.Errorf("version", "missing: every build file needs package.version")
	}
	return nil
}

// validate checks the loaded configuration after the first substitution
// pass and range expansion.
func (cfg *Configuration) validate() error {
	p := &cfg.Package
	if !ValidPackageName(p.Name) {
		return p.Pos.Errorf("name", "%q is not a valid package name: use letters, digits and +_.- (starting with a letter or digit)%s", p.Name, nameHint(p.Name))
	}
	if err := validateVersion(p.Version); err != nil {
		return p.Pos.Errorf("version", "%v", err)
	}
	for i, a := range p.TargetArchitecture {
		if err := checkArch(a); err != nil {
			return p.Pos.Errorf(fmt.Sprintf("target-architecture[%d]", i), "%v", err)
		}
	}
	for _, c := range p.Copyright {
		if c.License == "" {
			return c.Pos.Errorf("license", "missing: each copyright entry needs a license (an SPDX expression)")
		}
	}
	if err := validateDeps(p.Dependencies); err != nil {
		return err
	}
	if err := validateCaps(p.SetCap); err != nil {
		return err
	}
	if err := validateCPE(p.CPE, p.Pos); err != nil {
		return err
	}
	if p.Timeout != "" {
		if _, err := ParseTimeout(p.Timeout); err != nil {
			return p.Pos.Errorf("timeout", "%v", err)
		}
	}
	if err := validateSteps(cfg.Pipeline, cfg.Pos, "pipeline"); err != nil {
		return err
	}
	if cfg.Test != nil {
		if err := validateSteps(cfg.Test.Pipeline, cfg.Test.Pos, "pipeline"); err != nil {
			return err
		}
	}
	seen := map[string]int{p.Name: -1}
	for i, sp := range cfg.Subpackages {
		pos := sp.Pos
		what := "subpackage"
		if sp.RangeItem != nil {
			what = fmt.Sprintf("subpackage (range item %q)", sp.RangeItem.Key)
		}
		if sp.Name == "" {
			return pos.Errorf("name", "missing: every subpackage needs a name")
		}
		if !ValidPackageName(sp.Name) {
			return pos.Errorf("name", "%s name %q is not a valid package name%s", what, sp.Name, nameHint(sp.Name))
		}
		if j, dup := seen[sp.Name]; dup {
			if j < 0 {
				return pos.Errorf("name", "%s %q has the name of the main package", what, sp.Name)
			}
			return pos.Errorf("name", "%s name %q is used twice (subpackages %d and %d after range expansion)", what, sp.Name, j, i)
		}
		seen[sp.Name] = i
		if err := validateDeps(sp.Dependencies); err != nil {
			return err
		}
		if err := validateCaps(sp.SetCap); err != nil {
			return err
		}
		if err := validateSteps(sp.Pipeline, sp.Pos, "pipeline"); err != nil {
			return err
		}
		if sp.Test != nil {
			if err := validateSteps(sp.Test.Pipeline, sp.Test.Pos, "pipeline"); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateVersion checks a package version: an apk version without a
// revision (the revision is package.epoch).
func validateVersion(v string) error {
	if strings.Contains(v, "${{") {
		return fmt.Errorf("%q holds a reference that could not be resolved (only vars.* written without blanks can be used here)", v)
	}
	if !version.Valid(v) {
		return fmt.Errorf("%q is not a valid apk version (e.g. 1.2.3, 1.0_rc1, 2.5.1a, 1.0_git20240101)", v)
	}
	if i := strings.LastIndex(v, "-r"); i >= 0 {
		return fmt.Errorf("%q has a revision (-r…): write it as package.epoch instead", v)
	}
	return nil
}

// checkArch accepts an apk architecture name or "all".
func checkArch(a string) error {
	if a == "all" || slices.Contains(Archs, a) {
		return nil
	}
	if apk, ok := ociArchs[a]; ok {
		return fmt.Errorf("%q is not an apk architecture name: write %q", a, apk)
	}
	return fmt.Errorf("unknown architecture %q (want one of %s)", a, strings.Join(Archs, ", "))
}

// ValidatePriority checks a provider-priority or replaces-priority value.
func ValidatePriority(s string) error {
	if s == "" {
		return nil
	}
	if _, err := strconv.Atoi(s); err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	return nil
}

func validateDeps(d Dependencies) error {
	for _, f := range []struct{ key, val string }{{"provider-priority", d.ProviderPriority}, {"replaces-priority", d.ReplacesPriority}} {
		if strings.Contains(f.val, "${{") {
			continue // resolved and checked by the compiler
		}
		if err := ValidatePriority(f.val); err != nil {
			return d.Pos.Errorf(f.key, "%v", err)
		}
	}
	return nil
}

func validateCaps(caps []Capability) error {
	for _, c := range caps {
		if c.Path == "" {
			return c.Pos.Errorf("path", "missing: the file to set capabilities on")
		}
		if c.Reason == "" {
			return c.Pos.Errorf("reason", "missing: say why %s needs capabilities", c.Path)
		}
		for names, flags := range c.Add {
			for n := range strings.SplitSeq(names, ",") {
				if !slices.Contains(allowedCaps, strings.TrimSpace(n)) {
					return c.Pos.Errorf("add."+names, "capability %q is not allowed (allowed: %s)", n, strings.Join(allowedCaps, ", "))
				}
			}
			if strings.Trim(flags, "+eip") != "" {
				return c.Pos.Errorf("add."+names, "flags %q: want a combination of e, i and p, e.g. +ep", flags)
			}
		}
	}
	return nil
}

var cpeFieldRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z\d][a-z\d+_.-]*$`) })

func validateCPE(c CPE, pos Pos) error {
	if c.Part != "" && c.Part != "a" && c.Part != "o" {
		return pos.Errorf("cpe.part", "%q: want a (application) or o (operating system)", c.Part)
	}
	if (c.Vendor == "") != (c.Product == "") {
		return pos.Errorf("cpe", "vendor and product must be given together")
	}
	for _, f := range []struct{ k, v string }{
		{"vendor", c.Vendor}, {"product", c.Product}, {"edition", c.Edition}, {"language", c.Language},
		{"sw_edition", c.SWEdition}, {"target_sw", c.TargetSW}, {"target_hw", c.TargetHW}, {"other", c.Other},
	} {
		if f.v != "" && !cpeFieldRE().MatchString(f.v) {
			return pos.Errorf("cpe."+f.k, "%q: use lower-case letters, digits and +_.-", f.v)
		}
	}
	return nil
}

// ParseTimeout parses package.timeout: a Go duration ("1h30m") or a whole
// number of seconds.
func ParseTimeout(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 90m, 2h) or a number of seconds", s)
	}
	return d, nil
}

// validateSteps applies melange's rules to steps: uses and runs exclude
// each other, and with needs uses.
func validateSteps(steps []Pipeline, parent Pos, key string) error {
	for i, p := range steps {
		pos := p.Pos
		if pos.File == "" {
			pos = Pos{File: parent.File, Line: parent.KeyLine(key), Path: fmt.Sprintf("%s[%d]", parent.Field(key), i)}
		}
		switch {
		case p.Uses != "" && p.Runs != "":
			return pos.Errorf("runs", "a step has either uses: or runs:, not both (uses: %s)", p.Uses)
		case len(p.With) > 0 && p.Uses == "":
			return pos.Errorf("with", "with: gives inputs to a uses: pipeline, and this step has no uses:")
		}
		if err := validateSteps(p.Pipeline, pos, "pipeline"); err != nil {
			return err
		}
	}
	return nil
}
