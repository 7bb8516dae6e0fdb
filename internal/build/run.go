package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/sandbox"
)

// RunOptions configure Run.
type RunOptions struct {
	// OutDir is the repository the packages are written to:
	// OutDir/<arch>/<name>-<version>.apk and OutDir/<arch>/APKINDEX.tar.gz.
	// Default "packages".
	OutDir string
	// Signer signs the packages and the index; nil writes them unsigned.
	Signer *apk.Signer
	// Repositories are the repositories the build environment is
	// resolved against ("[@tag ]URL or directory", -r), before the build
	// file's own environment.contents.repositories.
	Repositories []string
	// KeyPaths are the public keys (files or directories of keys, -k)
	// trusted to sign the repositories' indexes, besides the build file's
	// environment.contents.keyring.
	KeyPaths []string
	// ExtraPackages are added to the build environment (--package-append).
	ExtraPackages []string
	// SourceDir is copied into the workspace before the first step
	// (--source-dir); "" copies nothing.
	SourceDir string
	// CacheDir holds fetched sources (sha256:<hex>, sha512:<hex>), the
	// repository download cache, the cached guest roots (guests/) and the
	// directory bound at /var/cache/melange in the sandbox (sandbox/).
	// Required.
	CacheDir string
	// WorkspaceDir is the host directory mounted at /home/build; "" makes
	// a fresh temporary one, removed after the build. A given directory
	// is kept; its melange-out is emptied first.
	WorkspaceDir string
	// Network gives the steps the host's network; by default they have
	// none (fetch and git-checkout run on the host).
	Network bool
	// Interactive opens a shell in the sandbox when a step fails, if
	// Stdin is a terminal.
	Interactive bool
	// AllowUntrusted accepts repository indexes that are unsigned or
	// signed by unknown keys.
	AllowUntrusted bool
	// Offline uses only the cache and local repositories: nothing is
	// downloaded, no git repository but a local one is cloned.
	Offline bool
	// NoIndex leaves OutDir/<arch>/APKINDEX.tar.gz alone
	// (--generate-index=false).
	NoIndex bool
	// Namespace is the distribution the packages are for, used in purls
	// and the SBOM ("wolfi"); "" means "unknown", as in melange.
	Namespace string
	// Limits bound what is read from repository packages.
	Limits apk.Limits
	// HTTP is the client for repositories, keys and fetch steps;
	// http.DefaultClient's transport when nil.
	HTTP *http.Client
	// Stdin is the interactive shell's input (default os.Stdin); Stdout
	// and Stderr receive the steps' output (nil discards it).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// TempDir is where temporary workspaces and sandbox scratch space go;
	// os.TempDir() when empty.
	TempDir string
}

// Result describes a finished build.
type Result struct {
	Arch string `json:"arch"`
	// Dir is OutDir/<arch>, where the packages are.
	Dir string `json:"dir"`
	// Index is the updated index, "" with NoIndex.
	Index    string         `json:"index,omitempty"`
	Packages []BuiltPackage `json:"packages"`
	// Guest is the build environment the steps ran in.
	Guest *Guest `json:"guest"`
	// Duration is the whole build's wall time.
	Duration time.Duration `json:"duration_ns"`
}

// BuiltPackage is one package a build wrote.
type BuiltPackage struct {
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Path     string   `json:"path"`
	Identity string   `json:"identity"`
	Size     int64    `json:"size"`
	Depends  []string `json:"depends,omitempty"`
	Provides []string `json:"provides,omitempty"`
}

// StepFailure is a step that failed: it names the package, the step and
// where the step comes from, and wraps the cause (a *sandbox.StepError
// for a script that failed, with its script and the last lines of its
// output).
type StepFailure struct {
	Package string // the package whose steps were running
	Step    string // Step.Identity()
	Where   string // Step.Where()
	Kind    string // KindRun, KindFetch or KindGitCheckout
	Err     error
}

