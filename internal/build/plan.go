package build

import (
	"fmt"
	"strings"

	"github.com/reef-dev/reef/internal/build/config"
)

// WorkDir is where the workspace is mounted in the sandbox; relative
// working directories are relative to it.
const WorkDir = "/home/build"

// OutDir is where each package's files are collected in the sandbox:
// OutDir/<package name>.
const OutDir = WorkDir + "/melange-out"

// Build is the compiled plan of one build file for one architecture.
type Build struct {
	// File is the build file, as given to Load.
	File string `json:"file"`
	// Arch is the apk architecture built for.
	Arch string `json:"arch"`
	// BuildOptions are the enabled build options, sorted.
	BuildOptions []string `json:"build-options,omitempty"`
	// Variables are the substitution variables of the main package's
	// context, by name ("package.version", "vars.x", "build.arch"); the
	// subpackages' contexts differ in targets.contextdir,
	// targets.subpkgdir, subpkg.name, context.name and range.*.
	Variables map[string]string `json:"variables"`
	// Package is the package block, with dependencies fully
	// substituted.
	Package config.Package `json:"package"`
	// Environment is the build environment: contents.packages lists the
	// file's packages then the needs of the pipelines used (deduplicated,
	// in order of first use); environment holds the defaults reef and
	// melange set (HOME, GOPATH, SOURCE_DATE_EPOCH, …) unless the file
	// sets them; accounts include the build user and group (uid/gid 1000).
	Environment config.Environment `json:"environment"`
	// Capabilities are added to or dropped from the sandbox.
	Capabilities config.Capabilities `json:"capabilities,omitzero"`
	// Packages are the packages the build produces: the main package
	// first, then the subpackages whose if: holds, in file order (range
	// subpackages expanded in key order).
	Packages []*Output `json:"packages"`
}

// Output is one package the build produces, with the steps that fill its
// directory.
type Output struct {
	// Name is the package name.
	Name string `json:"name"`
	// Origin is the main package's name.
	Origin string `json:"origin"`
	// Version is the full version, "1.2.3-r0".
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	Commit      string `json:"commit,omitempty"`
	// Copyright is the main package's copyright (subpackages share it).
	Copyright    []config.Copyright     `json:"copyright,omitempty"`
	Dependencies config.Dependencies    `json:"dependencies,omitzero"`
	Options      *config.PackageOptions `json:"options,omitempty"`
	Scriptlets   *config.Scriptlets     `json:"scriptlets,omitempty"`
	Checks       config.Checks          `json:"checks,omitzero"`
	Annotations  map[string]string      `json:"annotations,omitempty"`
	SetCap       []config.Capability    `json:"setcap,omitempty"`
	// Dir is the package's directory in the sandbox
	// (${{targets.contextdir}}): OutDir/<name>.
	Dir string `json:"dir"`
	// Steps run in order; the main package's steps run before all
	// subpackages' steps, in the same sandbox.
	Steps []Step `json:"steps"`
	// Test is the package's test block, compiled (nil without one).
	Test *Test `json:"test,omitempty"`
}

// Test is a compiled test block: run later by reef test, in a fresh
// environment holding the package under test.
type Test struct {
	// Environment is the test environment: its packages are the
	// file's, then the package under test, then the needs of the test
	// pipelines (deduplicated, in order).
	Environment config.Environment `json:"environment"`
	Steps       []Step             `json:"steps"`
}

// Step kinds.
const (
	// KindRun is a shell script run in the sandbox.
	KindRun = "run"
	// KindFetch downloads, verifies and extracts an archive (on the host).
	KindFetch = "fetch"
	// KindGitCheckout clones a git repository (on the host).
	KindGitCheckout = "git-checkout"
)

// Step is one unit of work.
//
// A run step is executed as /bin/sh -c with, in order: "set -e", creating
// and entering WorkDir, the Runs script, and "exit 0"; its environment is
// the build environment's variables, PATH
// (/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin) and then
// Environment.
type Step struct {
	// Kind is KindRun, KindFetch or KindGitCheckout.
	Kind string `json:"kind"`
	// Name is the step's name: its own, or for a step that is a whole
	// uses: (fetch, git-checkout) the name the caller gave.
	Name string `json:"name,omitempty"`
	// Uses is the pipeline the step comes from (the innermost uses:),
	// "" for a step written in the build file.
	Uses string `json:"uses,omitempty"`
	// Label is the step's label:, for --continue-from style tooling.
	Label string `json:"label,omitempty"`
	// Origin is the chain of steps, outermost first, that produced this
	// one: the build file step, then the steps inside each pipeline
	// definition that uses: led to.
	Origin []Frame `json:"origin"`
	// WorkDir is the absolute working directory in the sandbox.
	WorkDir string `json:"working-directory"`
	// Environment are the step's own variables, inherited from the
	// enclosing steps and overriding the build environment's.
	Environment map[string]string `json:"environment,omitempty"`
	// Runs is the script of a run step, fully substituted.
	Runs        string       `json:"runs,omitempty"`
	Fetch       *Fetch       `json:"fetch,omitempty"`
	GitCheckout *GitCheckout `json:"git-checkout,omitempty"`
}

