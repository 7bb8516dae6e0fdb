package build

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/sandbox"
)

const trivialDoc = `package:
  name: %s
  version: 1.0
  epoch: 0
  description: a trivial package
  copyright:
    - license: MIT
environment:
  contents:
    packages: [busybox]
pipeline:
  - name: write
    runs: |
      mkdir -p ${{targets.destdir}}/usr/share/%[1]s
      echo %[1]s > ${{targets.destdir}}/usr/share/%[1]s/file.txt
`

// TestRunFailures checks that builds fail clearly, and that a failed
// build leaves the output directory (packages and index) as it was, the
// cached build environment unchanged and the host untouched.
func TestRunFailures(t *testing.T) {
	e := newRTEnv(t, "")
	prev, err := e.buildDoc(t, fmt.Sprintf(trivialDoc, "prev"), nil)
	if err != nil {
		t.Fatalf("first build: %v\n%s", err, e.output.String())
	}
	guest := prev.Guest.Dir
	before := snapshot(t, e.out)
	guestBefore := snapshot(t, guest)
	if len(before) < 3 {
		t.Fatalf("output directory after the first build: %v", before)
	}

	right := "the right content\n"
	rightSum := sha256Hex([]byte(right))
	if err := os.WriteFile(filepath.Join(e.cache, "sha256:"+rightSum), []byte("the wrong content\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				c.Write([]byte("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"))
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	netDoc := fmt.Sprintf(`package:
  name: net
  version: 1.0
  epoch: 0
environment:
  contents:
    packages: [busybox]
pipeline:
  - name: reach the host
    runs: |
      wget -q -O ${{targets.destdir}}/got http://127.0.0.1:%d/
`, port)

	const head = "package:\n  name: bad\n  version: 1.0\n  epoch: 0\nenvironment:\n  contents:\n    packages: [busybox]\npipeline:\n"
	cases := []struct {
		name string
		doc  string
		// want are substrings of the error.
		want  []string
		check func(t *testing.T, err error)
	}{
		{
			name: "undefined variable",
			doc:  head + "  - runs: echo ${{vars.nope}}\n",
			want: []string{"build.yaml:9", "vars.nope"},
		},
		{
			name: "undeclared with key",
			doc:  head + "  - uses: strip\n    with:\n      bogus: 1\n",
			want: []string{"build.yaml:1", "bogus"},
		},
		{
			name: "missing required input",
			doc:  head + "  - uses: fetch\n    with:\n      expected-sha256: " + rightSum + "\n",
			want: []string{"build.yaml:10", "uri"},
		},
		{
			name: "checksum mismatch",
			doc:  head + "  - uses: fetch\n    with:\n      uri: https://example.invalid/src-1.0.tar.gz\n      expected-sha256: " + rightSum + "\n",
			want: []string{"checksum mismatch", "expected sha256 " + rightSum, "got " + sha256Hex([]byte("the wrong content\n")), "sha256:" + rightSum},
			check: func(t *testing.T, err error) {
				var ce *ChecksumError
				if !errors.As(err, &ce) {
					t.Errorf("not a *ChecksumError: %T", err)
				}
			},
		},
		{
			name: "failing step",
			doc:  head + "  - name: compile\n    runs: |\n      echo compiling\n      echo 'error: it broke' >&2\n      exit 3\n",
			want: []string{`building bad: step "compile" (`, "build.yaml:9 (compile)) failed with exit code 3", "script:", "exit 3", "error: it broke", "compiling"},
			check: func(t *testing.T, err error) {
				var sf *StepFailure
				var se *sandbox.StepError
				if !errors.As(err, &sf) || !errors.As(err, &se) {
					t.Fatalf("want a *StepFailure wrapping a *sandbox.StepError, got %T", err)
				}
				if sf.Package != "bad" || sf.Step != "compile" || se.ExitCode != 3 || !slices.Contains(se.Tail, "error: it broke") {
					t.Errorf("failure: %+v / %+v", sf, se)
				}
			},
		},
		{
			name: "writes outside the workspace",
			doc: head + "  - runs: |\n      echo x > /etc/evil\n      touch /usr/bin/evil\n      rm -f /bin/busybox.evil\n" +
				"      mkdir -p /home/build/../../evil-dir\n      test -f /etc/evil\n      echo wrote outside\n      exit 1\n",
			want: []string{"exit code 1", "wrote outside"},
			check: func(t *testing.T, err error) {
				for _, p := range []string{"/etc/evil", "/usr/bin/evil", "/evil-dir"} {
					if _, err := os.Lstat(p); err == nil {
						t.Errorf("the step wrote %s on the host", p)
						os.RemoveAll(p)
					}
				}
			},
		},
		{
			name: "network",
			doc:  netDoc,
			want: []string{`step "reach the host"`, "wget"},
			check: func(t *testing.T, err error) {
				if n := accepted.Load(); n != 0 {
					t.Errorf("the step reached the host's listener (%d connections)", n)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.output.Reset()
			_, err := e.buildDoc(t, c.doc, nil)
			if err == nil {
				t.Fatalf("the build succeeded\n%s", e.output.String())
			}
			t.Logf("error: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q", w)
				}
			}
			if c.check != nil {
				c.check(t, err)
			}
			sameSnapshot(t, "output directory", before, snapshot(t, e.out))
			sameSnapshot(t, "cached build environment", guestBefore, snapshot(t, guest))
		})
	}

	// With --network the same step reaches the listener.
	t.Run("network allowed", func(t *testing.T) {
		res, err := e.buildDoc(t, netDoc, func(o *RunOptions) {
			o.Network = true
			o.OutDir = filepath.Join(t.TempDir(), "packages")
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, e.output.String())
		}
		if accepted.Load() == 0 || len(res.Packages) != 1 {
			t.Errorf("with --network the step did not reach the listener")
		}
	})
}

// TestRunPackageMetadata builds a package and a subpackage with the
// metadata melange writes to .PKGINFO and the control member, and checks
// it.
func TestRunPackageMetadata(t *testing.T) {
	e := newRTEnv(t, "")
	doc := `package:
  name: multi
  version: 2.1
  epoch: 3
  description: >
    several
    lines
  url: https://example.com/multi
  commit: 0123456789abcdef0123456789abcdef01234567
  copyright:
    - license: MIT
    - license: Apache-2.0 OR BSD-3-Clause
  dependencies:
    runtime: [busybox, multi]
    provides: [multi-virtual=2.1]
    replaces: [old-multi]
    provider-priority: 10
    replaces-priority: 5
  scriptlets:
    post-install: |
      #!/bin/sh
      echo installed
    trigger:
      script: |
        #!/bin/sh
        echo triggered
      paths: [/usr/share/multi]
  setcap:
    - path: /usr/bin/multi-server
      add:
        cap_net_bind_service: +ep
      reason: binds port 80
environment:
  contents:
    packages: [busybox]
pipeline:
  - runs: |
      d=${{targets.destdir}}
      mkdir -p $d/usr/bin $d/usr/share/multi $d/var/lib/multi
      printf '#!/bin/bash\necho multi\n' > $d/usr/bin/multi
      chmod 0755 $d/usr/bin/multi
      cp $d/usr/bin/multi $d/usr/bin/multi-server
      echo data > $d/usr/share/multi/data
      ln $d/usr/share/multi/data $d/usr/share/multi/data-link
      ln -s data $d/usr/share/multi/data-sym
      chown 65534:65534 $d/var/lib/multi
      chown 1000:1000 $d/usr/share/multi/data
subpackages:
  - name: multi-tools
    description: the tools
    options:
      no-commands: true
    dependencies:
      runtime: [multi-virtual]
    pipeline:
      - runs: |
          mkdir -p ${{targets.subpkgdir}}/usr/bin
          printf '#!/bin/sh\n' > ${{targets.subpkgdir}}/usr/bin/tool
          chmod 0755 ${{targets.subpkgdir}}/usr/bin/tool
`
	res, err := e.buildDoc(t, doc, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.output.String())
	}
	info, ctl, files := readPackage(t, res.Packages[0].Path)
	if info.Version != "2.1-r3" || info.Description != "several lines" || info.URL != "https://example.com/multi" ||
		info.Commit != "0123456789abcdef0123456789abcdef01234567" || info.License != "MIT AND (Apache-2.0 OR BSD-3-Clause)" ||
		info.ProviderPriority != 10 || info.ReplacesPriority != 5 || info.BuildDate != rtEpoch {
		t.Errorf(".PKGINFO: %+v", info)
	}
	if !slices.Equal(info.Depends, []string{"busybox", "cmd:bash"}) {
		t.Errorf("depends %v, want busybox and cmd:bash (its own name dropped)", info.Depends)
	}
	if !slices.Equal(info.Provides, []string{"cmd:multi-server=2.1-r3", "cmd:multi=2.1-r3", "multi-virtual=2.1"}) {
		t.Errorf("provides %v", info.Provides)
	}
	if !slices.Equal(info.Replaces, []string{"old-multi"}) || !slices.Equal(info.Triggers, []string{"/usr/share/multi"}) {
		t.Errorf("replaces %v, triggers %v", info.Replaces, info.Triggers)
	}
	if len(ctl) != 1 || ctl[0].Name != ".melange.yaml" {
		t.Errorf("control files %v", ctl)
	}
	if files["usr/share/multi/data"] != "data\n" {
		t.Errorf("files: %v", sortedKeys(files))
	}

	// Owners, hard links, symlinks and capabilities, from the reader.
	f, err := os.Open(res.Packages[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := readEntries(t, f)
	if h := entries["var/lib/multi"]; h == nil || h.Uid != 65534 || h.Gid != 65534 {
		t.Errorf("var/lib/multi: %+v, want owner 65534", h)
	}
	if h := entries["usr/share/multi/data"]; h == nil || h.Uid != 0 || h.Gid != 0 {
		t.Errorf("usr/share/multi/data (owned by the build user): %+v, want root", h)
	}
	if h := entries["usr/share/multi/data-link"]; h == nil || h.Typeflag != '1' || h.Linkname != "usr/share/multi/data" {
		t.Errorf("hard link: %+v", h)
	}
	if h := entries["usr/share/multi/data-sym"]; h == nil || h.Typeflag != '2' || h.Linkname != "data" {
		t.Errorf("symlink: %+v", h)
	}
	if h := entries["usr/bin/multi-server"]; h == nil || string(h.Xattrs["security.capability"]) != "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" {
		t.Errorf("multi-server capability: %q", entries["usr/bin/multi-server"].Xattrs)
	}
	for name, h := range entries {
		if h.ModTime.Unix() != rtEpoch {
			t.Errorf("%s mtime %v", name, h.ModTime)
		}
	}

	sub, _, _ := readPackage(t, res.Packages[1].Path)
	if sub.Origin != "multi" || sub.Description != "the tools" || sub.URL != "https://example.com/multi" || sub.License != info.License {
		t.Errorf("multi-tools .PKGINFO: %+v", sub)
	}
	if !slices.Equal(sub.Depends, []string{"multi-virtual"}) || len(sub.Provides) != 0 {
		t.Errorf("multi-tools: depends %v provides %v (no-commands: no cmd:tool)", sub.Depends, sub.Provides)
	}
}
