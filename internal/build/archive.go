package build

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/ulikunitz/xz"
)

// Bounds on what one source archive may hold.
const (
	maxArchiveEntries = 1 << 21
	maxArchiveBytes   = 64 << 30
)

// extractArchive extracts the tar (plain, gzip, bzip2, xz or zstd) or zip
// archive at file into dest, dropping the first strip leading path
// components of every entry (entries with no more components are
// skipped, as GNU tar does). It returns the number of entries written.
//
// Extraction is safe for hostile archives: every file operation goes
// through dest (an os.Root), so neither "..", absolute names nor symlinks
// (already on disk or made by earlier entries) can lead outside it. Files
// get their archive's permission bits (without setuid, setgid and sticky)
// and modification times, and belong to the extracting user (tar's
// --no-same-owner). Device nodes and fifos are skipped.
func extractArchive(file string, dest *os.Root, strip int) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	magic, _ := br.Peek(512)
	x := &extractor{root: dest, strip: strip}
	switch {
	case bytes.HasPrefix(magic, []byte("PK\x03\x04")) || bytes.HasPrefix(magic, []byte("PK\x05\x06")):
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return 0, fmt.Errorf("zip: %w", err)
		}
		err = x.zip(zr)
		return x.n, err
	}
	var r io.Reader
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := pgzip.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		r = gz
	case bytes.HasPrefix(magic, []byte("BZh")):
		r = bzip2.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("xz: %w", err)
		}
		r = xr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	case len(magic) >= 262 && string(magic[257:262]) == "ustar":
		r = br
	default:
		return 0, errors.New("not a tar archive (plain, gzip, bzip2, xz or zstd) nor a zip archive; set extract: false to keep the file as it is")
	}
	err = x.tar(tar.NewReader(r))
	return x.n, err
}

// extractor writes archive entries into a root.
type extractor struct {
	root  *os.Root
	strip int
	n     int // entries written
	seen  int // entries read
	bytes int64
	// dirs are the directories made, with their times, set last.
	dirs []dirTime
}

type dirTime struct {
	name  string
	mtime time.Time
}

// name cleans an entry name and strips its leading components; ok is
// false for entries to skip.
func (x *extractor) name(raw string) (string, bool, error) {
	n := strings.TrimLeft(raw, "/")
	parts := strings.Split(n, "/")
	var clean []string
	for _, p := range parts {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", false, fmt.Errorf("entry %q: a path with \"..\" is refused", raw)
		}
		clean = append(clean, p)
	}
	if len(clean) <= x.strip {
		return "", false, nil
	}
	return strings.Join(clean[x.strip:], "/"), true, nil
}

func (x *extractor) count(size int64) error {
	x.seen++
	x.bytes += max(size, 0)
	if x.seen > maxArchiveEntries {
		return fmt.Errorf("more than %d entries", maxArchiveEntries)
	}
	if x.bytes > maxArchiveBytes {
		return fmt.Errorf("more than %d bytes", int64(maxArchiveBytes))
	}
	return nil
}

func (x *extractor) tar(tr *tar.Reader) error {
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, ok, err := x.name(hdr.Name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := x.count(hdr.Size); err != nil {
			return err
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = x.dir(name, mode, hdr.ModTime)
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
			err = x.file(name, mode, hdr.ModTime, tr)
		case tar.TypeSymlink:
			err = x.symlink(name, hdr.Linkname)
		case tar.TypeLink:
			target, ok, lerr := x.name(hdr.Linkname)
			if lerr != nil {
				return lerr
			}
			if !ok {
				return fmt.Errorf("entry %q: hard link to %q, which strip-components removes", hdr.Name, hdr.Linkname)
			}
			err = x.link(name, target)
		default:
			continue // devices, fifos: a source archive has no business with them
		}
		if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		x.n++
	}
	return x.finish()
}

func (x *extractor) zip(zr *zip.Reader) error {
	for _, zf := range zr.File {
		name, ok, err := x.name(zf.Name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := x.count(int64(zf.UncompressedSize64)); err != nil {
			return err
		}
		m := zf.Mode()
		perm := m.Perm()
		if perm == 0 {
			perm = 0o644
			if m.IsDir() {
				perm = 0o755
			}
		}
		switch {
		case m.IsDir() || strings.HasSuffix(zf.Name, "/"):
			err = x.dir(name, perm, zf.Modified)
		case m&fs.ModeSymlink != 0:
			rc, oerr := zf.Open()
			if oerr != nil {
				return oerr
			}
			target, rerr := io.ReadAll(io.LimitReader(rc, 4096))
			rc.Close()
			if rerr != nil {
				return rerr
			}
			err = x.symlink(name, string(target))
		case m.IsRegular():
			rc, oerr := zf.Open()
			if oerr != nil {
				return fmt.Errorf("entry %q: %w", zf.Name, oerr)
			}
			err = x.file(name, perm, zf.Modified, rc)
			rc.Close()
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("entry %q: %w", zf.Name, err)
		}
		x.n++
	}
	return x.finish()
}

// parent makes the parent directories of name.
func (x *extractor) parent(name string) error {
	if d := path.Dir(name); d != "." {
		return x.root.MkdirAll(d, 0o755)
	}
	return nil
}

// clear removes what is at name unless it is a directory and keep is
// set, so that an archive's later entry replaces an earlier one.
func (x *extractor) clear(name string, keepDir bool) error {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if keepDir {
			return nil
		}
		return x.root.RemoveAll(name)
	}
	return x.root.Remove(name)
}

func (x *extractor) dir(name string, mode fs.FileMode, mtime time.Time) error {
	if err := x.parent(name); err != nil {
		return err
	}
	if err := x.clear(name, true); err != nil {
		return err
	}
	if err := x.root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	// Directories stay writable (for the owner) until the end, so that
	// their contents can be written.
	if err := x.root.Chmod(name, mode|0o700); err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirTime{name: name, mtime: mtime})
	return nil
}

func (x *extractor) file(name string, mode fs.FileMode, mtime time.Time, r io.Reader) error {
	if err := x.parent(name); err != nil {
		return err
	}
	if err := x.clear(name, false); err != nil {
		return err
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return x.root.Chtimes(name, mtime, mtime)
}

func (x *extractor) symlink(name, target string) error {
	if err := x.parent(name); err != nil {
		return err
	}
	if err := x.clear(name, false); err != nil {
		return err
	}
	return x.root.Symlink(target, name)
}

func (x *extractor) link(name, target string) error {
	fi, err := x.root.Lstat(target)
	if err != nil {
		return fmt.Errorf("hard link to %s: %w", target, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("hard link to %s, which is not a regular file", target)
	}
	if err := x.parent(name); err != nil {
		return err
	}
	if err := x.clear(name, false); err != nil {
		return err
	}
	return x.root.Link(target, name)
}

// finish sets the directories' times, deepest first.
func (x *extractor) finish() error {
	slices.Reverse(x.dirs)
	for _, d := range x.dirs {
		if err := x.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}
