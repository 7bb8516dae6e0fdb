package image

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	const full = `
contents:
  build_repositories:
    - https://example.com/build/
  repositories:
    - https://packages.wolfi.dev/os
    - "@local ./packages"
  runtime_repositories:
    - https://example.com/runtime
  keyring:
    - https://packages.wolfi.dev/os/wolfi-signing.rsa.pub
    - ./melange.rsa.pub
  packages:
    - wolfi-baselayout
    - busybox>=1.36
    - ca-certificates-bundle=20240705-r0
    - local-thing@local
    - "!bash"
entrypoint:
  command: /usr/bin/nginx -g "daemon off;"
cmd: --help 'a b'
stop-signal: SIGQUIT
work-dir: /app
accounts:
  groups:
    - groupname: nonroot
      gid: 65532
      members: [nonroot]
  users:
    - username: nonroot
      uid: 65532
      gid: 65532
      shell: /bin/bash
      homedir: /home/nr
  run-as: nonroot
archs: [amd64, aarch64]
environment:
  FOO: bar
  NUM: 1
paths:
  - path: /app
    type: directory
    uid: 65532
    gid: 65532
    permissions: 0o755
    recursive: true
  - path: /app/empty
    type: empty-file
    permissions: 0644
  - path: /usr/bin/sh2
    type: symlink
    source: /bin/sh
annotations:
  org.opencontainers.image.title: test
volumes: [/data]
vcs-url: https://github.com/example/repo@0123456789abcdef
layering:
  strategy: origin
  budget: 10
`
	c, err := ParseConfig([]byte(full), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"wolfi-baselayout", "busybox>=1.36", "ca-certificates-bundle=20240705-r0", "local-thing@local", "!bash"}
	if !reflect.DeepEqual(c.Contents.Packages, want) {
		t.Errorf("packages = %q", c.Contents.Packages)
	}
	if c.Accounts.Users[0].GID == nil || *c.Accounts.Users[0].GID != 65532 || c.Accounts.Users[0].HomeDir != "/home/nr" {
		t.Errorf("users = %+v", c.Accounts.Users)
	}
	if c.Environment["NUM"] != "1" {
		t.Errorf("environment NUM = %q (scalar text must be kept)", c.Environment["NUM"])
	}
	if p := c.Paths[0].Permissions; p == nil || *p != 0o755 {
		t.Errorf("paths[0].permissions = %v", p)
	}
	if p := c.Paths[1].Permissions; p == nil || *p != 0o644 {
		t.Errorf("paths[1].permissions (0644) = %v", p)
	}
	if c.Layering == nil || c.Layering.Budget != 10 {
		t.Errorf("layering = %+v", c.Layering)
	}
	ep, _ := shellSplit(c.Entrypoint.Command)
	if !reflect.DeepEqual(ep, []string{"/usr/bin/nginx", "-g", "daemon off;"}) {
		t.Errorf("entrypoint split = %q", ep)
	}
	if p := c.pos["accounts.run-as"]; p.Line != 35 {
		t.Errorf("run-as position = %+v", p)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		want       string // substring of the error
	}{
		{"unknown top-level", "contents:\n  packages: [a]\nentrypiont:\n  command: x\n", 3, `field entrypiont: unknown field; did you mean "entrypoint"?`},
		{"unknown nested", "contents:\n  packages: [a]\n  pakages: [b]\n", 3, "field contents.pakages: unknown field"},
		{"unknown in list item", "accounts:\n  users:\n    - username: a\n      uid: 1\n      home: /x\n", 5, "field accounts.users[0].home: unknown field"},
		{"duplicate key", "cmd: a\ncmd: b\n", 2, "defined twice"},
		{"wrong type list", "contents:\n  packages: busybox\n", 2, "want a list"},
		{"wrong type map", "environment: [a, b]\n", 1, "field environment: want a mapping"},
		{"bad uid", "accounts:\n  users:\n    - username: a\n      uid: -1\n", 4, "want a number"},
		{"bad uid text", "accounts:\n  users:\n    - username: a\n      uid: lots\n", 4, `found "lots"`},
		{"uid zero", "accounts:\n  users:\n    - username: a\n      uid: 0\n", 4, "non-zero uid"},
		{"bad package", "contents:\n  packages:\n    - ok\n    - 'foo bar'\n", 4, "contents.packages[1]"},
		{"bad arch", "archs: [amd64, sparc]\n", 1, `unknown architecture "sparc"`},
		{"path outside", "paths:\n  - path: ../../etc/passwd\n    type: empty-file\n", 2, "outside the image root"},
		{"path outside deep", "paths:\n  - path: /a/../../b\n    type: directory\n", 2, "outside the image root"},
		{"path type", "paths:\n  - path: /a\n    type: fifo\n", 3, `unknown type "fifo"`},
		{"symlink no source", "paths:\n  - path: /a\n    type: symlink\n", 2, "needs a source"},
		{"bad mode", "paths:\n  - path: /a\n    type: directory\n    permissions: 0o77777\n", 4, "bits beyond 07777"},
		{"layering", "layering:\n  strategy: size\n  budget: 2\n", 2, `unknown layering strategy "size"`},
		{"layering budget", "layering:\n  strategy: origin\n", 1, "budget"},
		{"service bundle", "entrypoint:\n  type: service-bundle\n  services: {a: b}\n", 2, "not supported"},
		{"erofs", "format: erofs\n", 1, "erofs"},
		{"certificates", "certificates:\n  additional:\n    - name: a\n      content: x\n", 1, "not supported"},
		{"baseimage", "contents:\n  baseimage:\n    image: x\n", 2, "base image"},
		{"workdir relative", "work-dir: app\n", 1, "absolute"},
		{"quote", "cmd: \"unterminated 'x\"\n", 1, "unterminated single quote"},
		{"syntax", "contents:\n  packages: [a\n", 0, "invalid YAML"},
		{"run-as bad", "accounts:\n  run-as: 'a b'\n", 2, "run-as"},
		{"include here", "include: other.yaml\n", 1, "include"},
		{"not a mapping", "- a\n- b\n", 1, "want a mapping"},
		{"merge key", "base: &b {cmd: x}\n", 1, "unknown field"},
		{"dup user", "accounts:\n  users:\n    - {username: a, uid: 1}\n    - {username: a, uid: 2}\n", 4, "defined twice"},
		{"runtime key", "contents:\n  runtime_keyring:\n    - name: k\n      content: nope\n", 4, "PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml), "img.yaml")
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError", err)
			}
			if tt.line > 0 && ce.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", ce.Line, tt.line, err)
			}
			if tt.line > 0 && !strings.HasPrefix(err.Error(), "img.yaml:") {
				t.Errorf("error %q does not start with FILE:LINE", err)
			}
		})
	}
}

