package config

// Configuration is a build file.
type Configuration struct {
	Package       Package                `yaml:"package" json:"package"`
	Environment   Environment            `yaml:"environment" json:"environment,omitzero"`
	Capabilities  Capabilities           `yaml:"capabilities" json:"capabilities,omitzero"`
	Pipeline      []Pipeline             `yaml:"pipeline" json:"pipeline,omitempty"`
	Subpackages   []Subpackage           `yaml:"subpackages" json:"subpackages,omitempty"`
	Data          []Data                 `yaml:"data" json:"data,omitempty"`
	Update        Update                 `yaml:"update,loose" json:"update,omitzero"`
	Vars          map[string]string      `yaml:"vars" json:"vars,omitempty"`
	VarTransforms []VarTransform         `yaml:"var-transforms" json:"var-transforms,omitempty"`
	Options       map[string]BuildOption `yaml:"options" json:"options,omitempty"`
	Test          *Test                  `yaml:"test" json:"test,omitempty"`

	// File is the path the configuration was read from.
	File string `yaml:"-" json:"-"`
	// EnabledOptions are the build options enabled when it was loaded,
	// sorted.
	EnabledOptions []string `yaml:"-" json:"-"`
	// Pos is where the top-level mapping is.
	Pos Pos `yaml:"-" json:"-"`
}

