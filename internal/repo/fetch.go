package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/fsutil"
)

// Defaults for the zero fields of a Fetcher.
const (
	DefaultParallel = 8                      // downloads at once
	DefaultRetries  = 3                      // retries after a failed attempt
	DefaultBackoff  = 500 * time.Millisecond // delay before the first retry; doubled each time
	maxBackoff      = 30 * time.Second
)

// A Fetcher gets repository indexes and packages, checks them and keeps
// them in a disk cache. Its exported fields configure it and must not
// change while it is in use; its methods are safe for concurrent use.
//
// Trust: an index must be signed by a key in Keyring unless
// AllowUntrusted is set. A package is accepted only if it is the one its
// index record names: the SHA-1 of its control member is the record's
// identity (C:), the SHA-256 of its data member is the datahash its
// control member holds, and its size is the record's S:. The index
// signature is thus the root of trust for packages, as in apk-tools.
type Fetcher struct {
	// CacheDir keeps downloaded indexes (APKINDEX.<hash>.tar.gz, by URL)
	// and packages (<identity as hex>.apk, by content). Packages need it;
	// without it indexes are not kept.
	CacheDir string
	// Offline uses only the cache and local repositories: no network.
	Offline bool
	// AllowUntrusted accepts indexes that are unsigned or signed by keys
	// outside Keyring (Index.Untrusted says why).
	AllowUntrusted bool
	// Keyring holds the keys trusted to sign indexes.
	Keyring *apk.Keyring
	// HTTP is the client for http(s) repositories; http.DefaultClient
	// when nil.
	HTTP *http.Client
	// Parallel bounds the downloads running at once; DefaultParallel
	// when 0.
	Parallel int
	// Retries is how many times a download is retried after a server
	// error (5xx, 429, 408) or a broken connection; DefaultRetries when 0,
	// none when negative. A retried package download resumes where it
	// stopped (HTTP Range).
	Retries int
	// Backoff is the delay before the first retry, doubled for each
	// further one (at most 30s); DefaultBackoff when 0.
	Backoff time.Duration
	// MaxSize bounds a download whose size is not known in advance: an
	// index, or a package whose record has no S:. DefaultMaxIndexSize
	// when 0.
	MaxSize int64
	// Limits bounds what is read from each package.
	Limits apk.Limits
	// Logger receives retries and cache events; nothing is logged when nil.
	Logger *slog.Logger
}

// RepoIndex is a repository's index for one architecture.
type RepoIndex struct {
	Repo  Repository
	Arch  string
	Index *Index
}

// Ref returns the reference FetchPackage needs for p, a record of ri.
func (ri *RepoIndex) Ref(p *Package) PackageRef {
	return PackageRef{Package: p, Repo: ri.Repo, Arch: ri.Arch}
}

// PackageRef names a package to fetch: its index record and where it is.
type PackageRef struct {
	Package *Package
	Repo    Repository
	// Arch is the architecture of the index the record is from: the
	// directory used when the record has no A:.
	Arch string
}

// HTTPError is an unexpected HTTP status.
type HTTPError struct {
	URL    string
	Status string // e.g. "404 Not Found"
	Code   int
}

func (e *HTTPError) Error() string { return "GET " + e.URL + ": " + e.Status }

// MismatchError reports a package that is not the one its index record
// names: the repository is inconsistent, or the file was tampered with or
// corrupted.
type MismatchError struct {
	Package string // NAME-VERSION
	Source  string // URL or path the file came from
	What    string // "identity", "datahash" or "size"
	Want    string // what the index (or, for the datahash, the control member) says
	Got     string // what the file has
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s from %s: %s mismatch: expected %s, the file has %s; the repository is inconsistent or the file was tampered with or corrupted",
		e.Package, e.Source, e.What, e.Want, e.Got)
}

// ErrOffline is wrapped by errors for what is not cached in offline mode.
var ErrOffline = errors.New("offline")

// retryableError marks a failure worth another attempt.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }

func (e *retryableError) Unwrap() error { return e.err }

func (f *Fetcher) log() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (f *Fetcher) client() *http.Client {
	if f.HTTP != nil {
		return f.HTTP
	}
	return http.DefaultClient
}

func (f *Fetcher) maxSize() int64 {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	return DefaultMaxIndexSize
}

func (f *Fetcher) parallel() int {
	if f.Parallel > 0 {
		return f.Parallel
	}
	return DefaultParallel
}

