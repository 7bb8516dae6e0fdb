package repo

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"github.com/klauspost/compress/gzip"

	"github.com/reef-dev/reef/internal/apk"
)

// DefaultMaxIndexSize is the default bound on an index file: on its
// compressed size and on the total size it decompresses to. Alpine's main
// index decompresses to about 2 MiB.
const DefaultMaxIndexSize = 512 << 20

// maxSignatureEntry bounds one signature entry; apk-tools v3 ignores
// larger ones, and so does ReadIndex.
const maxSignatureEntry = 64 << 10

// ErrTooLarge is wrapped by errors about input over a size limit.
var ErrTooLarge = errors.New("size limit exceeded")

// Index is a parsed APKINDEX.tar.gz.
type Index struct {
	Description string     // the DESCRIPTION entry, e.g. "v3.17.0-12-g…"
	Packages    []*Package // the records, in file order
	// Signatures holds the signature entries found, in file order: those of
	// the leading signature member(s), then any found inside the index
	// member (which cannot be verified, see ReadIndex).
	Signatures []apk.Signature
	// VerifiedBy is the name of the keyring key whose signature was checked
	// and matched; empty when the index was accepted untrusted.
	VerifiedBy string
	// Untrusted says why the index is not verified when it was read with
	// AllowUntrusted (unsigned, unknown key, bad signature); nil when
	// VerifiedBy is set.
	Untrusted error
}

// ReadOptions bounds and configures ReadIndex.
type ReadOptions struct {
	// File names the source (a path or URL) in errors.
	File string
	// AllowUntrusted accepts an index that is unsigned, signed by a key
	// outside the keyring or whose signature does not match, as apk's
	// --allow-untrusted does. The reason is kept in Index.Untrusted.
	AllowUntrusted bool
	// MaxSize bounds both the compressed size of the file and the total
	// size of everything it decompresses to; DefaultMaxIndexSize when 0.
	MaxSize int64
	// MaxLine bounds one line of the APKINDEX text; 4 MiB when 0.
	MaxLine int
}

func (o *ReadOptions) defaults() {
	if o.File == "" {
		o.File = "APKINDEX.tar.gz"
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxIndexSize
	}
	if o.MaxLine <= 0 {
		o.MaxLine = maxRecordLine
	}
}

// IndexError is an error about one index file. It wraps the cause, so
// errors.As finds *apk.UnknownKeyError, *apk.BadSignatureError and
// *RecordError, and errors.Is finds apk.ErrUnsigned and ErrTooLarge.
type IndexError struct {
	File string
	Err  error
}

func (e *IndexError) Error() string { return e.File + ": " + e.Err.Error() }

func (e *IndexError) Unwrap() error { return e.Err }

// ReadIndex reads an APKINDEX.tar.gz from r, checks its signature against
// kr and parses it.
//
// The signature entries are those of the leading gzip member(s) that hold
// nothing but .SIGN.* entries; the signed bytes are everything after them.
// As in apk-tools, the first signature whose key is in kr decides. Unless
// opts.AllowUntrusted is set, an index without such a member
// (apk.ErrUnsigned), signed only by keys outside kr (*apk.UnknownKeyError,
// which names them) or whose signature does not match
// (*apk.BadSignatureError) is refused before its records are parsed. kr
// may be nil (no trusted keys).
//
// Some old tools wrote the signature entry into the same gzip member as
// the index ("single stream"). Such an entry signs nothing that can be
// found again, so apk-tools ignores it and so does ReadIndex: the index
// counts as unsigned, and the entries are still listed in Signatures.
//
// Input is bounded by opts.MaxSize (compressed and decompressed) and
// opts.MaxLine; errors are *IndexError, naming opts.File, and malformed
// records give a *RecordError with the line number.
func ReadIndex(r io.Reader, kr *apk.Keyring, opts ReadOptions) (*Index, error) {
	opts.defaults()
	var size int64
	if l, ok := r.(interface{ Len() int }); ok { // bytes.Reader, bytes.Buffer, ...
		size = int64(l.Len())
	}
	return readIndexFrom(r, size, kr, opts)
}

