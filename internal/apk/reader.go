package apk

import (
	"archive/tar"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Default limits, used for zero fields of Limits.
const (
	DefaultMaxControlSize = 16 << 20 // 16 MiB of signature + control
	DefaultMaxDataSize    = 64 << 30 // 64 GiB of uncompressed data tar stream
	DefaultMaxEntries     = 1 << 20  // 1,048,576 data entries
	DefaultMaxFileSize    = 1<<32 - 1
	DefaultMaxPathLen     = 4096
)

// Limits bounds what a Reader accepts from an untrusted package, so that a
// hostile or corrupt file (a decompression bomb, millions of entries, huge
// names) fails early with a *LimitError instead of exhausting memory or
// disk. A zero field means its default (DefaultLimits).
type Limits struct {
	// MaxControlSize bounds the signature and control members together,
	// compressed and uncompressed (each is checked). They are held in
	// memory. Flag: --max-control-size.
	MaxControlSize int64
	// MaxDataSize bounds the uncompressed size of the data tar stream,
	// headers and padding included. Flag: --max-data-size.
	MaxDataSize int64
	// MaxEntries bounds the number of data entries. Flag: --max-entries.
	MaxEntries int
	// MaxFileSize bounds the size of one data entry. apk-tools v2 cannot
	// handle files of 4 GiB or more, which is the default.
	// Flag: --max-file-size.
	MaxFileSize int64
	// MaxPathLen bounds the length in bytes of entry names and link
	// targets. Flag: --max-path-len.
	MaxPathLen int
}

// DefaultLimits returns the limits used for zero fields of Limits.
func DefaultLimits() Limits {
	return Limits{
		MaxControlSize: DefaultMaxControlSize,
		MaxDataSize:    DefaultMaxDataSize,
		MaxEntries:     DefaultMaxEntries,
		MaxFileSize:    DefaultMaxFileSize,
		MaxPathLen:     DefaultMaxPathLen,
	}
}

// withDefaults returns l with zero (or negative) fields set to their defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxControlSize <= 0 {
		l.MaxControlSize = d.MaxControlSize
	}
	if l.MaxDataSize <= 0 {
		l.MaxDataSize = d.MaxDataSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	if l.MaxPathLen <= 0 {
		l.MaxPathLen = d.MaxPathLen
	}
	return l
}

// LimitError reports that a package exceeds one of the Limits.
type LimitError struct {
	Limit string // field of Limits: "MaxDataSize", "MaxEntries", ...
	Flag  string // the CLI flag that raises it: "--max-data-size", ...
	Max   int64  // the limit in force
	What  string // what exceeded it, e.g. `entry "usr/lib/libfoo.so"`
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s exceeds the limit %s=%d; raise it with %s=N if the package is trusted", e.What, e.Limit, e.Max, e.Flag)
}

// FormatError reports a package that breaks the .apk format rules
// (apk-format.md §1): a bad name, a misplaced entry, a corrupt or
// truncated gzip member.
type FormatError struct {
	Section string // "signature member", "control member", "data member"
	Entry   string // the tar entry concerned, "" if none
	Err     error
}

