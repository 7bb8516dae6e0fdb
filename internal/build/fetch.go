package build

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/reef-dev/reef/internal/sbom"
)

// MaxFetchSize bounds one downloaded source archive.
const MaxFetchSize = 16 << 30

// sourceRecord is an upstream source for the SBOM.
type sourceRecord struct {
	src sbom.Source
}

// ChecksumError is a fetched artifact whose checksum is not the expected
// one.
type ChecksumError struct {
	URI       string
	Algorithm string // "sha256" or "sha512"
	Want, Got string
	// Source is where the bad bytes came from: the cache file or the URI.
	Source string
}

func (e *ChecksumError) Error() string {
	msg := fmt.Sprintf("checksum mismatch for %s: expected %s %s, got %s (from %s)", e.URI, e.Algorithm, e.Want, e.Got, e.Source)
	if e.Source != e.URI {
		msg += "; the cached file is corrupt or stored under the wrong name: remove it"
	} else {
		msg += "; if upstream changed the file on purpose, update expected-" + e.Algorithm
	}
	return msg
}

// fetch runs a fetch step on the host: the artifact comes from the cache
// (sha256:<hex> or sha512:<hex>) or is downloaded and then cached, its
// checksum is checked, it is copied into the step's working directory
// and extracted into the step's directory.
func (r *runner) fetch(ctx context.Context, o *Output, st *Step) error {
	f := st.Fetch
	if f == nil {
		return errors.New("fetch step without its fetch block")
	}
	u, err := url.Parse(f.URI)
	if err != nil {
		return fmt.Errorf("uri %q: %w", f.URI, err)
	}
	name := path.Base(u.Path)
	if name == "" || name == "/" || name == "." || name == ".." {
		name = "download"
	}
	wd := st.WorkDir
	if wd == "" {
		wd = WorkDir
	}
	wdRel, err := hostPath(wd)
	if err != nil {
		return err
	}
	destRel, err := hostPath(f.Directory)
	if err != nil {
		return err
	}

	artifact, sums, err := r.artifact(ctx, f)
	if err != nil {
		return err
	}
	if err := r.wsRoot.MkdirAll(wdRel, 0o755); err != nil {
		return fmt.Errorf("working directory %s: %w", wd, err)
	}
	target := path.Join(wdRel, name)
	info, err := os.Stat(artifact)
	if err != nil {
		return err
	}
	if err := copyInto(r.wsRoot, target, artifact, info); err != nil {
		return fmt.Errorf("copying %s into %s: %w", name, wd, err)
	}
	if err := r.wsRoot.Chmod(target, 0o644); err != nil {
		return err
	}
	if f.Extract {
		if err := r.wsRoot.MkdirAll(destRel, 0o755); err != nil {
			return fmt.Errorf("directory %s: %w", f.Directory, err)
		}
		dest, err := r.wsRoot.OpenRoot(destRel)
		if err != nil {
			return fmt.Errorf("directory %s: %w", f.Directory, err)
		}
		n, err := extractArchive(artifact, dest, f.StripComponents)
		dest.Close()
		if err != nil {
			return fmt.Errorf("extracting %s into %s: %w", name, f.Directory, err)
		}
		r.log.Info("fetch: extracted", "file", name, "entries", n, "into", f.Directory)
	}
	if f.Delete {
		if err := r.wsRoot.Remove(target); err != nil {
			return err
		}
	}
	src := sbom.Source{Name: f.PurlName, Version: f.PurlVersion, URL: f.URI, SHA256: sums["sha256"], SHA512: sums["sha512"]}
	r.sources[o.Name] = append(r.sources[o.Name], sourceRecord{src: src})
	return nil
}

