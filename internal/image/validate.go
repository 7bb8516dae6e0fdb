package image

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/version"
)

var (
	// accountNameRE is what useradd accepts by default, plus the upper
	// case letters and dots that real images use.
	accountNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$`)
	// runtimeKeyRE is apko's rule for runtime_keyring names.
	runtimeKeyRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$`)
	// annotationKeyRE is apko's rule for --annotations keys.
	annotationKeyRE = regexp.MustCompile(`^[a-z0-9-.]+$`)
	envNameRE       = regexp.MustCompile(`^[^=\x00]+$`)
)

// Path mutation types.
const (
	PathDirectory   = "directory"
	PathEmptyFile   = "empty-file"
	PathHardlink    = "hardlink"
	PathSymlink     = "symlink"
	PathPermissions = "permissions"
)

// Validate checks the configuration for values that are well-formed YAML
// but cannot make an image. LoadConfig and ParseConfig call it.
func (c *Config) Validate() error {
	if c.Contents.BaseImage != nil {
		return c.errorf("contents.baseimage", "building on a base image is not supported by reef (apko marks it experimental)")
	}
	for i, p := range c.Contents.Packages {
		f := fmt.Sprintf("contents.packages[%d]", i)
		if strings.TrimSpace(p) == "" {
			return c.errorf(f, "empty package")
		}
		if _, err := version.ParseDep(p); err != nil {
			return c.errorf(f, "%v", err)
		}
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"repositories", c.Contents.Repositories}, {"build_repositories", c.Contents.BuildRepositories}, {"runtime_repositories", c.Contents.RuntimeRepositories}} {
		for i, r := range l.list {
			f := fmt.Sprintf("contents.%s[%d]", l.name, i)
			if _, ok, err := repo.ParseRepositoryLine(r); err != nil || !ok {
				if err == nil {
					err = fmt.Errorf("want a URL or directory, optionally after @tag, found %q", r)
				}
				return c.errorf(f, "%v", err)
			}
		}
	}
	for i, k := range c.Contents.Keyring {
		if strings.TrimSpace(k) == "" {
			return c.errorf(fmt.Sprintf("contents.keyring[%d]", i), "empty key path")
		}
	}
	keyNames := map[string]bool{}
	for i, k := range c.Contents.RuntimeKeyring {
		f := fmt.Sprintf("contents.runtime_keyring[%d]", i)
		if !runtimeKeyRE.MatchString(k.Name) {
			return c.errorf(f+".name", "invalid key name %q", k.Name)
		}
		if keyNames[k.Name] {
			return c.errorf(f+".name", "key %q listed twice", k.Name)
		}
		keyNames[k.Name] = true
		if !strings.Contains(k.Content, "BEGIN PUBLIC KEY") && !strings.Contains(k.Content, "BEGIN RSA PUBLIC KEY") {
			return c.errorf(f+".content", "not a PEM public key")
		}
	}
	switch c.Entrypoint.Type {
	case "":
		if len(c.Entrypoint.Services) > 0 {
			return c.errorf("entrypoint.services", "services need type: service-bundle")
		}
	case "service-bundle":
		return c.errorf("entrypoint.type", "service bundles are not supported by reef yet (see docs/image.md)")
	default:
		return c.errorf("entrypoint.type", "unknown entrypoint type %q (apko knows service-bundle)", c.Entrypoint.Type)
	}
	if c.Entrypoint.Command != "" {
		if _, err := shellSplit(c.Entrypoint.Command); err != nil {
			return c.errorf("entrypoint.command", "%v", err)
		}
	}
	if c.Cmd != "" {
		if _, err := shellSplit(c.Cmd); err != nil {
			return c.errorf("cmd", "%v", err)
		}
	}
	if c.WorkDir != "" && !path.IsAbs(c.WorkDir) {
		return c.errorf("work-dir", "want an absolute path, found %q", c.WorkDir)
	}
	if err := c.validateAccounts(); err != nil {
		return err
	}
	for i, a := range c.Archs {
		if _, err := arch.Parse(a); err != nil {
			return c.errorf(fmt.Sprintf("archs[%d]", i), "%v", err)
		}
	}
	for k := range c.Environment {
		if !envNameRE.MatchString(k) {
			return c.errorf("environment."+k, "invalid variable name")
		}
	}
	for i := range c.Paths {
		if err := c.validatePath(i); err != nil {
			return err
		}
	}
	for k := range c.Annotations {
		if k == "" {
			return c.errorf("annotations", "empty annotation key")
		}
	}
	for i, v := range c.Volumes {
		if !path.IsAbs(v) {
			return c.errorf(fmt.Sprintf("volumes[%d]", i), "want an absolute path, found %q", v)
		}
	}
	if c.VCSURL != "" {
		if _, _, err := parseVCSURL(c.VCSURL); err != nil {
			return c.errorf("vcs-url", "%v", err)
		}
	}
	if l := c.Layering; l != nil && (l.Strategy != "" || l.Budget != 0) {
		if l.Strategy != "origin" {
			return c.errorf("layering.strategy", "unknown layering strategy %q (want origin)", l.Strategy)
		}
		if l.Budget < 1 {
			return c.errorf("layering.budget", "want a budget of at least 1 layer, found %d", l.Budget)
		}
	}
	switch c.Format {
	case "", "tar":
	case "erofs":
		return c.errorf("format", "erofs layers are not supported by reef")
	default:
		return c.errorf("format", "unknown format %q (want tar)", c.Format)
	}
	if c.Certificates != nil && (len(c.Certificates.Additional) > 0 || len(c.Certificates.Providers) > 0) {
		return c.errorf("certificates", "certificates are not supported by reef yet (see docs/image.md); install them with a package")
	}
	return nil
}