func (e *FormatError) Error() string {
	if e.Entry != "" {
		return fmt.Sprintf("%s: entry %q: %v", e.Section, e.Entry, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Section, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// ChecksumError reports a data entry whose content (for a symlink: its
// target) does not match the APK-TOOLS.checksum.SHA1 PAX record stored
// before it. It is not fatal: the Reader can go on to the next entry.
type ChecksumError struct {
	Name string `json:"name"` // entry name
	Want string `json:"want"` // stored checksum, hex
	Got  string `json:"got"`  // computed checksum, hex
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("data member: entry %q: SHA-1 checksum mismatch: stored %s, content has %s (file tampered or corrupt)", e.Name, e.Want, e.Got)
}

// Script is an install script from the control member.
type Script struct {
	Name string // entry name, e.g. ".post-install"
	Mode int64  // permission bits, normally 0755
	Body []byte
}

// ControlFile is a control-member entry that is neither .PKGINFO nor a
// script, such as melange's ".melange.yaml". apk ignores them.
type ControlFile struct {
	Name string // entry name, a top-level dot-file
	Mode int64  // permission bits
	Body []byte
}

// Script names apk runs, in the order apk-tools documents them.
var scriptNames = []string{
	".pre-install", ".post-install",
	".pre-deinstall", ".post-deinstall",
	".pre-upgrade", ".post-upgrade",
	".trigger",
}

// IsScriptName reports whether name is the control entry name of an
// install script (".pre-install", ".post-install", ".pre-deinstall",
// ".post-deinstall", ".pre-upgrade", ".post-upgrade", ".trigger").
func IsScriptName(name string) bool {
	for _, s := range scriptNames {
		if s == name {
			return true
		}
	}
	return false
}

// ChecksumPAXKey is the PAX record apk stores per-file SHA-1 checksums in.
const ChecksumPAXKey = "APK-TOOLS.checksum.SHA1"

// xattrPAXPrefix starts PAX records holding extended attributes.
const xattrPAXPrefix = "SCHILY.xattr."

// File is one entry of the data member, as returned by Reader.Next.
//
// Header.Name and, for hard links, Header.Linkname are the clean relative
// paths (no trailing slash); Header.Mode holds permission bits only
// (masked with 07777). Typeflag is one of tar.TypeReg, TypeLink,
// TypeSymlink, TypeChar, TypeBlock, TypeDir, TypeFifo.
type File struct {
	*tar.Header
	// Checksum is the hex SHA-1 from the entry's APK-TOOLS.checksum.SHA1
	// PAX record, "" if it has none. For a hard link it is the record of
	// the link entry itself (abuild writes none; apk uses the target's).
	Checksum string
	// Xattrs holds the SCHILY.xattr.* PAX records, by attribute name; nil
	// when there are none.
	Xattrs map[string][]byte
}

// A Reader reads an .apk v2 package from a stream.
//
// NewReader reads the signature and control members; the data member is
// then read entry by entry with Next and Read, as with archive/tar. Memory
// use is bounded by the Limits and does not grow with the data size.
//
// The Reader checks the format rules of apk-format.md §1 as it goes and
// reports a *FormatError or *LimitError for a package that breaks them; such
// errors are final. It also checks each regular file's and symlink's
// APK-TOOLS.checksum.SHA1 record; a mismatch is reported as a
// *ChecksumError, which is not final (see Next and Read).
//
// A Reader is not safe for concurrent use.
type Reader struct {
	st readerState
}

// NewReader reads the signature member(s) (if any) and the control member
// from r, parses .PKGINFO and reads the data member's gzip header. r is
// read through a buffer, so NewReader may read ahead of what it has
// parsed; everything after the package in r is an error anyway (see Next).
func NewReader(r io.Reader, lim Limits) (*Reader, error) {
	return newReader(r, lim)
}

// TrustDataHash makes the Reader skip the APK-TOOLS.checksum.SHA1 checks
// of regular files and symlinks when the package's .PKGINFO has a
// datahash, as apk-tools does when it installs: the datahash, checked
// when the data member ends (see Next), covers every byte of every entry,
// so a mismatch could only be the packager's own inconsistency, and
// hashing every file again costs about a tenth of the CPU time of
// installing. A package without a datahash keeps the checks. Call it
// before the first Next; File.Checksum still holds each record.
func (r *Reader) TrustDataHash() {
	r.st.trust = r.st.info.DataHash != ""
}

// Signatures returns the signature entries in file order; nil for an
// unsigned package.
func (r *Reader) Signatures() []Signature { return r.st.sigs }

// Info returns the parsed .PKGINFO.
func (r *Reader) Info() *PkgInfo { return r.st.info }

// PkgInfoBytes returns the raw .PKGINFO content.
func (r *Reader) PkgInfoBytes() []byte { return r.st.pkginfo }

// Scripts returns the install scripts in file order.
func (r *Reader) Scripts() []Script { return r.st.scripts }

// ControlFiles returns the other control entries (neither .PKGINFO nor a
// script), in file order.
func (r *Reader) ControlFiles() []ControlFile { return r.st.extra }

// ControlMember returns the raw compressed bytes of the control gzip
// member: what signatures sign and what the identity hashes. The caller
// must not modify it.
func (r *Reader) ControlMember() []byte { return r.st.control }

// SignatureMemberSize returns the compressed size in bytes of the
// signature member(s), 0 for an unsigned package.
func (r *Reader) SignatureMemberSize() int64 { return r.st.sigSize }

// Identity returns the package identity as an index "C:" field:
// "Q1" + base64(SHA-1(control member)).
//
// For a legacy package without a datahash in .PKGINFO, the identity is the
// SHA-1 of the control and data members together (apk-tools v2); it is
// then known only after Next has returned io.EOF, and Identity returns ""
// before that.
func (r *Reader) Identity() string { return r.identity() }

// Next advances to the next data entry and returns it. At the end of the
// data member it returns io.EOF, after checking that the gzip member
// ended cleanly and that nothing follows it.
//
// If the previous entry's checksum did not match (and its content was
// not read to the end with Read, which would have reported it), Next
// returns that *ChecksumError and does not advance; calling Next again
// goes on. Any other error is final.
//
// Next rejects names and hard links that break apk's rules (absolute
// paths, "." and ".." components, control characters, hard links to
// entries not seen earlier) and entries beyond the Limits. It does not
// apply the rules apk applies when installing: entries whose name starts
// with "." at the top level or ".keep_", and files whose parent directory
// did not appear as an entry before them, are returned like any other;
// symlink targets are not checked. PAX global headers are skipped.
func (r *Reader) Next() (*File, error) { return r.next() }

// Read reads the content of the current data entry. It returns 0, io.EOF
// for entries without content. When a regular file's content has been
// read to the end and its SHA-1 does not match its stored checksum, Read
// returns a *ChecksumError instead of io.EOF; for a symlink with a bad
// checksum, the first Read returns it.
func (r *Reader) Read(p []byte) (int, error) { return r.read(p) }

// DataHash returns the hex SHA-256 of the compressed data member, the
// value .PKGINFO's datahash must have. It is valid after Next has
// returned io.EOF, "" before.
func (r *Reader) DataHash() string { return r.st.dataHash }

// DataMemberSize returns the compressed size in bytes of the data member.
// It is valid after Next has returned io.EOF.
func (r *Reader) DataMemberSize() int64 { return r.st.dataSize }

// DataSize returns the uncompressed bytes of the data tar stream read so
// far; after Next has returned io.EOF, the tar stream's length.
func (r *Reader) DataSize() int64 { return r.st.dataRaw }

// Size returns the number of package bytes consumed so far; after Next
// has returned io.EOF, the size of the .apk file (the index "S:" field).
func (r *Reader) Size() int64 { return r.consumed() }

// Drain reads the remaining data entries to the end, checking checksums
// and the end of stream, so that DataHash, DataMemberSize, Size and a
// legacy Identity become valid. It returns the final error if there is
// one, else the first *ChecksumError, else nil.
func (r *Reader) Drain() error {
	var first error
	for {
		_, err := r.Next()
		if err == io.EOF {
			return first
		}
		var ce *ChecksumError
		if errors.As(err, &ce) {
			if first == nil {
				first = err
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}

// readerState is the Reader's state; it is a separate type so that the
// exported declarations above read like documentation.
type readerState struct {
	lim  Limits
	bufs *readBufs // pooled; nil once released (see release)
	t    *tee      // &bufs.t
	sp   splitter

	endConsumed int64 // consumed bytes when bufs was released

	sigs     []Signature
	sigSize  int64
	pkginfo  []byte
	info     *PkgInfo
	scripts  []Script
	extra    []ControlFile
	control  []byte
	ident    string
	ctlUsed  int64 // uncompressed signature+control bytes
	ctlMtime int64 // mtime of .PKGINFO

	// data member
	data     *member
	tr       *tar.Reader
	dataSHA  hash.Hash
	legacy   hash.Hash // SHA-1 over control+data, for packages without datahash
	dataHash string
	dataSize int64
	dataRaw  int64
	entries  int
	seen     map[string]byte // data entry name → typeflag, for hard links
	cur      *File
	curOpen  bool      // the current entry's content has not been read to its end
	curSum   hash.Hash // SHA-1 of the current regular file's content, nil when not checked
	trust    bool      // per-file checksums are not checked (TrustDataHash)
	curErr   error     // pending checksum error of the current entry
	done     bool
	err      error // final error
	scratch  []byte
}

func newReader(src io.Reader, lim Limits) (*Reader, error) {
	return newReaderData(src, lim, true)
}

// newReaderData reads the signature and control members; if startData it
// also starts the data member.
func newReaderData(src io.Reader, lim Limits, startData bool) (*Reader, error) {
	r := &Reader{}
	st := &r.st
	st.lim = lim.withDefaults()
	st.bufs = getReadBufs(src)
	st.t = &st.bufs.t
	st.sp = splitter{t: st.t, gz: &st.bufs.gz}
	st.scratch = st.bufs.scratch
	if err := r.readControl(); err != nil {
		r.release()
		return nil, err
	}
	if !startData {
		return r, nil
	}
	if err := r.startData(); err != nil {
		r.release()
		return nil, err
	}
	return r, nil
}

// release returns the pooled buffers once nothing will read the source
// any more: at the end of the package or after a final error. The state
// that outlives it (Size) is saved first.
func (r *Reader) release() {
	st := &r.st
	if st.bufs == nil {
		return
	}
	st.endConsumed = st.t.consumed()
	b := st.bufs
	st.bufs, st.t, st.sp, st.scratch, st.tr, st.data = nil, nil, splitter{}, nil, nil, nil
	putReadBufs(b)
}

// fail records the final error err, releases the buffers and returns err.
func (r *Reader) fail(err error) error {
	r.st.err = err
	r.release()
	return err
}

func (r *Reader) controlLimit() error {
	return &LimitError{Limit: "MaxControlSize", Flag: "--max-control-size", Max: r.st.lim.MaxControlSize, What: "size of the signature and control members"}
}

// readControl reads signature members and then the control member.
func (r *Reader) readControl() error {
	st := &r.st
	var buf []byte
	sink := func(b []byte) error {
		if st.sigSize+int64(len(buf)+len(b)) > st.lim.MaxControlSize {
			return r.controlLimit()
		}
		buf = append(buf, b...)
		return nil
	}
	for {
		buf = nil
		section := "control member"
		if len(st.sigs) == 0 && st.info == nil {
			section = "signature/control member"
		}
		m, err := st.sp.start(section, sink, st.lim.MaxControlSize-st.ctlUsed, r.controlLimit)
		if err == io.EOF {
			if st.sigSize == 0 {
				return &FormatError{Section: "package", Err: errors.New("empty file: no gzip member")}
			}
			return &FormatError{Section: "control member", Err: errors.New("missing: the file ends after the signature member (truncated?)")}
		}
		if err != nil {
			return err
		}
		isSig, err := r.readMember(m)
		if err != nil {
			return err
		}
		st.ctlUsed += m.n
		if err := st.sp.finish(); err != nil {
			return err
		}
		if isSig {
			st.sigSize += int64(len(buf))
			continue
		}
		st.control = buf
		break
	}
	if st.pkginfo == nil {
		return &FormatError{Section: "control member", Err: errors.New(".PKGINFO is missing")}
	}
	info, err := ParsePkgInfo(bytes.NewReader(st.pkginfo))
	if err != nil {
		return &FormatError{Section: "control member", Entry: ".PKGINFO", Err: err}
	}
	st.info = info
	if info.DataHash != "" {
		st.ident = identityOf(st.control)
	}
	return nil
}

// identityOf returns "Q1" + base64(SHA-1(b)).
func identityOf(b []byte) string {
	sum := sha1.Sum(b)
	return "Q1" + base64.StdEncoding.EncodeToString(sum[:])
}

// readMember reads the tar entries of a signature or control member. It
// reports whether the member was a signature member.
func (r *Reader) readMember(m *member) (isSig bool, err error) {
	st := &r.st
	tr := tar.NewReader(m)
	first := true
	var end int64 // member offset just after the last entry and its padding
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, tarError(m, "", err)
		}
		if err := checkRawHeader(m, hdr); err != nil {
			return false, err
		}
		name := hdr.Name
		_, _, sig := ParseSignatureName(name)
		if first {
			isSig = sig
			if isSig {
				m.section = "signature member"
			} else {
				m.section = "control member"
			}
			first = false
		}
		fail := func(format string, a ...any) error {
			return &FormatError{Section: m.section, Entry: name, Err: fmt.Errorf(format, a...)}
		}
		if isSig && !sig {
			return false, fail("not a signature entry; the control entries must be in their own gzip member after the signature member")
		}
		if !isSig && sig {
			return false, fail("signature entry inside the control member; signatures must be in their own gzip member before it")
		}
		if !strings.HasPrefix(name, ".") || strings.Contains(name, "/") || name == "." || name == ".." {
			return false, fail("not a top-level dot-file; every control entry must be one (is the control member missing, or does the data start early?)")
		}
		if hdr.Typeflag != tar.TypeReg {
			return false, fail("control entries must be regular files, this is type %q", hdr.Typeflag)
		}
		if hdr.Size > m.max-m.n {
			return false, r.controlLimit()
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return false, tarError(m, name, err)
		}
		end = m.n + (512-hdr.Size%512)%512
		mode := hdr.Mode & 0o7777
		switch {
		case isSig:
			alg, key, _ := ParseSignatureName(name)
			st.sigs = append(st.sigs, Signature{Alg: alg, KeyName: key, Value: body})
		case name == ".PKGINFO":
			st.ctlMtime = hdr.ModTime.Unix()
			if st.pkginfo != nil {
				return false, fail("duplicate .PKGINFO")
			}
			st.pkginfo = body
		case IsScriptName(name):
			st.scripts = append(st.scripts, Script{Name: name, Mode: mode, Body: body})
		default:
			st.extra = append(st.extra, ControlFile{Name: name, Mode: mode, Body: body})
		}
	}
	if first {
		return false, &FormatError{Section: m.section, Err: errors.New("gzip member holds no tar entry")}
	}
	// tar.Reader stops at end-of-archive blocks as well as at the end of
	// the member; apk stops at the second zero block it sees anywhere, so
	// signature and control members must not contain any.
	var one [1]byte
	if n, err := io.ReadFull(m, one[:]); n > 0 || m.n > end {
		return false, &FormatError{Section: m.section, Err: errors.New("contains tar end-of-archive (zero) blocks; apk would stop reading the package there (write it with tar.Writer.Flush, not Close)")}
	} else if err != io.EOF {
		return false, err
	}
	return isSig, nil
}

// tarError wraps an error from archive/tar while reading member m.
func tarError(m *member, entry string, err error) error {
	var fe *FormatError
	var le *LimitError
	if errors.As(err, &fe) || errors.As(err, &le) {
		return err
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = errors.New("unexpected EOF: a tar entry is cut off at the end of the gzip member (truncated file, or an entry split across members)")
	} else {
		err = fmt.Errorf("bad tar data: %w", err)
	}
	return &FormatError{Section: m.section, Entry: entry, Err: err}
}

// checkRawHeader applies apk's tar dialect rules that archive/tar does not:
// the header must have ustar magic (V7 headers are rejected by apk) and a
// typeflag other than NUL (apk silently skips such entries, archive/tar
// reports them as regular files).
func checkRawHeader(m *member, hdr *tar.Header) error {
	raw := m.lastBlock()
	if raw == nil || hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	if string(raw[257:262]) != "ustar" {
		return &FormatError{Section: m.section, Entry: hdr.Name, Err: errors.New("tar header without ustar magic (old V7 format); apk rejects it")}
	}
	if raw[156] == 0 {
		return &FormatError{Section: m.section, Entry: hdr.Name, Err: errors.New("typeflag NUL; apk silently skips such entries, so the package must use '0' for regular files")}
	}
	return nil
}

func (r *Reader) dataLimit() error {
	return &LimitError{Limit: "MaxDataSize", Flag: "--max-data-size", Max: r.st.lim.MaxDataSize, What: "uncompressed size of the data member"}
}

// startData starts the data member.
func (r *Reader) startData() error {
	st := &r.st
	st.dataSHA = sha256.New()
	if st.info.DataHash == "" {
		st.legacy = sha1.New()
		st.legacy.Write(st.control)
	}
	sink := func(b []byte) error {
		st.dataSHA.Write(b)
		if st.legacy != nil {
			st.legacy.Write(b)
		}
		st.dataSize += int64(len(b))
		return nil
	}
	m, err := st.sp.start("data member", sink, st.lim.MaxDataSize, r.dataLimit)
	if err == io.EOF {
		return &FormatError{Section: "data member", Err: errors.New("missing: the file ends after the control member (truncated?)")}
	}
	if err != nil {
		return err
	}
	st.data = m
	st.tr = tar.NewReader(m)
	st.seen = make(map[string]byte)
	return nil
}

func (r *Reader) identity() string {
	return r.st.ident
}

func (r *Reader) consumed() int64 {
	if r.st.t == nil {
		return r.st.endConsumed
	}
	return r.st.t.consumed()
}

func (r *Reader) dataErr(entry string, err error) error {
	return &FormatError{Section: "data member", Entry: entry, Err: err}
}

func (r *Reader) next() (*File, error) {
	st := &r.st
	if st.err != nil {
		return nil, st.err
	}
	if st.done {
		return nil, io.EOF
	}
	if st.tr == nil {
		if err := r.startData(); err != nil {
			return nil, r.fail(err)
		}
	}
	// Finish the current entry: read what is left of it, so that its
	// checksum is checked.
	if st.cur != nil && st.curOpen {
		for {
			_, err := r.read(st.scratch)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if st.curErr != nil {
		err := st.curErr
		st.curErr = nil
		return nil, err
	}
	st.cur = nil
	for {
		hdr, err := st.tr.Next()
		if err == io.EOF {
			if err := r.endData(); err != nil {
				return nil, r.fail(err)
			}
			st.done = true
			r.release()
			return nil, io.EOF
		}
		if err != nil {
			return nil, r.fail(tarError(st.data, "", err))
		}
		st.dataRaw = st.data.n
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // ignored by apk
		}
		f, err := r.checkEntry(hdr)
		if err != nil {
			return nil, r.fail(err)
		}
		return f, nil
	}
}

// checkEntry validates a data entry header and makes the File.
func (r *Reader) checkEntry(hdr *tar.Header) (*File, error) {
	st := &r.st
	if err := checkRawHeader(st.data, hdr); err != nil {
		return nil, err
	}
	st.entries++
	if st.entries > st.lim.MaxEntries {
		return nil, &LimitError{Limit: "MaxEntries", Flag: "--max-entries", Max: int64(st.lim.MaxEntries), What: "number of data entries"}
	}
	raw := hdr.Name
	if len(raw) > st.lim.MaxPathLen {
		return nil, &LimitError{Limit: "MaxPathLen", Flag: "--max-path-len", Max: int64(st.lim.MaxPathLen), What: fmt.Sprintf("name of entry %d (%d bytes)", st.entries, len(raw))}
	}
	if len(hdr.Linkname) > st.lim.MaxPathLen {
		return nil, &LimitError{Limit: "MaxPathLen", Flag: "--max-path-len", Max: int64(st.lim.MaxPathLen), What: fmt.Sprintf("link target of entry %q (%d bytes)", raw, len(hdr.Linkname))}
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont:
		hdr.Typeflag = tar.TypeReg
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
	default:
		return nil, r.dataErr(raw, fmt.Errorf("unsupported tar entry type %q (apk accepts regular files, links, devices, directories and FIFOs)", hdr.Typeflag))
	}
	name := raw
	if hdr.Typeflag == tar.TypeDir {
		name = strings.TrimRight(name, "/")
	}
	if err := checkPath(name); err != nil {
		return nil, r.dataErr(raw, err)
	}
	hdr.Name = name
	if hdr.Typeflag == tar.TypeReg && hdr.Size > st.lim.MaxFileSize {
		return nil, &LimitError{Limit: "MaxFileSize", Flag: "--max-file-size", Max: st.lim.MaxFileSize, What: fmt.Sprintf("size of entry %q (%d bytes)", name, hdr.Size)}
	}
	if hdr.Typeflag == tar.TypeLink {
		target := hdr.Linkname
		if err := checkPath(target); err != nil {
			return nil, r.dataErr(raw, fmt.Errorf("hard link target %q: %v", target, err))
		}
		t, ok := st.seen[target]
		if !ok {
			return nil, r.dataErr(raw, fmt.Errorf("hard link target %q does not appear earlier in the package", target))
		}
		if t == tar.TypeDir {
			return nil, r.dataErr(raw, fmt.Errorf("hard link target %q is a directory", target))
		}
	}
	st.seen[name] = hdr.Typeflag
	hdr.Mode &= 0o7777
	f := &File{Header: hdr}
	for k, v := range hdr.PAXRecords {
		switch {
		case k == ChecksumPAXKey:
			f.Checksum = v
		case strings.HasPrefix(k, xattrPAXPrefix):
			if f.Xattrs == nil {
				f.Xattrs = make(map[string][]byte)
			}
			f.Xattrs[k[len(xattrPAXPrefix):]] = []byte(v)
		}
	}
	hdr.Xattrs = nil //nolint:staticcheck // superseded by File.Xattrs
	st.cur = f
	st.curOpen = false
	st.curSum = nil
	switch hdr.Typeflag {
	case tar.TypeReg:
		st.curOpen = true
		if f.Checksum != "" && !st.trust {
			st.curSum = sha1.New()
		}
	case tar.TypeSymlink:
		if f.Checksum != "" && !st.trust {
			sum := sha1.Sum([]byte(hdr.Linkname))
			if got := hex.EncodeToString(sum[:]); got != f.Checksum {
				st.curErr = &ChecksumError{Name: name, Want: f.Checksum, Got: got}
			}
		}
	}
	return f, nil
}

// checkPath applies apk's path rules to a data entry name (without
// trailing slash) or hard link target.
func checkPath(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if name[0] == '/' {
		return errors.New("absolute path; names must be relative to the root")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("control character %#02x in name", c)
		}
	}
	for comp := range strings.SplitSeq(name, "/") {
		switch comp {
		case "":
			return errors.New(`empty path component ("//" or trailing "/")`)
		case ".":
			return errors.New(`"." path component`)
		case "..":
			return errors.New(`".." path component; entries must stay inside the package root`)
		}
	}
	return nil
}

func (r *Reader) read(p []byte) (int, error) {
	st := &r.st
	if st.err != nil {
		return 0, st.err
	}
	if st.cur == nil {
		return 0, io.EOF
	}
	if !st.curOpen {
		if st.curErr != nil {
			err := st.curErr
			st.curErr = nil
			return 0, err
		}
		return 0, io.EOF
	}
	n, err := st.tr.Read(p)
	if n > 0 && st.curSum != nil {
		st.curSum.Write(p[:n])
	}
	if err == io.EOF {
		st.curOpen = false
		st.dataRaw = st.data.n
		if st.curSum != nil {
			got := hex.EncodeToString(st.curSum.Sum(nil))
			st.curSum = nil
			if got != st.cur.Checksum {
				return n, &ChecksumError{Name: st.cur.Name, Want: st.cur.Checksum, Got: got}
			}
		}
		return n, io.EOF
	}
	if err != nil {
		return n, r.fail(tarError(st.data, st.cur.Name, err))
	}
	return n, nil
}

// endData is called when the data tar stream has ended: it reads the rest
// of the data member (padding), finishes the hashes and checks that the
// file ends there.
func (r *Reader) endData() error {
	st := &r.st
	for {
		_, err := st.data.Read(st.scratch)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	st.dataRaw = st.data.n
	if err := st.sp.finish(); err != nil {
		return err
	}
	st.dataHash = hex.EncodeToString(st.dataSHA.Sum(nil))
	end, err := st.sp.atEOF()
	if err != nil {
		return &FormatError{Section: "package", Err: err}
	}
	if !end {
		return &FormatError{Section: "data member", Err: errors.New("more bytes follow the data member; the data must be one gzip member at the end of the file (apk v3 rejects multi-member data)")}
	}
	if st.legacy != nil {
		sum := st.legacy.Sum(nil)
		st.ident = "Q1" + base64.StdEncoding.EncodeToString(sum)
	}
	return nil
}

func sha1hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}