func TestParseConfigEmptyAndAliases(t *testing.T) {
	c, err := ParseConfig(nil, "")
	if err != nil || len(c.Contents.Packages) != 0 {
		t.Fatalf("empty file: %v %+v", err, c)
	}
	// Anchors, aliases and merge keys work as in YAML.
	c, err = ParseConfig([]byte(`
contents:
  packages: &pk [a, b]
  repositories: [./r]
accounts:
  users:
    - &u {username: a, uid: 1000}
    - <<: *u
      username: b
      uid: 1001
archs: *pk
`), "")
	if err == nil {
		t.Fatal("archs a, b accepted")
	}
	c, err = ParseConfig([]byte(`
contents:
  packages: &pk [a, b]
accounts:
  users:
    - &u {username: a, uid: 1000, shell: /bin/zsh}
    - <<: *u
      username: b
      uid: 1001
`), "")
	if err != nil {
		t.Fatal(err)
	}
	if u := c.Accounts.Users[1]; u.UserName != "b" || u.UID != 1001 || u.Shell != "/bin/zsh" {
		t.Errorf("merged user = %+v", u)
	}
}

func TestBillionLaughs(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(": &a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a")
			b.WriteString(string(rune('0' + i - 1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("contents:\n  packages: *a8\n")
	_, err := ParseConfig([]byte(b.String()), "")
	if err == nil {
		t.Fatal("accepted")
	}
}

func TestLoadConfigInclude(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "base")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "base.yaml"), []byte(`
contents:
  repositories: [./repo]
  keyring: [./key.rsa.pub]
  packages: [base-a, base-b]
cmd: base-cmd
work-dir: /base
environment: {A: base, B: base}
annotations: {x: base}
accounts:
  users: [{username: a, uid: 1}]
`), 0o644)
	os.WriteFile(filepath.Join(dir, "img.yaml"), []byte(`
include: base/base.yaml
contents:
  repositories: [./top-repo]
  packages: [top-a]
cmd: top-cmd
environment: {B: top, C: top}
accounts:
  users: [{username: b, uid: 2}]
  run-as: b
`), 0o644)
	c, err := LoadConfig(filepath.Join(dir, "img.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Contents.Packages; !reflect.DeepEqual(got, []string{"base-a", "base-b", "top-a"}) {
		t.Errorf("packages = %q", got)
	}
	if c.Cmd != "top-cmd" || c.WorkDir != "/base" {
		t.Errorf("cmd %q work-dir %q", c.Cmd, c.WorkDir)
	}
	if !reflect.DeepEqual(c.Environment, map[string]string{"A": "base", "B": "top", "C": "top"}) {
		t.Errorf("environment = %v", c.Environment)
	}
	if len(c.Accounts.Users) != 2 || c.Accounts.RunAs != "b" {
		t.Errorf("accounts = %+v", c.Accounts)
	}
	// Relative paths resolve against the file that names them.
	var got []string
	for i, r := range c.Contents.Repositories {
		got = append(got, resolveLocal(r, dirAt(c.dirs.repositories, i)))
	}
	want := []string{filepath.Join(sub, "repo"), filepath.Join(dir, "top-repo")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("repositories resolve to %q, want %q", got, want)
	}
	if k := resolveLocal(c.Contents.Keyring[0], dirAt(c.dirs.keyring, 0)); k != filepath.Join(sub, "key.rsa.pub") {
		t.Errorf("keyring resolves to %q", k)
	}
	// The checksum covers the includes.
	sum := c.Checksum()
	os.WriteFile(filepath.Join(sub, "base.yaml"), []byte("cmd: changed\n"), 0o644)
	c2, err := LoadConfig(filepath.Join(dir, "img.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Checksum() == sum {
		t.Error("checksum ignores the included file")
	}

	// Cycles are errors.
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("include: b.yaml\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("include: a.yaml\n"), 0o644)
	if _, err := LoadConfig(filepath.Join(dir, "a.yaml")); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("include cycle: %v", err)
	}
	// Missing include names the line.
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("cmd: x\ninclude: nope.yaml\n"), 0o644)
	if _, err := LoadConfig(filepath.Join(dir, "c.yaml")); err == nil || !strings.Contains(err.Error(), "c.yaml:2:") {
		t.Errorf("missing include: %v", err)
	}
}

func TestShellSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a b  c", []string{"a", "b", "c"}},
		{`a "b c" 'd e'`, []string{"a", "b c", "d e"}},
		{`a\ b`, []string{"a b"}},
		{`"a\"b" 'a\b'`, []string{`a"b`, `a\b`}},
		{`x""`, []string{"x"}},
		{`""`, []string{""}},
		{"", nil},
	}
	for _, tt := range tests {
		got, err := shellSplit(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("shellSplit(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`"a`, `'a`, `a\`} {
		if _, err := shellSplit(bad); err == nil {
			t.Errorf("shellSplit(%q) accepted", bad)
		}
	}
}

func TestCleanImagePath(t *testing.T) {
	for in, want := range map[string]string{"/a/b/": "a/b", "a//b/./c": "a/b/c", "/": "", "/a/../b": "b"} {
		got, err := cleanImagePath(in)
		if err != nil || got != want {
			t.Errorf("cleanImagePath(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"..", "/../x", "a/../../x", ""} {
		if _, err := cleanImagePath(bad); err == nil {
			t.Errorf("cleanImagePath(%q) accepted", bad)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/*.image.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("contents:\n  packages: [a]\naccounts:\n  users: [{username: a, uid: 1}]\n  run-as: a\n"))
	f.Add([]byte("paths:\n  - {path: /a, type: directory, permissions: 0755, recursive: true}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("environment: {<<: {A: b}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.yaml")
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError: %v", err, err)
			}
			return
		}
		// A valid configuration validates again and has a checksum.
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate after ParseConfig: %v", err)
		}
		_ = c.Checksum()
	})
}
