package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/install"
	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/solve"
)

// defaultCacheDir is $XDG_CACHE_HOME/reef (~/.cache/reef).
func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "reef")
	}
	return filepath.Join(os.TempDir(), "reef-cache")
}

// repoFlags are the options of commands that resolve against repositories.
type repoFlags struct {
	keyFlags
	limitFlags
	repos    []string
	arch     string
	cacheDir string
	offline  bool
}

func (r *repoFlags) register(fs *pflag.FlagSet) {
	r.keyFlags.register(fs)
	r.limitFlags.register(fs)
	stringArrayVarP(fs, &r.repos, "repository-append", "r", `repository: a directory, file://, http:// or https:// URL, optionally "@tag URL" (repeatable)`)
	fs.StringVar(&r.arch, "arch", arch.Host(), "architecture to resolve for")
	fs.StringVar(&r.cacheDir, "cache-dir", defaultCacheDir(), "download cache")
	fs.BoolVar(&r.offline, "offline", false, "use only the cache and local repositories")
}

// session is the repositories of one command, fetched and trusted.
type session struct {
	fetcher *repo.Fetcher
	indexes []*repo.RepoIndex
	repos   []solve.Repository
	keys    []install.Key
}

func (r *repoFlags) open(ctx context.Context) (*session, error) {
	if len(r.repos) == 0 {
		return nil, errors.New("no repository given: add -r DIR or -r URL")
	}
	var repos []repo.Repository
	for _, line := range r.repos {
		rp, ok, err := repo.ParseRepositoryLine(line)
		if err != nil {
			return nil, fmt.Errorf("-r %q: %w", line, err)
		}
		if ok {
			repos = append(repos, rp)
		}
	}
	kr, err := r.keyring()
	if err != nil {
		return nil, err
	}
	s := &session{fetcher: &repo.Fetcher{
		CacheDir:       r.cacheDir,
		Offline:        r.offline,
		AllowUntrusted: r.allowUntrusted,
		Keyring:        kr,
		Limits:         r.lim,
		Logger:         slog.Default(),
	}}
	s.indexes, err = s.fetcher.FetchIndexes(ctx, repos, r.arch)
	if err != nil {
		return nil, err
	}
	for _, ri := range s.indexes {
		s.repos = append(s.repos, solve.Repository{Name: ri.Repo.URL, Tag: ri.Repo.Tag, Packages: ri.Index.Packages})
	}
	for _, p := range r.keys {
		files := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.pub"))
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			s.keys = append(s.keys, install.Key{Name: filepath.Base(f), Data: data})
		}
	}
	return s, nil
}

// fetch downloads (or finds in the cache) and verifies the plan's
// packages, and returns them ready for the installer.
func (s *session) fetch(ctx context.Context, plan *solve.Plan, arch string) ([]install.Package, error) {
	var refs []repo.PackageRef
	var sels []int
	for i, sel := range plan.Packages {
		if sel.Repo < 0 {
			continue
		}
		refs = append(refs, s.indexes[sel.Repo].Ref(sel.Package))
		sels = append(sels, i)
	}
	paths, err := s.fetcher.FetchPackages(ctx, refs)
	if err != nil {
		return nil, err
	}
	local := make(map[int]string, len(paths))
	for j, i := range sels {
		local[i] = paths[j]
	}
	var out []install.Package
	for i, sel := range plan.Packages {
		p := install.Package{Index: sel.Package}
		if sel.Repo >= 0 {
			path := local[i]
			p.RepoTag = s.repos[sel.Repo].Tag
			p.Source = s.indexes[sel.Repo].Repo.PackageURL(arch, sel.Package)
			p.Open = func() (io.ReadCloser, error) { return os.Open(path) }
		}
		out = append(out, p)
	}
	return out, nil
}

// planJSON is the documented --json form of a plan (docs/resolve.md).
type planJSON struct {
	Arch     string        `json:"arch"`
	World    []string      `json:"world"`
	Packages []planPackage `json:"packages"`
}

type planPackage struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Arch       string   `json:"arch,omitempty"`
	Checksum   string   `json:"checksum"`
	Size       uint64   `json:"size"`
	Repository string   `json:"repository"`
	Reasons    []string `json:"reasons"`
}

func toPlanJSON(arch string, world []string, repos []solve.Repository, plan *solve.Plan) planJSON {
	out := planJSON{Arch: arch, World: world, Packages: []planPackage{}}
	for _, sel := range plan.Packages {
		pp := planPackage{
			Name: sel.Package.Name, Version: sel.Package.Version, Arch: sel.Package.Arch,
			Checksum: sel.Package.Checksum, Size: sel.Package.Size, Reasons: sel.Reasons,
		}
		if sel.Repo >= 0 {
			pp.Repository = repos[sel.Repo].Name
		} else {
			pp.Repository = "(installed)"
		}
		out.Packages = append(out.Packages, pp)
	}
	return out
}

