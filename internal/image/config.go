package image

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Config is an image file: apko's YAML format, field for field. The JSON
// names are the YAML names, so that the locked configuration written to
// /etc/apko.json reads like apko's.
type Config struct {
	Contents     Contents          `yaml:"contents" json:"contents,omitzero"`
	Entrypoint   Entrypoint        `yaml:"entrypoint" json:"entrypoint,omitzero"`
	Cmd          string            `yaml:"cmd" json:"cmd,omitempty"`
	StopSignal   string            `yaml:"stop-signal" json:"stop-signal,omitempty"`
	WorkDir      string            `yaml:"work-dir" json:"work-dir,omitempty"`
	Accounts     Accounts          `yaml:"accounts" json:"accounts,omitzero"`
	Archs        []string          `yaml:"archs" json:"archs,omitempty"`
	Environment  map[string]string `yaml:"environment" json:"environment,omitempty"`
	Paths        []PathMutation    `yaml:"paths" json:"paths,omitempty"`
	Include      string            `yaml:"include" json:"include,omitempty"`
	VCSURL       string            `yaml:"vcs-url" json:"vcs-url,omitempty"`
	Annotations  map[string]string `yaml:"annotations" json:"annotations,omitempty"`
	Volumes      []string          `yaml:"volumes" json:"volumes,omitempty"`
	Layering     *Layering         `yaml:"layering" json:"layering,omitempty"`
	Format       string            `yaml:"format" json:"format,omitempty"`
	Certificates *Certificates     `yaml:"certificates" json:"certificates,omitempty"`

	// file is the path the configuration was read from, "" for one
	// parsed from bytes without a name.
	file string
	// pos maps a field path ("contents.packages[2]") to where its value
	// is written, for error messages about values that are valid YAML
	// but wrong for the image (a run-as user that does not exist).
	pos map[string]Pos
	// sources are the raw bytes of the file and of its includes, in
	// reading order, for the lock file's checksum.
	sources [][]byte
	// dirs locate relative local paths.
	dirs pathDirs
}

// Contents is the contents block: where packages come from and which.
type Contents struct {
	// BuildRepositories are used to build the image but not written to
	// /etc/apk/repositories.
	BuildRepositories []string `yaml:"build_repositories" json:"build_repositories,omitempty"`
	// RuntimeRepositories are written to /etc/apk/repositories but not
	// used to build the image.
	RuntimeRepositories []string `yaml:"runtime_repositories" json:"runtime_repositories,omitempty"`
	// Repositories are used at build time and written to the image.
	// An entry is a URL or a local directory, optionally "@tag URL".
	Repositories []string `yaml:"repositories" json:"repositories,omitempty"`
	// Keyring lists public keys (paths or URLs) trusted at build time
	// and copied to /etc/apk/keys.
	Keyring []string `yaml:"keyring" json:"keyring,omitempty"`
	// RuntimeKeyring holds keys written to /etc/apk/keys only.
	RuntimeKeyring []RuntimeKey `yaml:"runtime_keyring" json:"runtime_keyring,omitempty"`
	// Packages are the world: dependency strings as in /etc/apk/world.
	Packages []string `yaml:"packages" json:"packages,omitempty"`
	// BaseImage is apko's experimental base image; reef refuses it.
	BaseImage *BaseImage `yaml:"baseimage" json:"baseimage,omitempty"`
}

// RuntimeKey is an inline public key written into the image only.
type RuntimeKey struct {
	Name    string `yaml:"name" json:"name"`
	Content string `yaml:"content" json:"content"`
}

// BaseImage is apko's experimental "build on top of an image" block.
type BaseImage struct {
	Image    string `yaml:"image" json:"image,omitempty"`
	APKIndex string `yaml:"apkindex" json:"apkindex,omitempty"`
}

// Entrypoint is the entrypoint block.
type Entrypoint struct {
	// Type is "" or "service-bundle".
	Type string `yaml:"type" json:"type,omitempty"`
	// Command is split like a shell would split it (quotes, backslashes).
	Command string `yaml:"command" json:"command,omitempty"`
	// ShellFragment, when set, wins: the entrypoint is /bin/sh -c FRAGMENT.
	ShellFragment string `yaml:"shell-fragment" json:"shell-fragment,omitempty"`
	// Services are the s6 services of a service bundle: name → command.
	Services map[string]string `yaml:"services" json:"services,omitempty"`
}

