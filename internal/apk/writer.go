package apk

import (
	"archive/tar"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// WriteOptions controls how packages and data members are written. The
// zero value writes an unsigned package with every timestamp at the Unix
// epoch.
type WriteOptions struct {
	// SourceDateEpoch is the modification time, in Unix seconds, of every
	// entry written (signature, control and data), as SOURCE_DATE_EPOCH.
	SourceDateEpoch int64
	// Signer signs the control member; nil writes an unsigned package.
	Signer *Signer
	// KeepOwners makes AddDir record the owners found on disk; by default
	// every file it adds is owned by root (uid/gid 0), as abuild's fakeroot
	// build gives. Add always keeps the owners of the header it is given.
	KeepOwners bool
	// Xattrs makes AddDir record the extended attributes found on disk
	// (as SCHILY.xattr.* PAX records).
	Xattrs bool
	// CompressionLevel is the gzip level, 1 (fastest) to 9 (smallest);
	// 0 means DefaultCompressionLevel. The same level always gives the
	// same bytes.
	CompressionLevel int
	// TempDir is where WritePackage spools the data member and DataWriter
	// spools large file bodies; "" means os.TempDir().
	TempDir string
}

// DefaultCompressionLevel is the gzip level used when
// WriteOptions.CompressionLevel is 0.
const DefaultCompressionLevel = 9

// spoolMemLimit is the largest file body DataWriter.Add keeps in memory
// while computing its checksum; larger bodies go to a temporary file.
const spoolMemLimit = 4 << 20

// A DataWriter writes the data member of a package: a gzip-compressed
// POSIX (PAX) tar stream in apk's dialect (apk-format.md §1.2–1.3).
//
// Entries are written in the order they are added. Every entry's parent
// directory must have been added before it. Each regular file and symlink
// is preceded by a PAX header holding APK-TOOLS.checksum.SHA1, regular
// files use typeflag '0', modes are masked with 07777, every mtime is
// WriteOptions.SourceDateEpoch, and uid/gid 0 get the names "root".
//
// The output is a single gzip member with a fixed header (no name, mtime
// 0) at a fixed level, so the same entries always give the same bytes.
type DataWriter struct {
	st dataWriterState
}

// NewDataWriter returns a DataWriter writing a data member to w. Close
// must be called to finish it.
func NewDataWriter(w io.Writer, opts WriteOptions) *DataWriter {
	return newDataWriter(w, opts)
}

// Add writes one entry. hdr.Name is the path inside the package; a leading
// "/" or "./" and a trailing "/" are removed, and the result must be a
// clean relative path ("a/b", no "..", ".", empty or control-character
// components) whose parent directory was added earlier.
//
// For a regular file (TypeReg, or the legacy TypeRegA which is written as
// TypeReg) body supplies exactly hdr.Size bytes; it is spooled (in memory
// up to a few MiB, in a temporary file beyond) to compute the checksum
// that precedes it. For a hard link (TypeLink) hdr.Linkname is the path of
// a regular file added earlier, with the same normalisation as names. Other
// types ignore body, which may be nil.
//
// hdr is not modified. Its Uid, Gid, Uname, Gname, Mode, Devmajor and
// Devminor are kept (Mode masked with 07777; Uname/Gname default to "root"
// for id 0); its times are replaced by SourceDateEpoch; PAX records other
// than SCHILY.xattr.* (and the Xattrs field) are dropped.
func (w *DataWriter) Add(hdr *tar.Header, body io.Reader) error { return w.add(hdr, body) }

// AddDir adds the tree under root (not root itself), walking it in
// byte-wise sorted order so that each directory comes before its contents.
// It uses Lstat and never follows symlinks; a second path to an inode
// already added becomes a hard link; sockets and other unsupported types are
// an error. Owners and xattrs follow WriteOptions.KeepOwners and Xattrs.
//
// Entries already added with Add may be present: directories that exist
// both ways are written once.
func (w *DataWriter) AddDir(root string) error { return w.addDir(root) }

// Close writes the end-of-archive blocks and finishes the gzip member. It
// does not close the underlying writer.
func (w *DataWriter) Close() error { return w.close() }

// InstalledSize returns the sum of the sizes of the regular files added so
// far, hard links counted once: .PKGINFO's size.
func (w *DataWriter) InstalledSize() uint64 { return w.st.installed }

// Entries returns the number of entries written so far.
func (w *DataWriter) Entries() int { return w.st.entries }

// DataHash returns the hex SHA-256 of the compressed data member, valid
// after Close.
func (w *DataWriter) DataHash() string { return w.st.dataHash }

// Size returns the number of compressed bytes written, final after Close.
func (w *DataWriter) Size() int64 { return w.st.cw.n }

// WriteResult describes a package written by WritePackage.
type WriteResult struct {
	Identity      string // "Q1" + base64(SHA-1(control member)): the index C: field
	DataHash      string // hex SHA-256 of the data member
	Size          int64  // bytes written: the .apk file size (index S: field)
	InstalledSize uint64 // .PKGINFO size
	Entries       int    // number of data entries
}

// WritePackage writes a complete package to w: the signature member (if
// opts.Signer is set), the control member and the data member.
//
// fill adds the data entries to the DataWriter it is given (it must not
// Close it). The data member is spooled to a temporary file so that its
// SHA-256 can go into .PKGINFO before the control member is written.
// WritePackage sets info.DataHash and info.Size (the installed size,
// forced to at least 1 when the package has entries or scripts, since
// apk-tools v2 treats size 0 as a meta package and installs nothing); the
// other fields of info are written as given.
//
// The control member holds .PKGINFO, then scripts sorted by name, then
// extra in the order given; entry names must be top-level dot-files. The
// signature (RSA PKCS#1 v1.5 over the control member, by opts.Signer) goes in
// an entry .SIGN.<Alg>.<KeyName>. Neither member has end-of-archive
// blocks. The output depends only on the inputs: the same inputs (and key)
// give the same bytes.
//
// If an error is returned, part of the package may have been written to w;
// callers write to a temporary file and rename it (fsutil.WriteAtomic).
func WritePackage(w io.Writer, info *PkgInfo, scripts []Script, extra []ControlFile, fill func(dw *DataWriter) error, opts WriteOptions) (*WriteResult, error) {
	return writePackage(w, info, scripts, extra, fill, opts)
}

// Resign copies the package in to out with its signature member(s)
// replaced by one signature made by s. The signature entry's mtime is that
// of .PKGINFO. The control and data members are copied byte
// for byte, so the identity and datahash do not change. The
// control member is checked to be a well-formed one (within default
// limits); the data member is copied without being decompressed.
func Resign(in io.Reader, out io.Writer, s *Signer) error { return resign(in, out, s) }

// countWriter counts and hashes what is written through it.
type countWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.h != nil {
		c.h.Write(p[:n])
	}
	return n, err
}