func printPlan(w io.Writer, repos []solve.Repository, plan *solve.Plan) {
	for _, sel := range plan.Packages {
		where := "(installed)"
		if sel.Repo >= 0 {
			where = repos[sel.Repo].Name
			if t := repos[sel.Repo].Tag; t != "" {
				where = "@" + t + " " + where
			}
		}
		fmt.Fprintf(w, "%s-%s\t%s\t%s\n", sel.Package.Name, sel.Package.Version, where, strings.Join(sel.Reasons, "; "))
	}
}

// collectLess has the garbage collector wait until the heap is five
// times the live data, rather than twice, unless GOGC is set. It suits a
// short command such as resolve, whose heap is nearly all data that stays
// live to its end (the indexes and the solver's tables): for Alpine's main
// index, the default's two collections find almost no garbage and cost
// about 6 ms of CPU, and their bookkeeping a hundred page faults
// (bench/resolve.sh).
func collectLess() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// solveError turns a solver failure into a plain error whose message is
// the solver's explanation.
func solveError(err error) error {
	var se *solve.Error
	if errors.As(err, &se) {
		return &exitError{code: 1, err: errors.New(strings.TrimRight(se.Error(), "\n"))}
	}
	return err
}

func newResolveCmd() *cobra.Command {
	var rf repoFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "resolve -r REPO -k KEY [--arch A] [--json] PKG...",
		Short: "Print the install plan for packages: versions, repositories and why each is needed",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			collectLess()
			s, err := rf.open(cmd.Context())
			if err != nil {
				return err
			}
			plan, err := solve.Solve(cmd.Context(), solve.Request{World: args, Repos: s.repos, Arch: rf.arch})
			if err != nil {
				return solveError(err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), toPlanJSON(rf.arch, args, s.repos, plan))
			}
			// Buffered: one write for the plan rather than one per
			// package (perf, see bench/resolve.sh).
			w := bufio.NewWriter(cmd.OutOrStdout())
			printPlan(w, s.repos, plan)
			return w.Flush()
		},
	}
	rf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

func newInstallCmd() *cobra.Command {
	var (
		rf      repoFlags
		root    string
		scripts bool
		apkoDB  bool
		force   bool
	)
	cmd := &cobra.Command{
		Use:   "install --root DIR -r REPO -k KEY [--arch A] PKG...",
		Short: "Resolve packages and install them into a root directory, writing apk's database",
		Long: `install resolves PKG... against the repositories, downloads and verifies
the packages, and installs them into DIR, writing lib/apk/db/installed,
scripts.tar, triggers and etc/apk/{world,repositories,keys,arch} as
apk-tools does. Installing into an existing root adds to it; upgrading or
removing packages is not supported yet. Install scripts are not run unless
--scripts is given (they then run chrooted in DIR under bubblewrap).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if root == "" {
				return errors.New("--root is required")
			}
			ctx := cmd.Context()
			if err := os.MkdirAll(root, 0o755); err != nil {
				return err
			}
			fsys, err := install.OpenDir(root)
			if err != nil {
				return err
			}
			installed, err := install.LoadInstalled(fsys)
			if err != nil {
				return err
			}
			s, err := rf.open(ctx)
			if err != nil {
				return err
			}
			world := install.MergeWorld(nil, args)
			var have []*repo.Package
			for _, ip := range installed {
				have = append(have, &ip.Package)
			}
			plan, err := solve.Solve(ctx, solve.Request{World: world, Repos: s.repos, Installed: have, Arch: rf.arch})
			if err != nil {
				return solveError(err)
			}
			pkgs, err := s.fetch(ctx, plan, rf.arch)
			if err != nil {
				return err
			}
			inst := &install.Installer{FS: fsys, Arch: rf.arch, RunScripts: scripts, ForceOverwrite: force, Limits: rf.lim, Logger: slog.Default()}
			if apkoDB {
				inst.Layout = install.LayoutApko
			}
			if t, ok, err := sourceDateEpoch(); err != nil {
				return err
			} else if ok {
				inst.ModTime = t
			}
			res, err := inst.Install(ctx, pkgs, install.Options{World: args, Repositories: rf.repos, Keys: s.keys})
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				slog.Warn(w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "installed %d packages (%d files, %d bytes) into %s\n", len(res.Installed), res.Files, res.Bytes, root)
			return nil
		},
	}
	rf.register(cmd.Flags())
	cmd.Flags().StringVar(&root, "root", "", "root directory to install into (created if missing)")
	cmd.Flags().BoolVar(&scripts, "scripts", false, "run install scripts, chrooted in the root with bubblewrap")
	cmd.Flags().BoolVar(&apkoDB, "usr-lib-apk", false, "put the database in usr/lib/apk/db with a lib/apk symlink, as apko does")
	cmd.Flags().BoolVar(&force, "force-overwrite", false, "let packages overwrite each other's files")
	return cmd
}
