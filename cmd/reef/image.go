package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reef-dev/reef/internal/image"
	"github.com/reef-dev/reef/internal/image/oci"
)

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build, lock and publish OCI images from apko image files",
		Long: `Build minimal, reproducible, multi-architecture OCI images from image files
in apko's YAML format (see docs/image.md).`,
	}
	cmd.AddCommand(newImageBuildCmd(), newImagePublishCmd(), newImageLockCmd(), newImageShowPackagesCmd())
	return cmd
}

// imageFlags are the options shared by the image commands; they mirror
// apko's.
type imageFlags struct {
	keyFlags
	limitFlags
	archs       []string
	repos       []string
	buildRepos  []string
	packages    []string
	annotations []string
	cacheDir    string
	offline     bool
	lockfile    string
	buildDate   string
}

func (f *imageFlags) register(fs *pflag.FlagSet, build bool) {
	f.keyFlags.register(fs)
	f.limitFlags.register(fs)
	fs.StringSliceVar(&f.archs, "arch", nil, "architectures to build, apk or OCI names, comma-separated or repeated; \"host\" or \"all\" (default: the image file's archs)")
	stringArrayVarP(fs, &f.repos, "repository-append", "r", "repository added to the image file's (repeatable)")
	stringArrayVarP(fs, &f.buildRepos, "build-repository-append", "b", "build-time-only repository added to the image file's (repeatable)")
	stringArrayVarP(fs, &f.packages, "package-append", "p", "package added to the image file's (repeatable)")
	fs.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(), "cache for packages, indexes and compressed layers (\"\" disables it)")
	fs.BoolVar(&f.offline, "offline", false, "use only the cache and local repositories")
	if build {
		stringArrayVarP(fs, &f.annotations, "annotations", "", "annotation KEY:VALUE for the manifests, index and labels, overriding the file's (repeatable)")
		fs.StringVar(&f.lockfile, "lockfile", "", "install exactly the packages of this lock file instead of resolving")
		fs.StringVar(&f.buildDate, "build-date", "", "earliest build date (RFC 3339); SOURCE_DATE_EPOCH wins")
	}
}

// options turns the flags into build options.
func (f *imageFlags) options(cmd *cobra.Command) (image.Options, error) {
	opts := image.Options{
		Archs:                  f.archs,
		ExtraRepositories:      f.repos,
		ExtraBuildRepositories: f.buildRepos,
		ExtraPackages:          f.packages,
		CacheDir:               f.cacheDir,
		Offline:                f.offline,
		IgnoreSignatures:       f.allowUntrusted,
		Limits:                 f.lim,
		Logger:                 slog.Default(),
	}
	keys, err := expandKeyPaths(f.keys)
	if err != nil {
		return opts, err
	}
	opts.ExtraKeyring = keys
	if len(f.annotations) > 0 {
		opts.Annotations = map[string]string{}
		for _, a := range f.annotations {
			k, v, ok := strings.Cut(a, ":")
			if !ok || !validAnnotationKey(k) {
				return opts, fmt.Errorf("--annotations %q: want KEY:VALUE with KEY of a-z, 0-9, '-' and '.'", a)
			}
			opts.Annotations[k] = v
		}
	}
	if t, ok, err := sourceDateEpoch(); err != nil {
		return opts, err
	} else if ok {
		opts.SourceDateEpoch = &t
	}
	if f.buildDate != "" {
		t, err := time.Parse(time.RFC3339, f.buildDate)
		if err != nil {
			return opts, fmt.Errorf("--build-date: %w", err)
		}
		opts.BuildDate = t
	}
	if f.lockfile != "" {
		l, err := image.ReadLock(f.lockfile)
		if err != nil {
			return opts, err
		}
		opts.Lock = l
		opts.LockDir = filepath.Dir(f.lockfile)
	}
	return opts, nil
}

func validAnnotationKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// expandKeyPaths replaces directories among -k values by the key files in
// them.
func expandKeyPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
	}
	return out, nil
}

func logTimings(res *image.Result) {
	slog.Info("timings", res.Timings.LogAttrs()...)
	for _, w := range res.Warnings {
		slog.Debug("warning", "msg", w)
	}
}