// retry runs fn until it succeeds, fails with an error not marked
// retryable, or has been retried f.Retries times, sleeping with
// exponential backoff in between.
func (f *Fetcher) retry(ctx context.Context, what string, fn func() error) error {
	retries := f.Retries
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	delay := f.Backoff
	if delay <= 0 {
		delay = DefaultBackoff
	}
	for attempt := 0; ; attempt++ {
		err := fn()
		var re *retryableError
		if err == nil || !errors.As(err, &re) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= retries {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
		f.log().Warn("download failed; retrying", "url", what, "attempt", attempt+1, "delay", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, maxBackoff)
	}
}

// get sends a GET for u, from byte off when off > 0. It returns the
// response for 200 and, when off > 0, 206; other statuses are errors,
// retryable for server errors.
func (f *Fetcher) get(ctx context.Context, u string, off int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "reef")
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := f.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &retryableError{err}
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent && off > 0 {
		return resp, nil
	}
	resp.Body.Close()
	herr := &HTTPError{URL: u, Status: resp.Status, Code: resp.StatusCode}
	switch c := resp.StatusCode; {
	case c >= 500, c == http.StatusTooManyRequests, c == http.StatusRequestTimeout:
		return nil, &retryableError{herr}
	}
	return nil, herr
}

// FetchIndex gets repo's index for arch and checks its signature (see
// ReadIndex). A remote index is downloaded (with retries) and, once it
// has passed the checks, kept in the cache; offline, the cached copy is
// used and checked again.
func (f *Fetcher) FetchIndex(ctx context.Context, repo Repository, arch string) (*RepoIndex, error) {
	src := repo.IndexURL(arch)
	ropts := ReadOptions{File: src, AllowUntrusted: f.AllowUntrusted, MaxSize: f.maxSize()}
	done := func(idx *Index, err error) (*RepoIndex, error) {
		if err != nil {
			return nil, err
		}
		if idx.Untrusted != nil {
			f.log().Warn("using an untrusted index", "url", src, "reason", idx.Untrusted)
		}
		return &RepoIndex{Repo: repo, Arch: arch, Index: idx}, nil
	}
	if _, local := repo.LocalPath(); local {
		return done(ReadIndexFile(src, f.Keyring, ropts))
	}
	cached := f.indexCachePath(src)
	if f.Offline {
		if cached == "" {
			return nil, fmt.Errorf("%w: cannot get %s without a cache directory", ErrOffline, src)
		}
		idx, err := ReadIndexFile(cached, f.Keyring, ReadOptions{File: cached + " (cached " + src + ")", AllowUntrusted: f.AllowUntrusted, MaxSize: f.maxSize()})
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is not in the cache %s; run once online with this cache directory", ErrOffline, src, f.CacheDir)
		}
		return done(idx, err)
	}
	var data []byte
	err := f.retry(ctx, src, func() error {
		var err error
		data, err = f.download(ctx, src, f.maxSize())
		return err
	})
	if err != nil {
		return nil, err
	}
	idx, err := ReadIndex(bytes.NewReader(data), f.Keyring, ropts)
	if err != nil {
		return nil, err
	}
	if cached != "" {
		if err := os.MkdirAll(f.CacheDir, 0o755); err != nil {
			return nil, err
		}
		if err := fsutil.WriteFileAtomic(cached, data, 0o644); err != nil {
			return nil, err
		}
	}
	return done(idx, nil)
}

// download reads a whole response body of at most max bytes.
func (f *Fetcher) download(ctx context.Context, u string, max int64) ([]byte, error) {
	resp, err := f.get(ctx, u, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than %d", u, ErrTooLarge, resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &retryableError{fmt.Errorf("GET %s: %w", u, err)}
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", u, ErrTooLarge, max)
	}
	return data, nil
}

// FetchIndexes gets the index for arch of each repository, in parallel.
// The result is in the order of repos. Every failure is reported (joined),
// naming its repository.
func (f *Fetcher) FetchIndexes(ctx context.Context, repos []Repository, arch string) ([]*RepoIndex, error) {
	out := make([]*RepoIndex, len(repos))
	errs := make([]error, len(repos))
	var g errgroup.Group
	g.SetLimit(f.parallel())
	for i, r := range repos {
		g.Go(func() error {
			out[i], errs[i] = f.FetchIndex(ctx, r, arch)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("repository %s: %w", r, errs[i])
			}
			return nil
		})
	}
	g.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// FetchPackages fetches the packages in parallel (see FetchPackage) and
