package repo

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/reef-dev/reef/internal/apk"
)

// Package is one record of an APKINDEX: a package as a repository
// describes it. The dependency lists hold one dependency string each
// (see the version package for their grammar).
type Package struct {
	Checksum         string   // C: identity, "Q1" + base64 SHA-1 of the control member
	Name             string   // P:
	Version          string   // V:
	Arch             string   // A:
	Size             uint64   // S: size of the .apk file
	InstalledSize    uint64   // I:
	Description      string   // T:
	URL              string   // U:
	License          string   // L:
	Origin           string   // o:
	Maintainer       string   // m:
	BuildTime        int64    // t:
	Commit           string   // c:
	ProviderPriority uint64   // k:
	Depends          []string // D:
	Provides         []string // p:
	InstallIf        []string // i:
}

// FromPkgInfo makes an index record from a package's .PKGINFO, its identity
// and its file size, as `apk index` does.
func FromPkgInfo(info *apk.PkgInfo, checksum string, fileSize uint64) *Package {
	return &Package{
		Checksum:         checksum,
		Name:             info.Name,
		Version:          info.Version,
		Arch:             info.Arch,
		Size:             fileSize,
		InstalledSize:    info.Size,
		Description:      info.Description,
		URL:              info.URL,
		License:          info.License,
		Origin:           info.Origin,
		Maintainer:       info.Maintainer,
		BuildTime:        info.BuildDate,
		Commit:           info.Commit,
		ProviderPriority: info.ProviderPriority,
		Depends:          append([]string(nil), info.Depends...),
		Provides:         append([]string(nil), info.Provides...),
		InstallIf:        append([]string(nil), info.InstallIf...),
	}
}

// Filename is the package's file name in a repository: NAME-VERSION.apk.
func (p *Package) Filename() string { return p.Name + "-" + p.Version + ".apk" }

// String returns NAME-VERSION.
func (p *Package) String() string { return p.Name + "-" + p.Version }

// RecordError describes a malformed line of an index or installed database.
type RecordError struct {
	File string // file name, when known
	Line int    // 1-based
	Msg  string
}

func (e *RecordError) Error() string {
	f := e.File
	if f == "" {
		f = "APKINDEX"
	}
	return fmt.Sprintf("%s:%d: %s", f, e.Line, e.Msg)
}

// maxRecordLine bounds one index line; the longest real ones (D: of large
// meta packages) are a few KiB.
const maxRecordLine = 4 << 20

// RecordScanner splits APKINDEX-style text (index and installed database)
// into fields. Every non-empty line must be "X:value"; an empty line ends a
// record.
type RecordScanner struct {
	sc    *bufio.Scanner
	file  string
	line  int
	key   byte
	value string
	end   bool // the current position is a record end (blank line)
	err   error
}

// NewRecordScanner returns a scanner over r; file names the source in errors.
func NewRecordScanner(r io.Reader, file string) *RecordScanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxRecordLine)
	sc.Split(scanLF)
	return &RecordScanner{sc: sc, file: file}
}

