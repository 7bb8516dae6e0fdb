package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/apk"
)

// testRepository builds a signed repository in a new directory:
// x86_64/APKINDEX.tar.gz and n packages p0..p(n-1).
func testRepository(t *testing.T, n int) (dir string, kr *apk.Keyring, idx *Index) {
	t.Helper()
	dir = t.TempDir()
	arch := filepath.Join(dir, "x86_64")
	os.Mkdir(arch, 0o755)
	s, kr := testSigner(t, "repo")
	var paths []string
	for i := 0; i < n; i++ {
		paths = append(paths, testPackage(t, arch, fmt.Sprintf("p%d", i), "1.0-r0", s))
	}
	idx, err := UpdateIndex(context.Background(), filepath.Join(arch, "APKINDEX.tar.gz"), paths, UpdateOptions{
		BuildOptions: BuildOptions{Keyring: kr}, Signer: s,
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir, kr, idx
}

// testServer serves a directory over HTTP, with faults to inject.
type testServer struct {
	dir string

	mu          sync.Mutex
	requests    map[string]int    // by URL path
	ranges      map[string]string // last Range header by path
	fail        map[string]int    // path → how many first requests get a 503
	truncate    map[string]bool   // path → the first response stops half way
	override    map[string][]byte // path → bytes served instead of the file's
	inflight    int
	maxInflight int
	delay       time.Duration
}

func newTestServer(t *testing.T, dir string) (*testServer, *httptest.Server) {
	ts := &testServer{dir: dir, requests: map[string]int{}, ranges: map[string]string{}, fail: map[string]int{}, truncate: map[string]bool{}, override: map[string][]byte{}}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	return ts, srv
}

func (ts *testServer) total() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for _, c := range ts.requests {
		n += c
	}
	return n
}

func (ts *testServer) count(p string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.requests[p]
}

func (ts *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	ts.mu.Lock()
	ts.requests[p]++
	n := ts.requests[p]
	ts.ranges[p] = r.Header.Get("Range")
	fail := n <= ts.fail[p]
	trunc := ts.truncate[p] && n == 1
	data, over := ts.override[p]
	ts.inflight++
	ts.maxInflight = max(ts.maxInflight, ts.inflight)
	delay := ts.delay
	ts.mu.Unlock()
	defer func() {
		ts.mu.Lock()
		ts.inflight--
		ts.mu.Unlock()
	}()
	time.Sleep(delay)
	if fail {
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	if !over {
		var err error
		data, err = os.ReadFile(filepath.Join(ts.dir, filepath.FromSlash(path.Clean(p))))
		if err != nil {
			http.NotFound(w, r)
			return
		}
	}
	if trunc {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:len(data)/2])
		return // the server closes the connection: the client sees a short body
	}
	http.ServeContent(w, r, path.Base(p), time.Time{}, bytes.NewReader(data))
}

func newFetcher(t *testing.T, kr *apk.Keyring) *Fetcher {
	return &Fetcher{CacheDir: t.TempDir(), Keyring: kr, Backoff: time.Millisecond}
}

func refsOf(ri *RepoIndex) []PackageRef {
	var refs []PackageRef
	for _, p := range ri.Index.Packages {
		refs = append(refs, ri.Ref(p))
	}
	return refs
}