// readIndexFrom reads all of r (sizeHint bytes, when known) and the index
// in it.
func readIndexFrom(r io.Reader, sizeHint int64, kr *apk.Keyring, opts ReadOptions) (*Index, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(max(sizeHint, 0), opts.MaxSize)+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(r, opts.MaxSize+1)); err != nil {
		return nil, &IndexError{opts.File, err}
	}
	if int64(buf.Len()) > opts.MaxSize {
		return nil, &IndexError{opts.File, fmt.Errorf("%w: the file is larger than %d bytes", ErrTooLarge, opts.MaxSize)}
	}
	idx, _, err := readIndexBytes(buf.Bytes(), kr, opts)
	return idx, err
}

// ReadIndexFile reads the index file at path; see ReadIndex. opts.File
// defaults to path.
func ReadIndexFile(path string, kr *apk.Keyring, opts ReadOptions) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if opts.File == "" {
		opts.File = path
	}
	opts.defaults()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return readIndexFrom(f, size, kr, opts)
}

// indexParts is what the tar level of an index holds.
type indexParts struct {
	sigEnd  int             // offset of the first byte after the signature member(s)
	sigs    []apk.Signature // from the signature member(s)
	inline  []apk.Signature // signature entries inside the index member
	text    string          // the APKINDEX entry
	desc    string          // the DESCRIPTION entry
	modTime time.Time       // of the APKINDEX entry
}

// readIndexBytes reads a whole index file held in data.
func readIndexBytes(data []byte, kr *apk.Keyring, opts ReadOptions) (*Index, *indexParts, error) {
	opts.defaults()
	fail := func(err error) (*Index, *indexParts, error) {
		return nil, nil, &IndexError{opts.File, err}
	}
	b := &budget{left: opts.MaxSize}
	parts := &indexParts{}
	// One gzip reader for all the members: its window (tens of KiB) is
	// allocated once.
	zr := new(gzip.Reader)
	var err error
	parts.sigs, parts.sigEnd, err = splitSignatures(data, zr, b)
	if err != nil {
		return fail(err)
	}
	idx := &Index{}
	var trust error
	if len(parts.sigs) > 0 {
		// Check the signature before inflating anything it covers.
		if kr == nil {
			kr = apk.NewKeyring()
		}
		idx.VerifiedBy, trust = kr.Verify(parts.sigs, data[parts.sigEnd:])
		if trust != nil && !opts.AllowUntrusted {
			return fail(trust)
		}
	}
	// Parse the records while they are being inflated, unless the index is
	// about to be refused for want of a signature anyway.
	var tp *textParser
	if opts.AllowUntrusted || (len(parts.sigs) > 0 && trust == nil) {
		tp = &textParser{ip: indexParser{file: "APKINDEX", maxLine: opts.MaxLine}}
	}
	tarErr := readIndexTar(data[parts.sigEnd:], zr, parts, b, tp)
	if tp != nil && tp.done != nil {
		<-tp.done
	}
	if len(parts.sigs) == 0 {
		switch {
		case len(parts.inline) > 0:
			names := make([]string, len(parts.inline))
			for i, s := range parts.inline {
				names[i] = s.EntryName()
			}
			trust = fmt.Errorf("%w: its signature entries (%s) are inside the index's gzip member instead of a leading member of their own, so they sign nothing that can be checked; re-sign the index, or allow untrusted indexes",
				apk.ErrUnsigned, strings.Join(names, ", "))
		default:
			trust = fmt.Errorf("%w: the index has no signature member; sign it, or allow untrusted indexes", apk.ErrUnsigned)
		}
		if !opts.AllowUntrusted && (tarErr == nil || !errors.Is(tarErr, ErrTooLarge)) {
			return fail(trust)
		}
	}
	if tarErr != nil {
		return fail(tarErr)
	}
	idx.Untrusted = trust
	idx.Description = parts.desc
	idx.Signatures = append(append(idx.Signatures, parts.sigs...), parts.inline...)
	if tp != nil && tp.done != nil {
		idx.Packages, err = tp.pkgs, tp.err
	} else {
		idx.Packages, err = parseIndexText(parts.text, "APKINDEX", opts.MaxLine)
	}
	if err != nil {
		return fail(err)
	}
	return idx, parts, nil
}

