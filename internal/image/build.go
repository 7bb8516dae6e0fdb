package image

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/image/oci"
	"github.com/reef-dev/reef/internal/install"
	"github.com/reef-dev/reef/internal/repo"
)

// Author is the OCI config's author field.
const Author = "github.com/reef-dev/reef"

// Options are the command-line settings of a build, on top of the image
// file.
type Options struct {
	// Archs overrides the image file's archs (apk or OCI names, "host",
	// "all"). Empty means the file's, and if it has none, every
	// architecture the repositories have an index for.
	Archs []string
	// ExtraKeyring, ExtraRepositories, ExtraBuildRepositories and
	// ExtraPackages are appended to the file's lists (-k, -r, -b, -p).
	// Relative paths are relative to the working directory.
	ExtraKeyring           []string
	ExtraRepositories      []string
	ExtraBuildRepositories []string
	ExtraPackages          []string
	// Annotations override the file's annotations key by key.
	Annotations map[string]string
	// SourceDateEpoch, when set, is the time of everything the build
	// dates (SOURCE_DATE_EPOCH). Otherwise the newest of BuildDate and
	// the packages' build dates is used.
	SourceDateEpoch *time.Time
	// BuildDate is a lower bound of the build date (--build-date).
	BuildDate time.Time
	// CacheDir keeps compressed layers (and, through the repository
	// fetcher, packages) between builds; "" disables caching.
	CacheDir string
	// Offline refuses network access; only local repositories and the
	// cache are used.
	Offline bool
	// Lock, when set, is installed exactly instead of resolving.
	Lock *Lock
	// LockDir is the directory relative package paths in Lock are
	// relative to.
	LockDir string
	// IgnoreSignatures accepts unsigned indexes and unknown keys.
	IgnoreSignatures bool
	// Ref names the image in its SBOM ("registry/repo:tag"); optional.
	Ref string
	// NoSBOM skips the SBOMs.
	NoSBOM bool
	// Limits bound what is read from each package.
	Limits apk.Limits
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// HTTPClient fetches from remote repositories; nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// Retries is how often a failed download is retried (see
	// repo.Fetcher.Retries): 0 means the fetcher's default, negative
	// none.
	Retries int
}

// Result is a built image: an OCI index with one image per architecture,
// kept in memory (layers compressed) until written.
type Result struct {
	Index   v1.ImageIndex
	Images  []*ArchImage // sorted by architecture
	Created time.Time
	// SBOMs are the SBOM files by name: sbom-<arch>.spdx.json and
	// sbom-index.spdx.json. Empty with Options.NoSBOM.
	SBOMs   map[string][]byte
	Timings *Timings
	// Warnings are what the build would like the user to know.
	Warnings []string
}

// ArchImage is the image of one architecture.
type ArchImage struct {
	Arch     string // apk name
	Image    v1.Image
	Digest   v1.Hash
	Packages []*repo.Package // install order
	Layers   []*oci.Layer
	// UncompressedSize is the size of the layers' tar streams.
	UncompressedSize int64
	// InstalledSize is the content size of the image's regular files.
	InstalledSize int64

	sbomIn *sbomInput
}

// build holds the state of one build.
type build struct {
	cfg          *Config
	opts         Options
	log          *slog.Logger
	src          *source
	keyring      *apk.Keyring
	tmpCache     string // cache directory made for this build, removed by close
	archs        []string
	buildRepos   []repo.Repository // in priority order
	runtimeRepos []string          // /etc/apk/repositories lines
	keys         []install.Key
	world        []string
	timings      *Timings
	warnMu       sync.Mutex
	warnings     []string
	cache        *oci.Cache
}

func (b *build) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.log.Warn(msg)
	b.warnMu.Lock()
	b.warnings = append(b.warnings, msg)
	b.warnMu.Unlock()
}

// resolvedPkg is one package to install on one architecture.
type resolvedPkg struct {
	pkg *repo.Package
	tag string // repository tag, without "@"
	loc string // path or URL of the .apk
	// lock is the locked entry the package came from, if any.
	lock *LockPackage
	// repo is the repository it comes from (not for locked packages).
	repo    repo.Repository
	reasons []string
	// ref is what the fetcher needs to get a remote package.
	ref repo.PackageRef
}

