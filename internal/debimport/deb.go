package debimport

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Bounds on what a .deb may make us read. Untrusted archives must fail with
// an error, not exhaust memory or disk.
const (
	maxControlTar   = 64 << 20 // uncompressed control.tar
	maxControlFiles = 10000    // entries of control.tar
	maxDataTar      = 64 << 30 // uncompressed data.tar
	maxDataEntries  = 1 << 20  // entries of data.tar
	maxFileSize     = 1<<32 - 1
	maxPathLen      = 4096
	// maxDictSize bounds the dictionary (window) an xz or zstd stream may
	// ask for; xz -9 and zstd --ultra -22 use 64 and 128 MiB.
	maxDictSize = 128 << 20
)

// debFile is a .deb being read: the ar archive has been read up to the
// data member, whose content is not consumed yet.
type debFile struct {
	ar         *arReader
	control    *Paragraph
	controlRaw []byte
	// controlFiles are the names of the control.tar members other than
	// control itself and md5sums, sorted: maintainer scripts, conffiles,
	// triggers, shlibs, ...
	controlFiles []string
	controlMTime int64 // newest mtime in control.tar
	data         *arHeader
}

// sectionError is an error about one part of a .deb; Import wraps it into
// an *Error naming the file.
type sectionError struct {
	section string // "ar", "debian-binary", "control", "data", ...
	err     error
}

func (e *sectionError) Error() string { return e.section + ": " + e.err.Error() }
func (e *sectionError) Unwrap() error { return e.err }

func sectionErr(section string, format string, args ...any) error {
	return &sectionError{section, fmt.Errorf(format, args...)}
}

// readDeb reads a .deb from r up to its data member: the ar archive's
// debian-binary member (which must say 2.x), the control.tar member (whose
// control file it parses) and the header of the data.tar member. Members
// whose names start with "_" (such as signatures) are skipped, as dpkg
// does.
func readDeb(r io.Reader) (*debFile, error) {
	d := &debFile{ar: newArReader(r)}
	next := func(want string) (*arHeader, error) {
		for {
			h, err := d.ar.Next()
			if err == io.EOF {
				return nil, sectionErr("ar", "no %s member (not a complete Debian package)", want)
			}
			if err != nil {
				return nil, &sectionError{"ar", err}
			}
			if !strings.HasPrefix(h.Name, "_") {
				return h, nil
			}
		}
	}
	h, err := next("debian-binary")
	if err != nil {
		return nil, err
	}
	if h.Name != "debian-binary" {
		return nil, sectionErr("ar", "first member is %q, want debian-binary (not a Debian package)", h.Name)
	}
	if h.Size > 64 {
		return nil, sectionErr("debian-binary", "%d bytes, want a short version line", h.Size)
	}
	b, err := io.ReadAll(d.ar)
	if err != nil {
		return nil, &sectionError{"debian-binary", err}
	}
	fv := strings.TrimSpace(string(b))
	if major, _, _ := strings.Cut(fv, "."); major != "2" || !strings.HasSuffix(string(b), "\n") {
		return nil, sectionErr("debian-binary", "format version %q is not supported (want 2.0)", clip(fv, 20))
	}

	h, err = next("control.tar")
	if err != nil {
		return nil, err
	}
	if _, ok := tarCompression(h.Name, "control.tar"); !ok {
		return nil, sectionErr("ar", "member %q where control.tar{,.gz,.xz,.zst,.bz2} was expected", h.Name)
	}
	if err := d.readControlTar(h); err != nil {
		return nil, err
	}

	h, err = next("data.tar")
	if err != nil {
		return nil, err
	}
	if _, ok := tarCompression(h.Name, "data.tar"); !ok {
		return nil, sectionErr("ar", "member %q where data.tar{,.gz,.xz,.zst,.bz2} was expected", h.Name)
	}
	d.data = h
	return d, nil
}

// tarCompression returns the compression suffix of a member named
// base+suffix ("" for none) and whether the suffix is one we read.
func tarCompression(name, base string) (string, bool) {
	suffix, ok := strings.CutPrefix(name, base)
	if !ok {
		return "", false
	}
	switch suffix {
	case "", ".gz", ".xz", ".zst", ".bz2":
		return suffix, true
	}
	return suffix, false
}

// decompressor returns a reader for the decompressed content of r, a
// member compressed as suffix says, and a function that releases it.
func decompressor(r io.Reader, suffix string) (io.Reader, func(), error) {
	noop := func() {}
	switch suffix {
	case "":
		return r, noop, nil
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case ".xz":
		br := bufio.NewReaderSize(r, 4096)
		if err := checkXZ(br); err != nil {
			return nil, nil, err
		}
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("xz: %w", err)
		}
		return zr, noop, nil
	case ".zst":
		zr, err := zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxDictSize),
			zstd.WithDecoderMaxMemory(maxDataTar))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	case ".bz2":
		return bzip2.NewReader(r), noop, nil
	}
	return nil, nil, fmt.Errorf("unsupported compression %q", suffix)
}

