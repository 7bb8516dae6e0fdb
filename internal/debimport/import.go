package debimport

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/fsutil"
)

// Options controls Import and ImportAll.
type Options struct {
	// OutDir is the repository directory. Packages are written to
	// OutDir/<arch>/NAME-VERSION.apk, creating directories as needed.
	OutDir string
	// Signer signs the packages (and the index ImportAll writes); nil
	// leaves them unsigned.
	Signer *apk.Signer
	// SourceDateEpoch is the modification time (Unix seconds) of every
	// entry of the packages and their builddate. Zero means: the
	// timestamp of the .deb's data.tar member (dpkg-deb sets it to the
	// build's SOURCE_DATE_EPOCH), or if that is zero the newest mtime in
	// its control.tar, or else 0.
	SourceDateEpoch int64
	// NoarchDir is the repository architecture directory that
	// "Architecture: all" packages (arch noarch in .PKGINFO) are written
	// to. Empty means the architecture reef runs on (x86_64 on amd64).
	NoarchDir string
	// Jobs bounds how many packages ImportAll converts at once; zero
	// means GOMAXPROCS.
	Jobs int
	// TempDir is where large files are spooled during conversion; empty
	// means os.TempDir().
	TempDir string
	// Logger receives progress (Debug: skipped control files and other
	// details) and Warn-level notes (dropped version constraints,
	// synthesized directories). Nil discards them.
	Logger *slog.Logger
}

// Result describes one imported package.
type Result struct {
	Deb      string       // the .deb file, as given
	APKPath  string       // the .apk written
	Info     *apk.PkgInfo // its .PKGINFO
	Identity string       // the package identity (index C: field)
	Size     int64        // the .apk file size
	// Skipped lists the control.tar files that have no place in an apk
	// package and were left out: maintainer scripts (preinst, postinst,
	// prerm, postrm, config), triggers, conffiles, templates, shlibs,
	// symbols and the like. md5sums is not listed.
	Skipped []string
	// Warnings are notes on information lost in the mapping, such as a
	// dependency version that does not map.
	Warnings []string
}

// Error is an error importing one .deb: Deb names the file and Err says
// what is wrong with it, starting with the part of the package concerned,
// as in `foo.deb: control: Version "x": …`.
type Error struct {
	Deb string
	Err error
}