// Build builds the image described by cfg.
func Build(ctx context.Context, cfg *Config, opts Options) (*Result, error) {
	start := time.Now()
	b, err := newBuild(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	defer b.close()
	plans, err := b.plan(ctx)
	if err != nil {
		return nil, err
	}
	created := b.buildDate(plans)
	b.log.Debug("build date", "created", created.UTC().Format(time.RFC3339))

	images := make([]*ArchImage, len(b.archs))
	errs := make([]error, len(b.archs))
	// No architecture cancels another: when several fail, the first in
	// order is reported, so that the message does not depend on timing.
	var g errgroup.Group
	for i, arch := range b.archs {
		g.Go(func() error {
			images[i], errs[i] = b.buildArch(ctx, arch, plans[arch], created)
			return errs[i]
		})
	}
	if err := g.Wait(); err != nil {
		for i, e := range errs {
			if e != nil {
				err = e
				if len(b.archs) > 1 {
					err = fmt.Errorf("%s: %w", b.archs[i], e)
				}
				break
			}
		}
		for _, im := range images {
			if im != nil {
				for _, l := range im.Layers {
					l.Close()
				}
			}
		}
		return nil, err
	}

	ann := b.annotations(created)
	imgs := make([]v1.Image, len(images))
	for i, im := range images {
		imgs[i] = im.Image
	}
	idx, err := oci.NewIndex(imgs, ann)
	if err != nil {
		return nil, err
	}
	res := &Result{Index: idx, Images: images, Created: created, Timings: b.timings, SBOMs: map[string][]byte{}}
	if !opts.NoSBOM {
		t := time.Now()
		if err := b.sboms(res); err != nil {
			return nil, err
		}
		b.timings.since(PhaseSBOM, t)
	}
	b.timings.since(PhaseTotal, start)
	res.Warnings = b.warnings
	return res, nil
}

func newBuild(ctx context.Context, cfg *Config, opts Options) (_ *build, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &build{cfg: cfg, opts: opts, log: log, timings: newTimings()}
	b.keyring = apk.NewKeyring()
	f := &repo.Fetcher{
		Offline:        opts.Offline,
		AllowUntrusted: opts.IgnoreSignatures,
		Keyring:        b.keyring,
		HTTP:           opts.HTTPClient,
		Retries:        opts.Retries,
		Limits:         opts.Limits,
		Logger:         log,
	}
	// Packages and indexes share the cache with reef resolve and
	// reef install; compressed layers go to its layers directory.
	f.CacheDir = opts.CacheDir
	b.src = &source{f: f}

	// Keys: the file's keyring, then -k. Keys are trusted for indexes and
	// copied to /etc/apk/keys.
	type keyLoc struct{ loc, name, field string }
	var keyLocs []keyLoc
	for i, k := range cfg.Contents.Keyring {
		keyLocs = append(keyLocs, keyLoc{resolveLocal(k, dirAt(cfg.dirs.keyring, i)), keyName(k), fmt.Sprintf("contents.keyring[%d]", i)})
	}
	for _, k := range opts.ExtraKeyring {
		keyLocs = append(keyLocs, keyLoc{k, keyName(k), ""})
	}
	if opts.Lock != nil && len(opts.Lock.Contents.Keyring) > 0 {
		keyLocs = nil
		for _, k := range opts.Lock.Contents.Keyring {
			name := keyName(k.URL)
			if err := b.addKey(name, []byte(k.Content)); err != nil {
				return nil, fmt.Errorf("lock file key %s: %w", k.Name, err)
			}
		}
	}
	for _, kl := range keyLocs {
		data, err := b.src.readKey(ctx, kl.loc)
		if err == nil {
			err = b.addKey(kl.name, data)
		}
		if err != nil {
			if kl.field != "" {
				return nil, cfg.errorf(kl.field, "%v", err)
			}
			return nil, fmt.Errorf("--keyring-append %s: %w", kl.loc, err)
		}
	}
	for _, k := range cfg.Contents.RuntimeKeyring {
		for _, have := range b.keys {
			if have.Name == k.Name {
				return nil, cfg.errorf("contents.runtime_keyring", "key %q collides with a keyring key of the same name", k.Name)
			}
		}
	}

	// Repositories used to build: build_repositories, repositories, -b, -r.
	addRepo := func(line, dir string) error {
		tag, loc := splitRepoTag(line)
		text := resolveLocal(loc, dir)
		if tag != "" {
			text = tag + " " + text
		}
		r, ok, err := repo.ParseRepositoryLine(text)
		if err != nil {
			return err
		}
		if ok && !slices.Contains(b.buildRepos, r) {
			b.buildRepos = append(b.buildRepos, r)
		}
		return nil
	}
	for i, r := range cfg.Contents.BuildRepositories {
		if err := addRepo(r, dirAt(cfg.dirs.buildRepositories, i)); err != nil {
			return nil, cfg.errorf(fmt.Sprintf("contents.build_repositories[%d]", i), "%v", err)
		}
	}
	for i, r := range cfg.Contents.Repositories {
		if err := addRepo(r, dirAt(cfg.dirs.repositories, i)); err != nil {
			return nil, cfg.errorf(fmt.Sprintf("contents.repositories[%d]", i), "%v", err)
		}
	}
	for _, r := range opts.ExtraBuildRepositories {
		if err := addRepo(r, "."); err != nil {
			return nil, fmt.Errorf("--build-repository-append: %w", err)
		}
	}
	for _, r := range opts.ExtraRepositories {
		if err := addRepo(r, "."); err != nil {
			return nil, fmt.Errorf("--repository-append: %w", err)
		}
	}
	// Repositories written into the image, as spelled: repositories,
	// runtime_repositories, -r; sorted and without duplicates as apko.
	var rt []string
	for _, l := range [][]string{cfg.Contents.Repositories, cfg.Contents.RuntimeRepositories, opts.ExtraRepositories} {
		for _, r := range l {
			r = strings.TrimRight(strings.TrimSpace(r), "/")
			if r != "" {
				rt = append(rt, r)
			}
		}
	}
	slices.Sort(rt)
	b.runtimeRepos = slices.Compact(rt)
	if b.runtimeRepos == nil {
		b.runtimeRepos = []string{}
	}

	b.world = append(slices.Clone(cfg.Contents.Packages), opts.ExtraPackages...)

	// Remote packages are fetched through a cache directory; without
	// one, a temporary one serves this build.
	if f.CacheDir == "" && (slices.ContainsFunc(b.buildRepos, repo.Repository.IsRemote) || opts.Lock != nil) {
		dir, err := os.MkdirTemp("", "reef-apk-cache-")
		if err != nil {
			return nil, err
		}
		b.tmpCache, f.CacheDir = dir, dir
		defer func() {
			if err != nil {
				b.close()
			}
		}()
	}

	// Architectures.
	switch {
	case len(opts.Archs) > 0:
		b.archs, err = arch.ParseList(opts.Archs)
	case opts.Lock != nil:
		b.archs = opts.Lock.Archs()
	case len(cfg.Archs) > 0:
		b.archs, err = arch.ParseList(cfg.Archs)
	}
	if err != nil {
		return nil, err
	}
	if opts.CacheDir != "" {
		if b.cache, err = oci.NewCache(filepath.Join(opts.CacheDir, "layers")); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// close removes what the build made for itself.
func (b *build) close() {
	if b.tmpCache != "" {
		os.RemoveAll(b.tmpCache)
		b.tmpCache = ""
	}
}

func (b *build) addKey(name string, data []byte) error {
	if err := b.keyring.AddPEM(name, data); err != nil {
		return err
	}
	for i, k := range b.keys {
		if k.Name == name {
			b.keys[i].Data = data
			return nil
		}
	}
	b.keys = append(b.keys, install.Key{Name: name, Data: data})
	return nil
}

// buildDate is SOURCE_DATE_EPOCH, or the newest of --build-date and the
// packages' build dates (apko's rule), the same for every architecture.
func (b *build) buildDate(plans map[string][]resolvedPkg) time.Time {
	if b.opts.SourceDateEpoch != nil {
		return b.opts.SourceDateEpoch.UTC()
	}
	t := b.opts.BuildDate.Unix()
	if b.opts.BuildDate.IsZero() {
		t = 0
	}
	for _, pkgs := range plans {
		for _, p := range pkgs {
			t = max(t, p.pkg.BuildTime)
		}
	}
	return time.Unix(t, 0).UTC()
}

// annotations are the file's, overridden by the command line's, plus the
// creation time and the source from vcs-url.
func (b *build) annotations(created time.Time) map[string]string {
	ann := map[string]string{"org.opencontainers.image.created": created.UTC().Format(time.RFC3339)}
	if b.cfg.VCSURL != "" {
		url, rev, _ := parseVCSURL(b.cfg.VCSURL)
		ann["org.opencontainers.image.source"] = url
		if rev != "" {
			ann["org.opencontainers.image.revision"] = rev
		}
	}
	maps.Copy(ann, b.cfg.Annotations)
	maps.Copy(ann, b.opts.Annotations)
	return ann
}
