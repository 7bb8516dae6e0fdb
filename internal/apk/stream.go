package apk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// This file splits a stream of concatenated gzip members into members and
// hands the raw compressed bytes of each member to a sink (a hash, a
// buffer, ...), while the decompressed bytes flow on to a tar reader.
//
// The source is read through tee into a bufio.Reader, which the gzip
// decompressor uses directly (bufio.Reader is an io.ByteReader, so the
// decompressor never reads past the end of a member, and it is the type
// klauspost/compress's inflater has its fastest path for). tee keeps the
// bytes it has read but not yet passed on; the bytes the decompressor has
// consumed are those read from the source minus what the bufio.Reader
// still buffers, so on every refill and at every member end tee passes
// exactly the consumed bytes to the current sink.

// bufSize is the read buffer size.
const bufSize = 64 << 10

// tee reads the source and passes consumed bytes to sink.
type tee struct {
	src     io.Reader
	br      *bufio.Reader
	pending []byte // read from src, not yet passed to sink
	total   int64  // bytes read from src
	sink    func([]byte) error
	err     error // first sink error
}

func newTee(src io.Reader) *tee {
	t := &tee{src: src, pending: make([]byte, 0, 2*bufSize)}
	t.br = bufio.NewReaderSize(t, bufSize)
	return t
}

// reset makes t read src from the start, keeping its buffers.
func (t *tee) reset(src io.Reader) {
	t.src = src
	t.br.Reset(t)
	t.pending = t.pending[:0]
	t.total = 0
	t.sink = nil
	t.err = nil
}

// readBufs is the working memory of a Reader that does not outlive the
// reading: the read buffers (64 KiB + 128 KiB), the gzip decompressor
// (32 KiB window and Huffman tables) and a 32 KiB scratch buffer. Making
// them costs more than reading a small package, so a Reader takes them from
// readBufPool and returns them when it reaches its end or a final error
// (a Reader abandoned earlier leaves them to the garbage collector). Their
// size is fixed, so pooling keeps memory bounded per Reader in use.
type readBufs struct {
	t       tee
	gz      gzip.Reader
	scratch []byte
}

var readBufPool = sync.Pool{New: func() any {
	b := &readBufs{scratch: make([]byte, 32<<10)}
	b.t.pending = make([]byte, 0, 2*bufSize)
	b.t.br = bufio.NewReaderSize(&b.t, bufSize)
	return b
}}

// getReadBufs returns pooled buffers whose tee reads src.
func getReadBufs(src io.Reader) *readBufs {
	b := readBufPool.Get().(*readBufs)
	b.t.reset(src)
	return b
}

// putReadBufs returns b to the pool; nothing may use it afterwards.
func putReadBufs(b *readBufs) {
	b.t.src, b.t.sink = nil, nil // do not keep the caller's reader alive
	readBufPool.Put(b)
}

// consumed returns the number of source bytes the decompressor consumed.
func (t *tee) consumed() int64 { return t.total - int64(t.br.Buffered()) }

// flush passes the consumed but not yet passed bytes to the sink.
func (t *tee) flush() error {
	n := len(t.pending) - t.br.Buffered()
	if n <= 0 {
		return t.err
	}
	if t.err == nil && t.sink != nil {
		t.err = t.sink(t.pending[:n])
	}
	m := copy(t.pending, t.pending[n:])
	t.pending = t.pending[:m]
	return t.err
}

// Read is called by the bufio.Reader when its buffer is (nearly) empty.
func (t *tee) Read(p []byte) (int, error) {
	if err := t.flush(); err != nil {
		return 0, err
	}
	n, err := t.src.Read(p)
	if n > 0 {
		t.pending = append(t.pending, p[:n]...)
		t.total += int64(n)
	}
	return n, err
}

