package install

import (
	"bytes"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemFS is an in-memory root: a tree of directories, regular files (their
// content held as bytes), symlinks, hard links, devices and fifos, each
// with its owner, mode, modification time and xattrs. The image builder
// walks it (Walk) to write layers without touching the disk.
//
// Hard links are two names for one node: they share content and
// metadata, and Walk reports the second and later names as TypeLink.
//
// A MemFS is safe for concurrent use. The zero value is not usable; call
// NewMemFS.
type MemFS struct {
	mu    sync.RWMutex
	root  *memNode
	arena contentArena // regular files' content
}

type memNode struct {
	typ                Type
	mode               uint32
	uid, gid           int
	mtime              time.Time
	link               string // symlink target
	xattrs             map[string]string
	devmajor, devminor int64
	data               []byte              // regular file content
	children           map[string]*memNode // directory entries
}

// NewMemFS returns an empty tree whose root directory is 0755 root:root.
func NewMemFS() *MemFS {
	return &MemFS{root: &memNode{typ: TypeDir, mode: 0o755, children: map[string]*memNode{}}}
}

// lookup returns the node at name (clean), or nil and an error.
func (m *MemFS) lookup(op, name string) (*memNode, error) {
	n := m.root
	if name == "" {
		return n, nil
	}
	for _, c := range strings.Split(name, "/") {
		if n.typ != TypeDir {
			return nil, pathErr(op, name, errNotDir)
		}
		next := n.children[c]
		if next == nil {
			return nil, pathErr(op, name, fs.ErrNotExist)
		}
		n = next
	}
	return n, nil
}

// parent returns the directory that holds name and name's base name.
func (m *MemFS) parent(op, name string) (*memNode, string, error) {
	if name == "" {
		return nil, "", pathErr(op, name, fs.ErrInvalid)
	}
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i], name[i+1:]
	}
	d, err := m.lookup(op, dir)
	if err != nil {
		return nil, "", err
	}
	if d.typ != TypeDir {
		return nil, "", pathErr(op, name, errNotDir)
	}
	return d, base, nil
}

func (m *MemFS) clean(op, name string) (string, error) {
	c, ok := cleanName(name)
	if !ok {
		return "", pathErr(op, name, fs.ErrInvalid)
	}
	return c, nil
}

func (n *memNode) entry(name string) *Entry {
	e := &Entry{
		Name:     name,
		Type:     n.typ,
		Mode:     n.mode,
		UID:      n.uid,
		GID:      n.gid,
		ModTime:  n.mtime,
		Linkname: n.link,
		Xattrs:   maps.Clone(n.xattrs),
		Devmajor: n.devmajor,
		Devminor: n.devminor,
	}
	if n.typ == TypeReg {
		e.Size = int64(len(n.data))
	}
	return e
}

// Lstat implements FS.
func (m *MemFS) Lstat(name string) (*Entry, error) {
	name, err := m.clean("lstat", name)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return n.entry(name), nil
}