// Accounts is the accounts block.
type Accounts struct {
	// RunAs is a user name, a numeric uid, or "user:group"; it becomes
	// the OCI config's User, with names resolved to numbers.
	RunAs  string  `yaml:"run-as" json:"run-as,omitempty"`
	Users  []User  `yaml:"users" json:"users,omitempty"`
	Groups []Group `yaml:"groups" json:"groups,omitempty"`
}

// User is an account added to /etc/passwd and /etc/shadow.
type User struct {
	UserName string  `yaml:"username" json:"username"`
	UID      uint32  `yaml:"uid" json:"uid"`
	GID      *uint32 `yaml:"gid" json:"gid,omitempty"` // defaults to UID
	Shell    string  `yaml:"shell" json:"shell,omitempty"`
	HomeDir  string  `yaml:"homedir" json:"homedir,omitempty"`
}

// Group is a group added to /etc/group.
type Group struct {
	GroupName string   `yaml:"groupname" json:"groupname"`
	GID       uint32   `yaml:"gid" json:"gid"`
	Members   []string `yaml:"members" json:"members,omitempty"`
}

// PathMutation is one entry of the paths block: a file-system change made
// after the packages are installed.
type PathMutation struct {
	Path string `yaml:"path" json:"path"`
	// Type is directory, empty-file, hardlink, symlink or permissions.
	Type string `yaml:"type" json:"type"`
	// UID and GID change the owner. When both are absent the owner is
	// left alone; when one is absent it is 0.
	UID *uint32 `yaml:"uid" json:"uid,omitempty"`
	GID *uint32 `yaml:"gid" json:"gid,omitempty"`
	// Permissions are the mode bits, setuid, setgid and sticky included;
	// write them in octal (0755 or 0o755).
	Permissions *uint32 `yaml:"permissions" json:"permissions,omitempty"`
	// Source is the link target of a symlink or hardlink.
	Source string `yaml:"source" json:"source,omitempty"`
	// Recursive applies directory and permissions changes to everything
	// below Path too (symlinks are not followed).
	Recursive bool `yaml:"recursive" json:"recursive,omitempty"`
}

// Layering is the layering block.
type Layering struct {
	// Strategy is "origin": one layer per group of packages sharing an
	// origin.
	Strategy string `yaml:"strategy" json:"strategy,omitempty"`
	// Budget bounds the number of package layers.
	Budget int `yaml:"budget" json:"budget,omitempty"`
}

// Certificates is apko's certificates block, which reef parses but does
// not implement yet (see docs/image.md).
type Certificates struct {
	Additional []Certificate `yaml:"additional" json:"additional,omitempty"`
	Providers  []string      `yaml:"providers" json:"providers,omitempty"`
}

// Certificate is an additional CA certificate.
type Certificate struct {
	Name    string `yaml:"name" json:"name"`
	Content string `yaml:"content" json:"content"`
}

// Pos is a place in a configuration file.
type Pos struct {
	File string
	Line int
}

