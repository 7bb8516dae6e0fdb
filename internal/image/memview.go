package image

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/reef-dev/reef/internal/image/ldso"
	"github.com/reef-dev/reef/internal/install"
)

// memView presents a MemFS as a read-only io/fs file system (with
// fs.ReadDirFS and fs.ReadLinkFS), for code written against io/fs such
// as the ld.so.cache generator. Open follows symbolic links inside the
// root. The tree must not change while the view is used.
type memView struct {
	m *install.MemFS
}

func toRel(name string) string {
	if name == "." {
		return ""
	}
	return name
}

func (v *memView) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	real, err := install.Resolve(v.m, toRel(name))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	e, err := v.m.Lstat(real)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	switch e.Type {
	case install.TypeDir:
		if real == "" {
			real = "."
		}
		return &memDir{v: v, e: e, real: real}, nil
	case install.TypeReg:
		data, err := v.m.ReadFile(real)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &memFile{Reader: bytes.NewReader(data), e: e}, nil
	}
	return &memFile{Reader: bytes.NewReader(nil), e: e}, nil
}

func (v *memView) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := v.Open(name)
	if err != nil {
		return nil, err
	}
	d, ok := f.(*memDir)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return d.ReadDir(-1)
}

func (v *memView) ReadLink(name string) (string, error) {
	e, err := v.lstat(name)
	if err != nil {
		return "", err
	}
	if e.Type != install.TypeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return e.Linkname, nil
}

func (v *memView) Lstat(name string) (fs.FileInfo, error) {
	e, err := v.lstat(name)
	if err != nil {
		return nil, err
	}
	return entryInfo{e}, nil
}

func (v *memView) lstat(name string) (*install.Entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrInvalid}
	}
	real, err := install.ResolveParent(v.m, toRel(name))
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	e, err := v.m.Lstat(real)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return e, nil
}

type entryInfo struct{ e *install.Entry }

func (i entryInfo) Name() string {
	if i.e.Name == "" {
		return "."
	}
	return path.Base(i.e.Name)
}
func (i entryInfo) Size() int64        { return i.e.Size }
func (i entryInfo) ModTime() time.Time { return i.e.ModTime }
func (i entryInfo) IsDir() bool        { return i.e.Type == install.TypeDir }
func (i entryInfo) Sys() any           { return i.e }
func (i entryInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.e.Mode & 0o777)
	if i.e.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if i.e.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if i.e.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch i.e.Type {
	case install.TypeDir:
		m |= fs.ModeDir
	case install.TypeSymlink:
		m |= fs.ModeSymlink
	case install.TypeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case install.TypeBlock:
		m |= fs.ModeDevice
	case install.TypeFifo:
		m |= fs.ModeNamedPipe
	}
	return m
}

type dirEntry struct{ entryInfo }

func (d dirEntry) Type() fs.FileMode          { return d.Mode().Type() }
func (d dirEntry) Info() (fs.FileInfo, error) { return d.entryInfo, nil }

type memFile struct {
	*bytes.Reader
	e *install.Entry
}

func (f *memFile) Stat() (fs.FileInfo, error) { return entryInfo{f.e}, nil }
func (f *memFile) Close() error               { return nil }

type memDir struct {
	v    *memView
	e    *install.Entry
	real string
	ents []*install.Entry // the listing, read on the first ReadDir
	read bool
	pos  int
}

func (d *memDir) Stat() (fs.FileInfo, error) { return entryInfo{d.e}, nil }
func (d *memDir) Close() error               { return nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.real, Err: errors.New("is a directory")}
}

func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.v.m.ReadDir(toRel(d.real))
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: d.real, Err: err}
		}
		d.ents, d.read = ents, true
	}
	ents := d.ents
	rest := ents[min(d.pos, len(ents)):]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	d.pos += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, e := range rest { // sorted by name
		out[i] = dirEntry{entryInfo{e}}
	}
	return out, nil
}

// writeLDSOCache writes /etc/ld.so.cache when the image has
// /etc/ld.so.conf, as apko does.
func (r *root) writeLDSOCache() error {
	v := &memView{m: r.fs}
	if !ldso.Needed(v) {
		return nil
	}
	res, err := ldso.Generate(v)
	if err != nil {
		return err
	}
	return r.writeFile("/"+ldso.Path, res.Cache.Marshal(), 0o644, 0, 0, false)
}