func (c *Config) validateAccounts() error {
	users := map[string]bool{}
	for i, u := range c.Accounts.Users {
		f := fmt.Sprintf("accounts.users[%d]", i)
		if !accountNameRE.MatchString(u.UserName) || len(u.UserName) > 32 {
			return c.errorf(f+".username", "invalid user name %q", u.UserName)
		}
		if users[u.UserName] {
			return c.errorf(f+".username", "user %q defined twice", u.UserName)
		}
		users[u.UserName] = true
		if u.UID == 0 {
			return c.errorf(f+".uid", "want a non-zero uid (root comes from the packages)")
		}
		if strings.ContainsAny(u.Shell, ":\n") || strings.ContainsAny(u.HomeDir, ":\n") {
			return c.errorf(f, "shell and homedir cannot contain ':' or newlines")
		}
		if u.HomeDir != "" && !path.IsAbs(u.HomeDir) {
			return c.errorf(f+".homedir", "want an absolute path, found %q", u.HomeDir)
		}
	}
	groups := map[string]bool{}
	for i, g := range c.Accounts.Groups {
		f := fmt.Sprintf("accounts.groups[%d]", i)
		if !accountNameRE.MatchString(g.GroupName) || len(g.GroupName) > 32 {
			return c.errorf(f+".groupname", "invalid group name %q", g.GroupName)
		}
		if groups[g.GroupName] {
			return c.errorf(f+".groupname", "group %q defined twice", g.GroupName)
		}
		groups[g.GroupName] = true
		for j, m := range g.Members {
			if !accountNameRE.MatchString(m) {
				return c.errorf(fmt.Sprintf("%s.members[%d]", f, j), "invalid user name %q", m)
			}
		}
	}
	if r := c.Accounts.RunAs; r != "" {
		u, g, _ := strings.Cut(r, ":")
		for _, s := range []string{u, g} {
			if s != "" && !accountNameRE.MatchString(s) {
				return c.errorf("accounts.run-as", "want a user name, a uid or user:group, found %q", r)
			}
		}
		if u == "" {
			return c.errorf("accounts.run-as", "want a user name, a uid or user:group, found %q", r)
		}
	}
	return nil
}

// cleanImagePath turns an absolute or relative path in the image into a
// clean root-relative one ("usr/bin"; "" for the root), refusing paths
// that climb out of the root with "..".
func cleanImagePath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path contains a NUL byte")
	}
	rel := strings.TrimLeft(p, "/")
	depth := 0
	for _, c := range strings.Split(rel, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("path %q is outside the image root", p)
			}
		default:
			depth++
		}
	}
	c := path.Clean("/" + rel)
	return strings.TrimPrefix(c, "/"), nil
}