// Create implements FS. A regular file's content is read into memory.
func (m *MemFS) Create(e *Entry, r io.Reader) error {
	name, err := m.clean("create", e.Name)
	if err != nil {
		return err
	}
	var data []byte
	if e.Type == TypeReg && r != nil {
		// Read before taking the lock: r may be slow (a package stream).
		// Content read ahead into memory is kept as it is; otherwise
		// the buffer is allocated from e.Size, grown only if r has more.
		if t, ok := r.(contentTaker); ok {
			data, ok = t.takeContent()
			if !ok {
				data = nil
			}
		}
		if data == nil {
			data, err = readContent(r, e.Size, &m.arena)
			if err != nil {
				return pathErr("create", name, err)
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if name == "" {
		if e.Type != TypeDir {
			return pathErr("create", name, errIsDir)
		}
		setMeta(m.root, e)
		return nil
	}
	d, base, err := m.parent("create", name)
	if err != nil {
		return err
	}
	old := d.children[base]
	switch e.Type {
	case TypeDir:
		if old != nil {
			if old.typ != TypeDir {
				return pathErr("mkdir", name, fs.ErrExist)
			}
			setMeta(old, e)
			return nil
		}
		n := &memNode{typ: TypeDir, children: map[string]*memNode{}}
		setMeta(n, e)
		n.mtime = e.ModTime
		d.children[base] = n
		return nil
	case TypeLink:
		if old != nil && old.typ == TypeDir {
			return pathErr("link", name, errIsDir)
		}
		target, err := m.clean("link", e.Linkname)
		if err != nil {
			return err
		}
		t, err := m.lookup("link", target)
		if err != nil {
			return err
		}
		if t.typ == TypeDir {
			return pathErr("link", target, errIsDir)
		}
		d.children[base] = t
		return nil
	case TypeReg, TypeSymlink, TypeChar, TypeBlock, TypeFifo:
		if old != nil && old.typ == TypeDir {
			return pathErr("create", name, errIsDir)
		}
		n := &memNode{typ: e.Type, data: data, link: e.Linkname, devmajor: e.Devmajor, devminor: e.Devminor}
		if e.Type != TypeSymlink {
			n.link = ""
		}
		setMeta(n, e)
		n.mtime = e.ModTime
		d.children[base] = n
		return nil
	}
	return pathErr("create", name, fs.ErrInvalid)
}

// Chmod sets the permission bits (07777) of the named entry, without
// following a final symlink: on a symlink it sets the mode recorded for
// the link itself (which the kernel ignores but a tar layer shows). Every
// name of a hard-linked file sees the change. The modification time is
// kept.
func (m *MemFS) Chmod(name string, mode uint32) error {
	name, err := m.clean("chmod", name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("chmod", name)
	if err != nil {
		return err
	}
	n.mode = mode & 0o7777
	return nil
}

// Chown sets the owner and group of the named entry, without following a
// final symlink (as lchown). Every name of a hard-linked file sees the
// change. The modification time is kept.
func (m *MemFS) Chown(name string, uid, gid int) error {
	name, err := m.clean("chown", name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("chown", name)
	if err != nil {
		return err
	}
	n.uid, n.gid = uid, gid
	return nil
}

// ReadDir describes the entries of the named directory (a real path: a
// symlink is not followed), sorted by name bytewise. Each Entry's Name is
// the full root-relative path, as Walk gives it; unlike Walk, every name
// of a hard-linked file is reported as the regular file it is.
func (m *MemFS) ReadDir(name string) ([]*Entry, error) {
	name, err := m.clean("readdir", name)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, err := m.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if d.typ != TypeDir {
		return nil, pathErr("readdir", name, errNotDir)
	}
	names := slices.Sorted(maps.Keys(d.children))
	out := make([]*Entry, len(names))
	for i, base := range names {
		p := base
		if name != "" {
			p = name + "/" + base
		}
		out[i] = d.children[base].entry(p)
	}
	return out, nil
}

// setMeta sets the owner, mode, xattrs and (for an existing directory,
// only when given) the modification time of n from e.
func setMeta(n *memNode, e *Entry) {
	n.mode = e.Mode & 0o7777
	n.uid, n.gid = e.UID, e.GID
	n.xattrs = maps.Clone(e.Xattrs)
	if !e.ModTime.IsZero() {
		n.mtime = e.ModTime
	}
}

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	oldname, err := m.clean("rename", oldname)
	if err != nil {
		return err
	}
	newname, err = m.clean("rename", newname)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	od, ob, err := m.parent("rename", oldname)
	if err != nil {
		return err
	}
	n := od.children[ob]
	if n == nil {
		return pathErr("rename", oldname, fs.ErrNotExist)
	}
	nd, nb, err := m.parent("rename", newname)
	if err != nil {
		return err
	}
	if oldname == newname {
		return nil
	}
	if n.typ == TypeDir && (newname == oldname || strings.HasPrefix(newname, oldname+"/")) {
		return pathErr("rename", newname, fs.ErrInvalid)
	}
	if old := nd.children[nb]; old != nil {
		if old.typ == TypeDir && (n.typ != TypeDir || len(old.children) > 0) {
			return pathErr("rename", newname, errIsDir)
		}
		if old.typ != TypeDir && n.typ == TypeDir {
			return pathErr("rename", newname, errNotDir)
		}
	}
	delete(od.children, ob)
	nd.children[nb] = n
	return nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	name, err := m.clean("remove", name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("remove", name)
	if err != nil {
		return err
	}
	n := d.children[base]
	if n == nil {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.typ == TypeDir && len(n.children) > 0 {
		return pathErr("remove", name, errNotEmpty)
	}
	delete(d.children, base)
	return nil
}

// Open implements FS. The reader reads a snapshot of the content.
func (m *MemFS) Open(name string) (io.ReadCloser, error) {
	name, err := m.clean("open", name)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookup("open", name)
	if err != nil {
		return nil, err
	}
	switch n.typ {
	case TypeReg:
		return io.NopCloser(bytes.NewReader(n.data)), nil
	case TypeDir:
		return nil, pathErr("open", name, errIsDir)
	}
	return nil, pathErr("open", name, fs.ErrInvalid)
}

// ReadFile returns the content of a regular file. The slice is shared
// with the tree and must not be modified.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	name, err := m.clean("open", name)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.typ != TypeReg {
		return nil, pathErr("open", name, fs.ErrInvalid)
	}
	return n.data, nil
}

// Walk calls fn for every entry of the tree but the root directory, in
// a deterministic order: depth first, a directory before its entries,
// the entries of a directory sorted by name bytewise (the order of
// fs.WalkDir). For a regular file, data is its content, shared with the
// tree: fn must not modify it. The second and later names of a
// hard-linked file (in walk order) are reported with Type TypeLink,
// Linkname the first name, and no data, as a tar layer wants them.
//
// If fn returns an error, Walk stops and returns it. fn must not modify
// the tree.
func (m *MemFS) Walk(fn func(e *Entry, data []byte) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	seen := map[*memNode]string{}
	return m.walk(m.root, "", seen, fn)
}

func (m *MemFS) walk(d *memNode, dir string, seen map[*memNode]string, fn func(*Entry, []byte) error) error {
	names := slices.Sorted(maps.Keys(d.children))
	for _, name := range names {
		n := d.children[name]
		p := name
		if dir != "" {
			p = dir + "/" + name
		}
		e := n.entry(p)
		var data []byte
		if n.typ == TypeReg {
			if first, ok := seen[n]; ok {
				e.Type, e.Linkname, e.Size = TypeLink, first, 0
			} else {
				seen[n] = p
				data = n.data
			}
		}
		if err := fn(e, data); err != nil {
			return err
		}
		if n.typ == TypeDir {
			if err := m.walk(n, p, seen, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Size returns the total size of the regular files' content, each
// hard-linked file counted once.
func (m *MemFS) Size() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	seen := map[*memNode]bool{}
	var size func(d *memNode) int64
	size = func(d *memNode) int64 {
		var total int64
		for _, n := range d.children {
			switch {
			case n.typ == TypeDir:
				total += size(n)
			case n.typ == TypeReg && !seen[n]:
				seen[n] = true
				total += int64(len(n.data))
			}
		}
		return total
	}
	return size(m.root)
}
