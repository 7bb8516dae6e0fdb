package debimport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The ar archive format as dpkg writes it (deb(5)): the global header
// "!<arch>\n", then for each member a 60-byte header followed by the data,
// padded with "\n" to an even offset. Header fields are space-padded ASCII:
//
//	name[16] mtime[12] uid[6] gid[6] mode[8] size[10] "`\n"
//
// GNU ar terminates names with "/"; dpkg does not. Long-name tables and BSD
// "#1/N" names are not used by .deb files and are rejected.
const (
	arMagic      = "!<arch>\n"
	arHeaderSize = 60
	// maxArMember bounds one member: a data.tar of 64 GiB is far beyond any
	// Debian package, and apk cannot hold files over 4 GiB anyway.
	maxArMember = 64 << 30
)

// arHeader is one member header of an ar archive.
type arHeader struct {
	Name  string
	MTime int64
	Size  int64
}

// arReader reads the members of an ar archive in order, streaming their
// data. It never seeks, so it works on pipes and downloads.
type arReader struct {
	r       io.Reader
	off     int64 // bytes consumed so far
	remain  int64 // unread bytes of the current member
	pad     bool  // a padding byte follows the current member
	started bool
}

// errTruncated reports an archive that ends inside a header or a member.
var errTruncated = errors.New("truncated ar archive")

func newArReader(r io.Reader) *arReader { return &arReader{r: r} }

// Next skips the rest of the current member and returns the next header.
// It returns io.EOF at the clean end of the archive.
func (a *arReader) Next() (*arHeader, error) {
	if !a.started {
		a.started = true
		var magic [len(arMagic)]byte
		n, err := io.ReadFull(a.r, magic[:])
		a.off += int64(n)
		if err != nil {
			if n == 0 {
				return nil, errors.New("empty file: not an ar archive")
			}
			return nil, fmt.Errorf("not an ar archive: only %d bytes", n)
		}
		if string(magic[:]) != arMagic {
			return nil, fmt.Errorf("not an ar archive (a .deb starts with %q, this file with %q)", arMagic, magic[:])
		}
	}
	skip := a.remain
	if a.pad {
		skip++
	}
	if skip > 0 {
		n, err := io.CopyN(io.Discard, a.r, skip)
		a.off += n
		if err != nil {
			return nil, errTruncated
		}
		a.remain, a.pad = 0, false
	}
	var buf [arHeaderSize]byte
	n, err := io.ReadFull(a.r, buf[:])
	if n == 0 && err == io.EOF {
		return nil, io.EOF
	}
	// Some writers pad the last member with a newline even when the archive
	// then ends; accept a lone "\n" at the end (dpkg does too).
	if n == 1 && buf[0] == '\n' && err == io.ErrUnexpectedEOF {
		return nil, io.EOF
	}
	hdrOff := a.off
	a.off += int64(n)
	if err != nil {
		return nil, fmt.Errorf("%w: member header at offset %d has %d of %d bytes", errTruncated, hdrOff, n, arHeaderSize)
	}
	h, err := parseArHeader(buf[:])
	if err != nil {
		return nil, fmt.Errorf("ar member header at offset %d: %w", hdrOff, err)
	}
	a.remain = h.Size
	a.pad = h.Size%2 == 1
	return h, nil
}

func parseArHeader(b []byte) (*arHeader, error) {
	if string(b[58:60]) != "`\n" {
		return nil, errors.New("bad header terminator (corrupt archive)")
	}
	name := strings.TrimRight(string(b[0:16]), " ")
	name = strings.TrimSuffix(name, "/")
	if name == "" {
		return nil, errors.New("empty member name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e || c == '/' {
			return nil, fmt.Errorf("member name %q: unsupported character (GNU/BSD long names are not used in .deb files)", name)
		}
	}
	mtime, err := arNumber(b[16:28], 10)
	if err != nil {
		return nil, fmt.Errorf("member %s: mtime: %w", name, err)
	}
	size, err := arNumber(b[48:58], 10)
	if err != nil {
		return nil, fmt.Errorf("member %s: size: %w", name, err)
	}
	if size > maxArMember {
		return nil, fmt.Errorf("member %s: size %d exceeds the limit of %d bytes", name, size, int64(maxArMember))
	}
	return &arHeader{Name: name, MTime: mtime, Size: size}, nil
}

// arNumber parses a space-padded decimal field; an all-blank field is 0.
func arNumber(b []byte, base int) (int64, error) {
	s := string(bytes.TrimRight(b, " "))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, base, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative number", s)
	}
	return n, nil
}

// Read reads from the current member's data.
func (a *arReader) Read(p []byte) (int, error) {
	if a.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.remain {
		p = p[:a.remain]
	}
	n, err := a.r.Read(p)
	a.remain -= int64(n)
	a.off += int64(n)
	if err == io.EOF {
		if a.remain > 0 {
			return n, errTruncated
		}
		err = nil
	}
	return n, err
}