// member is the decompressed content of one gzip member. It counts the
// uncompressed bytes against a limit and remembers the last 512 bytes read,
// which after tar.Reader.Next are the raw header block of the entry.
type member struct {
	gz      *gzip.Reader
	section string // for errors: "control member", "data member", ...
	n       int64  // uncompressed bytes read
	max     int64  // limit on n
	limErr  func() error
	eof     bool
	err     error
	tail    [512]byte
	tailLen int
}

func (m *member) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.eof {
		return 0, io.EOF
	}
	if m.n >= m.max {
		// Allow reading to find out whether the member ends exactly here.
		var one [1]byte
		k, err := m.gz.Read(one[:])
		if k == 0 && err == io.EOF {
			m.eof = true
			return 0, io.EOF
		}
		if k == 0 && err != nil {
			m.err = m.wrap(err)
			return 0, m.err
		}
		m.err = m.limErr()
		return 0, m.err
	}
	if rem := m.max - m.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := m.gz.Read(p)
	m.n += int64(n)
	m.record(p[:n])
	if err == io.EOF {
		m.eof = true
	} else if err != nil {
		m.err = m.wrap(err)
		err = m.err
	}
	return n, err
}

// record keeps the last 512 bytes of the stream in tail.
func (m *member) record(b []byte) {
	if len(b) >= len(m.tail) {
		copy(m.tail[:], b[len(b)-len(m.tail):])
		m.tailLen = len(m.tail)
		return
	}
	if m.tailLen+len(b) > len(m.tail) {
		drop := m.tailLen + len(b) - len(m.tail)
		copy(m.tail[:], m.tail[drop:m.tailLen])
		m.tailLen -= drop
	}
	copy(m.tail[m.tailLen:], b)
	m.tailLen += len(b)
}

// lastBlock returns the last 512 bytes read, or nil.
func (m *member) lastBlock() []byte {
	if m.tailLen < len(m.tail) {
		return nil
	}
	return m.tail[:]
}

// wrap turns a decompression error into a *FormatError naming the section.
func (m *member) wrap(err error) error {
	return &FormatError{Section: m.section, Err: gzipError(err)}
}

// gzipError describes a gzip/deflate failure in words a user understands.
func gzipError(err error) error {
	var ce flate.CorruptInputError
	var le *LimitError
	var fe *FormatError
	switch {
	case errors.As(err, &le), errors.As(err, &fe):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("unexpected EOF (file truncated): %w", io.ErrUnexpectedEOF)
	case errors.Is(err, gzip.ErrChecksum):
		return fmt.Errorf("gzip CRC-32 or size check failed (file corrupt): %w", err)
	case errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("not a gzip member (bad gzip header): %w", err)
	case errors.As(err, &ce):
		return fmt.Errorf("corrupt deflate data: %w", err)
	}
	return err
}

// splitter reads consecutive gzip members from a tee.
type splitter struct {
	t  *tee
	gz *gzip.Reader // reused for every member; allocated on first use if nil
	m  member       // the current member; start reuses it
}

// atEOF reports whether the source has no more bytes.
func (s *splitter) atEOF() (bool, error) {
	_, err := s.t.br.Peek(1)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, nil
}

// start begins the next member, whose raw bytes go to sink. It returns
// io.EOF if the source is at its end.
func (s *splitter) start(section string, sink func([]byte) error, max int64, limErr func() error) (*member, error) {
	if err := s.t.flush(); err != nil {
		return nil, err
	}
	end, err := s.atEOF()
	if err != nil {
		return nil, &FormatError{Section: section, Err: err}
	}
	if end {
		return nil, io.EOF
	}
	s.t.sink = sink
	if s.gz == nil {
		s.gz = new(gzip.Reader)
	}
	if err := s.gz.Reset(s.t.br); err != nil {
		return nil, &FormatError{Section: section, Err: gzipError(err)}
	}
	s.gz.Multistream(false)
	s.m = member{gz: s.gz, section: section, max: max, limErr: limErr}
	return &s.m, nil
}

// finish passes the member's remaining raw bytes to its sink; the member
// must have reached its end.
func (s *splitter) finish() error {
	err := s.t.flush()
	s.t.sink = nil
	return err
}
