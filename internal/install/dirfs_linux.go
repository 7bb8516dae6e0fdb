//go:build linux

package install

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// DirFS is a root on disk. Every operation goes through an os.Root, so
// nothing outside the directory can be reached, whatever the names and
// the symlinks in the tree say.
//
// Owners are set only when the process runs as root (uid 0); otherwise
// files belong to the caller, while the installed database still records
// the owners the packages asked for. Device nodes need root.
type DirFS struct {
	root  *os.Root
	dir   string
	chown bool

	// A handle on the directory last written to, so that creating many
	// files in one directory does not walk the whole path each time.
	mu     sync.Mutex
	subDir string
	sub    *os.Root
}

// OpenDir returns the root at dir, creating the directory (0755) if it
// does not exist. Close releases it.
func OpenDir(dir string) (*DirFS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &DirFS{root: r, dir: dir, chown: os.Geteuid() == 0}, nil
}

// Dir returns the directory the root was opened at.
func (d *DirFS) Dir() string { return d.dir }

// Close releases the root's directory handles.
func (d *DirFS) Close() error {
	d.mu.Lock()
	d.dropSub()
	d.mu.Unlock()
	return d.root.Close()
}

func (d *DirFS) dropSub() {
	if d.sub != nil {
		d.sub.Close()
		d.sub, d.subDir = nil, ""
	}
}

// at returns a root in which base names the entry name: a handle on its
// parent directory (cached) and its base name. The handle is an os.Root
// opened from the main one, so it cannot lead outside either. d.mu must
// be held.
func (d *DirFS) at(name string) (*os.Root, string, error) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return d.root, name, nil
	}
	dir, base := name[:i], name[i+1:]
	if d.sub != nil && d.subDir == dir {
		return d.sub, base, nil
	}
	sub, err := d.root.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	d.dropSub()
	d.sub, d.subDir = sub, dir
	return sub, base, nil
}

// forget drops the cached directory handle if name is it or one of its
// parents (it is being renamed or removed).
func (d *DirFS) forget(name string) {
	if d.sub != nil && (name == "" || d.subDir == name || strings.HasPrefix(d.subDir, name+"/")) {
		d.dropSub()
	}
}

func rootName(name string) string {
	if name == "" {
		return "."
	}
	return name
}

func (d *DirFS) clean(op, name string) (string, error) {
	c, ok := cleanName(name)
	if !ok {
		return "", pathErr(op, name, fs.ErrInvalid)
	}
	return c, nil
}

// Lstat implements FS. Xattrs are not read.
func (d *DirFS) Lstat(name string) (*Entry, error) {
	name, err := d.clean("lstat", name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	root, base := d.root, rootName(name)
	if name != "" {
		var err error
		if root, base, err = d.at(name); err != nil {
			return nil, err
		}
	}
	fi, err := root.Lstat(base)
	if err != nil {
		return nil, pathErr("lstat", name, underlying(err))
	}
	e := &Entry{Name: name, ModTime: fi.ModTime()}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, pathErr("lstat", name, errors.New("no stat data"))
	}
	e.Mode = st.Mode & 0o7777
	e.UID, e.GID = int(st.Uid), int(st.Gid)
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		e.Type, e.Size = TypeReg, st.Size
	case syscall.S_IFDIR:
		e.Type = TypeDir
	case syscall.S_IFLNK:
		e.Type = TypeSymlink
		if e.Linkname, err = root.Readlink(base); err != nil {
			return nil, err
		}
	case syscall.S_IFCHR:
		e.Type = TypeChar
	case syscall.S_IFBLK:
		e.Type = TypeBlock
	case syscall.S_IFIFO:
		e.Type = TypeFifo
	default:
		return nil, pathErr("lstat", name, errors.New("unsupported file type (socket?)"))
	}
	if e.Type == TypeChar || e.Type == TypeBlock {
		e.Devmajor = int64((st.Rdev >> 8) & 0xfff)
		e.Devminor = int64((st.Rdev & 0xff) | ((st.Rdev >> 12) & 0xfff00))
	}
	return e, nil
}

// fileMode converts Unix permission bits to an fs.FileMode.
func fileMode(m uint32) fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

