package install

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// idMap maps user or group names to ids, as read from the root's
// etc/passwd or etc/group.
type idMap map[string]int

// parseIDFile parses passwd ("name:x:uid:...") or group
// ("name:x:gid:...") text: the third field is the id. Malformed lines
// are skipped, as getpwnam does.
func parseIDFile(data []byte) idMap {
	m := idMap{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, ":", 4)
		if len(f) < 3 || f[0] == "" {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[f[0]]; !dup { // the first entry wins
			m[f[0]] = int(id)
		}
	}
	return m
}

// idCache resolves tar owner names against the root's etc/passwd and
// etc/group, the way apk-tools does: the name first, the numeric id only
// when the name is not found. It is reloaded after a package or a script
// may have changed those files.
type idCache struct {
	in            *run
	users, groups idMap
	loaded        bool
}

func (c *idCache) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	c.users = c.readIDs("etc/passwd")
	c.groups = c.readIDs("etc/group")
}

func (c *idCache) readIDs(name string) idMap {
	real, err := Resolve(c.in.fs, name)
	if err != nil {
		return nil
	}
	data, err := ReadFile(c.in.fs, real)
	if err != nil {
		return nil
	}
	return parseIDFile(data)
}

func (c *idCache) reset() { c.loaded = false }

// uid returns the uid for a tar entry's uname and numeric uid.
func (c *idCache) uid(name string, id int) int {
	if name == "" {
		return id
	}
	c.load()
	if v, ok := c.users[name]; ok {
		return v
	}
	return id
}

// gid returns the gid for a tar entry's gname and numeric gid.
func (c *idCache) gid(name string, id int) int {
	if name == "" {
		return id
	}
	c.load()
	if v, ok := c.groups[name]; ok {
		return v
	}
	return id
}
