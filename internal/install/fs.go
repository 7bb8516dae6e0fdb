package install

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// Type is the kind of a file-system entry.
type Type uint8

// Entry types.
const (
	TypeReg     Type = iota + 1 // regular file
	TypeDir                     // directory
	TypeSymlink                 // symbolic link; Entry.Linkname is the target
	TypeLink                    // hard link; Entry.Linkname is the existing path
	TypeChar                    // character device
	TypeBlock                   // block device
	TypeFifo                    // named pipe
)

func (t Type) String() string {
	switch t {
	case TypeReg:
		return "regular file"
	case TypeDir:
		return "directory"
	case TypeSymlink:
		return "symlink"
	case TypeLink:
		return "hard link"
	case TypeChar:
		return "character device"
	case TypeBlock:
		return "block device"
	case TypeFifo:
		return "fifo"
	}
	return "unknown type"
}

// Entry describes a file-system object: one to create (FS.Create) or one
// that exists (FS.Lstat, MemFS.Walk).
type Entry struct {
	Name     string // slash-separated path relative to the root, clean, no leading "/"
	Type     Type
	Mode     uint32 // permission bits, setuid, setgid and sticky included (07777)
	UID, GID int
	ModTime  time.Time
	// Linkname is a symlink's target, as stored (absolute targets are
	// interpreted relative to the root when the installer resolves paths),
	// or for TypeLink the root-relative path of the existing file.
	Linkname string
	// Xattrs holds extended attributes by name ("user.foo",
	// "security.capability"); nil when there are none.
	Xattrs             map[string]string
	Devmajor, Devminor int64
	Size               int64 // content size of a regular file
}

// FS is a root that packages are installed into: a directory (DirFS) or
// an in-memory tree (MemFS).
//
// Every name is a clean slash-separated path relative to the root, such
// as "usr/bin/foo"; "." or "" is the root itself. The installer resolves
// symlinks itself (within the root, see Resolve) before calling an FS, so
// the parent components of the names it passes are real directories. An
// implementation must never reach outside the root whatever it is given:
// a name with ".." components or a symlink in a parent component that
// leads out of the root is an error (DirFS relies on os.Root, MemFS has
// nothing outside).
//
// Errors are *fs.PathError values wrapping fs.ErrNotExist, fs.ErrExist,
// fs.ErrInvalid and the like, so that errors.Is works on them.
type FS interface {
	// Lstat describes the named entry without following a final symlink.
	// For a symlink, Linkname holds its target.
	Lstat(name string) (*Entry, error)

	// Create makes the entry e. For a regular file the content is read
	// from r (e.Size is informational). A non-directory replaces an
	// existing non-directory of the same name (but never a directory); a
	// directory that exists already is kept, its owner, mode and xattrs
	// set to e's. The parent directory must exist. Owner, mode, xattrs and
	// modification time are set as e says.
	Create(e *Entry, r io.Reader) error

	// Rename renames oldname to newname, replacing a non-directory at
	// newname atomically.
	Rename(oldname, newname string) error

	// Remove removes a non-directory or an empty directory.
	Remove(name string) error

	// Open opens a regular file for reading.
	Open(name string) (io.ReadCloser, error)
}

// errNotDir and friends are wrapped in *fs.PathError by the FS
// implementations.
var (
	errNotDir   = errors.New("not a directory")
	errIsDir    = errors.New("is a directory")
	errNotEmpty = errors.New("directory not empty")
)

// cleanName turns a name into the canonical form FS implementations use:
// no leading "/" or "./", no trailing "/", "" for the root. It reports
// false for names with ".." components or NUL bytes.
func cleanName(name string) (string, bool) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", false
	}
	name = strings.TrimLeft(name, "/")
	if name == "" || name == "." {
		return "", true
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	for _, el := range strings.Split(c, "/") {
		if el == ".." {
			return "", false
		}
	}
	if c == "." {
		c = ""
	}
	return c, true
}

// pathErr returns a *fs.PathError.
func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// ReadFile reads a whole regular file from fsys.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