// Package is the package block: the metadata of the main package.
type Package struct {
	Name               string            `yaml:"name" json:"name"`
	Version            string            `yaml:"version" json:"version"`
	Epoch              uint64            `yaml:"epoch" json:"epoch"`
	Description        string            `yaml:"description" json:"description,omitempty"`
	URL                string            `yaml:"url" json:"url,omitempty"`
	Commit             string            `yaml:"commit" json:"commit,omitempty"`
	Annotations        map[string]string `yaml:"annotations" json:"annotations,omitempty"`
	TargetArchitecture []string          `yaml:"target-architecture" json:"target-architecture,omitempty"`
	Copyright          []Copyright       `yaml:"copyright" json:"copyright,omitempty"`
	Dependencies       Dependencies      `yaml:"dependencies" json:"dependencies,omitzero"`
	Options            *PackageOptions   `yaml:"options" json:"options,omitempty"`
	Scriptlets         *Scriptlets       `yaml:"scriptlets" json:"scriptlets,omitempty"`
	Checks             Checks            `yaml:"checks" json:"checks,omitzero"`
	CPE                CPE               `yaml:"cpe" json:"cpe,omitzero"`
	SetCap             []Capability      `yaml:"setcap" json:"setcap,omitempty"`
	// Timeout is a Go duration ("2h30m") or a number of seconds.
	Timeout       string     `yaml:"timeout" json:"timeout,omitempty"`
	Resources     *Resources `yaml:"resources" json:"resources,omitempty"`
	TestResources *Resources `yaml:"test-resources" json:"test-resources,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// FullVersion is the package version with its epoch as apk writes it:
// "1.2.3-r0".
func (p *Package) FullVersion() string {
	return p.Version + "-r" + uitoa(p.Epoch)
}

func uitoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Copyright is one licence of a package.
type Copyright struct {
	License           string   `yaml:"license" json:"license"`
	Paths             []string `yaml:"paths" json:"paths,omitempty"`
	Attestation       string   `yaml:"attestation" json:"attestation,omitempty"`
	LicensePath       string   `yaml:"license-path" json:"license-path,omitempty"`
	DetectionOverride string   `yaml:"detection-override" json:"detection-override,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Dependencies are a package's declared relations, in apk's dependency
// syntax ("foo", "foo>=1.2", "so:libc.so.6", "!conflict").
type Dependencies struct {
	Runtime  []string `yaml:"runtime" json:"runtime,omitempty"`
	Provides []string `yaml:"provides" json:"provides,omitempty"`
	Replaces []string `yaml:"replaces" json:"replaces,omitempty"`
	// ProviderPriority and ReplacesPriority are integers written as
	// text; they may hold references until the compiler resolves them.
	ProviderPriority string `yaml:"provider-priority" json:"provider-priority,omitempty"`
	ReplacesPriority string `yaml:"replaces-priority" json:"replaces-priority,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// PackageOptions switch off parts of the automatic dependency scan.
type PackageOptions struct {
	NoProvides           bool `yaml:"no-provides" json:"no-provides,omitempty"`
	NoDepends            bool `yaml:"no-depends" json:"no-depends,omitempty"`
	NoCommands           bool `yaml:"no-commands" json:"no-commands,omitempty"`
	NoVersionedShlibDeps bool `yaml:"no-versioned-shlib-deps" json:"no-versioned-shlib-deps,omitempty"`
}

// Scriptlets are the package's install scripts.
type Scriptlets struct {
	Trigger       Trigger `yaml:"trigger" json:"trigger,omitzero"`
	PreInstall    string  `yaml:"pre-install" json:"pre-install,omitempty"`
	PostInstall   string  `yaml:"post-install" json:"post-install,omitempty"`
	PreDeinstall  string  `yaml:"pre-deinstall" json:"pre-deinstall,omitempty"`
	PostDeinstall string  `yaml:"post-deinstall" json:"post-deinstall,omitempty"`
	PreUpgrade    string  `yaml:"pre-upgrade" json:"pre-upgrade,omitempty"`
	PostUpgrade   string  `yaml:"post-upgrade" json:"post-upgrade,omitempty"`
}

// Trigger is an apk trigger: a script run when files change under paths.
type Trigger struct {
	Script string   `yaml:"script" json:"script,omitempty"`
	Paths  []string `yaml:"paths" json:"paths,omitempty"`
}

// Checks configures the package linters.
type Checks struct {
	// Disabled names linters whose findings become warnings.
	Disabled []string `yaml:"disabled" json:"disabled,omitempty"`
}

// CPE holds the fields of the package's CPE 2.3 name.
type CPE struct {
	Part      string `yaml:"part" json:"part,omitempty"`
	Vendor    string `yaml:"vendor" json:"vendor,omitempty"`
	Product   string `yaml:"product" json:"product,omitempty"`
	Edition   string `yaml:"edition" json:"edition,omitempty"`
	Language  string `yaml:"language" json:"language,omitempty"`
	SWEdition string `yaml:"sw_edition" json:"sw_edition,omitempty"`
	TargetSW  string `yaml:"target_sw" json:"target_sw,omitempty"`
	TargetHW  string `yaml:"target_hw" json:"target_hw,omitempty"`
	Other     string `yaml:"other" json:"other,omitempty"`
}

// Capability sets file capabilities on a path after the build.
type Capability struct {
	Path string `yaml:"path" json:"path"`
	// Add maps comma-separated capability names to flags, e.g.
	// "cap_net_raw,cap_net_admin": "+eip".
	Add    map[string]string `yaml:"add" json:"add"`
	Reason string            `yaml:"reason" json:"reason"`

	Pos Pos `yaml:"-" json:"-"`
}

// Resources are the resources a build asks its runner for.
type Resources struct {
	CPU      string `yaml:"cpu" json:"cpu,omitempty"`
	CPUModel string `yaml:"cpumodel" json:"cpumodel,omitempty"`
	Memory   string `yaml:"memory" json:"memory,omitempty"`
	Disk     string `yaml:"disk" json:"disk,omitempty"`
}

// Environment is the build (or test) environment: apko's image
// configuration. reef uses contents, environment and accounts; the other
// apko fields are accepted and kept.
type Environment struct {
	Contents    Contents          `yaml:"contents" json:"contents,omitzero"`
	Environment map[string]string `yaml:"environment" json:"environment,omitempty"`
	Accounts    Accounts          `yaml:"accounts" json:"accounts,omitzero"`

	Entrypoint   any               `yaml:"entrypoint" json:"entrypoint,omitempty"`
	Cmd          string            `yaml:"cmd" json:"cmd,omitempty"`
	StopSignal   string            `yaml:"stop-signal" json:"stop-signal,omitempty"`
	WorkDir      string            `yaml:"work-dir" json:"work-dir,omitempty"`
	Archs        []string          `yaml:"archs" json:"archs,omitempty"`
	Paths        any               `yaml:"paths" json:"paths,omitempty"`
	Include      string            `yaml:"include" json:"include,omitempty"`
	VCSURL       string            `yaml:"vcs-url" json:"vcs-url,omitempty"`
	Annotations  map[string]string `yaml:"annotations" json:"annotations,omitempty"`
	Volumes      []string          `yaml:"volumes" json:"volumes,omitempty"`
	Layering     any               `yaml:"layering" json:"layering,omitempty"`
	Format       string            `yaml:"format" json:"format,omitempty"`
	Certificates any               `yaml:"certificates" json:"certificates,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Contents says where packages come from and which are installed.
type Contents struct {
	Repositories        []string `yaml:"repositories" json:"repositories,omitempty"`
	BuildRepositories   []string `yaml:"build_repositories" json:"build_repositories,omitempty"`
	RuntimeRepositories []string `yaml:"runtime_repositories" json:"runtime_repositories,omitempty"`
	Keyring             []string `yaml:"keyring" json:"keyring,omitempty"`
	RuntimeKeyring      any      `yaml:"runtime_keyring" json:"runtime_keyring,omitempty"`
	// Packages are apk dependency strings ("busybox", "go>1.21").
	Packages  []string `yaml:"packages" json:"packages,omitempty"`
	BaseImage any      `yaml:"baseimage" json:"baseimage,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Accounts are the users and groups of the environment.
type Accounts struct {
	RunAs  string  `yaml:"run-as" json:"run-as,omitempty"`
	Users  []User  `yaml:"users" json:"users,omitempty"`
	Groups []Group `yaml:"groups" json:"groups,omitempty"`
}

// User is an account of the environment.
type User struct {
	UserName string  `yaml:"username" json:"username"`
	UID      uint32  `yaml:"uid" json:"uid"`
	GID      *uint32 `yaml:"gid" json:"gid,omitempty"`
	Shell    string  `yaml:"shell" json:"shell,omitempty"`
	HomeDir  string  `yaml:"homedir" json:"homedir,omitempty"`
}

// Group is a group of the environment.
type Group struct {
	GroupName string   `yaml:"groupname" json:"groupname"`
	GID       uint32   `yaml:"gid" json:"gid"`
	Members   []string `yaml:"members" json:"members,omitempty"`
}

// Capabilities are Linux process capabilities added to or dropped from the
// build sandbox.
type Capabilities struct {
	Add  []string `yaml:"add" json:"add,omitempty"`
	Drop []string `yaml:"drop" json:"drop,omitempty"`
}

// Pipeline is one step of a pipeline: in a build file (pipeline:,
// subpackages[].pipeline:, test.pipeline:) and as the top level of a
// pipeline definition file.
type Pipeline struct {
	Name string `yaml:"name" json:"name,omitempty"`
	// Uses names a pipeline definition ("autoconf/configure").
	Uses string `yaml:"uses" json:"uses,omitempty"`
	// With are the inputs given to Uses.
	With map[string]string `yaml:"with" json:"with,omitempty"`
	// Runs is a shell script.
	Runs string `yaml:"runs" json:"runs,omitempty"`
	// Pipeline are nested steps; they inherit the step's with, working
	// directory and environment.
	Pipeline []Pipeline `yaml:"pipeline" json:"pipeline,omitempty"`
	// If is a condition (see package expr); a step whose condition is
	// false is dropped with its nested steps.
	If string `yaml:"if" json:"if,omitempty"`
	// WorkDir is relative to /home/build unless absolute.
	WorkDir     string            `yaml:"working-directory" json:"working-directory,omitempty"`
	Environment map[string]string `yaml:"environment" json:"environment,omitempty"`
	Needs       *Needs            `yaml:"needs" json:"needs,omitempty"`
	// Inputs are declared by pipeline definition files.
	Inputs     map[string]Input `yaml:"inputs" json:"inputs,omitempty"`
	Assertions *Assertions      `yaml:"assertions" json:"assertions,omitempty"`
	Label      string           `yaml:"label" json:"label,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Needs lists packages a step needs in the build environment.
type Needs struct {
	Packages []string `yaml:"packages" json:"packages,omitempty"`
}

// Input is an input declared by a pipeline definition.
type Input struct {
	Description string `yaml:"description" json:"description,omitempty"`
	Default     string `yaml:"default" json:"default,omitempty"`
	Required    bool   `yaml:"required" json:"required,omitempty"`
}

// Assertions are checks on a step's nested steps.
type Assertions struct {
	// RequiredSteps is how many nested steps must run (have a true if:).
	RequiredSteps int `yaml:"required-steps" json:"required-steps"`
}

// Subpackage is a subpackages entry. After Load, subpackages with a range
// have been expanded and Range is empty.
type Subpackage struct {
	Name         string            `yaml:"name" json:"name"`
	If           string            `yaml:"if" json:"if,omitempty"`
	Range        string            `yaml:"range" json:"range,omitempty"`
	Pipeline     []Pipeline        `yaml:"pipeline" json:"pipeline,omitempty"`
	Dependencies Dependencies      `yaml:"dependencies" json:"dependencies,omitzero"`
	Options      *PackageOptions   `yaml:"options" json:"options,omitempty"`
	Scriptlets   *Scriptlets       `yaml:"scriptlets" json:"scriptlets,omitempty"`
	Description  string            `yaml:"description" json:"description,omitempty"`
	URL          string            `yaml:"url" json:"url,omitempty"`
	Commit       string            `yaml:"commit" json:"commit,omitempty"`
	Annotations  map[string]string `yaml:"annotations" json:"annotations,omitempty"`
	Checks       Checks            `yaml:"checks" json:"checks,omitzero"`
	Test         *Test             `yaml:"test" json:"test,omitempty"`
	SetCap       []Capability      `yaml:"setcap" json:"setcap,omitempty"`

	// RangeItem is the data item this subpackage was expanded from, nil
	// for a subpackage written out.
	RangeItem *DataItem `yaml:"-" json:"-"`

	Pos Pos `yaml:"-" json:"-"`
}

// DataItem is one key and value of a data entry.
type DataItem struct {
	Key, Value string
}

// Data is a named map of items that range: subpackages iterate over.
type Data struct {
	Name  string            `yaml:"name" json:"name"`
	Items map[string]string `yaml:"items" json:"items"`

	Pos Pos `yaml:"-" json:"-"`
}

// VarTransform defines vars.<To> as Match (a Go regular expression)
// replaced by Replace (with $1 / ${1} references to groups) in From.
type VarTransform struct {
	From    string `yaml:"from" json:"from"`
	Match   string `yaml:"match" json:"match"`
	Replace string `yaml:"replace" json:"replace"`
	To      string `yaml:"to" json:"to"`

	Pos Pos `yaml:"-" json:"-"`
}

// BuildOption is a named variant of the build, enabled on the command line.
type BuildOption struct {
	Vars        map[string]string      `yaml:"vars" json:"vars,omitempty"`
	Environment BuildOptionEnvironment `yaml:"environment" json:"environment,omitzero"`
}

// BuildOptionEnvironment changes the build environment of a build option.
type BuildOptionEnvironment struct {
	Contents BuildOptionContents `yaml:"contents" json:"contents,omitzero"`
}

// BuildOptionContents changes the build environment's packages.
type BuildOptionContents struct {
	Packages ListChange `yaml:"packages" json:"packages,omitzero"`
}

// ListChange adds and removes list entries.
type ListChange struct {
	Add    []string `yaml:"add" json:"add,omitempty"`
	Remove []string `yaml:"remove" json:"remove,omitempty"`
}

// Test is a test block: an environment and the steps run in it.
type Test struct {
	Environment Environment `yaml:"environment" json:"environment,omitzero"`
	Pipeline    []Pipeline  `yaml:"pipeline" json:"pipeline,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Update says how the package is kept up to date (used by bots, not by
// builds). It is decoded loosely: unknown keys are ignored.
type Update struct {
	Enabled              bool               `yaml:"enabled" json:"enabled,omitempty"`
	Manual               bool               `yaml:"manual" json:"manual,omitempty"`
	RequireSequential    bool               `yaml:"require-sequential" json:"require-sequential,omitempty"`
	Shared               bool               `yaml:"shared" json:"shared,omitempty"`
	VersionSeparator     string             `yaml:"version-separator" json:"version-separator,omitempty"`
	IgnoreRegexPatterns  []string           `yaml:"ignore-regex-patterns" json:"ignore-regex-patterns,omitempty"`
	ExcludeReason        string             `yaml:"exclude-reason" json:"exclude-reason,omitempty"`
	Schedule             *Schedule          `yaml:"schedule" json:"schedule,omitempty"`
	EnablePreReleaseTags bool               `yaml:"enable-prerelease-tags" json:"enable-prerelease-tags,omitempty"`
	VersionTransform     []VersionTransform `yaml:"version-transform" json:"version-transform,omitempty"`
	ReleaseMonitor       *Monitor           `yaml:"release-monitor" json:"release-monitor,omitempty"`
	GitHub               *Monitor           `yaml:"github" json:"github,omitempty"`
	Git                  *Monitor           `yaml:"git" json:"git,omitempty"`
	OCI                  *Monitor           `yaml:"oci" json:"oci,omitempty"`
	VersionData          any                `yaml:"version_data" json:"version_data,omitempty"`
}

// Schedule is how often an update check runs.
type Schedule struct {
	Period string `yaml:"period" json:"period,omitempty"`
	Reason string `yaml:"reason" json:"reason,omitempty"`
}

// VersionTransform maps an upstream version to an apk version.
type VersionTransform struct {
	Match   string `yaml:"match" json:"match"`
	Replace string `yaml:"replace" json:"replace"`
}

// Monitor is one of the update sources (release-monitor, github, git,
// oci); each uses the fields that apply to it.
type Monitor struct {
	Identifier            string `yaml:"identifier" json:"identifier,omitempty"`
	StripPrefix           string `yaml:"strip-prefix" json:"strip-prefix,omitempty"`
	StripSuffix           string `yaml:"strip-suffix" json:"strip-suffix,omitempty"`
	VersionFilterPrefix   string `yaml:"version-filter-prefix" json:"version-filter-prefix,omitempty"`
	VersionFilterContains string `yaml:"version-filter-contains" json:"version-filter-contains,omitempty"`
	TagFilter             string `yaml:"tag-filter" json:"tag-filter,omitempty"`
	TagFilterPrefix       string `yaml:"tag-filter-prefix" json:"tag-filter-prefix,omitempty"`
	TagFilterContains     string `yaml:"tag-filter-contains" json:"tag-filter-contains,omitempty"`
	UseTag                bool   `yaml:"use-tag" json:"use-tag,omitempty"`
}

// IsZero reports whether no dependency is declared (the position is
// ignored), so that JSON output can omit an empty block.
func (d Dependencies) IsZero() bool {
	return len(d.Runtime) == 0 && len(d.Provides) == 0 && len(d.Replaces) == 0 && d.ProviderPriority == "" && d.ReplacesPriority == ""
}

// IsZero reports whether the contents block is empty (the position is
// ignored).
func (c Contents) IsZero() bool {
	return len(c.Repositories) == 0 && len(c.BuildRepositories) == 0 && len(c.RuntimeRepositories) == 0 &&
		len(c.Keyring) == 0 && c.RuntimeKeyring == nil && len(c.Packages) == 0 && c.BaseImage == nil
}

// IsZero reports whether the environment block is empty (the position is
// ignored).
func (e Environment) IsZero() bool {
	return e.Contents.IsZero() && len(e.Environment) == 0 && e.Accounts.RunAs == "" && len(e.Accounts.Users) == 0 &&
		len(e.Accounts.Groups) == 0 && e.Entrypoint == nil && e.Cmd == "" && e.StopSignal == "" && e.WorkDir == "" &&
		len(e.Archs) == 0 && e.Paths == nil && e.Include == "" && e.VCSURL == "" && len(e.Annotations) == 0 &&
		len(e.Volumes) == 0 && e.Layering == nil && e.Format == "" && e.Certificates == nil
}
