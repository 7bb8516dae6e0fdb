package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// openWorkspace makes the workspace (the host side of /home/build),
// copies the source directory into it and creates melange-out/<pkg> for
// every package.
func (r *runner) openWorkspace() error {
	if d := r.opts.WorkspaceDir; d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
		r.ws = abs
	} else {
		d, err := os.MkdirTemp(r.opts.TempDir, "reef-build-")
		if err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
		r.ws = d
	}
	root, err := os.OpenRoot(r.ws)
	if err != nil {
		return err
	}
	r.wsRoot = root
	out := strings.TrimPrefix(OutDir, WorkDir+"/")
	if r.opts.WorkspaceDir != "" {
		// Outputs of an earlier build must not end up in these packages.
		if err := root.RemoveAll(out); err != nil {
			return fmt.Errorf("workspace: emptying %s: %w", out, err)
		}
	}
	if r.opts.SourceDir != "" {
		if err := r.copySource(); err != nil {
			return err
		}
	}
	for _, o := range r.b.Packages {
		if err := root.MkdirAll(out+"/"+o.Name, 0o755); err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
	}
	return nil
}

// closeWorkspace removes a temporary workspace.
func (r *runner) closeWorkspace() {
	if r.wsRoot != nil {
		r.wsRoot.Close()
	}
	if r.opts.WorkspaceDir == "" && r.ws != "" {
		if err := os.RemoveAll(r.ws); err != nil {
			r.log.Warn("removing the workspace", "dir", r.ws, "err", err)
		}
	}
}

// hostPath maps a path inside the sandbox to a path relative to the
// workspace; it fails for paths outside /home/build.
func hostPath(p string) (string, error) {
	p = path.Clean(p)
	if p == WorkDir {
		return ".", nil
	}
	rel, ok := strings.CutPrefix(p, WorkDir+"/")
	if !ok {
		return "", fmt.Errorf("%s is outside the workspace %s: host-side steps can only write into the workspace", p, WorkDir)
	}
	return rel, nil
}

// copySource copies the source directory into the workspace, as melange
// does with --source-dir: directories, regular files and symlinks, with
// their modes and modification times. .git, and the output and cache
// directories when they are inside it, are left out, as are the paths
// .melangeignore lists.
func (r *runner) copySource() error {
	src, err := filepath.Abs(r.opts.SourceDir)
	if err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("--source-dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--source-dir %s is not a directory", src)
	}
	skip := map[string]bool{}
	for _, d := range []string{r.opts.OutDir, r.opts.CacheDir, r.ws} {
		if rel, err := filepath.Rel(src, d); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			skip[filepath.ToSlash(rel)] = true
		}
	}
	ignore := readIgnore(filepath.Join(src, ".melangeignore"))
	n := 0
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip[rel] || d.Name() == ".git" || ignore.match(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := r.wsRoot.MkdirAll(rel, 0o755); err != nil {
				return err
			}
			return r.wsRoot.Chmod(rel, info.Mode().Perm())
		case info.Mode().IsRegular():
			n++
			return copyInto(r.wsRoot, rel, p, info)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			r.wsRoot.Remove(rel)
			return r.wsRoot.Symlink(target, rel)
		}
		return nil // sockets, devices, fifos
	})
	if err != nil {
		return fmt.Errorf("copying --source-dir %s into the workspace: %w", src, err)
	}
	// Directory times last, once their contents are written.
	_ = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		if info, err := d.Info(); err == nil {
			r.wsRoot.Chtimes(filepath.ToSlash(rel), info.ModTime(), info.ModTime())
		}
		return nil
	})
	r.log.Info("source directory copied", "from", src, "files", n)
	return nil
}

// copyInto copies the host file src to name in root, with info's mode
// and modification time.
func copyInto(root *os.Root, name, src string, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := root.Chmod(name, info.Mode().Perm()); err != nil {
		return err
	}
	return root.Chtimes(name, info.ModTime(), info.ModTime())
}

// ignoreList is a .melangeignore file: one pattern per line, "#"
// comments; a pattern with a "/" (other than a trailing one) matches the
// path from the source directory, otherwise the name at any depth; a
// trailing "/" matches directories only. Negations ("!") are not
// supported and are ignored.
type ignoreList []string

func readIgnore(file string) ignoreList {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var l ignoreList
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		l = append(l, line)
	}
	return l
}

func (l ignoreList) match(rel string, dir bool) bool {
	for _, p := range l {
		dirOnly := strings.HasSuffix(p, "/")
		p = strings.TrimSuffix(p, "/")
		if dirOnly && !dir {
			continue
		}
		if strings.Contains(p, "/") {
			if ok, _ := path.Match(strings.TrimPrefix(p, "/"), rel); ok {
				return true
			}
			continue
		}
		if ok, _ := path.Match(p, path.Base(rel)); ok {
			return true
		}
	}
	return false
}