// copyBufPool holds buffers for copying file content.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Create implements FS. Non-directories are created in place (the
// installer writes them under temporary names and renames them).
func (d *DirFS) Create(e *Entry, r io.Reader) error {
	name, err := d.clean("create", e.Name)
	if err != nil {
		return err
	}
	if e.Type == TypeDir {
		return d.mkdir(name, e)
	}
	if name == "" {
		return pathErr("create", name, errIsDir)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	root, base, err := d.at(name)
	if err != nil {
		return err
	}
	// Try to create; if something is there, replace it unless it is a
	// directory.
	err = d.create(root, base, name, e, r)
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, lerr := root.Lstat(base)
	if lerr != nil {
		return err
	}
	if fi.IsDir() {
		return pathErr("create", name, errIsDir)
	}
	if err := root.Remove(base); err != nil {
		return err
	}
	return d.create(root, base, name, e, r)
}

// create makes e as base in root (name is the full name, for messages
// and hard link targets); fs.ErrExist if base exists.
func (d *DirFS) create(root *os.Root, base, name string, e *Entry, r io.Reader) error {
	switch e.Type {
	case TypeReg:
		return d.createFile(root, base, name, e, r)
	case TypeSymlink:
		if err := root.Symlink(e.Linkname, base); err != nil {
			return err
		}
		return d.atParent(name, func(dirfd int, base string) error {
			if d.chown {
				if err := syscall.Fchownat(dirfd, base, e.UID, e.GID, _AT_SYMLINK_NOFOLLOW); err != nil {
					return pathErr("lchown", name, err)
				}
			}
			for k, v := range e.Xattrs {
				p := "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + base
				if err := lsetxattr(p, k, v); err != nil {
					return pathErr("lsetxattr "+k, name, err)
				}
			}
			return utimensat(dirfd, base, e.ModTime, _AT_SYMLINK_NOFOLLOW)
		})
	case TypeLink:
		target, err := d.clean("link", e.Linkname)
		if err != nil {
			return err
		}
		return d.root.Link(target, name)
	case TypeChar, TypeBlock, TypeFifo:
		return d.atParent(name, func(dirfd int, base string) error {
			mode := e.Mode & 0o7777
			switch e.Type {
			case TypeChar:
				mode |= syscall.S_IFCHR
			case TypeBlock:
				mode |= syscall.S_IFBLK
			default:
				mode |= syscall.S_IFIFO
			}
			dev := int((e.Devminor & 0xff) | ((e.Devmajor & 0xfff) << 8) | ((e.Devminor &^ 0xff) << 12))
			if err := syscall.Mknodat(dirfd, base, mode, dev); err != nil {
				return pathErr("mknod", name, err)
			}
			if d.chown {
				if err := syscall.Fchownat(dirfd, base, e.UID, e.GID, _AT_SYMLINK_NOFOLLOW); err != nil {
					return pathErr("lchown", name, err)
				}
			}
			if err := syscall.Fchmodat(dirfd, base, e.Mode&0o7777, 0); err != nil {
				return pathErr("chmod", name, err)
			}
			return utimensat(dirfd, base, e.ModTime, _AT_SYMLINK_NOFOLLOW)
		})
	}
	return pathErr("create", name, fs.ErrInvalid)
}

func (d *DirFS) createFile(root *os.Root, base, name string, e *Entry, r io.Reader) (err error) {
	f, err := root.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			root.Remove(base)
		}
	}()
	if r != nil {
		bp := copyBufPool.Get().(*[]byte)
		_, err = io.CopyBuffer(onlyWriter{f}, r, *bp)
		copyBufPool.Put(bp)
		if err != nil {
			return pathErr("write", name, err)
		}
	}
	return d.setMetaFile(f, name, e)
}

// onlyWriter hides *os.File's ReadFrom so that io.CopyBuffer uses the
// buffer it is given (ReadFrom falls back to a 32 KiB one for readers
// that are not files).
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// setMetaFile sets owner, mode, xattrs and mtime on an open file or
// directory. chown comes before chmod, which it would otherwise undo for
// setuid bits.
func (d *DirFS) setMetaFile(f *os.File, name string, e *Entry) error {
	if d.chown {
		if err := f.Chown(e.UID, e.GID); err != nil {
			return err
		}
	}
	if err := f.Chmod(fileMode(e.Mode)); err != nil {
		return err
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	cerr := sc.Control(func(fd uintptr) {
		for k, v := range e.Xattrs {
			if err := fsetxattr(int(fd), k, v); err != nil {
				serr = pathErr("setxattr "+k, name, err)
				return
			}
		}
		if !e.ModTime.IsZero() {
			ts := []syscall.Timespec{syscall.NsecToTimespec(e.ModTime.UnixNano()), syscall.NsecToTimespec(e.ModTime.UnixNano())}
			if err := futimens(int(fd), ts); err != nil {
				serr = pathErr("utimes", name, err)
			}
		}
	})
	if cerr != nil {
		return cerr
	}
	return serr
}

func (d *DirFS) mkdir(name string, e *Entry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rn := rootName(name)
	if name != "" {
		if err := d.root.Mkdir(rn, 0o700); err != nil {
			if !errors.Is(err, fs.ErrExist) {
				return err
			}
			fi, err := d.root.Lstat(rn)
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return pathErr("mkdir", name, fs.ErrExist)
			}
		}
	}
	f, err := d.root.OpenFile(rn, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return d.setMetaFile(f, name, e)
}

// atParent calls fn with a descriptor of name's parent directory and
// name's base name. d.mu must be held.
func (d *DirFS) atParent(name string, fn func(dirfd int, base string) error) error {
	root, base, err := d.at(name)
	if err != nil {
		return err
	}
	df, err := root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer df.Close()
	sc, err := df.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) { ferr = fn(int(fd), base) }); err != nil {
		return err
	}
	return ferr
}

