package sca

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// maxLinkHops bounds the symlinks followed while resolving one path, as
// the kernel's 40.
const maxLinkHops = 40

var errLinkLoop = errors.New("too many levels of symbolic links")

// resolve follows rel (slash-separated, relative to root) through the tree
// as if root were "/": absolute symlink targets start again at root and
// ".." never climbs above it, so the result is always inside root. It
// returns the real path on disk and its Lstat information (never a
// symlink).
func resolve(root, rel string) (string, fs.FileInfo, error) {
	var done []string
	todo := strings.Split(rel, "/")
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(path.Join(append(done, c)...)))
		fi, err := os.Lstat(p)
		if err != nil {
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if hops++; hops > maxLinkHops {
				return "", nil, &fs.PathError{Op: "resolve", Path: rel, Err: errLinkLoop}
			}
			target, err := os.Readlink(p)
			if err != nil {
				return "", nil, err
			}
			if strings.HasPrefix(target, "/") {
				done = done[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if len(todo) > 0 && !fi.IsDir() {
			if !onlyEmpty(todo) {
				return "", nil, &fs.PathError{Op: "resolve", Path: rel, Err: syscall.ENOTDIR}
			}
		}
		done = append(done, c)
	}
	p := filepath.Join(root, filepath.FromSlash(path.Join(done...)))
	fi, err := os.Lstat(p)
	if err != nil {
		return "", nil, err
	}
	return p, fi, nil
}

func onlyEmpty(parts []string) bool {
	for _, p := range parts {
		if p != "" && p != "." {
			return false
		}
	}
	return true
}

// maxTextFile bounds the .pc and ld.so.conf files read.
const maxTextFile = 1 << 20

// readText reads a small text file, failing if it is larger than
// maxTextFile.
func readText(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTextFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTextFile {
		return nil, fmt.Errorf("larger than %d bytes", maxTextFile)
	}
	return b, nil
}

// ldSoConfDirs returns the directories named in the regular files
// etc/ld.so.conf.d/**/*.conf of the tree at root, relative to root: each
// line that starts with "/" (after removing a "#" comment and surrounding
// blanks) is one directory. include lines are ignored, as melange does.
func ldSoConfDirs(root string, warn func(string)) []string {
	base := filepath.Join(root, "etc", "ld.so.conf.d")
	if fi, err := os.Lstat(base); err != nil || !fi.IsDir() {
		return nil
	}
	var dirs []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			warn(fmt.Sprintf("%s: %v", p, err))
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".conf") {
			return nil
		}
		b, err := readText(p)
		if err != nil {
			warn(fmt.Sprintf("%s: %v", p, err))
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, maxTextFile)
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "/") {
				continue
			}
			d := path.Clean(line)[1:]
			if d != "" {
				dirs = append(dirs, d)
			}
		}
		return nil
	})
	if err != nil {
		warn(fmt.Sprintf("%s: %v", base, err))
	}
	return dirs
}