func (e *StepFailure) Error() string {
	desc := fmt.Sprintf("step %q", e.Step)
	if strings.HasPrefix(e.Step, "step at ") {
		desc = e.Step // unnamed: its position is its name
		if strings.Contains(e.Where, " > ") {
			desc += " (" + e.Where + ")"
		}
	} else if e.Where != "" {
		desc += " (" + e.Where + ")"
	}
	var se *sandbox.StepError
	if !errors.As(e.Err, &se) {
		return fmt.Sprintf("building %s: %s: %v", e.Package, desc, e.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "building %s: %s failed with exit code %d", e.Package, desc, se.ExitCode)
	if sig := se.ExitCode - 128; sig > 0 && sig < 65 {
		fmt.Fprintf(&b, " (killed by signal %d?)", sig)
	}
	b.WriteString("\nscript:\n")
	lines := strings.Split(strings.TrimRight(se.Script, "\n"), "\n")
	for i, l := range lines {
		if i == 200 {
			fmt.Fprintf(&b, "    ... (%d more lines)\n", len(lines)-i)
			break
		}
		b.WriteString("    " + l + "\n")
	}
	if len(se.Tail) == 0 {
		b.WriteString("no output")
	} else {
		fmt.Fprintf(&b, "last %d lines of output:", len(se.Tail))
		for _, l := range se.Tail {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

func (e *StepFailure) Unwrap() error { return e.Err }

// runner is one Run in progress.
type runner struct {
	b    *Build
	opts RunOptions
	log  *slog.Logger
	sde  int64
	http *http.Client

	ws     string   // host directory of /home/build
	wsRoot *os.Root // the workspace, for host-side writes
	// sources are the upstream sources fetched or checked out, by
	// package, for the SBOMs.
	sources map[string][]sourceRecord
	guest   *Guest
}

// Run executes a compiled build: it prepares the build environment (a
// guest root, cached under CacheDir by its locked package set), runs
// every step of every package in a sandbox with the workspace at
// /home/build (fetch and git-checkout on the host), then writes one signed
// .apk per package, with generated dependencies and an SBOM, into
// OutDir/<arch>/ and updates the index there. Nothing in OutDir changes
// unless every package was built. See docs/build.md.
func Run(ctx context.Context, b *Build, opts RunOptions) (*Result, error) {
	start := time.Now()
	r, err := newRunner(b, opts)
	if err != nil {
		return nil, err
	}
	if t := b.Package.Timeout; t != "" {
		d, err := config.ParseTimeout(t)
		if err != nil {
			return nil, b.Package.Pos.Errorf("timeout", "%v", err)
		}
		if d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
	}
	r.guest, err = r.prepareGuest(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.openWorkspace(); err != nil {
		return nil, err
	}
	defer r.closeWorkspace()
	if err := r.runSteps(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) && b.Package.Timeout != "" {
			err = fmt.Errorf("%w (package.timeout is %s)", err, b.Package.Timeout)
		}
		return nil, err
	}
	res, err := r.emitAll(ctx)
	if err != nil {
		return nil, err
	}
	res.Guest = r.guest
	res.Duration = time.Since(start)
	r.log.Info("build done", "packages", len(res.Packages), "dir", res.Dir, "elapsed", res.Duration.Round(time.Millisecond))
	return res, nil
}

func newRunner(b *Build, opts RunOptions) (*runner, error) {
	if b == nil || len(b.Packages) == 0 {
		return nil, errors.New("build: nothing to build")
	}
	if opts.CacheDir == "" {
		return nil, errors.New("build: RunOptions.CacheDir is required")
	}
	if opts.OutDir == "" {
		opts.OutDir = "packages"
	}
	var err error
	for _, p := range []*string{&opts.CacheDir, &opts.OutDir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	r := &runner{b: b, opts: opts, log: opts.Logger, sources: map[string][]sourceRecord{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.http = opts.HTTP
	if r.http == nil {
		r.http = &http.Client{}
	}
	s := b.Environment.Environment["SOURCE_DATE_EPOCH"]
	if s == "" {
		s = "0"
	}
	r.sde, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || r.sde < 0 {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH %q: want a non-negative number of seconds", s)
	}
	return r, nil
}

// stepPath is the PATH of run steps (plan.go), unless the environment
// sets one.
const stepPath = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"

// env is the build environment's variables as the steps see them.
func (r *runner) env() map[string]string {
	env := maps.Clone(r.b.Environment.Environment)
	if env == nil {
		env = map[string]string{}
	}
	if env["PATH"] == "" {
		env["PATH"] = stepPath
	}
	return env
}

// sandboxConfig is the sandbox of this build.
func (r *runner) sandboxConfig() (sandbox.Config, error) {
	cacheDir := filepath.Join(r.opts.CacheDir, "sandbox")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return sandbox.Config{}, err
	}
	uid, gid, err := r.runAs()
	if err != nil {
		return sandbox.Config{}, err
	}
	return sandbox.Config{
		Root:      r.guest.Dir,
		Workspace: r.ws,
		Binds:     []sandbox.Bind{{Source: cacheDir, Dest: "/var/cache/melange"}},
		Env:       r.env(),
		WorkDir:   WorkDir,
		Network:   r.opts.Network,
		Arch:      r.b.Arch,
		UID:       uid,
		GID:       gid,
		CapAdd:    r.b.Capabilities.Add,
		CapDrop:   r.b.Capabilities.Drop,
		Stdin:     r.opts.Stdin,
		Stdout:    r.opts.Stdout,
		Stderr:    r.opts.Stderr,
		Bwrap:     "",
	}, nil
}

// runAs returns the user the steps run as: root, unless
// environment.accounts.run-as names one of the accounts.
func (r *runner) runAs() (int, int, error) {
	a := r.b.Environment.Accounts
	if a.RunAs == "" || a.RunAs == "root" || a.RunAs == "0" {
		return 0, 0, nil
	}
	for _, u := range a.Users {
		if u.UserName == a.RunAs || strconv.FormatUint(uint64(u.UID), 10) == a.RunAs {
			gid := u.UID
			if u.GID != nil {
				gid = *u.GID
			}
			return int(u.UID), int(gid), nil
		}
	}
	return 0, 0, fmt.Errorf("environment.accounts.run-as %q names no user of environment.accounts.users", a.RunAs)
}