// checkXZ looks at the first block header of an xz stream and refuses a
// dictionary over maxDictSize, which the xz package would allocate in
// full. (Later blocks of one stream use the same settings in practice.)
func checkXZ(br *bufio.Reader) error {
	b, _ := br.Peek(12 + 16)
	if len(b) < 12+3 || !bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")) {
		return nil // let the xz package report the format error
	}
	blk := b[12:]
	if blk[0] == 0 {
		return nil // index: an empty stream
	}
	flags := blk[1]
	i := 2
	skipVarint := func() bool {
		for ; i < len(blk); i++ {
			if blk[i]&0x80 == 0 {
				i++
				return true
			}
		}
		return false
	}
	if flags&0x40 != 0 && !skipVarint() {
		return nil
	}
	if flags&0x80 != 0 && !skipVarint() {
		return nil
	}
	// Filter flags: ID 0x21 (LZMA2), properties size 1, dictionary code.
	if i+2 < len(blk) && blk[i] == 0x21 && blk[i+1] == 1 {
		c := blk[i+2]
		if c > 40 {
			return fmt.Errorf("xz: invalid LZMA2 dictionary size code %d", c)
		}
		size := int64(2|c&1) << (c/2 + 11)
		if c == 40 {
			size = 1<<32 - 1
		}
		if size > maxDictSize {
			return fmt.Errorf("xz: dictionary of %d MiB is over the limit of %d MiB", size>>20, maxDictSize>>20)
		}
	}
	return nil
}

// limitReader reads at most n bytes from r and then fails with err if r
// has more.
type limitReader struct {
	r   io.Reader
	n   int64 // bytes left
	err error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Only an error if there is more to read.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, l.err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// readControlTar reads the control.tar member: the control file is parsed,
// the names of the other files are kept.
func (d *debFile) readControlTar(h *arHeader) error {
	suffix, _ := tarCompression(h.Name, "control.tar")
	zr, release, err := decompressor(d.ar, suffix)
	if err != nil {
		return &sectionError{h.Name, err}
	}
	defer release()
	lr := &limitReader{r: zr, n: maxControlTar, err: fmt.Errorf("over %d MiB uncompressed", maxControlTar>>20)}
	tr := tar.NewReader(lr)
	seen := map[string]bool{}
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return &sectionError{h.Name, tarError(err)}
		}
		if n >= maxControlFiles {
			return sectionErr(h.Name, "more than %d entries", maxControlFiles)
		}
		if m := hdr.ModTime.Unix(); m > d.controlMTime {
			d.controlMTime = m
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		name = strings.TrimSuffix(name, "/")
		if hdr.Typeflag == tar.TypeDir && (name == "" || name == ".") {
			continue
		}
		if name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
			return sectionErr(h.Name, "unexpected entry %q (control files live at the top level)", clip(hdr.Name, 80))
		}
		if seen[name] {
			return sectionErr(h.Name, "duplicate entry %q", name)
		}
		seen[name] = true
		switch name {
		case "control":
			if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
				return sectionErr(h.Name, "control is not a regular file")
			}
			if hdr.Size > maxControlSize {
				return sectionErr(h.Name, "control file is %d bytes, over the limit of %d", hdr.Size, maxControlSize)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return &sectionError{h.Name, tarError(err)}
			}
			d.controlRaw = b
		case "md5sums":
		default:
			d.controlFiles = append(d.controlFiles, name)
		}
	}
	if d.controlRaw == nil {
		return sectionErr(h.Name, "no control file")
	}
	// Read to the end of the compressed stream so that its checksum is
	// verified and the ar reader is at the member end.
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return &sectionError{h.Name, err}
	}
	p, err := ParseControl(d.controlRaw)
	if err != nil {
		return &sectionError{"control", err}
	}
	d.control = p
	sort.Strings(d.controlFiles)
	return nil
}

// tarError rewords archive/tar's terse errors.
func tarError(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected end of tar stream (truncated)")
	case errors.Is(err, tar.ErrHeader):
		return fmt.Errorf("corrupt tar header: %w", err)
	}
	return err
}

// cleanPath turns a data.tar entry name ("./usr/bin/x") into the path apk
// stores ("usr/bin/x"). It returns "" for the root directory and an error
// for an absolute path, a "..", "." or empty component, a control
// character or an over-long name: such an entry could write outside the
// package root or is not a path apk accepts.
func cleanPath(name string) (string, error) {
	if len(name) > maxPathLen {
		return "", fmt.Errorf("path of %d bytes is over the limit of %d", len(name), maxPathLen)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("absolute path %q", clip(name, 200))
	}
	p := strings.TrimPrefix(name, "./")
	p = strings.TrimSuffix(p, "/")
	if p == "" || p == "." {
		return "", nil
	}
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "..":
			return "", fmt.Errorf("path %q leaves the package root (\"..\")", clip(name, 200))
		case "", ".":
			return "", fmt.Errorf("path %q is not clean (empty or \".\" component)", clip(name, 200))
		}
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("path %q contains control character %#x", clip(name, 200), c)
		}
	}
	if path.Clean(p) != p {
		return "", fmt.Errorf("path %q is not clean", clip(name, 200))
	}
	return p, nil
}
