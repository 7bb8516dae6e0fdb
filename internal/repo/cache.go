package repo

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// identityHex returns the SHA-1 an index identity (C:) names, as 40
// lowercase hex digits: the cache key of a package. It accepts "Q1" +
// base64 and the legacy "X1" + hex; the older MD5 form cannot be checked.
func identityHex(c string) (string, error) {
	switch {
	case strings.HasPrefix(c, "Q1"):
		b, err := base64.StdEncoding.DecodeString(c[2:])
		if err == nil && len(b) == 20 {
			return hex.EncodeToString(b), nil
		}
	case strings.HasPrefix(c, "X1"):
		b, err := hex.DecodeString(c[2:])
		if err == nil && len(b) == 20 {
			return hex.EncodeToString(b), nil
		}
	case len(c) == 32:
		return "", fmt.Errorf("identity %q is a legacy MD5 checksum, which cannot be checked; rebuild the index", c)
	case c == "":
		return "", errors.New("the index record has no identity (C:); rebuild the index")
	}
	return "", fmt.Errorf("malformed identity %q: want Q1 + base64 SHA-1", c)
}

// packageCachePath is where the package with the given identity (hex) is
// cached: content-addressed, so one file serves every repository that
// has the package.
func (f *Fetcher) packageCachePath(idHex string) string {
	return filepath.Join(f.CacheDir, idHex+".apk")
}

// indexCachePath is where the index downloaded from src is cached, ""
// without a cache directory. As apk names them, APKINDEX.<hash>.tar.gz,
// the hash being of the URL.
func (f *Fetcher) indexCachePath(src string) string {
	if f.CacheDir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(src))
	return filepath.Join(f.CacheDir, "APKINDEX."+hex.EncodeToString(sum[:8])+".tar.gz")
}

// lockPart opens final+".part", the download in progress, and takes an
// exclusive lock on it, so that one fetch at a time (in this process or
// another) writes it. It returns nil when final appeared while it waited.
// Closing the file releases the lock.
func lockPart(ctx context.Context, final string) (*os.File, error) {
	part := final + ".part"
	for {
		pf, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := flockContext(ctx, pf); err != nil {
			pf.Close()
			return nil, err
		}
		if _, err := os.Stat(final); err == nil {
			pf.Close()
			return nil, nil
		}
		// The holder before us may have renamed the file we opened into
		// place; then start over with a new one.
		st, err1 := pf.Stat()
		cur, err2 := os.Stat(part)
		if err1 == nil && err2 == nil && os.SameFile(st, cur) {
			return pf, nil
		}
		pf.Close()
	}
}

// flockContext takes an exclusive flock on f, polling so that ctx can
// cancel the wait.
func flockContext(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