// ConfigError is an error about one field of an image file.
type ConfigError struct {
	File  string // "" when parsed from bytes without a name
	Line  int    // 1-based; 0 when not known
	Field string // dotted path such as "contents.packages[2]"; "" for the document
	Msg   string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString("field ")
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// File returns the path the configuration was read from.
func (c *Config) File() string { return c.file }

// Dir returns the directory relative local paths in the configuration
// are resolved against: the directory of its file, or "." for one parsed
// without a file name.
func (c *Config) Dir() string {
	if c.file == "" {
		return "."
	}
	return filepath.Dir(c.file)
}

// errorf returns a *ConfigError about field, located where the field is
// written if known.
func (c *Config) errorf(field, format string, args ...any) error {
	e := &ConfigError{File: c.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if p, ok := c.lookupPos(field); ok {
		e.File, e.Line = p.File, p.Line
	}
	return e
}

// lookupPos finds where field, or the nearest enclosing field, is written.
func (c *Config) lookupPos(field string) (Pos, bool) {
	for f := field; f != ""; {
		if p, ok := c.pos[f]; ok {
			return p, true
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return Pos{}, false
}

// Checksum returns apko's lock-file checksum of the configuration:
// "sha256-" and the standard base64 SHA-256 of the file's bytes followed
// by those of its includes.
func (c *Config) Checksum() string {
	h := sha256.New()
	for _, s := range c.sources {
		h.Write(s)
	}
	return "sha256-" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// maxIncludeDepth bounds chains of include.
const maxIncludeDepth = 16

// LoadConfig reads and validates the image file at path, following its
// include (relative to the including file's directory).
func LoadConfig(path string) (*Config, error) {
	return loadConfig(path, 0, nil)
}

func loadConfig(path string, depth int, seen []string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	for _, s := range seen {
		if s == abs {
			return nil, &ConfigError{File: path, Field: "include", Msg: "include cycle: " + strings.Join(append(seen, abs), " → ")}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("image file: %w", err)
	}
	c, err := parse(data, path)
	if err != nil {
		return nil, err
	}
	if c.Include != "" {
		if depth >= maxIncludeDepth {
			return nil, c.errorf("include", "includes nested more than %d deep", maxIncludeDepth)
		}
		inc := c.Include
		if !filepath.IsAbs(inc) {
			inc = filepath.Join(filepath.Dir(path), inc)
		}
		if _, err := os.Stat(inc); err != nil {
			return nil, c.errorf("include", "%v (only local files can be included)", errors.Unwrap(err))
		}
		base, err := loadConfig(inc, depth+1, append(seen, abs))
		if err != nil {
			return nil, err
		}
		c = mergeConfigs(base, c)
	}
	if depth == 0 {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ParseConfig parses and validates an image file held in data. file names
// it in errors and is the base of relative paths; it may be "". An include
// field is an error here: use LoadConfig for files with includes.
func ParseConfig(data []byte, file string) (*Config, error) {
	c, err := parse(data, file)
	if err != nil {
		return nil, err
	}
	if c.Include != "" {
		return nil, c.errorf("include", "includes need a file on disk (LoadConfig)")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func parse(data []byte, file string) (*Config, error) {
	c := &Config{file: file, pos: map[string]Pos{}}
	if err := decodeYAML(data, file, c, c.pos); err != nil {
		return nil, err
	}
	c.sources = [][]byte{data}
	dir := c.Dir()
	c.dirs = pathDirs{
		repositories:      repeat(dir, len(c.Contents.Repositories)),
		buildRepositories: repeat(dir, len(c.Contents.BuildRepositories)),
		keyring:           repeat(dir, len(c.Contents.Keyring)),
	}
	return c, nil
}

// pathDirs records, for each entry of the lists that may hold local paths,
// the directory a relative path is relative to: that of the file the
// entry comes from. Local paths are resolved so, so that an included
// file's paths mean the same thing wherever it is included from, while
// the text written into the image keeps the spelling of the file.
type pathDirs struct {
	repositories, buildRepositories, keyring []string
}

func repeat(s string, n int) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = s
	}
	return l
}

// resolveLocal returns the location entry s, from a file in directory dir,
// designates: a URL as it is, a local path made relative to dir.
func resolveLocal(s, dir string) string {
	if isURL(s) || filepath.IsAbs(s) || s == "" || dir == "" {
		return s
	}
	return filepath.Join(dir, s)
}

// dirAt returns dirs[i], or "." when the list is shorter (entries added
// by command-line flags are relative to the working directory).
func dirAt(dirs []string, i int) string {
	if i < len(dirs) {
		return dirs[i]
	}
	return "."
}

// splitRepoTag splits "@tag URL" into "@tag" and "URL".
func splitRepoTag(s string) (tag, loc string) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		if i := strings.IndexAny(s, " \t"); i > 0 {
			return s[:i], strings.TrimSpace(s[i+1:])
		}
	}
	return "", s
}

// isURL reports whether s has a URL scheme (http, https, file, ...).
func isURL(s string) bool {
	i := strings.Index(s, "://")
	if i <= 0 {
		return false
	}
	for _, r := range s[:i] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