// dataWriterState is the DataWriter's state.
type dataWriterState struct {
	opts      WriteOptions
	cw        countWriter
	gz        *gzip.Writer
	tw        *tar.Writer
	names     map[string]byte      // entry name → typeflag
	inodes    map[[2]uint64]string // (dev, inode) → first path, for AddDir
	installed uint64
	entries   int
	dataHash  string
	spool     *os.File // reused temporary file for large bodies
	buf       []byte
	closed    bool
	err       error // sticky write error
}

func newDataWriter(w io.Writer, opts WriteOptions) *DataWriter {
	dw := &DataWriter{}
	st := &dw.st
	st.opts = opts
	st.cw = countWriter{w: w, h: sha256.New()}
	st.gz, st.err = newGzipWriter(&st.cw, opts.CompressionLevel)
	st.tw = tar.NewWriter(st.gz)
	st.names = make(map[string]byte)
	return dw
}

// newGzipWriter returns a gzip writer with a fixed header: no name, no
// comment, mtime 0, OS 255 (unknown).
func newGzipWriter(w io.Writer, level int) (*gzip.Writer, error) {
	if level == 0 {
		level = DefaultCompressionLevel
	}
	if level < 1 || level > 9 {
		return nil, fmt.Errorf("gzip compression level %d: want 1 to 9", level)
	}
	gz, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, err
	}
	gz.Header = gzip.Header{ModTime: time.Unix(0, 0), OS: 255}
	return gz, nil
}

// maxID is the largest uid/gid a ustar header holds in octal; apk ignores
// the PAX uid/gid records that would be needed beyond it.
const maxID = 0o7777777