// Rename implements FS.
func (d *DirFS) Rename(oldname, newname string) error {
	o, err := d.clean("rename", oldname)
	if err != nil {
		return err
	}
	n, err := d.clean("rename", newname)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forget(o)
	d.forget(n)
	if path.Dir(o) == path.Dir(n) && o != "" && n != "" {
		root, ob, err := d.at(o)
		if err != nil {
			return err
		}
		return root.Rename(ob, path.Base(n))
	}
	return d.root.Rename(rootName(o), rootName(n))
}

// Remove implements FS.
func (d *DirFS) Remove(name string) error {
	n, err := d.clean("remove", name)
	if err != nil {
		return err
	}
	if n == "" {
		return pathErr("remove", name, fs.ErrInvalid)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forget(n)
	root, base, err := d.at(n)
	if err != nil {
		return err
	}
	return root.Remove(base)
}

// Open implements FS.
func (d *DirFS) Open(name string) (io.ReadCloser, error) {
	n, err := d.clean("open", name)
	if err != nil {
		return nil, err
	}
	f, err := d.root.OpenFile(rootName(n), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = pathErr("open", name, fs.ErrInvalid)
		}
		return nil, err
	}
	return f, nil
}

const _AT_SYMLINK_NOFOLLOW = 0x100

// underlying returns the error inside a *fs.PathError (or *os.LinkError),
// so that it can be re-wrapped with the root-relative name.
func underlying(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func fsetxattr(fd int, name, value string) error {
	n, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	var v unsafe.Pointer
	if len(value) > 0 {
		b := []byte(value)
		v = unsafe.Pointer(&b[0])
	}
	_, _, e := syscall.Syscall6(syscall.SYS_FSETXATTR, uintptr(fd), uintptr(unsafe.Pointer(n)), uintptr(v), uintptr(len(value)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func lsetxattr(p, name, value string) error {
	pp, err := syscall.BytePtrFromString(p)
	if err != nil {
		return err
	}
	n, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	var v unsafe.Pointer
	if len(value) > 0 {
		b := []byte(value)
		v = unsafe.Pointer(&b[0])
	}
	_, _, e := syscall.Syscall6(syscall.SYS_LSETXATTR, uintptr(unsafe.Pointer(pp)), uintptr(unsafe.Pointer(n)), uintptr(v), uintptr(len(value)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func futimens(fd int, ts []syscall.Timespec) error {
	_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// utimensat sets the access and modification times of base in dirfd to
// t (nothing when t is zero).
func utimensat(dirfd int, base string, t time.Time, flags int) error {
	if t.IsZero() {
		return nil
	}
	p, err := syscall.BytePtrFromString(base)
	if err != nil {
		return err
	}
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(t.UnixNano()), syscall.NsecToTimespec(t.UnixNano())}
	_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&ts[0])), uintptr(flags), 0, 0)
	if e != 0 {
		return &fs.PathError{Op: "utimensat", Path: base, Err: e}
	}
	return nil
}

// lockDB takes the locks that keep two installs out of the same root:
// an exclusive flock on the root directory (reef's), and, when the root
// has a database directory dir already, on dir/lock (apk's, created if
// needed as apk-tools does). A fresh root's database directory is not
// made early: a package may bring lib as a symlink. It fails at once if
// another process holds either lock.
func (d *DirFS) lockDB(dir string) (unlock func(), err error) {
	var held []*os.File
	release := func() {
		for _, f := range held {
			f.Close()
		}
	}
	lock := func(f *os.File, what string) error {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return fmt.Errorf("%s is locked by another process (apk or reef installing into the same root)", what)
			}
			return fmt.Errorf("locking %s: %w", what, err)
		}
		held = append(held, f)
		return nil
	}
	rf, err := d.root.Open(".")
	if err != nil {
		return nil, err
	}
	if err := lock(rf, "the root "+d.dir); err != nil {
		return nil, err
	}
	if dir != "" {
		f, err := d.root.OpenFile(dir+"/lock", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			release()
			return nil, err
		}
		if err := lock(f, "the database "+path.Join(d.dir, dir)); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}
