package build

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/build/config"
)

// newHostRunner is a runner for host-side steps, with an empty
// workspace and cache.
func newHostRunner(t *testing.T) *runner {
	t.Helper()
	ws := t.TempDir()
	root, err := os.OpenRoot(ws)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return &runner{
		b:       &Build{Arch: arch.Host(), Packages: []*Output{{Name: "p"}}},
		opts:    RunOptions{CacheDir: t.TempDir()},
		log:     slog.New(slog.DiscardHandler),
		sde:     rtEpoch,
		http:    &http.Client{},
		ws:      ws,
		wsRoot:  root,
		sources: map[string][]sourceRecord{},
	}
}

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: time.Unix(1400000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var o bytes.Buffer
	w := gzip.NewWriter(&o)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

func extractBytes(t *testing.T, data []byte, strip int) (string, int, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "a")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	root, err := os.OpenRoot(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	n, err := extractArchive(file, root, strip)
	return dest, n, err
}

func TestExtractArchive(t *testing.T) {
	good := makeTar(t, []tarEntry{
		{name: "pkg-1.0/", typ: tar.TypeDir, mode: 0o755},
		{name: "pkg-1.0/configure", body: "#!/bin/sh\n", mode: 0o755},
		{name: "pkg-1.0/src/main.c", body: "int main;\n"},
		{name: "pkg-1.0/link", typ: tar.TypeSymlink, link: "src/main.c"},
		{name: "pkg-1.0/hard", typ: tar.TypeLink, link: "pkg-1.0/src/main.c"},
		{name: "top-level-file", body: "dropped by strip-components\n"},
		{name: "pkg-1.0/dev", typ: tar.TypeChar},
	})
	var zs, xs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(good)
	zw.Close()
	xw, _ := xz.NewWriter(&xs)
	xw.Write(good)
	xw.Close()
	for name, data := range map[string][]byte{"tar": good, "gzip": gzipBytes(good), "zstd": zs.Bytes(), "xz": xs.Bytes()} {
		t.Run(name, func(t *testing.T) {
			dest, n, err := extractBytes(t, data, 1)
			if err != nil {
				t.Fatal(err)
			}
			if n != 4 {
				t.Errorf("%d entries written, want 4", n)
			}
			b, err := os.ReadFile(filepath.Join(dest, "src/main.c"))
			if err != nil || string(b) != "int main;\n" {
				t.Errorf("src/main.c: %q %v", b, err)
			}
			if fi, err := os.Stat(filepath.Join(dest, "configure")); err != nil || fi.Mode().Perm() != 0o755 || fi.ModTime().Unix() != 1400000000 {
				t.Errorf("configure: %v %v", fi, err)
			}
			if l, err := os.Readlink(filepath.Join(dest, "link")); err != nil || l != "src/main.c" {
				t.Errorf("link: %q %v", l, err)
			}
			a, _ := os.Stat(filepath.Join(dest, "hard"))
			c, _ := os.Stat(filepath.Join(dest, "src/main.c"))
			if !os.SameFile(a, c) {
				t.Errorf("hard is not a hard link to src/main.c")
			}
			for _, p := range []string{"top-level-file", "dev", "pkg-1.0"} {
				if _, err := os.Lstat(filepath.Join(dest, p)); err == nil {
					t.Errorf("%s was extracted", p)
				}
			}
		})
	}

	t.Run("zip", func(t *testing.T) {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		w, _ := zw.Create("proj/README")
		io.WriteString(w, "read me\n")
		zw.Close()
		dest, _, err := extractBytes(t, b.Bytes(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if data, err := os.ReadFile(filepath.Join(dest, "README")); err != nil || string(data) != "read me\n" {
			t.Errorf("README: %q %v", data, err)
		}
	})

	// Hostile archives never write outside the destination.
	hostile := map[string][]tarEntry{
		"dotdot":           {{name: "../escape", body: "x"}},
		"absolute symlink": {{name: "l", typ: tar.TypeSymlink, link: "/tmp"}, {name: "l/escape", body: "x"}},
		"relative symlink": {{name: "l", typ: tar.TypeSymlink, link: "../../../../../../../../tmp"}, {name: "l/escape", body: "x"}},
		"symlink chain":    {{name: "a", typ: tar.TypeSymlink, link: ".."}, {name: "a/escape", body: "x"}},
		"hard link out":    {{name: "h", typ: tar.TypeLink, link: "../../../../etc/passwd"}},
		"hard link abs":    {{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}},
	}
	for name, entries := range hostile {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			os.Remove(filepath.Join(os.TempDir(), "escape"))
			dest, _, err := extractBytes(t, makeTar(t, entries), 0)
			if err == nil {
				t.Errorf("extraction succeeded")
			}
			for _, p := range []string{filepath.Join(os.TempDir(), "escape"), filepath.Join(filepath.Dir(dest), "escape"), filepath.Join(parent, "escape")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
			if fi, err := os.Lstat(filepath.Join(dest, "h")); err == nil && fi.Mode().IsRegular() {
				t.Errorf("a hard link to a file outside was made")
			}
		})
	}

	if _, _, err := extractBytes(t, []byte("just some text, not an archive"), 1); err == nil || !strings.Contains(err.Error(), "extract: false") {
		t.Errorf("non-archive: %v", err)
	}
}

func TestFetch(t *testing.T) {
	tarball := gzipBytes(makeTar(t, []tarEntry{{name: "src-1.0/", typ: tar.TypeDir, mode: 0o755}, {name: "src-1.0/hello.c", body: "hi\n"}}))
	sum := sha256Hex(tarball)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if hits.Add(1) == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		w.Write(tarball)
	}))
	defer srv.Close()

	r := newHostRunner(t)
	st := &Step{Kind: KindFetch, WorkDir: WorkDir, Fetch: &Fetch{
		URI: srv.URL + "/dl/src-1.0.tar.gz", ExpectedSHA256: sum, Directory: WorkDir, StripComponents: 1,
		Extract: true, Timeout: 5, DNSTimeout: 5, RetryLimit: 2, PurlName: "src", PurlVersion: "1.0",
	}}
	if err := r.fetch(context.Background(), r.b.Packages[0], st); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 {
		t.Errorf("%d requests, want 2 (one retry)", hits.Load())
	}
	if b, err := os.ReadFile(filepath.Join(r.ws, "hello.c")); err != nil || string(b) != "hi\n" {
		t.Errorf("hello.c: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(r.ws, "src-1.0.tar.gz")); err != nil || !bytes.Equal(b, tarball) {
		t.Errorf("the artifact is not in the working directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(r.opts.CacheDir, "sha256:"+sum)); err != nil || !bytes.Equal(b, tarball) {
		t.Errorf("the download was not cached: %v", err)
	}
	if src := r.sources["p"]; len(src) != 1 || src[0].src.SHA256 != sum || src[0].src.URL != st.Fetch.URI {
		t.Errorf("sources: %+v", src)
	}

	// Offline, from the cache, with delete: no request.
	r2 := newHostRunner(t)
	r2.opts.CacheDir, r2.opts.Offline = r.opts.CacheDir, true
	st.Fetch.Delete = true
	if err := r2.fetch(context.Background(), r2.b.Packages[0], st); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 {
		t.Errorf("the cached file was downloaded again")
	}
	if _, err := os.Stat(filepath.Join(r2.ws, "src-1.0.tar.gz")); err == nil {
		t.Errorf("delete: true left the artifact")
	}

	// A download with another checksum is refused and not cached.
	r3 := newHostRunner(t)
	bad := *st.Fetch
	bad.ExpectedSHA256 = strings.Repeat("0", 64)
	err := r3.fetch(context.Background(), r3.b.Packages[0], &Step{Kind: KindFetch, WorkDir: WorkDir, Fetch: &bad})
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Got != sum || ce.Source != bad.URI {
		t.Errorf("bad checksum: %v", err)
	}
	if ents, _ := os.ReadDir(r3.opts.CacheDir); len(ents) != 0 {
		t.Errorf("the cache holds %v after a bad download", ents)
	}

	// Offline and not cached.
	r4 := newHostRunner(t)
	r4.opts.Offline = true
	if err := r4.fetch(context.Background(), r4.b.Packages[0], st); err == nil || !strings.Contains(err.Error(), "sha256:"+sum) {
		t.Errorf("offline: %v", err)
	}

	// Directories outside the workspace are refused.
	out := *st.Fetch
	out.Directory = "/etc"
	if err := r.fetch(context.Background(), r.b.Packages[0], &Step{Kind: KindFetch, WorkDir: WorkDir, Fetch: &out}); err == nil || !strings.Contains(err.Error(), "outside the workspace") {
		t.Errorf("directory /etc: %v", err)
	}
}

func TestGitCheckoutStep(t *testing.T) {
	rtNeed(t, "git")
	upstream := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = upstream
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(upstream, "a.txt"), []byte("one\n"), 0o644)
	git("add", ".")
	git("commit", "-q", "-m", "one")
	c1 := git("rev-parse", "HEAD")
	git("tag", "v1")
	git("checkout", "-q", "-b", "fix")
	os.WriteFile(filepath.Join(upstream, "b.txt"), []byte("fix\n"), 0o644)
	git("add", ".")
	git("commit", "-q", "-m", "fix")
	fix := git("rev-parse", "HEAD")
	git("checkout", "-q", "main")
	os.WriteFile(filepath.Join(upstream, "a.txt"), []byte("two\n"), 0o644)
	git("commit", "-q", "-am", "two")

	r := newHostRunner(t)
	os.WriteFile(filepath.Join(r.ws, "keep.txt"), []byte("kept\n"), 0o644)
	g := &GitCheckout{Repository: "file://" + upstream, Destination: WorkDir, Depth: 1, Tag: "v1", ExpectedCommit: c1,
		CherryPicks: []CherryPick{{Branch: "fix", Commit: fix, Comment: "the fix"}}, SubmoduleJobs: 1}
	if err := r.gitCheckout(context.Background(), r.b.Packages[0], &Step{Kind: KindGitCheckout, GitCheckout: g}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"a.txt": "one\n", "b.txt": "fix\n", "keep.txt": "kept\n"} {
		if b, err := os.ReadFile(filepath.Join(r.ws, f)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", f, b, err)
		}
	}
	cmd := exec.Command("git", "log", "-1", "--format=%ct %s")
	cmd.Dir = r.ws
	out, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), "1700000000 fix") {
		t.Errorf("cherry-pick commit: %q %v", out, err)
	}
	if src := r.sources["p"]; len(src) != 1 || src[0].src.Commit != c1 || src[0].src.Tag != "v1" {
		t.Errorf("sources: %+v", src)
	}
	if ents, _ := filepath.Glob(filepath.Join(r.ws, ".reef-git-*")); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}

	// The wrong expected commit is an error naming both commits.
	r2 := newHostRunner(t)
	g2 := &GitCheckout{Repository: upstream, Destination: WorkDir + "/src", Depth: 1, Tag: "v1", ExpectedCommit: fix, SubmoduleJobs: 1}
	err = r2.gitCheckout(context.Background(), r2.b.Packages[0], &Step{Kind: KindGitCheckout, GitCheckout: g2})
	if err == nil || !strings.Contains(err.Error(), c1) || !strings.Contains(err.Error(), fix) {
		t.Errorf("wrong expected-commit: %v", err)
	}

	// A branch with an expected commit in its history.
	r3 := newHostRunner(t)
	g3 := &GitCheckout{Repository: upstream, Destination: WorkDir + "/src", Depth: -1, Branch: "main", ExpectedCommit: c1, SubmoduleJobs: 1}
	if err := r3.gitCheckout(context.Background(), r3.b.Packages[0], &Step{Kind: KindGitCheckout, GitCheckout: g3}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(r3.ws, "src/a.txt")); string(b) != "one\n" {
		t.Errorf("branch at expected-commit: a.txt is %q", b)
	}

	// Offline, remote repositories are refused.
	r4 := newHostRunner(t)
	r4.opts.Offline = true
	g4 := &GitCheckout{Repository: "https://example.invalid/x.git", Destination: WorkDir, Depth: 1}
	if err := r4.gitCheckout(context.Background(), r4.b.Packages[0], &Step{Kind: KindGitCheckout, GitCheckout: g4}); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("offline: %v", err)
	}
}

