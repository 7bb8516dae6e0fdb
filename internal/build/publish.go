package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/repo"
)

// publish moves the staged packages into the repository directory dir
// and installs the updated index, under the index's lock.
//
// The new index is made first, in the staging directory, from a copy of
// the current one (repo.UpdateIndex with Merge). Then each package
// replaces its file (an older file of the same name is moved aside), and
// the index replaces the old one. If any of this fails, the files moved
// so far are put back: the directory keeps its previous packages and
// index.
func (r *runner) publish(ctx context.Context, stage, dir string, pkgs []emitted) (*Result, error) {
	indexPath := filepath.Join(dir, "APKINDEX.tar.gz")
	lock, err := fsutil.LockFile(repo.LockPath(indexPath))
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	res := &Result{Arch: r.b.Arch, Dir: dir}
	var staged []string
	for _, p := range pkgs {
		staged = append(staged, filepath.Join(stage, p.file))
	}
	newIndex := filepath.Join(stage, "APKINDEX.tar.gz")
	if !r.opts.NoIndex {
		if err := copyFile(indexPath, newIndex); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("index: %w", err)
		}
		kr := apk.NewKeyring()
		if r.opts.Signer != nil {
			kr.Add(r.opts.Signer.KeyName, &r.opts.Signer.Key.PublicKey)
		}
		var mtime time.Time
		if r.sde > 0 {
			mtime = time.Unix(r.sde, 0)
		}
		_, err := repo.UpdateIndex(ctx, newIndex, staged, repo.UpdateOptions{
			BuildOptions:    repo.BuildOptions{Keyring: kr, AllowUntrusted: r.opts.Signer == nil},
			Signer:          r.opts.Signer,
			Merge:           true,
			SourceDateEpoch: mtime,
		})
		if err != nil {
			return nil, fmt.Errorf("updating the index %s: %w", indexPath, err)
		}
		res.Index = indexPath
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Move everything into place, remembering how to undo it.
	type move struct{ from, to, backup string }
	var done []move
	undo := func() {
		for i := len(done) - 1; i >= 0; i-- {
			m := done[i]
			if m.backup != "" {
				os.Rename(m.backup, m.to)
			} else {
				os.Remove(m.to)
			}
		}
	}
	place := func(from, to string) error {
		m := move{from: from, to: to}
		if _, err := os.Lstat(to); err == nil {
			m.backup = filepath.Join(stage, ".old-"+filepath.Base(to))
			if err := os.Rename(to, m.backup); err != nil {
				return err
			}
		}
		if err := os.Rename(from, to); err != nil {
			if m.backup != "" {
				os.Rename(m.backup, to)
			}
			return err
		}
		done = append(done, m)
		return nil
	}
	for i, p := range pkgs {
		final := filepath.Join(dir, p.file)
		if err := place(staged[i], final); err != nil {
			undo()
			return nil, fmt.Errorf("moving %s into %s: %w", p.file, dir, err)
		}
		bp := p.BuiltPackage
		bp.Path = final
		res.Packages = append(res.Packages, bp)
	}
	if !r.opts.NoIndex {
		if err := place(newIndex, indexPath); err != nil {
			undo()
			return nil, fmt.Errorf("replacing the index %s: %w", indexPath, err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return res, nil
}

// copyFile copies the file src to dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return fsutil.WriteAtomic(dst, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
