package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/build"
	"github.com/reef-dev/reef/internal/build/config"
)

// defaultBuildFiles are the names melange looks for when no build file is
// given.
var defaultBuildFiles = []string{".melange.yaml", ".melange.yml", "melange.yaml", "melange.yml"}

func newBuildCmd() *cobra.Command {
	var (
		rf           repoFlags
		dryRun       bool
		pipelineDirs []string
		buildOptions []string
		outDir       string
		signingKey   string
		sourceDir    string
		libc         string
		workspaceDir string
		extraPkgs    []string
		network      bool
		interactive  bool
		buildDate    string
		namespace    string
		genIndex     bool
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "build [BUILD.yaml]",
		Short: "Build APK packages from a melange build file",
		Long: `Build the package and subpackages a melange build file describes.

reef resolves the build environment (environment.contents.packages, the
pipelines' needs and --package-append) against the -r repositories, installs
it into a root cached under --cache-dir, and runs each step in a bubblewrap
sandbox with that root as / and a fresh workspace at /home/build (no network
unless --network; fetch and git-checkout run on the host). Then it writes one
signed .apk per package into --out-dir/<arch>/ and updates the index there.
If anything fails, --out-dir is left as it was. See docs/build.md.

With --dry-run, reef loads the file, expands every uses: pipeline (from the
--pipeline-dir directories first, then reef's built-ins), evaluates if:
conditions and substitutes ${{…}} variables, then prints the compiled build
as JSON (see docs/build.md) without running anything.

Without a file argument reef looks for .melange.yaml, .melange.yml,
melange.yaml or melange.yml in the current directory.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := buildFileArg(args)
			if err != nil {
				return err
			}
			cfg, err := config.Load(file, config.Options{BuildOptions: buildOptions})
			if err != nil {
				return err
			}
			sdeTime, haveSDE, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			var sde int64
			switch {
			case haveSDE:
				sde = sdeTime.Unix()
			case buildDate != "":
				t, err := time.Parse(time.RFC3339, buildDate)
				if err != nil {
					return fmt.Errorf("--build-date %q: want an RFC 3339 time such as 2024-01-02T15:04:05Z", buildDate)
				}
				sde = t.Unix()
			}
			b, err := build.Compile(cfg, build.Options{
				Arch:            rf.arch,
				PipelineDirs:    pipelineDirs,
				Libc:            libc,
				SourceDateEpoch: sde,
			})
			if err != nil {
				return err
			}
			if dryRun {
				return writeJSON(cmd.OutOrStdout(), b)
			}
			opts := build.RunOptions{
				OutDir:         outDir,
				Repositories:   rf.repos,
				KeyPaths:       rf.keys,
				ExtraPackages:  extraPkgs,
				SourceDir:      sourceDir,
				CacheDir:       rf.cacheDir,
				WorkspaceDir:   workspaceDir,
				Network:        network,
				Interactive:    interactive,
				AllowUntrusted: rf.allowUntrusted,
				Offline:        rf.offline,
				NoIndex:        !genIndex,
				Namespace:      namespace,
				Limits:         rf.lim,
				Stdin:          os.Stdin,
				Stdout:         cmd.ErrOrStderr(),
				Logger:         slog.Default(),
			}
			if len(opts.KeyPaths) == 0 {
				if st, err := os.Stat("/etc/apk/keys"); err == nil && st.IsDir() {
					opts.KeyPaths = []string{"/etc/apk/keys"}
				}
			}
			if opts.SourceDir == "" {
				opts.SourceDir = filepath.Dir(file)
			}
			if signingKey != "" {
				if opts.Signer, err = apk.LoadSigner(signingKey); err != nil {
					return fmt.Errorf("--signing-key: %w", err)
				}
			}
			res, err := build.Run(cmd.Context(), b, opts)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			for _, p := range res.Packages {
				fmt.Fprintln(cmd.OutOrStdout(), p.Path)
			}
			return nil
		},
	}
	f := cmd.Flags()
	rf.register(f)
	f.Lookup("arch").Usage = "architecture to build for (apk name; amd64/arm64 accepted)"
	f.Lookup("cache-dir").Usage = "cache: fetched sources (sha256:<hex>), repository downloads, build environments (guests/), /var/cache/melange (sandbox/)"
	f.BoolVar(&dryRun, "dry-run", false, "print the compiled build as JSON instead of building")
	stringArrayVarP(f, &pipelineDirs, "pipeline-dir", "", "directory of pipeline definitions, searched before the built-ins (repeatable)")
	stringArrayVarP(f, &pipelineDirs, "pipeline-dirs", "", "alias of --pipeline-dir")
	stringArrayVarP(f, &buildOptions, "build-option", "", "enable a build option of the file's options: block (repeatable)")
	f.StringVar(&outDir, "out-dir", "packages", "directory to write packages and the index into (OUT/<arch>/)")
	f.StringVar(&signingKey, "signing-key", "", "RSA private key to sign packages and the index with")
	f.StringVar(&sourceDir, "source-dir", "", "directory copied into the workspace (default: the build file's directory)")
	f.StringVar(&libc, "override-host-triplet-libc-substitution-flavor", "gnu", "libc of ${{host.triplet.*}}: gnu or musl")
	f.StringVar(&workspaceDir, "workspace-dir", "", "host directory mounted at /home/build, kept after the build (default: a fresh temporary one)")
	stringArrayVarP(f, &extraPkgs, "package-append", "p", "extra package for the build environment (repeatable)")
	f.BoolVar(&network, "network", false, "give the build steps network access (default: none; sources are fetched on the host)")
	f.BoolVarP(&interactive, "interactive", "i", false, "open a shell in the sandbox when a step fails (needs a terminal)")
	f.StringVar(&buildDate, "build-date", "", "build time (RFC 3339) when SOURCE_DATE_EPOCH is not set; default 1970-01-01T00:00:00Z")
	f.StringVar(&namespace, "namespace", "", "distribution the packages are for, in purls and the SBOM (default unknown)")
	f.BoolVar(&genIndex, "generate-index", true, "update OUT/<arch>/APKINDEX.tar.gz")
	f.BoolVar(&asJSON, "json", false, "print the result (packages, guest, index) as JSON")
	_ = f.MarkHidden("pipeline-dirs")
	return cmd
}

// buildFileArg returns the build file named on the command line, or the
// first of melange's default names that exists.
func buildFileArg(args []string) (string, error) {
	if len(args) == 1 {
		return args[0], nil
	}
	for _, name := range defaultBuildFiles {
		if st, err := os.Stat(name); err == nil && st.Mode().IsRegular() {
			return name, nil
		}
	}
	return "", fmt.Errorf("no build file given, and none of %v in the current directory", defaultBuildFiles)
}