// maxApkFileSize is the size limit of apk-tools v2, which keeps sizes in 32
// bits.
const maxApkFileSize = 1<<32 - 1

// normName normalises an entry name or hard link target given to Add.
func normName(name string) string {
	for {
		switch {
		case strings.HasPrefix(name, "/"):
			name = name[1:]
		case strings.HasPrefix(name, "./"):
			name = name[2:]
		default:
			return name
		}
	}
}

func (w *DataWriter) add(h *tar.Header, body io.Reader) error {
	st := &w.st
	if st.err != nil {
		return st.err
	}
	if st.closed {
		return errors.New("apk: DataWriter.Add after Close")
	}
	if h == nil {
		return errors.New("apk: DataWriter.Add: nil header")
	}
	name := normName(h.Name)
	typ := h.Typeflag
	if typ == tar.TypeRegA || typ == tar.TypeCont {
		typ = tar.TypeReg
	}
	if typ == tar.TypeDir {
		name = strings.TrimRight(name, "/")
	}
	if err := checkPath(name); err != nil {
		return fmt.Errorf("apk: add %q: %v", h.Name, err)
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("apk: add %q: %s", name, fmt.Sprintf(format, a...))
	}
	if _, dup := st.names[name]; dup {
		return fail("duplicate entry")
	}
	if dir := path.Dir(name); dir != "." && st.names[dir] != tar.TypeDir {
		return fail("parent directory %q has not been added before it (add directories before their contents)", dir)
	}
	if h.Uid < 0 || h.Uid > maxID || h.Gid < 0 || h.Gid > maxID {
		return fail("uid/gid %d/%d out of range 0..%d (apk reads only the octal header fields)", h.Uid, h.Gid, maxID)
	}
	hdr := &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     h.Mode & 0o7777,
		Uid:      h.Uid,
		Gid:      h.Gid,
		Uname:    h.Uname,
		Gname:    h.Gname,
		ModTime:  time.Unix(st.opts.SourceDateEpoch, 0),
		Format:   tar.FormatPAX,
	}
	if hdr.Uname == "" && hdr.Uid == 0 {
		hdr.Uname = "root"
	}
	if hdr.Gname == "" && hdr.Gid == 0 {
		hdr.Gname = "root"
	}
	pax := map[string]string{}
	for k, v := range h.PAXRecords {
		if strings.HasPrefix(k, xattrPAXPrefix) {
			pax[k] = v
		}
	}
	for k, v := range h.Xattrs { //nolint:staticcheck // still honoured
		pax[xattrPAXPrefix+k] = v
	}
	var sum string
	switch typ {
	case tar.TypeReg:
		if h.Size < 0 || h.Size > maxApkFileSize {
			return fail("size %d: apk-tools v2 cannot handle files of 4 GiB or more", h.Size)
		}
		hdr.Size = h.Size
		if body == nil {
			if h.Size != 0 {
				return fail("nil body for a file of %d bytes", h.Size)
			}
			body = strings.NewReader("")
		}
		var err error
		body, sum, err = w.spool(body, h.Size)
		if err != nil {
			return fail("%v", err)
		}
		pax[ChecksumPAXKey] = sum
	case tar.TypeSymlink:
		if h.Linkname == "" {
			return fail("symlink with an empty target")
		}
		hdr.Linkname = h.Linkname
		s := sha1.Sum([]byte(h.Linkname))
		pax[ChecksumPAXKey] = hex.EncodeToString(s[:])
	case tar.TypeLink:
		target := normName(h.Linkname)
		if err := checkPath(target); err != nil {
			return fail("hard link target %q: %v", h.Linkname, err)
		}
		if t, ok := st.names[target]; !ok || t != tar.TypeReg {
			return fail("hard link target %q is not a regular file added earlier", target)
		}
		hdr.Linkname = target
	case tar.TypeChar, tar.TypeBlock:
		hdr.Devmajor, hdr.Devminor = h.Devmajor, h.Devminor
	case tar.TypeDir, tar.TypeFifo:
	default:
		return fail("unsupported entry type %q", typ)
	}
	if len(pax) > 0 {
		hdr.PAXRecords = pax
	}
	if err := st.tw.WriteHeader(hdr); err != nil {
		st.err = fmt.Errorf("apk: write %q: %w", name, err)
		return st.err
	}
	if typ == tar.TypeReg {
		n, err := io.CopyBuffer(st.tw, body, w.copyBuf())
		if err == nil && n != hdr.Size {
			err = fmt.Errorf("body changed while being written: %d bytes, want %d", n, hdr.Size)
		}
		if err != nil {
			st.err = fmt.Errorf("apk: write %q: %w", name, err)
			return st.err
		}
		st.installed += uint64(hdr.Size)
	}
	st.names[name] = typ
	st.entries++
	return nil
}