// TestEmbeddedConfig checks that the .melange.yaml reef embeds loads and
// compiles to the same steps as the build it describes.
func TestEmbeddedConfig(t *testing.T) {
	for _, file := range []string{"testdata/golden/full.yaml", "../../examples/hello.melange.yaml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cfg, err := config.Load(file, config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			copts := Options{Arch: "x86_64", SourceDateEpoch: rtEpoch, PipelineDirs: []string{"testdata/golden/pipelines"}}
			b, err := Compile(cfg, copts)
			if err != nil {
				t.Fatal(err)
			}
			locked := []string{"busybox=1.36.1-r0", "make=4.4-r1"}
			data, err := embedBuild(b, locked)
			if err != nil {
				t.Fatal(err)
			}
			cfg2, err := config.Parse(data, ".melange.yaml", config.Options{})
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			b2, err := Compile(cfg2, copts)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			// (uses: fetch and git-checkout add their needs again.)
			if got := b2.Environment.Contents.Packages; len(got) < len(locked) || !slices.Equal(got[:len(locked)], locked) {
				t.Errorf("packages %v, want %v", b2.Environment.Contents.Packages, locked)
			}
			if len(b.Packages) != len(b2.Packages) {
				t.Fatalf("%d packages, then %d", len(b.Packages), len(b2.Packages))
			}
			for i, o := range b.Packages {
				o2 := b2.Packages[i]
				if o.Name != o2.Name || o.Version != o2.Version || len(o.Steps) != len(o2.Steps) {
					t.Fatalf("package %d: %s %s %d steps, then %s %s %d", i, o.Name, o.Version, len(o.Steps), o2.Name, o2.Version, len(o2.Steps))
				}
				if !equalJSON(o.Dependencies, o2.Dependencies) || !equalJSON(o.Scriptlets, o2.Scriptlets) {
					t.Errorf("%s: metadata differs", o.Name)
				}
				for j, s := range o.Steps {
					s2 := o2.Steps[j]
					s.Origin, s2.Origin, s.Uses, s2.Uses, s.Name, s2.Name, s.Label, s2.Label = nil, nil, "", "", "", "", "", ""
					if !equalJSON(s, s2) {
						t.Errorf("%s step %d differs:\n%+v\n%+v", o.Name, j, s, s2)
					}
				}
			}
			// The same build embeds the same bytes.
			again, _ := embedBuild(b, locked)
			if !bytes.Equal(again, data) {
				t.Errorf("embedBuild is not deterministic")
			}
		})
	}
}

