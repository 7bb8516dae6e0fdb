package image

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/reef-dev/reef/internal/install"
)

// applyPaths applies the paths block in order. Changes are made inside
// the root: links in the paths are followed the way a chrooted process
// follows them, so nothing can be reached outside it.
func (r *root) applyPaths(c *Config) error {
	for i, m := range c.Paths {
		if err := r.applyPath(m); err != nil {
			return c.errorf(fmt.Sprintf("paths[%d]", i), "%s %s: %v", m.Type, m.Path, err)
		}
	}
	return nil
}

func (r *root) applyPath(m PathMutation) error {
	rel, err := cleanImagePath(m.Path)
	if err != nil {
		return err
	}
	var uid, gid *int
	if m.UID != nil || m.GID != nil {
		u, g := 0, 0
		if m.UID != nil {
			u = int(*m.UID)
		}
		if m.GID != nil {
			g = int(*m.GID)
		}
		uid, gid = &u, &g
	}
	switch m.Type {
	case PathDirectory:
		mode := uint32(0o755)
		if m.Permissions != nil {
			mode = *m.Permissions
		}
		real, err := r.mkdirAll("/"+rel, mode, 0, 0)
		if err != nil {
			return err
		}
		return r.setTree(real, m.Permissions, uid, gid, m.Recursive)

	case PathEmptyFile:
		mode := uint32(0o644)
		if m.Permissions != nil {
			mode = *m.Permissions
		}
		u, g := 0, 0
		if uid != nil {
			u, g = *uid, *gid
		}
		return r.writeFile("/"+rel, nil, mode, u, g, false)

	case PathSymlink:
		if _, err := r.mkdirAll(path.Dir("/"+rel), 0o755, 0, 0); err != nil {
			return err
		}
		real, err := install.ResolveParent(r.fs, rel)
		if err != nil {
			return err
		}
		if old, err := r.fs.Lstat(real); err == nil && old.Type == install.TypeDir {
			return fmt.Errorf("a directory is in the way")
		}
		e := &install.Entry{Name: real, Type: install.TypeSymlink, Mode: 0o777, Linkname: m.Source, ModTime: r.mtime}
		if uid != nil {
			e.UID, e.GID = *uid, *gid
		}
		if err := r.fs.Create(e, nil); err != nil {
			return err
		}
		r.touch(real)
		return nil

	case PathHardlink:
		src, err := cleanImagePath(m.Source)
		if err != nil {
			return err
		}
		srcReal, err := install.Resolve(r.fs, src)
		if err != nil {
			return err
		}
		se, err := r.fs.Lstat(srcReal)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("source %s does not exist", m.Source)
		}
		if err != nil {
			return err
		}
		if se.Type != install.TypeReg {
			return fmt.Errorf("source %s is not a regular file", m.Source)
		}
		if _, err := r.mkdirAll(path.Dir("/"+rel), 0o755, 0, 0); err != nil {
			return err
		}
		real, err := install.ResolveParent(r.fs, rel)
		if err != nil {
			return err
		}
		if old, err := r.fs.Lstat(real); err == nil {
			if old.Type == install.TypeDir {
				return fmt.Errorf("a directory is in the way")
			}
			if err := r.fs.Remove(real); err != nil {
				return err
			}
		}
		if err := r.fs.Create(&install.Entry{Name: real, Type: install.TypeLink, Linkname: srcReal}, nil); err != nil {
			return err
		}
		r.touch(real)
		r.touch(srcReal)
		if m.Permissions != nil || uid != nil {
			return r.setMeta(real, m.Permissions, uid, gid)
		}
		return nil

	case PathPermissions:
		real, err := install.ResolveParent(r.fs, rel)
		if err != nil {
			return err
		}
		if _, err := r.fs.Lstat(real); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("does not exist")
		} else if err != nil {
			return err
		}
		return r.setTree(real, m.Permissions, uid, gid, m.Recursive)
	}
	return fmt.Errorf("unknown type %q", m.Type)
}

// setTree sets mode and owner on real and, when recursive, on everything
// below it (links are not followed).
func (r *root) setTree(real string, mode *uint32, uid, gid *int, recursive bool) error {
	if mode == nil && uid == nil {
		return nil
	}
	if err := r.setMeta(real, mode, uid, gid); err != nil {
		return err
	}
	if !recursive {
		return nil
	}
	names, err := r.under(real)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := r.setMeta(n, mode, uid, gid); err != nil {
			return err
		}
	}
	return nil
}
