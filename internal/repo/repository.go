package repo

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// Repository is a package repository: a local directory, or a file://,
// http:// or https:// URL, holding <arch>/APKINDEX.tar.gz and
// <arch>/<name>-<version>.apk.
type Repository struct {
	// URL is the repository's base: a directory path or a URL, without a
	// trailing slash.
	URL string
	// Tag pins the repository, as "@tag URL" lines of
	// /etc/apk/repositories do: its packages are installed only when asked
	// for as name@tag. Without "@"; empty for an untagged repository.
	Tag string
}

// String returns the repository as a repositories-file line: "[@tag ]URL".
func (r Repository) String() string {
	if r.Tag != "" {
		return "@" + r.Tag + " " + r.URL
	}
	return r.URL
}

// IsRemote reports whether the repository is fetched over HTTP(S).
func (r Repository) IsRemote() bool {
	return strings.HasPrefix(r.URL, "http://") || strings.HasPrefix(r.URL, "https://")
}

// LocalPath returns the directory of a local repository (a path or a
// file:// URL); ok is false for a remote one.
func (r Repository) LocalPath() (dir string, ok bool) {
	if r.IsRemote() {
		return "", false
	}
	if strings.HasPrefix(r.URL, "file:") {
		u, err := url.Parse(r.URL)
		if err != nil {
			return "", false
		}
		return filepath.FromSlash(u.Path), true
	}
	return r.URL, true
}

// IndexURL returns where the repository's index for arch is: a URL for a
// remote repository, a file path for a local one.
func (r Repository) IndexURL(arch string) string { return r.join(arch, "APKINDEX.tar.gz") }

// PackageURL returns where p's file is. As in apk-tools, the directory is
// the package's own architecture (A:), or arch when the record has none.
func (r Repository) PackageURL(arch string, p *Package) string {
	if p.Arch != "" {
		arch = p.Arch
	}
	return r.join(arch, p.Filename())
}

func (r Repository) join(arch, name string) string {
	if dir, ok := r.LocalPath(); ok {
		return filepath.Join(dir, arch, name)
	}
	return r.URL + "/" + url.PathEscape(arch) + "/" + url.PathEscape(name)
}

// RepositoryError is a malformed repository line.
type RepositoryError struct {
	File string // file name, when known
	Line int    // 1-based; 0 when not from a file
	Text string // the line
	Msg  string
}

func (e *RepositoryError) Error() string {
	loc := ""
	switch {
	case e.File != "" && e.Line > 0:
		loc = fmt.Sprintf("%s:%d: ", e.File, e.Line)
	case e.Line > 0:
		loc = fmt.Sprintf("line %d: ", e.Line)
	}
	return fmt.Sprintf("%srepository %q: %s", loc, e.Text, e.Msg)
}

// ParseRepositoryLine parses one line of a repositories file (as
// /etc/apk/repositories): "[@tag ]URL", where URL is a directory path or
// a file://, http:// or https:// URL. Blank lines and lines starting with
// "#" give ok == false and no error. A trailing slash is removed from the
// URL.
func ParseRepositoryLine(line string) (repo Repository, ok bool, err error) {
	text := strings.TrimSpace(line)
	if text == "" || strings.HasPrefix(text, "#") {
		return Repository{}, false, nil
	}
	fail := func(msg string) (Repository, bool, error) {
		return Repository{}, false, &RepositoryError{Text: text, Msg: msg}
	}
	fields := strings.Fields(text)
	if strings.HasPrefix(fields[0], "@") {
		repo.Tag = fields[0][1:]
		if repo.Tag == "" {
			return fail(`empty tag after "@"`)
		}
		if !validTag(repo.Tag) {
			return fail(fmt.Sprintf("tag %q may hold only letters, digits, '.', '_', '+' and '-'", repo.Tag))
		}
		fields = fields[1:]
	}
	switch len(fields) {
	case 0:
		return fail("no URL after the tag")
	case 1:
	default:
		return fail(`want "[@tag ]URL": too many fields`)
	}
	u := fields[0]
	if i := strings.Index(u, "://"); i >= 0 {
		switch strings.ToLower(u[:i]) {
		case "http", "https", "file":
		default:
			return fail(fmt.Sprintf("unsupported scheme %q; use a directory, file://, http:// or https://", u[:i]))
		}
		if _, err := url.Parse(u); err != nil {
			return fail(err.Error())
		}
	}
	if t := strings.TrimRight(u, "/"); t != "" {
		u = t
	}
	repo.URL = u
	return repo, true, nil
}

func validTag(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// ParseRepositories parses a repositories file; file names it in errors.
func ParseRepositories(r io.Reader, file string) ([]Repository, error) {
	sc := bufio.NewScanner(r)
	var repos []Repository
	n := 0
	for sc.Scan() {
		n++
		repo, ok, err := ParseRepositoryLine(sc.Text())
		if err != nil {
			re := err.(*RepositoryError)
			re.File, re.Line = file, n
			return nil, re
		}
		if ok {
			repos = append(repos, repo)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return repos, nil
}