// returns their cached paths in the order of refs. It stops at the first
// failure.
func (f *Fetcher) FetchPackages(ctx context.Context, refs []PackageRef) ([]string, error) {
	paths := make([]string, len(refs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(f.parallel())
	for i, ref := range refs {
		g.Go(func() error {
			var err error
			paths[i], err = f.FetchPackage(ctx, ref)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return paths, nil
}

// FetchPackage returns the path of a verified copy of ref's package in the
// cache. A cached copy is checked again before it is reused; otherwise the
// package is downloaded (or, from a local repository, copied) into the
// cache, checked as it is written (identity, datahash, size and per-file
// checksums, see Fetcher) and only then moved into place. Failed
// downloads are retried and resumed; offline, a package that is not
// cached is an error wrapping ErrOffline.
func (f *Fetcher) FetchPackage(ctx context.Context, ref PackageRef) (string, error) {
	p := ref.Package
	if f.CacheDir == "" {
		return "", fmt.Errorf("fetching %s: no cache directory", p)
	}
	id, err := identityHex(p.Checksum)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	final := f.packageCachePath(id)
	src := ref.Repo.PackageURL(ref.Arch, p)
	switch err := f.verifyFile(final, ref, final); {
	case err == nil:
		f.log().Debug("package cache hit", "package", p.String(), "path", final)
		return final, nil
	case !errors.Is(err, os.ErrNotExist):
		f.log().Warn("cached package is invalid; fetching it again", "path", final, "err", err)
		os.Remove(final)
	}
	_, local := ref.Repo.LocalPath()
	if f.Offline && !local {
		return "", fmt.Errorf("%w: %s (%s) is not in the cache %s", ErrOffline, p, p.Checksum, f.CacheDir)
	}
	if err := os.MkdirAll(f.CacheDir, 0o755); err != nil {
		return "", err
	}
	part, err := lockPart(ctx, final)
	if err != nil {
		return "", err
	}
	if part == nil {
		// Another fetch finished it while this one waited.
		if err := f.verifyFile(final, ref, final); err != nil {
			return "", err
		}
		return final, nil
	}
	defer part.Close() // releases the lock
	restarted := false
	err = f.retry(ctx, src, func() error {
		resumed, err := f.fetchInto(ctx, part, ref, src, local)
		var re *retryableError
		if err != nil && resumed > 0 && !restarted && !errors.As(err, &re) && ctx.Err() == nil {
			// The bytes kept from an earlier attempt may be the bad
			// ones: start again from zero, once.
			restarted = true
			part.Truncate(0)
			return &retryableError{err}
		}
		return err
	})
	if err != nil {
		var re *retryableError
		if !errors.As(err, &re) && ctx.Err() == nil {
			part.Truncate(0) // bad content: do not resume from it
		}
		return "", err
	}
	if err := part.Sync(); err != nil {
		return "", err
	}
	if err := os.Rename(part.Name(), final); err != nil {
		return "", err
	}
	return final, nil
}

// fetchInto downloads ref's package into part, resuming after the bytes
// part already holds, and checks the whole file as it is written. resumed
// is the number of bytes kept from earlier attempts.
func (f *Fetcher) fetchInto(ctx context.Context, part *os.File, ref PackageRef, src string, local bool) (resumed int64, err error) {
	p := ref.Package
	want := int64(p.Size)
	off, err := part.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if local || (want > 0 && off > want) {
		off = 0
	}
	var body io.Reader = bytes.NewReader(nil)
	switch {
	case local:
		lf, err := os.Open(src)
		if err != nil {
			return 0, err
		}
		defer lf.Close()
		body = lf
	case want > 0 && off == want:
		// Complete already: check what is there.
	default:
		resp, err := f.get(ctx, src, off)
		var he *HTTPError
		if off > 0 && errors.As(err, &he) && he.Code == http.StatusRequestedRangeNotSatisfiable {
			// What is kept is no prefix of the file: start again.
			part.Truncate(0)
			return 0, &retryableError{err}
		}
		if err != nil {
			return off, err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			off = 0 // the server sent the whole file
		} else if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != off {
			part.Truncate(0)
			return 0, &retryableError{fmt.Errorf("GET %s: asked for bytes from %d, got Content-Range %q", src, off, resp.Header.Get("Content-Range"))}
		}
		body = resp.Body
	}
	if err := part.Truncate(off); err != nil {
		return 0, err
	}
	limit := want
	if limit <= 0 {
		limit = f.maxSize()
	}
	nr := &netReader{r: body, n: off, limit: limit, exact: want > 0, src: src, local: local}
	in := io.MultiReader(io.NewSectionReader(part, 0, off), io.TeeReader(nr, io.NewOffsetWriter(part, off)))
	err = f.verifyStream(in, ref, src)
	var me *MismatchError
	if errors.As(err, &me) {
		return off, err // wrong content, however the transfer went
	}
	if nr.err != nil {
		// A broken connection (or a short file) surfaces in the package
		// reader as a format error: report the cause.
		return off, nr.err
	}
	return off, err
}

// netReader reads a download, counting bytes against the expected size.
type netReader struct {
	r     io.Reader
	n     int64 // bytes of the file so far, including the resumed ones
	limit int64 // the expected size (exact) or a bound
	exact bool
	src   string
	local bool
	err   error // the reason the download failed, if it did
}

func (nr *netReader) Read(p []byte) (int, error) {
	if nr.err != nil {
		return 0, nr.err
	}
	if nr.n >= nr.limit {
		// Anything past the limit is an error.
		var one [1]byte
		if n, _ := io.ReadFull(nr.r, one[:]); n > 0 {
			if nr.exact {
				nr.err = fmt.Errorf("%s is larger than the %d bytes its index record (S:) says", nr.src, nr.limit)
			} else {
				nr.err = fmt.Errorf("%s: %w: more than %d bytes", nr.src, ErrTooLarge, nr.limit)
			}
			return 0, nr.err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > nr.limit-nr.n {
		p = p[:nr.limit-nr.n]
	}
	n, err := nr.r.Read(p)
	nr.n += int64(n)
	switch {
	case err == io.EOF && nr.exact && nr.n < nr.limit:
		e := fmt.Errorf("%s: the file ended after %d of the %d bytes its index record (S:) says", nr.src, nr.n, nr.limit)
		if nr.local {
			nr.err = e
		} else {
			nr.err = &retryableError{fmt.Errorf("%w: %w", e, io.ErrUnexpectedEOF)}
		}
		return n, nr.err
	case err != nil && err != io.EOF:
		nr.err = &retryableError{fmt.Errorf("reading %s: %w", nr.src, err)}
		return n, nr.err
	}
	return n, err
}

// contentRangeStart parses the first byte of "bytes START-END/TOTAL".
func contentRangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// verifyFile checks the package file at path against ref; src names it in
// errors.
func (f *Fetcher) verifyFile(path string, ref PackageRef, src string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	return f.verifyStream(fh, ref, src)
}

// verifyStream reads a whole package and checks it is the one ref's record
// names: identity (checked as soon as the control member is read, so a
// wrong package is not downloaded to its end), datahash, per-file
// checksums, a clean end, and size.
func (f *Fetcher) verifyStream(r io.Reader, ref PackageRef, src string) error {
	p := ref.Package
	mismatch := func(what, want, got string) error {
		return &MismatchError{Package: p.String(), Source: src, What: what, Want: want, Got: got}
	}
	wantID, err := identityHex(p.Checksum)
	if err != nil {
		return err
	}
	pr, err := apk.NewReader(r, f.Limits)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	info := pr.Info()
	checkID := func() error {
		got, err := identityHex(pr.Identity())
		if err != nil || got != wantID {
			return mismatch("identity", "C:"+p.Checksum+" (from the index)", pr.Identity())
		}
		return nil
	}
	if info.DataHash != "" {
		if err := checkID(); err != nil {
			return err
		}
	}
	if err := pr.Drain(); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if info.DataHash == "" {
		// Legacy package: the identity covers the data too.
		if err := checkID(); err != nil {
			return err
		}
	} else if pr.DataHash() != info.DataHash {
		return mismatch("datahash", info.DataHash+" (from .PKGINFO)", pr.DataHash())
	}
	if p.Size > 0 && uint64(pr.Size()) != p.Size {
		return mismatch("size", fmt.Sprintf("S:%d", p.Size), strconv.FormatInt(pr.Size(), 10))
	}
	return nil
}