func newImageBuildCmd() *cobra.Command {
	var (
		f        imageFlags
		sbomPath string
		noSBOM   bool
		jsonOut  bool
	)
	cmd := &cobra.Command{
		Use:   "build IMAGE.yaml TAG OUT",
		Short: "Build an image; OUT is an OCI layout if it is an existing directory, else a docker tarball",
		Long: `Build the image an apko image file describes, for each of its architectures,
and write it to OUT: into an OCI image layout when OUT is an existing
directory (the SBOMs are written there too), otherwise as a docker-loadable
tarball. The index digest is printed on standard output.

Nothing is written when the build fails. Times come from SOURCE_DATE_EPOCH,
or else from the newest package build date (and --build-date), so that the
same image file and repositories always give the same digests.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			opts.NoSBOM = noSBOM
			res, err := image.BuildTo(cmd.Context(), args[0], args[1], args[2], sbomPath, opts)
			if err != nil {
				return err
			}
			defer res.Close()
			logTimings(res)
			return printResult(cmd, res, jsonOut)
		},
	}
	fs := cmd.Flags()
	f.register(fs, true)
	fs.StringVar(&sbomPath, "sbom-path", "", "also write the SBOMs (sbom-<arch>.spdx.json, sbom-index.spdx.json) into this directory")
	fs.BoolVar(&noSBOM, "no-sbom", false, "make no SBOMs")
	fs.BoolVar(&jsonOut, "json", false, "print the digests as JSON")
	return cmd
}

// printResult prints the index digest, or with --json the digests of the
// index and of each image.
func printResult(cmd *cobra.Command, res *image.Result, jsonOut bool) error {
	d, err := res.Digest()
	if err != nil {
		return err
	}
	if !jsonOut {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), d.String())
		return err
	}
	type img struct {
		Arch             string `json:"arch"`
		Digest           string `json:"digest"`
		Packages         int    `json:"packages"`
		Layers           int    `json:"layers"`
		UncompressedSize int64  `json:"uncompressed_size"`
	}
	out := struct {
		Digest  string   `json:"digest"`
		Created string   `json:"created"`
		Images  []img    `json:"images"`
		SBOMs   []string `json:"sboms,omitempty"`
	}{Digest: d.String(), Created: res.Created.Format(time.RFC3339)}
	for _, im := range res.Images {
		out.Images = append(out.Images, img{im.Arch, im.Digest.String(), len(im.Packages), len(im.Layers), im.UncompressedSize})
	}
	out.SBOMs = sortedKeys(res.SBOMs)
	return writeJSON(cmd.OutOrStdout(), out)
}

func newImagePublishCmd() *cobra.Command {
	var (
		f        imageFlags
		sbomPath string
		insecure bool
		jsonOut  bool
	)
	cmd := &cobra.Command{
		Use:   "publish IMAGE.yaml REF...",
		Short: "Build an image and push it to registries",
		Long: `Build the image like "reef image build", push each architecture's image by
digest and then the index to every REF (registry/repository:tag), and print
the index digest. Credentials come from docker's config.json and credential
helpers.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			cfg, err := image.LoadConfig(args[0])
			if err != nil {
				return err
			}
			opts.Ref = args[1]
			res, err := image.Build(cmd.Context(), cfg, opts)
			if err != nil {
				return err
			}
			defer res.Close()
			if sbomPath != "" {
				if err := res.WriteSBOMs(sbomPath); err != nil {
					return err
				}
			}
			if _, err := res.Publish(cmd.Context(), args[1:], oci.PublishOptions{Insecure: insecure}); err != nil {
				return err
			}
			logTimings(res)
			return printResult(cmd, res, jsonOut)
		},
	}
	fs := cmd.Flags()
	f.register(fs, true)
	fs.StringVar(&sbomPath, "sbom-path", "", "write the SBOMs into this directory")
	fs.BoolVar(&insecure, "insecure", false, "allow plain HTTP and unverified TLS registries")
	fs.BoolVar(&jsonOut, "json", false, "print the digests as JSON")
	return cmd
}

// lockPathFor is where "reef image lock" writes by default: the image
// file's name with its extension replaced by .lock.json.
func lockPathFor(cfgPath string) string {
	ext := filepath.Ext(cfgPath)
	return strings.TrimSuffix(cfgPath, ext) + ".lock.json"
}

func newImageLockCmd() *cobra.Command {
	var (
		f      imageFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "lock IMAGE.yaml",
		Short: "Resolve an image's packages and write them to a lock file",
		Long: `Resolve the image file's packages for all its architectures at once and
write IMAGE.lock.json (apko's lock format): for each architecture the exact
packages in install order, where to download them and their checksums.
"reef image build --lockfile IMAGE.lock.json" then installs exactly those.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			cfg, err := image.LoadConfig(args[0])
			if err != nil {
				return err
			}
			if output == "" {
				output = lockPathFor(args[0])
			}
			r, err := image.Resolve(cmd.Context(), cfg, opts)
			if err != nil {
				return err
			}
			defer r.Close()
			l, err := r.Lock(cmd.Context(), filepath.Dir(output))
			if err != nil {
				return err
			}
			if err := l.Write(output); err != nil {
				return err
			}
			slog.Info("wrote lock file", "path", output, "archs", r.Archs, "packages", len(l.Contents.Packages))
			return nil
		},
	}
	f.register(cmd.Flags(), false)
	cmd.Flags().StringVarP(&output, "output", "o", "", "lock file to write (default IMAGE.lock.json next to the image file)")
	return cmd
}

func newImageShowPackagesCmd() *cobra.Command {
	var (
		f       imageFlags
		format  string
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "show-packages IMAGE.yaml",
		Short: "Print the packages an image file resolves to, per architecture",
		Long: `Resolve the image file and print its packages in install order. --format
takes apko's presets (name-version, name=version, name-(version),
packagelock, each also with -source) or a Go template over .Name .Version
.Arch .Origin .Source .URL .Checksum. --json prints the packages with the
reasons the resolver chose them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			cfg, err := image.LoadConfig(args[0])
			if err != nil {
				return err
			}
			r, err := image.Resolve(cmd.Context(), cfg, opts)
			if err != nil {
				return err
			}
			defer r.Close()
			if jsonOut {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			return r.Show(cmd.OutOrStdout(), format)
		},
	}
	f.register(cmd.Flags(), false)
	cmd.Flags().StringVar(&format, "format", "name-version", "output format: a preset or a Go template")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}