// splitSignatures reads the signature member(s) at the start of data: the
// leading gzip members holding nothing but signature entries. end is the
// offset of the first byte after them. zr is the gzip reader to use.
func splitSignatures(data []byte, zr *gzip.Reader, b *budget) (sigs []apk.Signature, end int, err error) {
	br := bytes.NewReader(data)
	for br.Len() > 0 {
		ms, ok, err := readSignatureMember(zr, br, b)
		if err != nil {
			return nil, 0, err
		}
		next := len(data) - br.Len()
		if !ok || next == end {
			break // not a signature member: the index starts here
		}
		sigs = append(sigs, ms...)
		end = next
	}
	return sigs, end, nil
}

// readIndexTar reads the tar entries of the unsigned index body into
// parts, with zr (reset to read body) as its gzip reader. With tp, the
// APKINDEX text may be parsed as it is inflated (see textParser); the
// caller waits for tp.done if it is not nil.
func readIndexTar(body []byte, zr *gzip.Reader, parts *indexParts, b *budget, tp *textParser) error {
	if len(body) == 0 {
		if parts.sigEnd > 0 {
			return errors.New("nothing follows the signature member: the index itself is missing")
		}
		return errors.New("empty file")
	}
	if err := zr.Reset(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("not a gzip stream at byte %d: %w", parts.sigEnd, err)
	}
	lr := b.reader(zr)
	tr := tar.NewReader(lr)
	seen := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return b.cause(fmt.Errorf("reading the index tar: %w", err))
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		switch hdr.Name {
		case "APKINDEX":
			if seen {
				return errors.New("more than one APKINDEX entry")
			}
			seen = true
			if hdr.Size > b.left {
				return fmt.Errorf("%w: the APKINDEX entry is %d bytes, more than the %d left of the limit", ErrTooLarge, hdr.Size, b.left)
			}
			// Decompress straight into the memory the records' strings
			// will slice: no intermediate buffer and copy (for Alpine's
			// main index, 1.9 MiB copied once less). The bytes are never
			// written again, so viewing them as a string is safe.
			text := make([]byte, hdr.Size)
			parts.text = unsafe.String(unsafe.SliceData(text), len(text))
			if err := readText(tr, text, tp); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return b.cause(fmt.Errorf("reading APKINDEX: %w", err))
			}
			parts.modTime = hdr.ModTime
		case "DESCRIPTION":
			d, err := io.ReadAll(tr)
			if err != nil {
				return b.cause(fmt.Errorf("reading DESCRIPTION: %w", err))
			}
			parts.desc = string(d)
		default:
			if sig, ok, err := readSignatureEntry(hdr, tr); err != nil {
				return b.cause(err)
			} else if ok {
				parts.inline = append(parts.inline, sig)
			}
		}
	}
	// Read to the end, so that the gzip checksum is checked and nothing
	// but gzip data follows.
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return b.cause(fmt.Errorf("after the index tar: %w", err))
	}
	if !seen {
		return errors.New("no APKINDEX entry in the index tar")
	}
	return nil
}

// textChunk is how much APKINDEX text readText inflates before handing it
// to the parser.
const textChunk = 64 << 10

// textParser parses the APKINDEX text in a goroutine while readText
// inflates it, so that parsing overlaps inflating when a second CPU is
// free: for Alpine's main index (1.9 MiB of text) that saves about 9 ms of
// wall time in a whole `reef resolve` process (bench/resolve.sh), where
// parsing also pays for faulting in the memory of the records, and 2 ms
// of ReadIndex's 16 ms in a warm benchmark. The parser only reads the text
// up to the length readText last reported, and those bytes are never
// written again. The result is the same as parseIndexText's, errors and
// their line numbers included.
type textParser struct {
	ip    indexParser
	ready chan int      // length of the text inflated so far; closed at the end
	done  chan struct{} // closed when pkgs and err are set; nil if not started
	pkgs  []*Package
	err   error
}

