package image

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// passwdEntry is one line of /etc/passwd or /etc/group, split at colons;
// lines that are not entries (comments, blanks) have name "".
type dbLine struct {
	name   string
	fields []string
	raw    string
}

func parseColonFile(data []byte) []dbLine {
	var out []dbLine
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil
	}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") || !strings.Contains(l, ":") {
			out = append(out, dbLine{raw: l})
			continue
		}
		f := strings.Split(l, ":")
		out = append(out, dbLine{name: f[0], fields: f, raw: l})
	}
	return out
}

func renderColonFile(lines []dbLine) []byte {
	var b strings.Builder
	for _, l := range lines {
		if l.name != "" {
			b.WriteString(strings.Join(l.fields, ":"))
		} else {
			b.WriteString(l.raw)
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// setLine replaces the entry named name, or appends it.
func setLine(lines []dbLine, fields []string) []dbLine {
	for i, l := range lines {
		if l.name == fields[0] {
			lines[i] = dbLine{name: fields[0], fields: fields}
			return lines
		}
	}
	return append(lines, dbLine{name: fields[0], fields: fields})
}

// accountComment is the GECOS field of the users reef adds.
const accountComment = "Account created by reef"

// applyAccounts adds the configured users and groups to /etc/passwd,
// /etc/shadow and /etc/group (keeping the entries the packages wrote) and
// creates missing home directories, as apko does: passwd is always
// rewritten, group only when groups are configured, shadow gets a locked
// entry for each new user; home directories are made 0700 and owned by
// the user, their missing parents 0755.
func (r *root) applyAccounts(a Accounts) error {
	old, err := r.readFile("/etc/passwd")
	if err != nil {
		return fmt.Errorf("/etc/passwd: %w", err)
	}
	passwd := parseColonFile(old)
	for _, u := range a.Users {
		gid := u.UID
		if u.GID != nil {
			gid = *u.GID
		}
		shell := u.Shell
		if shell == "" {
			shell = "/bin/sh"
		}
		home := u.HomeDir
		if home == "" {
			home = "/home/" + u.UserName
		}
		passwd = setLine(passwd, []string{u.UserName, "x", strconv.FormatUint(uint64(u.UID), 10), strconv.FormatUint(uint64(gid), 10), accountComment, home, shell})
	}
	if err := r.writeFile("/etc/passwd", renderColonFile(passwd), 0o644, 0, 0, true); err != nil {
		return fmt.Errorf("/etc/passwd: %w", err)
	}

	if len(a.Users) > 0 {
		old, err := r.readFile("/etc/shadow")
		if err != nil {
			return fmt.Errorf("/etc/shadow: %w", err)
		}
		shadow := parseColonFile(old)
		for _, u := range a.Users {
			if !hasLine(shadow, u.UserName) {
				shadow = append(shadow, dbLine{name: u.UserName, fields: []string{u.UserName, "!", "", "", "", "", "", "", ""}})
			}
		}
		if err := r.writeFile("/etc/shadow", renderColonFile(shadow), 0o640, 0, 0, true); err != nil {
			return fmt.Errorf("/etc/shadow: %w", err)
		}
	}

	if len(a.Groups) > 0 {
		old, err := r.readFile("/etc/group")
		if err != nil {
			return fmt.Errorf("/etc/group: %w", err)
		}
		group := parseColonFile(old)
		for _, g := range a.Groups {
			group = setLine(group, []string{g.GroupName, "x", strconv.FormatUint(uint64(g.GID), 10), strings.Join(g.Members, ",")})
		}
		if err := r.writeFile("/etc/group", renderColonFile(group), 0o644, 0, 0, true); err != nil {
			return fmt.Errorf("/etc/group: %w", err)
		}
	}

	for _, u := range a.Users {
		home := u.HomeDir
		if home == "" {
			home = "/home/" + u.UserName
		}
		if home == "/dev/null" || home == "/" {
			continue
		}
		if e, err := r.lstat(home); err != nil {
			return fmt.Errorf("home directory of %s: %w", u.UserName, err)
		} else if e != nil {
			continue
		}
		gid := u.UID
		if u.GID != nil {
			gid = *u.GID
		}
		if _, err := r.mkdirAll(path.Clean(home), 0o700, int(u.UID), int(gid)); err != nil {
			return fmt.Errorf("home directory of %s: %w", u.UserName, err)
		}
	}
	return nil
}

func hasLine(lines []dbLine, name string) bool {
	for _, l := range lines {
		if l.name == name {
			return true
		}
	}
	return false
}

// idNames maps numeric ids to names, from the image's passwd and group,
// for the uname and gname of tar headers.
type idNames struct {
	users, groups map[int]string
	uids, gids    map[string]int
}

func (r *root) idNames() (*idNames, error) {
	n := &idNames{users: map[int]string{}, groups: map[int]string{}, uids: map[string]int{}, gids: map[string]int{}}
	for _, f := range []struct {
		file  string
		ids   map[int]string
		names map[string]int
	}{{"/etc/passwd", n.users, n.uids}, {"/etc/group", n.groups, n.gids}} {
		data, err := r.readFile(f.file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.file, err)
		}
		for _, l := range parseColonFile(data) {
			if l.name == "" || len(l.fields) < 3 {
				continue
			}
			id, err := strconv.Atoi(l.fields[2])
			if err != nil || id < 0 {
				continue
			}
			if _, ok := f.ids[id]; !ok {
				f.ids[id] = l.name // the first name of an id wins, as getpwuid
			}
			if _, ok := f.names[l.name]; !ok {
				f.names[l.name] = id
			}
		}
	}
	return n, nil
}

// resolveRunAs turns the run-as value into the OCI config's User: names
// become numbers from the image's passwd and group, so that the runtime
// need not read them; an unknown name is an error.
func (c *Config) resolveRunAs(n *idNames) (string, error) {
	ra := c.Accounts.RunAs
	if ra == "" {
		return "", nil
	}
	u, g, hasGroup := strings.Cut(ra, ":")
	uid, err := lookupID(u, n.uids)
	if err != nil {
		return "", c.errorf("accounts.run-as", "user %q does not exist in the image's /etc/passwd (add it under accounts.users, or use a numeric uid)", u)
	}
	if !hasGroup {
		return strconv.Itoa(uid), nil
	}
	gid, err := lookupID(g, n.gids)
	if err != nil {
		return "", c.errorf("accounts.run-as", "group %q does not exist in the image's /etc/group (add it under accounts.groups, or use a numeric gid)", g)
	}
	return strconv.Itoa(uid) + ":" + strconv.Itoa(gid), nil
}

func lookupID(s string, names map[string]int) (int, error) {
	if id, err := strconv.ParseUint(s, 10, 32); err == nil {
		return int(id), nil
	}
	if id, ok := names[s]; ok {
		return id, nil
	}
	return 0, fmt.Errorf("unknown")
}