// scanLF splits at '\n' only, as apk does: unlike bufio.ScanLines it keeps
// a '\r' before the newline as part of the value, so that what is read is
// what is written back.
func scanLF(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Scan advances to the next line. It returns false at the end of input or on
// error (see Err). After it returns true, either EndOfRecord is true (a
// blank line) or Key and Value hold the field.
func (s *RecordScanner) Scan() bool {
	if s.err != nil || !s.sc.Scan() {
		if s.err == nil {
			if err := s.sc.Err(); err != nil {
				s.err = &RecordError{s.file, s.line + 1, err.Error()}
			}
		}
		return false
	}
	s.line++
	b := s.sc.Bytes()
	if len(b) == 0 {
		s.end = true
		return true
	}
	s.end = false
	if len(b) < 2 || b[1] != ':' {
		s.err = &RecordError{s.file, s.line, fmt.Sprintf("malformed line %q: want \"X:value\"", truncate(string(b), 60))}
		return false
	}
	s.key = b[0]
	s.value = string(b[2:])
	return true
}

// EndOfRecord reports whether the current line is the blank line that ends a record.
func (s *RecordScanner) EndOfRecord() bool { return s.end }

// Key returns the current field letter.
func (s *RecordScanner) Key() byte { return s.key }

// Value returns the current field value.
func (s *RecordScanner) Value() string { return s.value }

// Line returns the current 1-based line number.
func (s *RecordScanner) Line() int { return s.line }

// Err returns the first error met.
func (s *RecordScanner) Err() error { return s.err }

// Errorf returns an error located at the current line.
func (s *RecordScanner) Errorf(format string, args ...any) error {
	return &RecordError{s.file, s.line, fmt.Sprintf(format, args...)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SetField stores one index field in p. Unknown lowercase letters are
// ignored, as apk does; installed-database letters (F M R Z a r q s f g)
// are ignored too. An unknown uppercase letter is an error.
func (p *Package) SetField(key byte, value string) error {
	num := func() (uint64, error) {
		if value == "" {
			return 0, nil
		}
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%c: %q is not a non-negative integer", key, value)
		}
		return n, nil
	}
	var err error
	switch key {
	case 'C':
		p.Checksum = value
	case 'P':
		p.Name = value
	case 'V':
		p.Version = value
	case 'A':
		p.Arch = value
	case 'S':
		p.Size, err = num()
	case 'I':
		p.InstalledSize, err = num()
	case 'T':
		p.Description = value
	case 'U':
		p.URL = value
	case 'L':
		p.License = value
	case 'o':
		p.Origin = value
	case 'm':
		p.Maintainer = value
	case 't':
		var n uint64
		n, err = num()
		if n > math.MaxInt64 {
			return fmt.Errorf("t: %q is out of range", value)
		}
		p.BuildTime = int64(n)
	case 'c':
		p.Commit = value
	case 'k':
		p.ProviderPriority, err = num()
	case 'D':
		p.Depends = splitList(value)
	case 'p':
		p.Provides = splitList(value)
	case 'i':
		p.InstallIf = splitList(value)
	case 'F', 'M', 'R', 'Z':
		// installed-database letters: not part of an index record
	default:
		if 'A' <= key && key <= 'Z' {
			return fmt.Errorf("unknown field %q", string(key))
		}
	}
	return err
}

// splitList splits a space-separated dependency list. apko has been seen to
// write "i:[]" for an empty install_if; treat it as empty.
func splitList(v string) []string {
	if v == "[]" {
		return nil
	}
	return strings.Fields(v)
}

// ParseRecords parses index text (the APKINDEX member) into packages. A
// record must have P: and V:; file names the source in errors.
func ParseRecords(r io.Reader, file string) ([]*Package, error) {
	s := NewRecordScanner(r, file)
	var pkgs []*Package
	var cur *Package
	start := 0
	finish := func() error {
		if cur == nil {
			return nil
		}
		if cur.Name == "" || cur.Version == "" {
			return &RecordError{file, start, "record has no P: (name) or V: (version)"}
		}
		pkgs = append(pkgs, cur)
		cur = nil
		return nil
	}
	for s.Scan() {
		if s.EndOfRecord() {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		if cur == nil {
			cur = &Package{}
			start = s.Line()
		}
		if err := cur.SetField(s.Key(), s.Value()); err != nil {
			return nil, s.Errorf("%v", err)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return pkgs, nil
}

// AppendRecord appends p's index record (fields in apk's order
// C P V A S I T U L o m t c k D p i) and the blank line that ends it.
func (p *Package) AppendRecord(b []byte) []byte {
	field := func(k byte, v string) {
		b = append(b, k, ':')
		b = append(b, v...)
		b = append(b, '\n')
	}
	opt := func(k byte, v string) {
		if v != "" {
			field(k, v)
		}
	}
	list := func(k byte, v []string) {
		if len(v) > 0 {
			field(k, strings.Join(v, " "))
		}
	}
	opt('C', p.Checksum)
	field('P', p.Name)
	field('V', p.Version)
	opt('A', p.Arch)
	field('S', strconv.FormatUint(p.Size, 10))
	field('I', strconv.FormatUint(p.InstalledSize, 10))
	field('T', p.Description)
	field('U', p.URL)
	field('L', p.License)
	opt('o', p.Origin)
	opt('m', p.Maintainer)
	if p.BuildTime != 0 {
		field('t', strconv.FormatInt(p.BuildTime, 10))
	}
	opt('c', p.Commit)
	if p.ProviderPriority != 0 {
		field('k', strconv.FormatUint(p.ProviderPriority, 10))
	}
	list('D', p.Depends)
	list('p', p.Provides)
	list('i', p.InstallIf)
	return append(b, '\n')
}

// WriteRecords writes pkgs as index text, in the given order.
func WriteRecords(w io.Writer, pkgs []*Package) error {
	var b []byte
	for _, p := range pkgs {
		b = p.AppendRecord(b)
	}
	_, err := w.Write(b)
	return err
}

// SortPackages sorts pkgs as apk orders index records: by name
// case-insensitively (ties by byte order), then by the given version
// comparison ascending.
func SortPackages(pkgs []*Package, compareVersions func(a, b string) int) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if c := compareFold(a.Name, b.Name); c != 0 {
			return c < 0
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return compareVersions(a.Version, b.Version) < 0
	})
}

// compareFold compares a and b as C's strcasecmp does (ASCII letters
// folded to lower case), without allocating.
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := lowerASCII(a[i]), lowerASCII(b[i])
		if x != y {
			return int(x) - int(y)
		}
	}
	return len(a) - len(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
