package image

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/install"
)

// root wraps the tree an image is assembled in with the file operations
// the assembly steps need (install.FS has only the primitives), and
// records which paths were changed after the packages were installed,
// so that layering puts them in the top layer.
type root struct {
	fs      *install.MemFS
	mtime   time.Time       // modification time of what the builder writes
	touched map[string]bool // real root-relative paths written after install
}

func newRoot(m *install.MemFS, mtime time.Time) *root {
	return &root{fs: m, mtime: mtime, touched: map[string]bool{}}
}

func (r *root) touch(name string) { r.touched[name] = true }

// real resolves name (absolute or relative, clean) inside the root,
// following links in every component but the last.
func (r *root) real(name string) (string, error) {
	rel, err := cleanImagePath(name)
	if err != nil {
		return "", err
	}
	if rel == "" {
		return "", nil
	}
	return install.ResolveParent(r.fs, rel)
}

// lstat describes name without following a final link; nil if absent.
func (r *root) lstat(name string) (*install.Entry, error) {
	real, err := r.real(name)
	if err != nil {
		return nil, err
	}
	e, err := r.fs.Lstat(real)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return e, err
}

// readFile reads a regular file, following links; nil, nil if absent.
func (r *root) readFile(name string) ([]byte, error) {
	rel, err := cleanImagePath(name)
	if err != nil {
		return nil, err
	}
	real, err := install.Resolve(r.fs, rel)
	if err != nil {
		return nil, err
	}
	data, err := r.fs.ReadFile(real)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// mkdirAll creates the directory name and its missing parents (0755
// root:root for parents; mode, uid, gid for name itself), following
// links. It returns the directory's real path. An existing directory is
// left alone.
func (r *root) mkdirAll(name string, mode uint32, uid, gid int) (string, error) {
	rel, err := cleanImagePath(name)
	if err != nil {
		return "", err
	}
	if rel == "" {
		return "", nil
	}
	real, err := install.Resolve(r.fs, rel)
	if err != nil {
		return "", err
	}
	parts := strings.Split(real, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		e, err := r.fs.Lstat(p)
		if err == nil {
			if e.Type != install.TypeDir {
				return "", fmt.Errorf("/%s: exists and is not a directory", p)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		ne := &install.Entry{Name: p, Type: install.TypeDir, Mode: 0o755, ModTime: r.mtime}
		if i == len(parts)-1 {
			ne.Mode, ne.UID, ne.GID = mode, uid, gid
		}
		if err := r.fs.Create(ne, nil); err != nil {
			return "", err
		}
		r.touch(p)
	}
	return real, nil
}

// writeFile writes a regular file at name (its parent created as
// needed), replacing a non-directory there. When keepMeta is set and a
// regular file exists, its owner and mode are kept.
func (r *root) writeFile(name string, data []byte, mode uint32, uid, gid int, keepMeta bool) error {
	rel, err := cleanImagePath(name)
	if err != nil {
		return err
	}
	if _, err := r.mkdirAll(path.Dir("/"+rel), 0o755, 0, 0); err != nil {
		return err
	}
	real, err := install.ResolveParent(r.fs, rel)
	if err != nil {
		return err
	}
	e := &install.Entry{Name: real, Type: install.TypeReg, Mode: mode, UID: uid, GID: gid, ModTime: r.mtime, Size: int64(len(data))}
	if old, err := r.fs.Lstat(real); err == nil {
		if old.Type == install.TypeDir {
			return fmt.Errorf("/%s: is a directory", real)
		}
		if keepMeta && old.Type == install.TypeReg {
			e.Mode, e.UID, e.GID, e.Xattrs = old.Mode, old.UID, old.GID, old.Xattrs
		}
	}
	if err := r.fs.Create(e, bytes.NewReader(data)); err != nil {
		return err
	}
	r.touch(real)
	return nil
}

// setMeta changes the owner and/or mode of the entry at real (a resolved
// path), in place: a hard-linked file keeps its links (every name sees
// the change) and its modification time. A nil argument leaves that part
// alone. A symlink's mode is always 0777 (the kernel ignores it; the
// layer shows it).
func (r *root) setMeta(real string, mode *uint32, uid, gid *int) error {
	e, err := r.fs.Lstat(real)
	if err != nil {
		return err
	}
	switch {
	case e.Type == install.TypeSymlink:
		if e.Mode != 0o777 {
			if err := r.fs.Chmod(real, 0o777); err != nil {
				return err
			}
		}
	case mode != nil:
		if err := r.fs.Chmod(real, *mode); err != nil {
			return err
		}
	}
	if uid != nil || gid != nil {
		u, g := e.UID, e.GID
		if uid != nil {
			u = *uid
		}
		if gid != nil {
			g = *gid
		}
		if err := r.fs.Chown(real, u, g); err != nil {
			return err
		}
	}
	r.touch(real)
	return nil
}

// under returns the real paths of every entry below dir (not dir itself),
// parents before children, each directory's entries sorted by name,
// without following links.
func (r *root) under(dir string) ([]string, error) {
	var out []string
	var walk func(string) error
	walk = func(d string) error {
		ents, err := r.fs.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			out = append(out, e.Name)
			if e.Type == install.TypeDir {
				if err := walk(e.Name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	e, err := r.fs.Lstat(dir)
	if err != nil || e.Type != install.TypeDir {
		return nil, err
	}
	return out, walk(dir)
}