func (w *DataWriter) copyBuf() []byte {
	if w.st.buf == nil {
		w.st.buf = make([]byte, 64<<10)
	}
	return w.st.buf
}

// spool reads exactly size bytes from body and returns a reader that
// replays them, with their hex SHA-1. A body that is an io.ReadSeeker
// (such as an *os.File) is read twice instead of being copied.
func (w *DataWriter) spool(body io.Reader, size int64) (io.Reader, string, error) {
	h := sha1.New()
	short := func(n int64) error {
		return fmt.Errorf("body has %d bytes, header says %d", n, size)
	}
	if rs, ok := body.(io.ReadSeeker); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err == nil {
			n, err := io.CopyBuffer(h, io.LimitReader(rs, size), w.copyBuf())
			if err != nil {
				return nil, "", err
			}
			if n != size {
				return nil, "", short(n)
			}
			if err := expectEOF(rs, size); err != nil {
				return nil, "", err
			}
			if _, err := rs.Seek(start, io.SeekStart); err != nil {
				return nil, "", err
			}
			return io.LimitReader(rs, size), hex.EncodeToString(h.Sum(nil)), nil
		}
	}
	if size <= spoolMemLimit {
		b := make([]byte, size)
		n, err := io.ReadFull(body, b)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, "", short(int64(n))
		}
		if err != nil {
			return nil, "", err
		}
		if err := expectEOF(body, size); err != nil {
			return nil, "", err
		}
		h.Write(b)
		return bytes.NewReader(b), hex.EncodeToString(h.Sum(nil)), nil
	}
	st := &w.st
	if st.spool == nil {
		f, err := os.CreateTemp(st.opts.TempDir, "reef-spool-*")
		if err != nil {
			return nil, "", err
		}
		os.Remove(f.Name()) // unlinked: vanishes when closed
		st.spool = f
	}
	f := st.spool
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, "", err
	}
	if err := f.Truncate(0); err != nil {
		return nil, "", err
	}
	n, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(body, size), w.copyBuf())
	if err != nil {
		return nil, "", err
	}
	if n != size {
		return nil, "", short(n)
	}
	if err := expectEOF(body, size); err != nil {
		return nil, "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, "", err
	}
	return io.LimitReader(f, size), hex.EncodeToString(h.Sum(nil)), nil
}

// expectEOF checks that r has no more bytes after the size it was said to
// have.
func expectEOF(r io.Reader, size int64) error {
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return fmt.Errorf("body is longer than the header size %d", size)
	}
	if err != io.EOF {
		return err
	}
	return nil
}

func (w *DataWriter) close() error {
	st := &w.st
	if st.closed {
		return st.err
	}
	st.closed = true
	if st.spool != nil {
		st.spool.Close()
		st.spool = nil
	}
	if st.err != nil {
		return st.err
	}
	if err := st.tw.Close(); err != nil {
		st.err = fmt.Errorf("apk: data member: %w", err)
		return st.err
	}
	if err := st.gz.Close(); err != nil {
		st.err = fmt.Errorf("apk: data member: %w", err)
		return st.err
	}
	st.dataHash = hex.EncodeToString(st.cw.h.Sum(nil))
	return nil
}

func (w *DataWriter) addDir(root string) error {
	if w.st.err != nil {
		return w.st.err
	}
	if w.st.inodes == nil {
		w.st.inodes = make(map[[2]uint64]string)
	}
	return w.walk(root, "")
}

