//go:build !linux

package install

import (
	"errors"
	"io"
)

// DirFS is a root on disk. It is implemented on Linux only.
type DirFS struct{ dir string }

// OpenDir returns an error: DirFS is implemented on Linux only.
func OpenDir(dir string) (*DirFS, error) { return nil, errors.New("install: DirFS needs Linux") }

// Dir returns the directory the root was opened at.
func (d *DirFS) Dir() string { return d.dir }

// Close does nothing.
func (d *DirFS) Close() error { return nil }

func (d *DirFS) Lstat(name string) (*Entry, error)       { return nil, errors.ErrUnsupported }
func (d *DirFS) Create(e *Entry, r io.Reader) error      { return errors.ErrUnsupported }
func (d *DirFS) Rename(oldname, newname string) error    { return errors.ErrUnsupported }
func (d *DirFS) Remove(name string) error                { return errors.ErrUnsupported }
func (d *DirFS) Open(name string) (io.ReadCloser, error) { return nil, errors.ErrUnsupported }

func (d *DirFS) lockDB(string) (func(), error) { return nil, errors.ErrUnsupported }