func TestSetcapXattrs(t *testing.T) {
	got, err := setcapXattrs([]config.Capability{{Path: "/usr/bin/ping", Add: map[string]string{"cap_net_raw,cap_net_admin": "+eip"}, Reason: "ping"}})
	if err != nil {
		t.Fatal(err)
	}
	// magic 0x02000001, permitted = inheritable = bits 12 and 13.
	want := "\x01\x00\x00\x02\x00\x30\x00\x00\x00\x30\x00\x00" + strings.Repeat("\x00", 8)
	if got["usr/bin/ping"] != want {
		t.Errorf("got %q, want %q", got["usr/bin/ping"], want)
	}
	if _, err := setcapXattrs([]config.Capability{{Path: "/x", Add: map[string]string{"cap_sys_ptrace": "+ep"}}}); err == nil {
		t.Errorf("cap_sys_ptrace was accepted")
	}
}

func TestLicenseAndDeps(t *testing.T) {
	if l := license([]config.Copyright{{License: "MIT"}, {License: "GPL-2.0-only OR BSD-2-Clause"}, {License: "MIT"}}); l != "MIT AND (GPL-2.0-only OR BSD-2-Clause)" {
		t.Errorf("license %q", l)
	}
	if l := license([]config.Copyright{{License: "GPL-2.0-only OR MIT"}}); l != "GPL-2.0-only OR MIT" {
		t.Errorf("license %q", l)
	}
	if got := sortedSet([]string{"b", " a", ""}, []string{"b", "c"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("sortedSet %v", got)
	}
	if depName("so:libc.so.6>=2") != "so:libc.so.6" || depName("foo") != "foo" {
		t.Errorf("depName")
	}
	for in, want := range map[string]string{"/home/build": ".", "/home/build/a/../b": "b"} {
		if got, err := hostPath(in); err != nil || got != want {
			t.Errorf("hostPath(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"/home/builder", "/etc", "/home/build/../x"} {
		if _, err := hostPath(in); err == nil {
			t.Errorf("hostPath(%q) accepted", in)
		}
	}
}

func TestIgnoreList(t *testing.T) {
	l := ignoreList{"*.o", "build/", "docs/draft.md"}
	for p, want := range map[string]bool{"a.o": true, "src/x.o": true, "build": true, "docs/draft.md": true, "docs/final.md": false, "src/build.c": false} {
		if got := l.match(p, p == "build"); got != want {
			t.Errorf("match(%q) = %v", p, got)
		}
	}
}

func TestFetchableRemote(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://github.com/wolfi-dev/os.git", true},
		{"ssh://git@host/x.git", true},
		{"git@github.com:wolfi-dev/os.git", true},
		{"/check/repo.git", false},
		{"../repo", false},
		{"file:///srv/repo.git", false},
		{"./a@b:c", false},
		{"", false},
	} {
		if got := fetchableRemote(tc.url); got != tc.want {
			t.Errorf("fetchableRemote(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
}

// A build file in a clone whose origin is a local path (as CI clones
// are) builds, and its SBOM names no repository for the build file.
func TestDetectBuildFileSourceLocalRemote(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	upstream := filepath.Join(dir, "up.git")
	clone := filepath.Join(dir, "clone")
	run := func(d string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", d}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run(dir, "init", "-q", "--bare", upstream)
	run(dir, "clone", "-q", upstream, clone)
	file := filepath.Join(clone, "x.yaml")
	if err := os.WriteFile(file, []byte("package: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(clone, "add", "x.yaml")
	run(clone, "commit", "-q", "-m", "x")
	if src := detectBuildFileSource(t.Context(), file); src != nil {
		t.Errorf("local origin: got source %+v, want none", src)
	}
	run(clone, "remote", "set-url", "origin", "https://example.com/os.git")
	src := detectBuildFileSource(t.Context(), file)
	if src == nil || src.Repository != "https://example.com/os.git" || src.Path != "x.yaml" || len(src.Commit) != 40 {
		t.Errorf("https origin: got %+v", src)
	}
}