// Identity names the step for logs: its name, else the pipeline it comes
// from, else its position in the file.
func (s *Step) Identity() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Uses != "":
		return s.Uses
	case len(s.Origin) > 0:
		f := s.Origin[len(s.Origin)-1]
		return fmt.Sprintf("step at %s:%d", f.File, f.Line)
	}
	return "step"
}

// Where describes the step's origin for error messages:
// "hello.yaml:20 (uses autoconf/make) > builtin:autoconf/make.yaml:14".
func (s *Step) Where() string {
	parts := make([]string, len(s.Origin))
	for i, f := range s.Origin {
		parts[i] = f.String()
	}
	return strings.Join(parts, " > ")
}

// Frame is one step in a step's origin chain.
type Frame struct {
	// File is the build file or pipeline file ("builtin:NAME.yaml" for a
	// built-in pipeline).
	File string `json:"file"`
	Line int    `json:"line"`
	// Name and Uses are the step's name: and uses:, if any.
	Name string `json:"name,omitempty"`
	Uses string `json:"uses,omitempty"`
}

func (f Frame) String() string {
	s := fmt.Sprintf("%s:%d", f.File, f.Line)
	switch {
	case f.Uses != "" && f.Name != "":
		s += fmt.Sprintf(" (%s, uses %s)", f.Name, f.Uses)
	case f.Uses != "":
		s += " (uses " + f.Uses + ")"
	case f.Name != "":
		s += " (" + f.Name + ")"
	}
	return s
}

// Fetch is a fetch step: download URI, check its checksum, and unless
// Extract is false extract it into Directory.
//
// The runner looks for the artifact in the cache directory first, as
// "sha256:<hex>" or "sha512:<hex>", then downloads it (retrying RetryLimit
// times, with Timeout and DNSTimeout). The artifact is stored in the
// working directory under the last path element of URI, extracted with
// StripComponents leading components removed, and deleted afterwards when
// Delete is set.
type Fetch struct {
	URI            string `json:"uri"`
	ExpectedSHA256 string `json:"expected-sha256,omitempty"`
	ExpectedSHA512 string `json:"expected-sha512,omitempty"`
	// ExpectedNone accepts an artifact without a checksum.
	ExpectedNone bool `json:"expected-none,omitempty"`
	// Directory is the absolute directory in the sandbox to extract
	// into.
	Directory       string `json:"directory"`
	StripComponents int    `json:"strip-components"`
	Extract         bool   `json:"extract"`
	Delete          bool   `json:"delete"`
	// Timeout and DNSTimeout are in seconds.
	Timeout     int    `json:"timeout"`
	DNSTimeout  int    `json:"dns-timeout"`
	RetryLimit  int    `json:"retry-limit"`
	PurlName    string `json:"purl-name,omitempty"`
	PurlVersion string `json:"purl-version,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// GitCheckout is a git-checkout step: clone Repository at Tag or Branch
// into Destination, check that HEAD is ExpectedCommit, then apply
// CherryPicks.
type GitCheckout struct {
	Repository string `json:"repository"`
	// Destination is the absolute directory in the sandbox.
	Destination string `json:"destination"`
	// Depth is the clone depth, -1 for the full history. The "unset"
	// default is resolved: 1, or -1 when Branch and ExpectedCommit are
	// both given and ExpectedCommitIsBranchTip is not set.
	Depth                     int    `json:"depth"`
	Branch                    string `json:"branch,omitempty"`
	Tag                       string `json:"tag,omitempty"`
	ExpectedCommit            string `json:"expected-commit,omitempty"`
	ExpectedCommitIsBranchTip bool   `json:"expected-commit-is-branch-tip,omitempty"`
	RecurseSubmodules         bool   `json:"recurse-submodules,omitempty"`
	ShallowSubmodules         bool   `json:"shallow-submodules,omitempty"`
	SubmoduleJobs             int    `json:"submodule-jobs"`
	// CherryPicks are applied in order, committed at SOURCE_DATE_EPOCH.
	CherryPicks []CherryPick `json:"cherry-picks,omitempty"`
	// SparsePaths, when set, restrict the checkout (cone mode).
	SparsePaths []string `json:"sparse-paths,omitempty"`
	TypeHint    string   `json:"type-hint,omitempty"`
	// MaxRetries, InitialBackoff and MaxBackoff (seconds) govern
	// retrying a failed clone.
	MaxRetries     int    `json:"max-retries"`
	InitialBackoff int    `json:"initial-backoff"`
	MaxBackoff     int    `json:"max-backoff"`
	Reason         string `json:"reason,omitempty"`
}

// CherryPick is one line of git-checkout's cherry-picks input.
type CherryPick struct {
	// Branch is the remote branch to fetch the commit from ("" for
	// none).
	Branch  string `json:"branch,omitempty"`
	Commit  string `json:"commit"`
	Comment string `json:"comment"`
}
