package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/debimport"
	"github.com/reef-dev/reef/internal/repo"
)

// DefaultPackages are the Debian packages whose dependency closure stage 0
// holds, when Options.Packages is empty:
//
//   - busybox-static: the shell and most core utilities, as in Wolfi;
//   - coreutils: what Debian's busybox leaves out (install, comm, …);
//   - gcc, g++, binutils, make, libc6-dev (with linux-libc-dev), pkgconf:
//     build-base's toolchain;
//   - libc-bin: ldd, ldconfig, getconf, getent, iconv;
//   - ca-certificates: the certificates ca-certificates-bundle is made of;
//   - autoconf, automake, libtool: what the built-in autoconf pipelines
//     need (their needs.packages), as most Wolfi build files use them.
var DefaultPackages = []string{
	"autoconf",
	"automake",
	"binutils",
	"busybox-static",
	"ca-certificates",
	"coreutils",
	"g++",
	"gcc",
	"libc-bin",
	"libc6-dev",
	"libtool",
	"linux-libc-dev",
	"make",
	"pkgconf",
}

// DefaultDebCache returns where .debs are kept by default:
// <user cache dir>/reef/debs (~/.cache/reef/debs).
func DefaultDebCache() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for .debs (set Options.DebCache): %w", err)
	}
	return filepath.Join(c, "reef", "debs"), nil
}

// Options configures Stage0.
type Options struct {
	// OutDir is the repository directory: packages and the index are
	// written to OutDir/<Arch>/. It should be empty or hold an earlier
	// stage 0: the index lists exactly the packages of this run.
	OutDir string
	// SigningKey signs every package and the index (required).
	SigningKey *apk.Signer
	// DebCache is where .debs are downloaded to and reused from (checked
	// against the archive's SHA-256 each time); DefaultDebCache when empty.
	DebCache string
	// Packages are the Debian packages whose closure is imported;
	// DefaultPackages when empty. The meta-packages are written when
	// their material is there: busybox needs busybox-static,
	// ca-certificates-bundle needs ca-certificates, build-base needs gcc.
	Packages []string
	// Arch is the apk architecture; only the host's is supported (the
	// busybox binary is run to list its applets). Empty means the host's.
	Arch string
	// SourceDateEpoch (Unix seconds), when not zero, is the time of every
	// file, package and the index. Zero takes times from the inputs: each
	// imported package keeps its .deb's build time, and the packages
	// Stage0 writes get the newest of those.
	SourceDateEpoch int64
	// Offline uses only .debs already in DebCache: nothing is downloaded
	// and apt's lists are not updated. The closure is still computed from
	// apt's local package lists.
	Offline bool
	// TempDir is where large files are spooled; os.TempDir() when empty.
	TempDir string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Package is one package of the stage-0 repository.
type Package struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Path          string `json:"path"`
	Size          int64  `json:"size"`           // bytes of the .apk
	InstalledSize uint64 `json:"installed_size"` // .PKGINFO size
	// Kind is "debian" for an imported package and "meta" for one that
	// Stage0 wrote itself.
	Kind string `json:"kind"`
	// Deb is the Debian package it was imported from, NAME_VERSION_ARCH.
	Deb string `json:"deb,omitempty"`
	// Baselayout is set for imported packages that got a dependency on
	// reef-baselayout because they ship files under bin, sbin, lib or
	// lib64.
	Baselayout bool `json:"baselayout,omitempty"`
}

// Result describes the stage-0 repository Stage0 wrote.
type Result struct {
	Arch      string    `json:"arch"`
	Dir       string    `json:"dir"`   // OutDir/<Arch>
	Index     string    `json:"index"` // OutDir/<Arch>/APKINDEX.tar.gz
	KeyName   string    `json:"key_name"`
	Packages  []Package `json:"packages"` // sorted by name
	Imported  int       `json:"imported"`
	Meta      int       `json:"meta"`
	TotalSize int64     `json:"total_size"` // bytes of all .apk files
	// InstalledSize is the sum of the packages' installed sizes.
	InstalledSize uint64 `json:"installed_size"`
	// Downloaded counts the .debs fetched by this run (the others came
	// from the cache); DebSize is the size of all the .debs used.
	Downloaded int   `json:"downloaded"`
	DebSize    int64 `json:"deb_size"`
	// Applets is the number of busybox applet symlinks; Shadowed lists
	// the applets left out because another package ships the command.
	Applets  int      `json:"applets"`
	Shadowed []string `json:"shadowed,omitempty"`
	// Certificates is the number of certificates in the CA bundle.
	Certificates int `json:"certificates"`
	// Skipped lists meta-packages not written, with the reason.
	Skipped []string `json:"skipped,omitempty"`
	// Warnings are notes on what may not resolve or work as in Debian.
	Warnings []string `json:"warnings,omitempty"`
}