// walk adds the entries of directory dir (rel is its path in the package).
func (w *DataWriter) walk(dir, rel string) error {
	ents, err := os.ReadDir(dir) // sorted by name, byte-wise
	if err != nil {
		return fmt.Errorf("apk: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		name := e.Name()
		if rel != "" {
			name = rel + "/" + name
		}
		isDir, err := w.addPath(p, name)
		if err != nil {
			return err
		}
		if isDir {
			if err := w.walk(p, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// addPath adds the file p as entry name; it reports whether it was a
// directory.
func (w *DataWriter) addPath(p, name string) (bool, error) {
	st := &w.st
	fi, err := os.Lstat(p)
	if err != nil {
		return false, fmt.Errorf("apk: %w", err)
	}
	hdr := &tar.Header{Name: name, Mode: unixMode(fi.Mode())}
	var ino fileID
	if sys, ok := statOf(fi); ok {
		ino = sys
		if st.opts.KeepOwners {
			hdr.Uid, hdr.Gid = int(sys.uid), int(sys.gid)
		}
	}
	var body io.Reader
	switch m := fi.Mode(); {
	case m.IsDir():
		if t, ok := st.names[name]; ok && t == tar.TypeDir {
			return true, nil // already added with Add
		}
		hdr.Typeflag = tar.TypeDir
	case m.IsRegular():
		key := [2]uint64{ino.dev, ino.ino}
		if ino.nlink > 1 {
			if first, ok := st.inodes[key]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				break
			}
			st.inodes[key] = name
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
		f, err := os.Open(p)
		if err != nil {
			return false, fmt.Errorf("apk: %w", err)
		}
		defer f.Close()
		body = f
	case m&os.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return false, fmt.Errorf("apk: %w", err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case m&os.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	case m&os.ModeDevice != 0:
		hdr.Typeflag = tar.TypeBlock
		if m&os.ModeCharDevice != 0 {
			hdr.Typeflag = tar.TypeChar
		}
		hdr.Devmajor, hdr.Devminor = devMajor(ino.rdev), devMinor(ino.rdev)
	default:
		return false, fmt.Errorf("apk: %s: unsupported file type %v (sockets cannot be packaged)", p, m.Type())
	}
	if st.opts.Xattrs && hdr.Typeflag != tar.TypeSymlink && hdr.Typeflag != tar.TypeLink {
		xa, err := readXattrs(p)
		if err != nil {
			return false, fmt.Errorf("apk: %s: xattrs: %w", p, err)
		}
		for k, v := range xa {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords[xattrPAXPrefix+k] = v
		}
	}
	if err := w.add(hdr, body); err != nil {
		return false, err
	}
	return hdr.Typeflag == tar.TypeDir, nil
}

// unixMode converts an fs.FileMode to Unix permission bits (07777).
func unixMode(m os.FileMode) int64 {
	mode := int64(m.Perm())
	if m&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// devMajor and devMinor split a Linux dev_t.
func devMajor(dev uint64) int64 { return int64(((dev >> 8) & 0xfff) | ((dev >> 32) &^ 0xfff)) }
func devMinor(dev uint64) int64 { return int64((dev & 0xff) | ((dev >> 12) &^ 0xff)) }

// buildMember returns one gzip member holding a tar stream of the given
// entries, without end-of-archive blocks.
func buildMember(entries []memberEntry, epoch int64, level int) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := newGzipWriter(&buf, level)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Size:     int64(len(e.body)),
			Mode:     e.mode & 0o7777,
			Uname:    "root",
			Gname:    "root",
			ModTime:  time.Unix(epoch, 0),
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Flush(); err != nil { // no end-of-archive blocks
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type memberEntry struct {
	name string
	mode int64
	body []byte
}

// signatureMember signs control and returns the signature gzip member.
func signatureMember(s *Signer, control []byte, epoch int64, level int) ([]byte, error) {
	if s == nil || s.Key == nil || s.KeyName == "" {
		return nil, errors.New("apk: signer without a key or key name")
	}
	sig, err := s.Sign(control)
	if err != nil {
		return nil, fmt.Errorf("apk: sign: %w", err)
	}
	return buildMember([]memberEntry{{name: sig.EntryName(), mode: 0o644, body: sig.Value}}, epoch, level)
}

// controlMember builds the control member of a package.
func controlMember(pkginfo []byte, scripts []Script, extra []ControlFile, epoch int64, level int) ([]byte, error) {
	ents := []memberEntry{{name: ".PKGINFO", mode: 0o644, body: pkginfo}}
	seen := map[string]bool{".PKGINFO": true}
	sorted := append([]Script(nil), scripts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, s := range sorted {
		if !IsScriptName(s.Name) {
			return nil, fmt.Errorf("apk: script %q: not a script name apk runs (.pre-install, .post-install, .pre-deinstall, .post-deinstall, .pre-upgrade, .post-upgrade, .trigger)", s.Name)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("apk: duplicate script %q", s.Name)
		}
		seen[s.Name] = true
		mode := s.Mode
		if mode == 0 {
			mode = 0o755
		}
		ents = append(ents, memberEntry{s.Name, mode, s.Body})
	}
	for _, c := range extra {
		if !strings.HasPrefix(c.Name, ".") || strings.Contains(c.Name, "/") || c.Name == "." || c.Name == ".." || strings.HasPrefix(c.Name, signPrefix) {
			return nil, fmt.Errorf("apk: control file %q: must be a top-level dot-file (and not .SIGN.*)", c.Name)
		}
		if IsScriptName(c.Name) {
			return nil, fmt.Errorf("apk: control file %q is a script; pass it in scripts", c.Name)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("apk: duplicate control file %q", c.Name)
		}
		seen[c.Name] = true
		mode := c.Mode
		if mode == 0 {
			mode = 0o644
		}
		ents = append(ents, memberEntry{c.Name, mode, c.Body})
	}
	return buildMember(ents, epoch, level)
}

func writePackage(w io.Writer, info *PkgInfo, scripts []Script, extra []ControlFile, fill func(dw *DataWriter) error, opts WriteOptions) (*WriteResult, error) {
	if info == nil {
		return nil, errors.New("apk: WritePackage: nil PkgInfo")
	}
	if !ValidName(info.Name) {
		return nil, fmt.Errorf("apk: .PKGINFO: pkgname %q is not a valid package name", info.Name)
	}
	if info.Version == "" {
		return nil, errors.New("apk: .PKGINFO: pkgver is missing")
	}
	tmp, err := os.CreateTemp(opts.TempDir, "reef-data-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("apk: spool data member: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	dw := NewDataWriter(tmp, opts)
	if fill != nil {
		if err := fill(dw); err != nil {
			dw.Close()
			return nil, err
		}
	}
	if err := dw.Close(); err != nil {
		return nil, err
	}
	info.DataHash = dw.DataHash()
	info.Size = dw.InstalledSize()
	if info.Size == 0 && (dw.Entries() > 0 || len(scripts) > 0) {
		info.Size = 1
	}
	pkginfo, err := info.MarshalText()
	if err != nil {
		return nil, fmt.Errorf("apk: %w", err)
	}
	control, err := controlMember(pkginfo, scripts, extra, opts.SourceDateEpoch, opts.CompressionLevel)
	if err != nil {
		return nil, err
	}
	cw := &countWriter{w: w}
	if opts.Signer != nil {
		sig, err := signatureMember(opts.Signer, control, opts.SourceDateEpoch, opts.CompressionLevel)
		if err != nil {
			return nil, err
		}
		if _, err := cw.Write(sig); err != nil {
			return nil, err
		}
	}
	if _, err := cw.Write(control); err != nil {
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("apk: spool data member: %w", err)
	}
	if _, err := io.Copy(cw, tmp); err != nil {
		return nil, err
	}
	return &WriteResult{
		Identity:      identityOf(control),
		DataHash:      info.DataHash,
		Size:          cw.n,
		InstalledSize: info.Size,
		Entries:       dw.Entries(),
	}, nil
}

func resign(in io.Reader, out io.Writer, s *Signer) error {
	r, err := newReaderData(in, DefaultLimits(), false)
	if err != nil {
		return err
	}
	defer r.release()
	t := r.st.t
	if _, err := t.br.Peek(1); err != nil {
		return &FormatError{Section: "data member", Err: errors.New("missing: the file ends after the control member (truncated?)")}
	}
	// The signature entry gets the control entries' mtime, so that
	// re-signing a reef-written package gives what WritePackage would have.
	sig, err := signatureMember(s, r.st.control, r.st.ctlMtime, 0)
	if err != nil {
		return err
	}
	for _, b := range [][]byte{sig, r.st.control, t.pending} {
		if _, err := out.Write(b); err != nil {
			return err
		}
	}
	_, err = io.Copy(out, t.src)
	return err
}