func (e *Error) Error() string { return e.Deb + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func (o *Options) noarchDir() string {
	if o.NoarchDir != "" {
		return o.NoarchDir
	}
	return arch.Host()
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Import converts the Debian binary package at debPath into a signed apk
// package in opts.OutDir/<arch>/, and returns what it wrote. It does not
// update the repository index; ImportAll does.
//
// The .deb is read once, as a stream: its data.tar entries go straight
// into the apk data member, so nothing from the archive is ever written
// to the file system under its own name. The mapping of names, versions,
// architectures, dependencies and files is described in the package
// documentation and in docs/debimport.md. The .apk is written to a
// temporary file and renamed into place, so a failed import leaves
// nothing behind. The output depends only on the .deb and opts: the same
// inputs give the same bytes.
func Import(ctx context.Context, debPath string, opts Options) (*Result, error) {
	res, err := importDeb(ctx, debPath, &opts)
	if err != nil {
		return nil, &Error{Deb: debPath, Err: err}
	}
	return res, nil
}

func importDeb(ctx context.Context, debPath string, opts *Options) (*Result, error) {
	if opts.OutDir == "" {
		return nil, errors.New("no output directory (Options.OutDir)")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(debPath)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return nil, pe.Err // the path is in the *Error already
		}
		return nil, err
	}
	defer f.Close()
	d, err := readDeb(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, err
	}
	res := &Result{Deb: debPath, Skipped: d.controlFiles}
	info, err := mapControl(d.control, res)
	if err != nil {
		return nil, err
	}
	epoch := opts.SourceDateEpoch
	if epoch == 0 {
		epoch = d.data.MTime
	}
	if epoch == 0 {
		epoch = d.controlMTime
	}
	info.BuildDate = epoch

	arch := info.Arch
	if arch == "noarch" {
		arch = opts.noarchDir()
	}
	if strings.ContainsAny(arch, `/\`) || arch == "." || arch == ".." {
		return nil, fmt.Errorf("invalid repository architecture %q", arch)
	}
	dir := filepath.Join(opts.OutDir, arch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res.APKPath = filepath.Join(dir, info.Name+"-"+info.Version+".apk")

	debName := info.Name
	suffix, _ := tarCompression(d.data.Name, "data.tar")
	fill := func(dw *apk.DataWriter) error {
		zr, release, err := decompressor(d.ar, suffix)
		if err != nil {
			return &sectionError{d.data.Name, err}
		}
		defer release()
		lr := &limitReader{r: zr, n: maxDataTar, err: fmt.Errorf("over %d GiB uncompressed", maxDataTar>>30)}
		c := newConverter(ctx, dw, debName, opts.TempDir)
		defer c.close()
		if err := c.convert(tar.NewReader(lr)); err != nil {
			return &sectionError{d.data.Name, err}
		}
		// Read to the end of the compressed stream, so that a corrupt
		// or truncated member is noticed (its checksum is at the end).
		if _, err := io.Copy(io.Discard, lr); err != nil {
			return &sectionError{d.data.Name, err}
		}
		info.Provides = append(info.Provides, c.provides(info.Version)...)
		if c.copyright != nil {
			info.License = copyrightLicense(c.copyright)
		}
		for _, s := range c.synthesized {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: directory %s was not listed before its contents; added as 0755 root:root", d.data.Name, s))
		}
		return nil
	}
	wopts := apk.WriteOptions{SourceDateEpoch: epoch, Signer: opts.Signer, TempDir: opts.TempDir}
	var wr *apk.WriteResult
	err = fsutil.WriteAtomic(res.APKPath, 0o644, func(w io.Writer) error {
		var err error
		wr, err = apk.WritePackage(w, info, nil, nil, fill, wopts)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Info = info
	res.Identity = wr.Identity
	res.Size = wr.Size
	log := opts.logger()
	log.Debug("imported Debian package", "deb", debPath, "apk", res.APKPath,
		"name", info.Name, "version", info.Version, "entries", wr.Entries)
	if len(res.Skipped) > 0 {
		log.Debug("left out control files (maintainer scripts are not run by apk)", "deb", debPath, "files", strings.Join(res.Skipped, " "))
	}
	for _, w := range res.Warnings {
		log.Warn(w, "deb", debPath)
	}
	return res, nil
}

// mapControl makes the .PKGINFO of a package from its Debian control file.
// Package sizes, provides found in the files, the license and the build
// date are filled in later.
func mapControl(p *Paragraph, res *Result) (*apk.PkgInfo, error) {
	fieldErr := func(name string, err error) error {
		return &sectionError{"control", fmt.Errorf("%s %q: %w", name, clip(p.Get(name), 100), err)}
	}
	name := p.Get("Package")
	if !apk.ValidName(name) {
		return nil, fieldErr("Package", errors.New("not a valid package name"))
	}
	debVersion := p.Get("Version")
	ver, err := MapVersion(debVersion)
	if err != nil {
		return nil, fieldErr("Version", errors.Unwrap(err))
	}
	debArch := p.Get("Architecture")
	arch, err := MapArch(debArch)
	if err != nil {
		return nil, fieldErr("Architecture", errors.Unwrap(err))
	}
	origin := name
	if src := strings.TrimSpace(p.Get("Source")); src != "" {
		// "Source: busybox (1:1.35.0-4+deb12u1)": the version is given
		// when it differs from the binary's.
		src, _, _ = strings.Cut(src, " ")
		if !apk.ValidName(src) {
			return nil, fieldErr("Source", errors.New("not a valid package name"))
		}
		origin = src
	}
	info := &apk.PkgInfo{
		Name:        name,
		Version:     ver,
		Arch:        arch,
		Description: oneLine(summary(p.Get("Description"))),
		URL:         oneLine(p.Get("Homepage")),
		Origin:      origin,
		Maintainer:  oneLine(p.Get("Maintainer")),
		Comments:    []string{fmt.Sprintf("Imported by reef from the Debian package %s %s (%s)", name, oneLine(debVersion), debArch)},
	}
	seen := map[string]bool{}
	for _, field := range []string{"Pre-Depends", "Depends"} {
		deps, warns, err := MapDepends(p.Get(field), debArch)
		if err != nil {
			return nil, &sectionError{"control", fmt.Errorf("%s: %w", field, err)}
		}
		for _, d := range deps {
			if !seen[d] {
				seen[d] = true
				info.Depends = append(info.Depends, d)
			}
		}
		for _, w := range warns {
			res.Warnings = append(res.Warnings, "control: "+field+": "+w)
		}
	}
	provides, warns, err := MapProvides(p.Get("Provides"))
	if err != nil {
		return nil, &sectionError{"control", fmt.Errorf("Provides: %w", err)}
	}
	info.Provides = provides
	for _, w := range warns {
		res.Warnings = append(res.Warnings, "control: Provides: "+w)
	}
	replaces, warns, err := MapDepends(p.Get("Replaces"), debArch)
	if err != nil {
		return nil, &sectionError{"control", fmt.Errorf("Replaces: %w", err)}
	}
	info.Replaces = replaces
	for _, w := range warns {
		res.Warnings = append(res.Warnings, "control: Replaces: "+w)
	}
	return info, nil
}

// oneLine joins the lines of a (continued) field value with spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ImportAll imports the .deb files at paths, up to opts.Jobs at a time,
// and then rebuilds the index of every architecture directory it wrote to
// (OutDir/<arch>/APKINDEX.tar.gz, signed with opts.Signer).
//
// A package that fails does not stop the others: the results are in the
// order of paths, nil for a failure, and the error joins every failure
// (each an *Error naming its .deb). Two .debs that map to the same .apk
// file are an error.
func ImportAll(ctx context.Context, paths []string, opts Options) ([]*Result, error) {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	results := make([]*Result, len(paths))
	errs := make([]error, len(paths))
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, p := range paths {
		g.Go(func() error {
			results[i], errs[i] = Import(ctx, p, opts)
			return nil
		})
	}
	g.Wait()

	byPath := map[string]*Result{}
	dirs := map[string][]string{} // arch directory → packages written there
	for i, r := range results {
		if r == nil {
			continue
		}
		if prev, ok := byPath[r.APKPath]; ok {
			if filepath.Clean(prev.Deb) != filepath.Clean(r.Deb) {
				errs[i] = &Error{Deb: r.Deb, Err: fmt.Errorf("maps to %s, as %s does; import only one of them", r.APKPath, prev.Deb)}
			}
			continue
		}
		byPath[r.APKPath] = r
		dir := filepath.Dir(r.APKPath)
		dirs[dir] = append(dirs[dir], r.APKPath)
	}
	if err := ctx.Err(); err != nil {
		// Interrupted: the packages written stay, unindexed.
		return results, errors.Join(append(errs, err)...)
	}
	for _, dir := range sortedKeys(dirs) {
		if err := updateIndex(ctx, dir, dirs[dir], &opts); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(dir, "APKINDEX.tar.gz"), err))
		}
	}
	return results, errors.Join(errs...)
}