// start parses text in a goroutine as ready reports it available.
func (tp *textParser) start(text string) {
	tp.ready = make(chan int, 64)
	tp.done = make(chan struct{})
	go func() {
		defer close(tp.done)
		parsed, avail := 0, 0
		for n := range tp.ready {
			avail = n
			if tp.err != nil {
				continue // drain
			}
			// Whole lines only: the last one may not be complete yet.
			if i := strings.LastIndexByte(text[parsed:n], '\n'); i >= 0 {
				tp.err = tp.ip.feed(text[parsed : parsed+i+1])
				parsed += i + 1
			}
		}
		if tp.err == nil {
			// The rest of the text; if inflating failed, the caller
			// reports that and ignores this result.
			if tp.err = tp.ip.feed(text[parsed:avail]); tp.err == nil {
				tp.pkgs, tp.err = tp.ip.end()
			}
		}
	}()
}

// readText fills text from r. With tp, and when the text is large enough
// and a second CPU may run the parser, it inflates chunk by chunk and
// starts tp parsing alongside; tp.done is left nil otherwise.
func readText(r io.Reader, text []byte, tp *textParser) error {
	if tp == nil || len(text) < 4*textChunk || runtime.GOMAXPROCS(0) < 2 {
		_, err := io.ReadFull(r, text)
		return err
	}
	tp.start(unsafe.String(unsafe.SliceData(text), len(text)))
	defer close(tp.ready)
	for off := 0; off < len(text); {
		n, err := io.ReadFull(r, text[off:min(off+textChunk, len(text))])
		off += n
		if err != nil {
			return err
		}
		tp.ready <- off
	}
	return nil
}

// readSignatureMember reads the gzip member at br's position if it holds
// only signature entries, and leaves br after it. ok is false (and br's
// position undefined) when the member is anything else.
func readSignatureMember(zr *gzip.Reader, br *bytes.Reader, b *budget) (sigs []apk.Signature, ok bool, err error) {
	if err := zr.Reset(br); err != nil {
		return nil, false, nil // reported when read as the index
	}
	zr.Multistream(false)
	lr := b.reader(zr)
	tr := tar.NewReader(lr)
	entries := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if b.hit {
				return nil, false, b.cause(err)
			}
			return nil, false, nil
		}
		sig, isSig, err := readSignatureEntry(hdr, tr)
		if err != nil {
			return nil, false, b.cause(err)
		}
		if !isSig {
			return nil, false, nil
		}
		entries++
		if sig.Value != nil {
			sigs = append(sigs, sig)
		}
	}
	if entries == 0 {
		return nil, false, nil
	}
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return nil, false, b.cause(fmt.Errorf("reading the signature member: %w", err))
	}
	return sigs, true, nil
}

// readSignatureEntry reads hdr's content if it is a signature entry.
// Entries over 64 KiB are skipped, as apk-tools v3 does: sig.Value is then
// nil.
func readSignatureEntry(hdr *tar.Header, r io.Reader) (sig apk.Signature, ok bool, err error) {
	alg, key, ok := apk.ParseSignatureName(hdr.Name)
	if !ok || hdr.Typeflag != tar.TypeReg {
		return sig, false, nil
	}
	sig = apk.Signature{Alg: alg, KeyName: key}
	if hdr.Size > maxSignatureEntry {
		return sig, true, nil
	}
	sig.Value = make([]byte, hdr.Size)
	if _, err := io.ReadFull(r, sig.Value); err != nil {
		return sig, false, fmt.Errorf("reading %s: %w", hdr.Name, err)
	}
	return sig, true, nil
}

// budget counts the bytes decompressed from one file against its limit.
type budget struct {
	left int64
	hit  bool
}

func (b *budget) reader(r io.Reader) io.Reader { return &budgetReader{r: r, b: b} }

// cause returns a limit error if the budget ran out, for errors that
// readers above (tar) may have reworded; err otherwise.
func (b *budget) cause(err error) error {
	if b.hit && !errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%w: the index decompresses to more than the limit", ErrTooLarge)
	}
	return err
}

type budgetReader struct {
	r io.Reader
	b *budget
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if br.b.left <= 0 {
		// Probe for one byte: at exactly the limit, the end is fine.
		var one [1]byte
		n, err := br.r.Read(one[:])
		if n > 0 {
			br.b.hit = true
			return 0, fmt.Errorf("%w: the index decompresses to more than the limit", ErrTooLarge)
		}
		return 0, err
	}
	if int64(len(p)) > br.b.left {
		p = p[:br.b.left]
	}
	n, err := br.r.Read(p)
	br.b.left -= int64(n)
	return n, err
}