func TestFetchParallel(t *testing.T) {
	dir, kr, _ := testRepository(t, 12)
	ts, srv := newTestServer(t, dir)
	ts.delay = 20 * time.Millisecond
	f := newFetcher(t, kr)
	f.Parallel = 4
	ctx := context.Background()
	ris, err := f.FetchIndexes(ctx, []Repository{{URL: srv.URL}, {URL: dir, Tag: "local"}, {URL: "file://" + dir}}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	for _, ri := range ris {
		if ri.Index.VerifiedBy != "repo.rsa.pub" || len(ri.Index.Packages) != 12 {
			t.Fatalf("%s: VerifiedBy %q, %d packages", ri.Repo, ri.Index.VerifiedBy, len(ri.Index.Packages))
		}
	}
	if ris[1].Repo.Tag != "local" {
		t.Error("tag lost")
	}
	paths, err := f.FetchPackages(ctx, refsOf(ris[0]))
	if err != nil {
		t.Fatal(err)
	}
	if ts.maxInflight < 2 || ts.maxInflight > 4 {
		t.Errorf("at most %d requests at once, want 2..4", ts.maxInflight)
	}
	for i, p := range paths {
		pkg := ris[0].Index.Packages[i]
		want, _ := os.ReadFile(filepath.Join(dir, "x86_64", pkg.Filename()))
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: cached file differs from the served one", pkg)
		}
		id, _ := identityHex(pkg.Checksum)
		if filepath.Base(p) != id+".apk" || filepath.Dir(p) != f.CacheDir {
			t.Errorf("cache path %s", p)
		}
	}
	// Local repositories, through the same checks, into the same cache.
	before := ts.total()
	for _, ri := range ris[1:] {
		lp, err := newFetcher(t, kr).FetchPackages(ctx, refsOf(ri))
		if err != nil || len(lp) != 12 {
			t.Fatalf("%s: %v", ri.Repo, err)
		}
	}
	if ts.total() != before {
		t.Error("local repositories made HTTP requests")
	}
}

func TestFetchRetries(t *testing.T) {
	dir, kr, idx := testRepository(t, 2)
	ts, srv := newTestServer(t, dir)
	pkg := idx.Packages[0]
	pkgPath := "/x86_64/" + pkg.Filename()
	ts.fail["/x86_64/APKINDEX.tar.gz"] = 2
	ts.fail[pkgPath] = 3
	f := newFetcher(t, kr)
	ctx := context.Background()
	ri, err := f.FetchIndex(ctx, Repository{URL: srv.URL}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if n := ts.count("/x86_64/APKINDEX.tar.gz"); n != 3 {
		t.Errorf("index: %d requests, want 3", n)
	}
	if _, err := f.FetchPackage(ctx, ri.Ref(pkg)); err != nil {
		t.Fatal(err)
	}
	if n := ts.count(pkgPath); n != 4 {
		t.Errorf("package: %d requests, want 4", n)
	}
	// Too many failures: the error says so.
	other := idx.Packages[1]
	ts.fail["/x86_64/"+other.Filename()] = 10
	f.Retries = 2
	_, err = f.FetchPackage(ctx, ri.Ref(other))
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != 503 || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("err = %v", err)
	}
	// 404 is not retried.
	missing := *other
	missing.Version = "9-r0"
	before := ts.total()
	_, err = f.FetchPackage(ctx, PackageRef{Package: &missing, Repo: ri.Repo, Arch: "x86_64"})
	if !errors.As(err, &he) || he.Code != 404 || ts.total() != before+1 {
		t.Fatalf("404: err = %v, %d requests", err, ts.total()-before)
	}
}

