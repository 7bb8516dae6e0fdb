package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/repo"
)

// maxKeySize bounds a public key.
const maxKeySize = 64 << 10

// source gets what a build needs from repositories: indexes and packages
// through a repo.Fetcher (verified, cached), and keys.
type source struct {
	f *repo.Fetcher
}

// errNoIndex reports a repository without an index for an architecture.
var errNoIndex = errors.New("no index for this architecture")

// loadIndex reads the index of r for arch, verified with the keyring.
// A local repository directory that does not exist is an error; one
// without an index for arch, or a remote one answering 404, gives
// errNoIndex.
func (s *source) loadIndex(ctx context.Context, r repo.Repository, arch string) (*repo.Index, error) {
	if dir, ok := r.LocalPath(); ok {
		st, err := os.Stat(dir)
		if err == nil && !st.IsDir() {
			err = errors.New("not a directory")
		}
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", r.URL, err)
		}
		if _, err := os.Stat(r.IndexURL(arch)); errors.Is(err, fs.ErrNotExist) {
			return nil, errNoIndex
		}
	}
	ri, err := s.f.FetchIndex(ctx, r, arch)
	if err != nil {
		var he *repo.HTTPError
		if errors.As(err, &he) && (he.Code == http.StatusNotFound || he.Code == http.StatusForbidden) {
			return nil, errNoIndex
		}
		if r.IsRemote() && !errors.Is(err, repo.ErrOffline) && he == nil {
			return nil, fmt.Errorf("repository %s is unreachable (%s index): %w", r.URL, arch, err)
		}
		return nil, err
	}
	return ri.Index, nil
}

// openPackage opens a package: a local repository's file directly (the
// installer checks it against its record as it reads it), a remote one
// through the fetcher's verified cache.
func (s *source) openPackage(ctx context.Context, p *resolvedPkg) (io.ReadCloser, error) {
	if !p.ref.Repo.IsRemote() || p.ref.Package == nil {
		return os.Open(strings.TrimPrefix(p.loc, "file://"))
	}
	path, err := s.f.FetchPackage(ctx, p.ref)
	if err != nil {
		return nil, err
	}
	return os.Open(path)
}

// fetchRemote downloads the remote packages of pkgs into the cache in
// parallel, so that installing them does not wait on the network.
func (s *source) fetchRemote(ctx context.Context, pkgs []resolvedPkg) error {
	var refs []repo.PackageRef
	for _, p := range pkgs {
		if p.ref.Package != nil && p.ref.Repo.IsRemote() {
			refs = append(refs, p.ref)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	_, err := s.f.FetchPackages(ctx, refs)
	return err
}

// readKey reads a public key from a path or URL. Downloaded keys are kept
// in the cache directory, so that offline builds find them.
func (s *source) readKey(ctx context.Context, loc string) ([]byte, error) {
	if !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
		p := strings.TrimPrefix(loc, "file://")
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		if st.Size() > maxKeySize {
			return nil, fmt.Errorf("key %s: larger than %d bytes", p, maxKeySize)
		}
		return os.ReadFile(p)
	}
	var cached string
	if s.f.CacheDir != "" {
		sum := sha256.Sum256([]byte(loc))
		cached = filepath.Join(s.f.CacheDir, "keys", hex.EncodeToString(sum[:8])+"-"+keyName(loc))
		if data, err := os.ReadFile(cached); err == nil {
			return data, nil
		}
	}
	if s.f.Offline {
		return nil, fmt.Errorf("key %s: %w: not in the cache", loc, repo.ErrOffline)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", loc, err)
	}
	req.Header.Set("User-Agent", "reef")
	c := s.f.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", loc, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("key %s: %s", loc, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", loc, err)
	}
	if len(data) > maxKeySize {
		return nil, fmt.Errorf("key %s: larger than %d bytes", loc, maxKeySize)
	}
	if cached != "" {
		if err := os.MkdirAll(filepath.Dir(cached), 0o755); err == nil {
			fsutil.WriteFileAtomic(cached, data, 0o644)
		}
	}
	return data, nil
}

// keyName is the file name a key is trusted and installed under.
func keyName(loc string) string {
	if i := strings.LastIndexByte(loc, '/'); i >= 0 && strings.Contains(loc, "://") {
		return loc[i+1:]
	}
	return filepath.Base(loc)
}

// lockedRef turns a locked package into a fetch reference: a record with
// what the lock knows (the fetcher checks identity and datahash), and
// the repository the URL is in ("<repo>/<arch>/<name>-<version>.apk").
func lockedRef(lp *LockPackage, loc string) (repo.PackageRef, error) {
	p := &repo.Package{Name: lp.Name, Version: lp.Version, Arch: lp.Architecture, Checksum: lp.Checksum}
	suffix := "/" + lp.Architecture + "/" + p.Filename()
	if !strings.HasSuffix(loc, suffix) {
		return repo.PackageRef{}, fmt.Errorf("locked package URL %s does not end in %s", loc, suffix)
	}
	return repo.PackageRef{Package: p, Repo: repo.Repository{URL: strings.TrimSuffix(loc, suffix)}, Arch: lp.Architecture}, nil
}