// goArches maps Go architectures to apk ones, for the default Arch.
var goArches = map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "x86", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "loong64": "loongarch64"}

// debArch returns the Debian architecture of an apk one.
func debArch(arch string) (string, error) {
	for _, d := range []string{"amd64", "arm64", "i386", "armhf", "ppc64el", "s390x", "riscv64", "loong64", "mips64el"} {
		if a, err := debimport.MapArch(d); err == nil && a == arch {
			return d, nil
		}
	}
	return "", fmt.Errorf("architecture %q has no Debian counterpart", arch)
}

// Stage0 builds the stage-0 repository: it computes the Debian closure of
// opts.Packages, downloads what is not cached, imports it, adapts it to a
// merged-/usr root and adds the meta-packages (see the package
// documentation).
func Stage0(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.OutDir == "" {
		return nil, errors.New("bootstrap: no output directory (Options.OutDir)")
	}
	if opts.SigningKey == nil {
		return nil, errors.New("bootstrap: stage 0 is a signed repository: Options.SigningKey is required")
	}
	host, ok := goArches[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("bootstrap: unsupported host architecture %s", runtime.GOARCH)
	}
	arch := opts.Arch
	if arch == "" {
		arch = host
	}
	if arch != host {
		return nil, fmt.Errorf("bootstrap: stage 0 is built for the host's architecture only (%s, not %s): the busybox binary is run to list its applets", host, arch)
	}
	darch, err := debArch(arch)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	cache := opts.DebCache
	if cache == "" {
		if cache, err = DefaultDebCache(); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
	}
	roots := opts.Packages
	if len(roots) == 0 {
		roots = DefaultPackages
	}
	for _, r := range roots {
		if !apk.ValidName(r) {
			return nil, fmt.Errorf("bootstrap: %q is not a package name", r)
		}
	}
	a := &apt{debArch: darch, logger: log}
	res := &Result{Arch: arch, Dir: filepath.Join(opts.OutDir, arch), KeyName: opts.SigningKey.KeyName}

	// 1. The closure, and the .debs.
	debs, paths, err := a.resolve(ctx, roots, cache, opts.Offline, res)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	for _, d := range debs {
		res.DebSize += d.Size
	}
	log.Info("Debian closure", "roots", len(roots), "packages", len(debs), "deb_bytes", res.DebSize,
		"downloaded", res.Downloaded, "cache", cache, "elapsed", time.Since(start).Round(time.Millisecond))

	// 2. Import. Import rather than ImportAll: the index is written once,
	// at the end, with exactly this stage 0's packages.
	iopts := debimport.Options{
		OutDir:          opts.OutDir,
		Signer:          opts.SigningKey,
		SourceDateEpoch: opts.SourceDateEpoch,
		NoarchDir:       arch,
		TempDir:         opts.TempDir,
		Logger:          log,
	}
	results := make([]*debimport.Result, len(paths))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range paths {
		g.Go(func() error {
			r, err := debimport.Import(gctx, p, iopts)
			results[i] = r
			return err // an *debimport.Error naming the .deb
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("bootstrap: importing: %w", err)
	}
	byName := map[string]*debimport.Result{}
	pkgs := map[string]*Package{}
	var newest int64
	for i, r := range results {
		if filepath.Dir(r.APKPath) != res.Dir {
			return nil, fmt.Errorf("bootstrap: %s was imported into %s, not %s", filepath.Base(paths[i]), filepath.Dir(r.APKPath), res.Dir)
		}
		byName[r.Info.Name] = r
		pkgs[r.Info.Name] = &Package{Name: r.Info.Name, Version: r.Info.Version, Path: r.APKPath, Size: r.Size,
			InstalledSize: r.Info.Size, Kind: "debian", Deb: strings.TrimSuffix(debs[i].FileName(), ".deb")}
		newest = max(newest, r.Info.BuildDate)
	}
	log.Info("imported", "packages", len(results), "elapsed", time.Since(start).Round(time.Millisecond))
	epoch := opts.SourceDateEpoch
	if epoch == 0 {
		epoch = newest
	}

	// 3. What the packages hold: their paths (for conflicts and
	// merged-/usr), busybox's binary and the certificates.
	scans, err := scanAll(ctx, results)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	owners := map[string]string{} // canonical path → package
	for _, name := range sortedKeys(scans) {
		for p := range scans[name].Files {
			if o, ok := owners[p]; ok && o != name {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s and %s both ship /%s", o, name, p))
				continue
			}
			owners[p] = name
		}
	}

	// 4. Packages that put files behind the merged-/usr symlinks depend
	// on reef-baselayout, so that apk installs it first.
	var patch []string
	for _, name := range sortedKeys(scans) {
		if scans[name].Merged {
			patch = append(patch, name)
		}
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, name := range patch {
		p := pkgs[name]
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			info, wr, err := addDepends(p.Path, []string{BaselayoutName},
				"reef stage 0: depends on "+BaselayoutName+" for its merged-/usr symlinks", opts.SigningKey, opts.TempDir)
			if err != nil {
				return err
			}
			p.Size, p.InstalledSize, p.Baselayout = wr.Size, info.Size, true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	log.Info("merged /usr: packages depending on "+BaselayoutName, "packages", len(patch), "elapsed", time.Since(start).Round(time.Millisecond))

	// 5. The meta-packages.
	metas, err := metaPackages(ctx, arch, byName, scans, owners, opts.TempDir, res)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	for _, m := range metas {
		if _, dup := pkgs[m.info.Name]; dup {
			return nil, fmt.Errorf("bootstrap: the Debian package %s is in the closure, but stage 0 writes its own package of that name: leave it out of the roots", m.info.Name)
		}
	}
	for _, m := range metas {
		p, wr, err := m.write(res.Dir, opts.SigningKey, epoch, opts.TempDir)
		if err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		pkgs[m.info.Name] = &Package{Name: m.info.Name, Version: m.info.Version, Path: p, Size: wr.Size, InstalledSize: m.info.Size, Kind: "meta"}
	}

	// 6. The index: exactly these packages.
	kr := apk.NewKeyring()
	kr.Add(opts.SigningKey.KeyName, &opts.SigningKey.Key.PublicKey)
	var all []string
	for _, name := range sortedKeys(pkgs) {
		p := pkgs[name]
		all = append(all, p.Path)
		res.Packages = append(res.Packages, *p)
		res.TotalSize += p.Size
		res.InstalledSize += p.InstalledSize
		if p.Kind == "meta" {
			res.Meta++
		} else {
			res.Imported++
		}
	}
	res.Index = filepath.Join(res.Dir, "APKINDEX.tar.gz")
	uo := repo.UpdateOptions{
		BuildOptions: repo.BuildOptions{Keyring: kr, RewriteArch: arch},
		Signer:       opts.SigningKey,
		Description:  "reef stage 0 (from Debian binary packages)",
	}
	if opts.SourceDateEpoch != 0 {
		uo.SourceDateEpoch = time.Unix(opts.SourceDateEpoch, 0)
	}
	if _, err := repo.UpdateIndex(ctx, res.Index, all, uo); err != nil {
		return nil, fmt.Errorf("bootstrap: writing the index: %w", err)
	}
	log.Info("stage 0 written", "index", res.Index, "packages", len(res.Packages), "meta", res.Meta,
		"bytes", res.TotalSize, "elapsed", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// resolve computes the closure and fetches the .debs. When apt's lists are
// missing, or stale enough that the mirror no longer has a candidate, it
// runs `apt-get update` (once, when root and online) and tries again.
func (a *apt) resolve(ctx context.Context, roots []string, cache string, offline bool, res *Result) ([]*debPackage, []string, error) {
	for {
		avail, err := a.available(ctx)
		if err != nil {
			return nil, nil, err
		}
		known := 0
		for _, r := range roots {
			if _, ok := avail[r]; ok {
				known++
			}
		}
		if known == 0 {
			if !offline && a.update(ctx) {
				continue
			}
			return nil, nil, errNoLists
		}
		debs, warnings, err := a.closure(avail, roots)
		if err != nil {
			if !offline && a.update(ctx) {
				a.logger.Warn("retrying after apt-get update", "err", err)
				continue
			}
			return nil, nil, err
		}
		paths, n, err := a.fetch(ctx, cache, debs, offline)
		if err != nil {
			if !offline && a.update(ctx) {
				a.logger.Warn("retrying after apt-get update", "err", err)
				continue
			}
			return nil, nil, err
		}
		res.Downloaded = n
		res.Warnings = append(res.Warnings, warnings...)
		return debs, paths, nil
	}
}

// scanAll reads the file lists of the imported packages in parallel,
// keeping busybox's binary and the CA certificates.
func scanAll(ctx context.Context, results []*debimport.Result) (map[string]*contents, error) {
	out := make([]*contents, len(results))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, r := range results {
		var keep func(string) bool
		switch r.Info.Name {
		case "busybox-static":
			keep = func(n string) bool { return canonical(n) == "usr/bin/busybox" }
		case "ca-certificates":
			keep = func(n string) bool {
				return strings.HasPrefix(n, "usr/share/ca-certificates/") && path.Ext(n) == ".crt"
			}
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			c, err := scanFiles(r.APKPath, keep)
			out[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m := map[string]*contents{}
	for i, r := range results {
		m[r.Info.Name] = out[i]
	}
	return m, nil
}

// metaPackages makes the meta-packages whose material is in the closure.
func metaPackages(ctx context.Context, arch string, imported map[string]*debimport.Result, scans map[string]*contents, owners map[string]string, tempDir string, res *Result) ([]*metaPackage, error) {
	metas := []*metaPackage{baselayout(arch)}
	has := func(n string) bool { _, ok := imported[n]; return ok }

	if bb, ok := imported["busybox-static"]; ok {
		var binary []byte
		for _, b := range scans["busybox-static"].Data {
			binary = b
		}
		if binary == nil {
			return nil, fmt.Errorf("busybox-static %s ships no bin/busybox", bb.Info.Version)
		}
		applets, err := busyboxApplets(ctx, binary, tempDir)
		if err != nil {
			return nil, err
		}
		others := map[string]string{}
		for p, o := range owners {
			if o != "busybox-static" {
				others[p] = o
			}
		}
		deps := []string{BaselayoutName}
		if has("coreutils") {
			deps = append(deps, "coreutils")
		}
		m, shadowed := busyboxPackage(arch, bb.Info.Version, binary, applets, others, deps)
		res.Applets = len(m.entries) - 1
		res.Shadowed = shadowed
		metas = append(metas, m)
	} else {
		res.Skipped = append(res.Skipped, BusyboxName+": busybox-static is not in the closure")
	}

	if ca, ok := imported["ca-certificates"]; ok {
		m, n, err := caBundlePackage(arch, ca.Info.Version, scans["ca-certificates"].Data, owners)
		if err != nil {
			return nil, err
		}
		res.Certificates = n
		metas = append(metas, m)
	} else {
		res.Skipped = append(res.Skipped, CABundleName+": ca-certificates is not in the closure")
	}

	if has("gcc") {
		deps := []string{BaselayoutName}
		for _, n := range []string{"binutils", "gcc", "g++", "make", "libc6-dev", "libc-bin", "pkgconf"} {
			if has(n) {
				deps = append(deps, n)
			}
		}
		if has("busybox-static") {
			// make runs recipes with /bin/sh, which Debian takes for
			// granted (dash is Essential); here busybox provides it.
			deps = append(deps, BusyboxName)
		}
		metas = append(metas, buildBasePackage(arch, deps, owners))
	} else {
		res.Skipped = append(res.Skipped, BuildBaseName+": gcc is not in the closure")
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].info.Name < metas[j].info.Name })
	return metas, nil
}
