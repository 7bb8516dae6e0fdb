package install

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
)

// maxSymlinks bounds the symlinks followed while resolving one path, as
// the kernel's MAXSYMLINKS does.
const maxSymlinks = 40

// Resolve returns the path that name designates inside the root of fsys,
// following symlinks (the final component too) the way a process
// chrooted into the root would: an absolute symlink target starts again
// at the root, and ".." never goes above the root. The result has no
// symlinks in it; its components that do not exist are kept as written.
// It is an error if more than 40 symlinks are met (a loop) or if a
// parent component is not a directory.
func Resolve(fsys FS, name string) (string, error) { return resolve(fsys, name, true) }

// ResolveParent is like Resolve but does not follow a symlink in the
// final component: it resolves the directory the final component is in,
// as creating, replacing or removing that component needs.
func ResolveParent(fsys FS, name string) (string, error) { return resolve(fsys, name, false) }

func resolve(fsys FS, name string, followFinal bool) (string, error) {
	rest := strings.Split(name, "/")
	stack := make([]string, 0, len(rest))
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if len(rest) == 0 && !followFinal {
			stack = append(stack, c)
			break
		}
		cand := joinPath(stack, c)
		e, err := fsys.Lstat(cand)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// Nothing exists below either; keep the rest as written.
				stack = append(stack, c)
				continue
			}
			return "", err
		}
		if e.Type != TypeSymlink {
			if e.Type != TypeDir && len(rest) > 0 && hasRealComponent(rest) {
				return "", pathErr("resolve", name, errNotDir)
			}
			stack = append(stack, c)
			continue
		}
		hops++
		if hops > maxSymlinks {
			return "", pathErr("resolve", name, syscall.ELOOP)
		}
		t := e.Linkname
		if strings.HasPrefix(t, "/") {
			stack = stack[:0]
		}
		rest = append(strings.Split(t, "/"), rest...)
	}
	return strings.Join(stack, "/"), nil
}

// hasRealComponent reports whether a component list is more than empty
// components (a trailing slash).
func hasRealComponent(cs []string) bool {
	for _, c := range cs {
		if c != "" {
			return true
		}
	}
	return false
}

func joinPath(stack []string, c string) string {
	if len(stack) == 0 {
		return c
	}
	n := len(c)
	for _, s := range stack {
		n += len(s) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range stack {
		b.WriteString(s)
		b.WriteByte('/')
	}
	b.WriteString(c)
	return b.String()
}
