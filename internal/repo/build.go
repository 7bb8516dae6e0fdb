package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/version"
)

// BuildOptions configures how BuildIndex reads packages.
type BuildOptions struct {
	// Keyring holds the keys package signatures are checked against. As
	// with `apk index`, every package must be signed by one of them unless
	// AllowUntrusted is set.
	Keyring *apk.Keyring
	// AllowUntrusted indexes unsigned packages and packages signed by
	// unknown keys (their signatures are then not checked).
	AllowUntrusted bool
	// RewriteArch, when set, replaces every record's A: field, as
	// `apk index --rewrite-arch` (abuild uses it for noarch packages).
	RewriteArch string
	// Jobs bounds how many packages are read at once; GOMAXPROCS when 0.
	Jobs int
	// Limits bounds what is read from each package.
	Limits apk.Limits
}

// PackageError is an error about one package file.
type PackageError struct {
	Path string
	Err  error
}

func (e *PackageError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *PackageError) Unwrap() error { return e.Err }

// ReadPackageRecord reads the .apk file at path to its end and returns its
// index record: identity (C:), .PKGINFO fields and file size (S:). It
// checks the package as `apk index` does: the signature against
// opts.Keyring unless opts.AllowUntrusted, the datahash, the per-file
// checksums and a clean end of file. Errors are *PackageError.
func ReadPackageRecord(path string, opts BuildOptions) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := readRecord(f, opts)
	if err != nil {
		return nil, &PackageError{path, err}
	}
	return p, nil
}

// readRecord reads a whole package from r and makes its record.
func readRecord(r io.Reader, opts BuildOptions) (*Package, error) {
	pr, err := apk.NewReader(r, opts.Limits)
	if err != nil {
		return nil, err
	}
	if !opts.AllowUntrusted {
		kr := opts.Keyring
		if kr == nil {
			kr = apk.NewKeyring()
		}
		if _, err := kr.Verify(pr.Signatures(), pr.ControlMember()); err != nil {
			if errors.Is(err, apk.ErrUnsigned) {
				return nil, fmt.Errorf("package is %w; sign it, or allow untrusted packages", err)
			}
			return nil, fmt.Errorf("package %w", err)
		}
	}
	if err := pr.Drain(); err != nil {
		return nil, err
	}
	info := pr.Info()
	if info.DataHash != "" && info.DataHash != pr.DataHash() {
		return nil, &apk.DataHashError{Want: info.DataHash, Got: pr.DataHash()}
	}
	p := FromPkgInfo(info, pr.Identity(), uint64(pr.Size()))
	if opts.RewriteArch != "" {
		p.Arch = opts.RewriteArch
	}
	return p, nil
}

// BuildIndex reads the packages at paths in parallel (at most opts.Jobs
// at once) and returns their records in the order of paths. It fails on
// the first package that cannot be indexed, and when two files are the
// same name and version with different content.
func BuildIndex(ctx context.Context, paths []string, opts BuildOptions) ([]*Package, error) {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	pkgs := make([]*Package, len(paths))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, path := range paths {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			p, err := ReadPackageRecord(path, opts)
			pkgs[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// One record per name and version.
	seen := make(map[string]int, len(pkgs))
	out := pkgs[:0:0]
	for i, p := range pkgs {
		key := p.Name + "\x00" + p.Version
		if j, ok := seen[key]; ok {
			if pkgs[j].Checksum == p.Checksum {
				continue // the same package twice
			}
			return nil, fmt.Errorf("%s and %s are both %s, with different content; index only one of them", paths[j], paths[i], p)
		}
		seen[key] = i
		out = append(out, p)
	}
	return out, nil
}

// MergePackages returns the records of old that add does not replace,
// followed by add. A record of add replaces the old records with the same
// name and version (a rebuilt package); all others are kept.
func MergePackages(old, add []*Package) []*Package {
	replaced := make(map[string]bool, len(add))
	for _, p := range add {
		replaced[p.Name+"\x00"+p.Version] = true
	}
	out := make([]*Package, 0, len(old)+len(add))
	for _, p := range old {
		if !replaced[p.Name+"\x00"+p.Version] {
			out = append(out, p)
		}
	}
	return append(out, add...)
}

// UpdateOptions configures UpdateIndex.
type UpdateOptions struct {
	BuildOptions
	// Signer signs the index; nil writes it unsigned.
	Signer *apk.Signer
	// Merge keeps the records of the index already at the output path
	// (read without verification: it is about to be re-signed), except
	// those the new packages replace. Without it the index holds only the
	// new packages.
	Merge bool
	// Description is the DESCRIPTION entry; when empty, a merged index
	// keeps its old one.
	Description string
	// SourceDateEpoch is the mtime of the tar entries. When zero, the
	// newest build time (t:) of the records is used, so the output depends
	// on the inputs only.
	SourceDateEpoch time.Time
}

// LockPath returns the lock file UpdateIndex takes for the index at
// indexPath: a hidden file beside it.
func LockPath(indexPath string) string {
	return filepath.Join(filepath.Dir(indexPath), "."+filepath.Base(indexPath)+".lock")
}

// UpdateIndex indexes the packages at pkgPaths (see BuildIndex) and writes
// the index to indexPath, merged with the existing one when opts.Merge is
// set. The read-merge-write runs under an exclusive lock (LockPath), so
// that concurrent runs on one directory, in this process or others, each
// see the other's packages; the file is replaced atomically. Packages are
// read before the lock is taken. It returns the index written, records in
// the order written.
func UpdateIndex(ctx context.Context, indexPath string, pkgPaths []string, opts UpdateOptions) (*Index, error) {
	add, err := BuildIndex(ctx, pkgPaths, opts.BuildOptions)
	if err != nil {
		return nil, err
	}
	lock, err := fsutil.LockFile(LockPath(indexPath))
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	idx := &Index{Packages: add}
	if opts.Merge {
		old, err := ReadIndexFile(indexPath, nil, ReadOptions{AllowUntrusted: true})
		switch {
		case err == nil:
			idx.Description = old.Description
			idx.Packages = MergePackages(old.Packages, add)
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, fmt.Errorf("merging into the existing index: %w", err)
		}
	}
	if opts.Description != "" {
		idx.Description = opts.Description
	}
	mtime := opts.SourceDateEpoch
	if mtime.IsZero() {
		var newest int64
		for _, p := range idx.Packages {
			newest = max(newest, p.BuildTime)
		}
		mtime = time.Unix(newest, 0)
	}
	var signers []*apk.Signer
	if opts.Signer != nil {
		signers = append(signers, opts.Signer)
	}
	data, err := EncodeIndex(idx, mtime, signers...)
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(indexPath, data, 0o644); err != nil {
		return nil, err
	}
	SortPackages(idx.Packages, version.Compare) // the order written
	return idx, nil
}