// artifact returns the path of the verified artifact of f in the cache,
// downloading it when it is not there, and its checksums.
func (r *runner) artifact(ctx context.Context, f *Fetch) (string, map[string]string, error) {
	algo, want := "sha256", f.ExpectedSHA256
	if want == "" && f.ExpectedSHA512 != "" {
		algo, want = "sha512", f.ExpectedSHA512
	}
	if want != "" {
		cached := filepath.Join(r.opts.CacheDir, algo+":"+want)
		if _, err := os.Stat(cached); err == nil {
			sums, err := fileSums(cached)
			if err != nil {
				return "", nil, err
			}
			if sums[algo] != want {
				return "", nil, &ChecksumError{URI: f.URI, Algorithm: algo, Want: want, Got: sums[algo], Source: cached}
			}
			r.log.Info("fetch: from the cache", "uri", f.URI, "file", cached)
			return cached, sums, nil
		}
	}
	if r.opts.Offline {
		where := "no checksum to look it up by"
		if want != "" {
			where = filepath.Join(r.opts.CacheDir, algo+":"+want) + " does not exist"
		}
		return "", nil, fmt.Errorf("fetch %s: offline, and it is not in the cache (%s); fill the cache with the file first", f.URI, where)
	}
	tmp, sums, err := r.download(ctx, f)
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp)
	if want != "" && sums[algo] != want {
		return "", nil, &ChecksumError{URI: f.URI, Algorithm: algo, Want: want, Got: sums[algo], Source: f.URI}
	}
	// Keep it under its SHA-256 (and the SHA-512 it was asked by).
	final := filepath.Join(r.opts.CacheDir, "sha256:"+sums["sha256"])
	if err := os.Rename(tmp, final); err != nil {
		return "", nil, err
	}
	if algo == "sha512" {
		alias := filepath.Join(r.opts.CacheDir, "sha512:"+sums["sha512"])
		if err := os.Link(final, alias); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", nil, err
		}
	}
	return final, sums, nil
}

// fileSums returns the SHA-256 and SHA-512 of a file.
func fileSums(p string) (map[string]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h256, h512 := sha256.New(), sha512.New()
	if _, err := io.Copy(io.MultiWriter(h256, h512), f); err != nil {
		return nil, err
	}
	return sums(h256, h512), nil
}

func sums(h256, h512 hash.Hash) map[string]string {
	return map[string]string{"sha256": hex.EncodeToString(h256.Sum(nil)), "sha512": hex.EncodeToString(h512.Sum(nil))}
}

// download fetches f.URI into a temporary file in the cache directory,
// retrying f.RetryLimit times, and returns it with its checksums.
func (r *runner) download(ctx context.Context, f *Fetch) (string, map[string]string, error) {
	client := r.fetchClient(f)
	var lastErr error
	backoff := time.Second
	for attempt := 0; attempt <= f.RetryLimit; attempt++ {
		if attempt > 0 {
			r.log.Warn("fetch: retrying", "uri", f.URI, "attempt", attempt+1, "err", lastErr)
			select {
			case <-ctx.Done():
				return "", nil, ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		p, sums, retry, err := r.downloadOnce(ctx, client, f)
		if err == nil {
			return p, sums, nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return "", nil, fmt.Errorf("fetch %s: %w", f.URI, lastErr)
}

// fetchClient is the HTTP client of a fetch: DNSTimeout bounds
// connecting, Timeout waiting for the response and each read.
func (r *runner) fetchClient(f *Fetch) *http.Client {
	if r.opts.HTTP != nil {
		return r.opts.HTTP
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: time.Duration(f.DNSTimeout) * time.Second}).DialContext
	tr.ResponseHeaderTimeout = time.Duration(f.Timeout) * time.Second
	return &http.Client{Transport: tr}
}

func (r *runner) downloadOnce(ctx context.Context, client *http.Client, f *Fetch) (p string, s map[string]string, retry bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URI, nil)
	if err != nil {
		return "", nil, false, err
	}
	req.Header.Set("User-Agent", "reef")
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, true, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		retry := resp.StatusCode >= 500 || resp.StatusCode == 429 || resp.StatusCode == 408
		return "", nil, retry, fmt.Errorf("%s", resp.Status)
	}
	tmp, err := os.CreateTemp(r.opts.CacheDir, ".fetch-")
	if err != nil {
		return "", nil, false, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// A read that stalls for longer than the timeout ends the attempt.
	idle := time.Duration(f.Timeout) * time.Second
	timer := time.AfterFunc(idle, cancel)
	defer timer.Stop()
	body := &watchdog{r: resp.Body, t: timer, d: idle}
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(tmp, h256, h512), io.LimitReader(body, MaxFetchSize+1))
	if err != nil {
		return "", nil, true, err
	}
	if n > MaxFetchSize {
		return "", nil, false, fmt.Errorf("larger than %d bytes", int64(MaxFetchSize))
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", nil, true, fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if err := tmp.Close(); err != nil {
		return "", nil, false, err
	}
	r.log.Info("fetch: downloaded", "uri", f.URI, "bytes", n)
	return tmp.Name(), sums(h256, h512), false, nil
}

// watchdog resets a timer on every read.
type watchdog struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (w *watchdog) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.t.Reset(w.d)
	return n, err
}