func TestFetchResume(t *testing.T) {
	dir, kr, idx := testRepository(t, 2)
	ts, srv := newTestServer(t, dir)
	pkg := idx.Packages[0]
	pkgPath := "/x86_64/" + pkg.Filename()
	ts.truncate[pkgPath] = true
	f := newFetcher(t, kr)
	ref := PackageRef{Package: pkg, Repo: Repository{URL: srv.URL}, Arch: "x86_64"}
	p, err := f.FetchPackage(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if n := ts.count(pkgPath); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	if r, want := ts.ranges[pkgPath], fmt.Sprintf("bytes=%d-", pkg.Size/2); r != want {
		t.Errorf("second request Range %q, want %q", r, want)
	}
	got, _ := os.ReadFile(p)
	want, _ := os.ReadFile(filepath.Join(dir, "x86_64", pkg.Filename()))
	if !bytes.Equal(got, want) {
		t.Fatal("resumed file differs")
	}
	if _, err := os.Stat(p + ".part"); err == nil {
		// The part file was renamed into place.
		t.Error("a .part file is left")
	}

	// A part file left by an earlier run is resumed too.
	other := idx.Packages[1]
	f2 := newFetcher(t, kr)
	id, _ := identityHex(other.Checksum)
	full, _ := os.ReadFile(filepath.Join(dir, "x86_64", other.Filename()))
	os.WriteFile(filepath.Join(f2.CacheDir, id+".apk.part"), full[:100], 0o644)
	if _, err := f2.FetchPackage(context.Background(), PackageRef{Package: other, Repo: Repository{URL: srv.URL}, Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	if r := ts.ranges["/x86_64/"+other.Filename()]; r != "bytes=100-" {
		t.Errorf("Range %q, want bytes=100-", r)
	}

	// A complete part file (the run stopped before the rename) needs no
	// request at all.
	f4 := newFetcher(t, kr)
	os.WriteFile(filepath.Join(f4.CacheDir, id+".apk.part"), full, 0o644)
	before4 := ts.total()
	if _, err := f4.FetchPackage(context.Background(), PackageRef{Package: other, Repo: Repository{URL: srv.URL}, Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	if ts.total() != before4 {
		t.Error("a complete part file was downloaded again")
	}

	// A bad part file (wrong bytes) is thrown away and the download
	// starts again from zero.
	f3 := newFetcher(t, kr)
	bad := bytes.Clone(full[:200])
	bad[50] ^= 0xff
	os.WriteFile(filepath.Join(f3.CacheDir, id+".apk.part"), bad, 0o644)
	before := ts.count("/x86_64/" + other.Filename())
	if _, err := f3.FetchPackage(context.Background(), PackageRef{Package: other, Repo: Repository{URL: srv.URL}, Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	if n := ts.count("/x86_64/"+other.Filename()) - before; n != 2 {
		t.Errorf("%d requests, want 2 (resume, then from zero)", n)
	}
}

func TestFetchCorrupt(t *testing.T) {
	dir, kr, idx := testRepository(t, 2)
	ts, srv := newTestServer(t, dir)
	a, b := idx.Packages[0], idx.Packages[1]
	aPath := "/x86_64/" + a.Filename()
	// Serve b's bytes as a.
	ts.override[aPath], _ = os.ReadFile(filepath.Join(dir, "x86_64", b.Filename()))
	f := newFetcher(t, kr)
	repo := Repository{URL: srv.URL}
	ref := PackageRef{Package: a, Repo: repo, Arch: "x86_64"}
	_, err := f.FetchPackage(context.Background(), ref)
	var me *MismatchError
	if !errors.As(err, &me) || me.What != "identity" || !strings.Contains(err.Error(), "identity mismatch") || !strings.Contains(err.Error(), a.Checksum) {
		t.Fatalf("err = %v, want an identity mismatch", err)
	}
	if n := ts.count(aPath); n != 1 {
		t.Errorf("%d requests: a wrong package must not be retried", n)
	}
	id, _ := identityHex(a.Checksum)
	if _, err := os.Stat(filepath.Join(f.CacheDir, id+".apk")); err == nil {
		t.Fatal("a rejected package is in the cache")
	}

	// Corrupt data (a flipped byte in the data member): rejected.
	good, _ := os.ReadFile(filepath.Join(dir, "x86_64", a.Filename()))
	bad := bytes.Clone(good)
	bad[len(bad)-30] ^= 0x01
	ts.override[aPath] = bad
	if _, err := f.FetchPackage(context.Background(), ref); err == nil {
		t.Fatal("corrupt data accepted")
	} else {
		t.Logf("corrupt data: %v", err)
	}

	// More bytes than S: rejected.
	ts.override[aPath] = append(bytes.Clone(good), 0)
	if _, err := f.FetchPackage(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("longer file: err = %v", err)
	}

	// A cached copy that went bad is checked, thrown away and fetched again.
	delete(ts.override, aPath)
	p, err := f.FetchPackage(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, bad, 0o644)
	before := ts.count(aPath)
	if _, err := f.FetchPackage(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, good) || ts.count(aPath) != before+1 {
		t.Fatal("bad cached copy not replaced")
	}
}

func TestFetchCacheAndOffline(t *testing.T) {
	dir, kr, _ := testRepository(t, 3)
	ts, srv := newTestServer(t, dir)
	cache := t.TempDir()
	repo := Repository{URL: srv.URL}
	ctx := context.Background()

	// Offline with an empty cache: clear errors.
	off := &Fetcher{CacheDir: cache, Keyring: kr, Offline: true}
	_, err := off.FetchIndex(ctx, repo, "x86_64")
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "not in the cache") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("offline index: err = %v", err)
	}
	local, err := off.FetchIndex(ctx, Repository{URL: dir}, "x86_64")
	if err != nil {
		t.Fatalf("offline, local repository: %v", err)
	}
	_, err = off.FetchPackage(ctx, PackageRef{Package: local.Index.Packages[0], Repo: repo, Arch: "x86_64"})
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), local.Index.Packages[0].String()) {
		t.Fatalf("offline package: err = %v", err)
	}
	if ts.total() != 0 {
		t.Fatal("offline fetches made requests")
	}

	// Online: everything downloaded once.
	on := &Fetcher{CacheDir: cache, Keyring: kr}
	ri, err := on.FetchIndex(ctx, repo, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	first, err := on.FetchPackages(ctx, refsOf(ri))
	if err != nil {
		t.Fatal(err)
	}
	n := ts.total()

	// Second run: packages come from the cache, no request.
	second, err := on.FetchPackages(ctx, refsOf(ri))
	if err != nil {
		t.Fatal(err)
	}
	if ts.total() != n {
		t.Fatalf("second run made %d requests", ts.total()-n)
	}
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Error("paths differ")
	}

	// Offline now works, from the cache, and the index is verified again.
	ri2, err := off.FetchIndex(ctx, repo, "x86_64")
	if err != nil || ri2.Index.VerifiedBy != "repo.rsa.pub" {
		t.Fatalf("offline from cache: %v", err)
	}
	if _, err := off.FetchPackages(ctx, refsOf(ri2)); err != nil {
		t.Fatal(err)
	}
	if ts.total() != n {
		t.Fatal("offline run made requests")
	}
	_, err = (&Fetcher{CacheDir: cache, Offline: true}).FetchIndex(ctx, repo, "x86_64")
	var uk *apk.UnknownKeyError
	if !errors.As(err, &uk) {
		t.Fatalf("cached index with an empty keyring: err = %v", err)
	}
}

func TestFetchIndexTrust(t *testing.T) {
	dir, _, idx := testRepository(t, 1)
	ts, srv := newTestServer(t, dir)
	_, other := testSigner(t, "other")
	ctx := context.Background()
	repo := Repository{URL: srv.URL}

	// Signed by a key the keyring does not have.
	_, err := newFetcher(t, other).FetchIndex(ctx, repo, "x86_64")
	var uk *apk.UnknownKeyError
	if !errors.As(err, &uk) || uk.KeyNames[0] != "repo.rsa.pub" || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("unknown key: err = %v", err)
	}
	// Unsigned.
	unsigned, err := EncodeIndex(idx, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ts.override["/x86_64/APKINDEX.tar.gz"] = unsigned
	f := newFetcher(t, other)
	if _, err := f.FetchIndex(ctx, repo, "x86_64"); !errors.Is(err, apk.ErrUnsigned) {
		t.Fatalf("unsigned: err = %v", err)
	}
	if _, err := os.Stat(f.indexCachePath(repo.IndexURL("x86_64"))); err == nil {
		t.Error("a refused index was cached")
	}
	f.AllowUntrusted = true
	ri, err := f.FetchIndex(ctx, repo, "x86_64")
	if err != nil || !errors.Is(ri.Index.Untrusted, apk.ErrUnsigned) {
		t.Fatalf("allowed untrusted: %v", err)
	}
	// Several repositories: every failure is reported.
	f.AllowUntrusted = false
	_, err = f.FetchIndexes(ctx, []Repository{repo, {URL: srv.URL + "/nothing"}}, "x86_64")
	var he *HTTPError
	if !errors.Is(err, apk.ErrUnsigned) || !errors.As(err, &he) || he.Code != 404 {
		t.Fatalf("FetchIndexes: err = %v", err)
	}
}

func TestFetchCancel(t *testing.T) {
	dir, kr, _ := testRepository(t, 1)
	ts, srv := newTestServer(t, dir)
	ts.fail["/x86_64/APKINDEX.tar.gz"] = 100
	f := &Fetcher{Keyring: kr, Backoff: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.FetchIndex(ctx, Repository{URL: srv.URL}, "x86_64")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

// TestFetchSamePackageConcurrently: two fetches of one package (as two
// processes sharing a cache would) download it once and agree.
func TestFetchSamePackageConcurrently(t *testing.T) {
	dir, kr, idx := testRepository(t, 1)
	ts, srv := newTestServer(t, dir)
	ts.delay = 50 * time.Millisecond
	cache := t.TempDir()
	ref := PackageRef{Package: idx.Packages[0], Repo: Repository{URL: srv.URL}, Arch: "x86_64"}
	var wg sync.WaitGroup
	paths := make([]string, 4)
	errs := make([]error, 4)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = (&Fetcher{CacheDir: cache, Keyring: kr}).FetchPackage(context.Background(), ref)
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("fetch %d: %v, %s", i, errs[i], paths[i])
		}
	}
	if n := ts.count("/x86_64/" + idx.Packages[0].Filename()); n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
}

func TestParseRepositoryLine(t *testing.T) {
	tests := []struct {
		line string
		want Repository
		ok   bool
		err  string
	}{
		{"https://dl-cdn.alpinelinux.org/alpine/v3.17/main", Repository{URL: "https://dl-cdn.alpinelinux.org/alpine/v3.17/main"}, true, ""},
		{"  @edge https://dl-cdn.alpinelinux.org/alpine/edge/testing/  ", Repository{URL: "https://dl-cdn.alpinelinux.org/alpine/edge/testing", Tag: "edge"}, true, ""},
		{"/home/me/packages", Repository{URL: "/home/me/packages"}, true, ""},
		{"./packages/", Repository{URL: "./packages"}, true, ""},
		{"file:///srv/repo", Repository{URL: "file:///srv/repo"}, true, ""},
		{"@local\t/srv/repo", Repository{URL: "/srv/repo", Tag: "local"}, true, ""},
		{"", Repository{}, false, ""},
		{"   ", Repository{}, false, ""},
		{"# a comment", Repository{}, false, ""},
		{"@edge", Repository{}, false, "no URL"},
		{"@ https://x", Repository{}, false, "empty tag"},
		{"@a/b https://x", Repository{}, false, "tag"},
		{"ftp://x/y", Repository{}, false, "unsupported scheme"},
		{"https://x y", Repository{}, false, "too many fields"},
	}
	for _, tc := range tests {
		got, ok, err := ParseRepositoryLine(tc.line)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("%q: got %+v, %v, %v; want %+v, %v", tc.line, got, ok, err, tc.want, tc.ok)
		}
		if ok {
			again, _, _ := ParseRepositoryLine(got.String())
			if again != got {
				t.Errorf("%q: String() %q does not parse back", tc.line, got.String())
			}
		}
	}
	repos, err := ParseRepositories(strings.NewReader("# repos\nhttps://a/main\n\n@t /b\n"), "repositories")
	if err != nil || len(repos) != 2 || repos[1].Tag != "t" {
		t.Fatalf("%v, %v", repos, err)
	}
	_, err = ParseRepositories(strings.NewReader("https://a\nftp://b\n"), "/etc/apk/repositories")
	if err == nil || !strings.HasPrefix(err.Error(), "/etc/apk/repositories:2: ") {
		t.Fatalf("err = %v, want file and line", err)
	}
}

func TestRepositoryURLs(t *testing.T) {
	p := &Package{Name: "foo", Version: "1.0-r0", Arch: "aarch64"}
	if u := (Repository{URL: "https://r.example/os"}).PackageURL("x86_64", p); u != "https://r.example/os/aarch64/foo-1.0-r0.apk" {
		t.Errorf("PackageURL %s", u)
	}
	p.Arch = ""
	if u := (Repository{URL: "file:///srv/r"}).PackageURL("x86_64", p); u != "/srv/r/x86_64/foo-1.0-r0.apk" {
		t.Errorf("PackageURL %s", u)
	}
	if u := (Repository{URL: "https://r.example/os"}).IndexURL("x86_64"); u != "https://r.example/os/x86_64/APKINDEX.tar.gz" {
		t.Errorf("IndexURL %s", u)
	}
	if _, err := identityHex("Q1L7EnY9Q9b23ejRHAmb0g09QaLEo="); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "Q1short", "0123456789abcdef0123456789abcdef"} {
		if _, err := identityHex(bad); err == nil {
			t.Errorf("identityHex(%q) accepted", bad)
		}
	}
}
