package oci

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// TarWriter writes a layer's tar stream with deterministic headers. It
// wraps archive/tar and, for every header:
//
//   - uses the PAX format (long names, big ids and xattrs as PAX records);
//   - cleans the name (and a hard link's target), strips a leading "/"
//     and rejects ".." components and the root itself; directories get a
//     trailing "/";
//   - truncates ModTime to whole seconds (zero means Unix 0) and drops AccessTime and
//     ChangeTime, which would otherwise leak the build time;
//   - keeps only the permission, setuid, setgid and sticky bits of Mode;
//   - clears the device numbers of non-device entries.
//
// Uname and Gname are written as given (empty is fine). Entry order is the
// caller's job: write entries sorted, parents first, as reef's assembler
// does.
type TarWriter struct {
	tw *tar.Writer
}

// NewTarWriter returns a TarWriter writing to w.
func NewTarWriter(w io.Writer) *TarWriter {
	return &TarWriter{tw: tar.NewWriter(w)}
}

// WriteHeader normalises a copy of h as described on TarWriter and starts
// a new entry. h itself is not modified.
func (t *TarWriter) WriteHeader(h *tar.Header) error {
	n := *h
	name, err := cleanName(n.Name)
	if err != nil {
		return err
	}
	if n.Typeflag == tar.TypeDir {
		name += "/"
	}
	n.Name = name
	if n.Typeflag == tar.TypeLink {
		// A hard link names another entry of the archive.
		if n.Linkname, err = cleanName(n.Linkname); err != nil {
			return err
		}
	}
	n.Format = tar.FormatPAX
	if n.ModTime.IsZero() {
		n.ModTime = time.Unix(0, 0)
	}
	n.ModTime = n.ModTime.Truncate(time.Second)
	n.AccessTime = time.Time{}
	n.ChangeTime = time.Time{}
	n.Mode &= 0o7777
	if n.Typeflag != tar.TypeChar && n.Typeflag != tar.TypeBlock {
		n.Devmajor, n.Devminor = 0, 0
	}
	return t.tw.WriteHeader(&n)
}

// cleanName returns the archive path of name: relative, cleaned, with no
// ".." component.
func cleanName(name string) (string, error) {
	s := strings.TrimLeft(name, "/")
	for _, c := range strings.Split(s, "/") {
		if c == ".." {
			return "", fmt.Errorf("tar: entry %q has a \"..\" component", name)
		}
	}
	s = path.Clean(s)
	if s == "." || s == "" {
		return "", fmt.Errorf("tar: entry %q names the root", name)
	}
	return s, nil
}

// Write writes the current entry's data.
func (t *TarWriter) Write(p []byte) (int, error) { return t.tw.Write(p) }

// ReadFrom copies the current entry's data from r.
func (t *TarWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(t.tw, r) }

// Flush finishes the current entry's padding.
func (t *TarWriter) Flush() error { return t.tw.Flush() }

// Close writes the end-of-archive marker. It does not close the
// underlying writer.
func (t *TarWriter) Close() error { return t.tw.Close() }
