package image

import (
	"path"
	"strings"

	"github.com/reef-dev/reef/internal/install"
)

// busyboxPathsDir is where busybox packages (Wolfi's, for one) list the
// applet paths to link to /bin/busybox, one per file.
const busyboxPathsDir = "etc/busybox-paths.d"

// linkBusybox makes the applet links busybox packages list in
// /etc/busybox-paths.d when the image has /bin/busybox, as apko does:
// each listed path that does not exist yet becomes a symbolic link to
// /bin/busybox. (apko falls back to a built-in applet table for packages
// without such a list; reef does not.)
func (r *root) linkBusybox() error {
	if e, err := r.lstat("/bin/busybox"); err != nil || e == nil {
		return err
	}
	dir, err := install.Resolve(r.fs, busyboxPathsDir)
	if err != nil {
		return nil
	}
	ents, err := r.fs.ReadDir(dir)
	if err != nil {
		return nil // not a directory
	}
	for _, e := range ents { // sorted by name
		if e.Type != install.TypeReg {
			continue
		}
		l := e.Name
		data, err := r.fs.ReadFile(l)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			p := strings.TrimSpace(line)
			if p == "" || strings.HasPrefix(p, "#") {
				continue
			}
			rel, err := cleanImagePath(p)
			if err != nil || rel == "" {
				continue // a bad line in a package's list is not the image file's fault
			}
			if e, err := r.lstat("/" + rel); err != nil || e != nil {
				continue
			}
			if _, err := r.mkdirAll(path.Dir("/"+rel), 0o755, 0, 0); err != nil {
				continue
			}
			real, err := install.ResolveParent(r.fs, rel)
			if err != nil {
				continue
			}
			if err := r.fs.Create(&install.Entry{Name: real, Type: install.TypeSymlink, Mode: 0o777, Linkname: "/bin/busybox", ModTime: r.mtime}, nil); err != nil {
				return err
			}
			r.touch(real)
		}
	}
	return nil
}