func (c *Config) validatePath(i int) error {
	m := c.Paths[i]
	f := fmt.Sprintf("paths[%d]", i)
	rel, err := cleanImagePath(m.Path)
	if err != nil {
		return c.errorf(f+".path", "%v", err)
	}
	switch m.Type {
	case PathDirectory, PathEmptyFile, PathPermissions:
		if m.Source != "" {
			return c.errorf(f+".source", "a %s takes no source", m.Type)
		}
	case PathSymlink:
		if m.Source == "" {
			return c.errorf(f+".source", "a symlink needs a source (its target)")
		}
		if m.Recursive {
			return c.errorf(f+".recursive", "recursive applies to directory and permissions only")
		}
	case PathHardlink:
		if m.Source == "" {
			return c.errorf(f+".source", "a hardlink needs a source (the existing file)")
		}
		if _, err := cleanImagePath(m.Source); err != nil {
			return c.errorf(f+".source", "%v", err)
		}
		if m.Recursive {
			return c.errorf(f+".recursive", "recursive applies to directory and permissions only")
		}
	case "":
		return c.errorf(f+".type", "missing type (directory, empty-file, hardlink, symlink or permissions)")
	default:
		return c.errorf(f+".type", "unknown type %q (want directory, empty-file, hardlink, symlink or permissions)", m.Type)
	}
	if m.Type == PathEmptyFile && m.Recursive {
		return c.errorf(f+".recursive", "recursive applies to directory and permissions only")
	}
	if rel == "" && m.Type != PathDirectory && m.Type != PathPermissions {
		return c.errorf(f+".path", "cannot replace the image root")
	}
	if m.Permissions != nil && *m.Permissions > 0o7777 {
		return c.errorf(f+".permissions", "mode %#o has bits beyond 07777 (write modes in octal: 0755)", *m.Permissions)
	}
	if m.Type == PathPermissions && m.Permissions == nil && m.UID == nil && m.GID == nil {
		return c.errorf(f, "a permissions change needs permissions, uid or gid")
	}
	return nil
}

// parseVCSURL splits "URL@REVISION".
func parseVCSURL(s string) (url, rev string, err error) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, "", nil
	}
	url, rev = s[:i], s[i+1:]
	if url == "" {
		return "", "", fmt.Errorf("want URL@REVISION, found %q", s)
	}
	// "git@github.com:org/repo" without a revision has its @ before
	// the host: keep it whole.
	if strings.ContainsAny(rev, "/:") {
		return s, "", nil
	}
	return url, rev, nil
}

// mergeConfigs returns the configuration base with over applied to it,
// as include works: over wins on scalars and map keys, lists concatenate
// base first.
func mergeConfigs(base, over *Config) *Config {
	out := *over
	mergeValue(reflect.ValueOf(&out).Elem(), reflect.ValueOf(base).Elem(), reflect.ValueOf(over).Elem())
	out.Include = ""
	out.pos = map[string]Pos{}
	for k, v := range base.pos {
		out.pos[k] = v
	}
	for k, v := range over.pos {
		out.pos[k] = v
	}
	out.sources = append(slices.Clone(over.sources), base.sources...)
	out.dirs = pathDirs{
		repositories:      append(slices.Clone(base.dirs.repositories), over.dirs.repositories...),
		buildRepositories: append(slices.Clone(base.dirs.buildRepositories), over.dirs.buildRepositories...),
		keyring:           append(slices.Clone(base.dirs.keyring), over.dirs.keyring...),
	}
	return &out
}

func mergeValue(dst, base, over reflect.Value) {
	switch dst.Kind() {
	case reflect.Struct:
		for i := range dst.NumField() {
			if !dst.Type().Field(i).IsExported() {
				continue
			}
			mergeValue(dst.Field(i), base.Field(i), over.Field(i))
		}
	case reflect.Slice:
		if base.Len() == 0 {
			dst.Set(over)
			return
		}
		s := reflect.MakeSlice(dst.Type(), 0, base.Len()+over.Len())
		s = reflect.AppendSlice(s, base)
		s = reflect.AppendSlice(s, over)
		dst.Set(s)
	case reflect.Map:
		if base.Len() == 0 {
			dst.Set(over)
			return
		}
		m := reflect.MakeMap(dst.Type())
		for _, k := range base.MapKeys() {
			m.SetMapIndex(k, base.MapIndex(k))
		}
		for _, k := range over.MapKeys() {
			m.SetMapIndex(k, over.MapIndex(k))
		}
		dst.Set(m)
	case reflect.Pointer:
		switch {
		case over.IsNil():
			dst.Set(base)
		case base.IsNil():
			dst.Set(over)
		case dst.Type().Elem().Kind() == reflect.Struct:
			p := reflect.New(dst.Type().Elem())
			mergeValue(p.Elem(), base.Elem(), over.Elem())
			dst.Set(p)
		default:
			dst.Set(over)
		}
	default:
		if over.IsZero() {
			dst.Set(base)
		} else {
			dst.Set(over)
		}
	}
}

// shellSplit splits s into words as a POSIX shell does without expansion:
// blanks separate words, single quotes keep everything, double quotes keep
// everything but backslash escapes of " \ $ ` and newline, and an
// unquoted backslash escapes the next character.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\\':
			inWord = true
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
			}
		case ch == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case ch == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						cur.WriteByte(s[i])
					}
					continue
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
		default:
			inWord = true
			cur.WriteByte(ch)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
