package repo

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// indexParser parses APKINDEX text held in memory. It gives the same
// records as ParseRecords but allocates little: every field value is a
// substring of the text, packages come
// from slabs, and dependency lists are cut from a shared slab of strings.
// The records therefore keep the whole text alive, which is the size of
// the index anyway.
type indexParser struct {
	file    string
	maxLine int
	slabs   [][]Package // the slabs of packages, the last one in use
	pkgs    []Package   // the part of the last slab not yet handed out
	strs    []string    // slab of list elements; those past len are free

	// Parse state, kept between calls to feed.
	n     int      // records finished
	cur   *Package // the record being read, nil between records
	start int      // line where cur started
	line  int      // lines read so far
}

// parseIndexText parses APKINDEX text. Values in the result are
// substrings of text. maxLine bounds one line (without
// its newline); file names the source in errors.
func parseIndexText(text string, file string, maxLine int) ([]*Package, error) {
	p := &indexParser{file: file, maxLine: maxLine}
	return p.parse(text)
}

func (ip *indexParser) newPackage() *Package {
	if len(ip.pkgs) == 0 {
		ip.pkgs = make([]Package, ip.grow(cap(ip.pkgs), 16, 1024))
		ip.slabs = append(ip.slabs, ip.pkgs)
	}
	p := &ip.pkgs[0]
	ip.pkgs = ip.pkgs[1:]
	return p
}

// grow returns the next slab size: double the last one, within [lo, hi].
func (ip *indexParser) grow(last, lo, hi int) int {
	n := 2 * last
	if n < lo {
		n = lo
	}
	if n > hi {
		n = hi
	}
	return n
}

// parse parses the whole text s.
func (ip *indexParser) parse(s string) ([]*Package, error) {
	if err := ip.feed(s); err != nil {
		return nil, err
	}
	return ip.end()
}

// finish ends the current record, if any.
func (ip *indexParser) finish() error {
	if ip.cur == nil {
		return nil
	}
	if ip.cur.Name == "" || ip.cur.Version == "" {
		return &RecordError{ip.file, ip.start, "record has no P: (name) or V: (version)"}
	}
	ip.n++
	ip.cur = nil
	return nil
}

// end finishes parsing and returns the records. They are the packages of
// the slabs, in order, as every record started is finished or fails the
// parse; collecting them at the end sizes the result exactly.
func (ip *indexParser) end() ([]*Package, error) {
	if err := ip.finish(); err != nil {
		return nil, err
	}
	if ip.n == 0 {
		return nil, nil
	}
	out := make([]*Package, 0, ip.n)
	for _, slab := range ip.slabs {
		for i := range slab[:min(len(slab), ip.n-len(out))] {
			out = append(out, &slab[i])
		}
	}
	return out, nil
}

// feed parses the next part of the text. Feeding a text in parts that end
// at line ends (after a '\n'), the last part excepted, gives the same
// result as feeding it whole.
func (ip *indexParser) feed(s string) error {
	for len(s) > 0 {
		var l string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			l, s = s[:i], s[i+1:]
		} else {
			l, s = s, ""
		}
		ip.line++
		if len(l) > ip.maxLine {
			return &RecordError{ip.file, ip.line, fmt.Sprintf("line is longer than %d bytes", ip.maxLine)}
		}
		if len(l) == 0 {
			if err := ip.finish(); err != nil {
				return err
			}
			continue
		}
		if len(l) < 2 || l[1] != ':' {
			return &RecordError{ip.file, ip.line, fmt.Sprintf("malformed line %q: want \"X:value\"", truncate(l, 60))}
		}
		cur := ip.cur
		if cur == nil {
			cur = ip.newPackage()
			ip.cur = cur
			ip.start = ip.line
		}
		key, value := l[0], l[2:]
		switch key {
		case 'D':
			cur.Depends = ip.list(value)
		case 'p':
			cur.Provides = ip.list(value)
		case 'i':
			cur.InstallIf = ip.list(value)
		default:
			if err := cur.SetField(key, value); err != nil {
				return &RecordError{ip.file, ip.line, err.Error()}
			}
		}
	}
	return nil
}

// asciiSpace marks the bytes strings.Fields treats as space in ASCII text.
var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// list splits a dependency list as splitList does (strings.Fields, "[]"
// meaning empty), appending the elements to the slab. It returns nil for an
// empty list.
func (ip *indexParser) list(v string) []string {
	if v == "[]" {
		return nil
	}
	start := len(ip.strs)
	for i := 0; i < len(v); {
		c := v[i]
		if c >= utf8.RuneSelf {
			// Unicode spaces: leave it to the standard library.
			ip.strs = ip.strs[:start]
			if f := strings.Fields(v); len(f) > 0 {
				return f
			}
			return nil
		}
		if asciiSpace[c] {
			i++
			continue
		}
		j := i + 1
		for j < len(v) && !asciiSpace[v[j]] && v[j] < utf8.RuneSelf {
			j++
		}
		if j < len(v) && v[j] >= utf8.RuneSelf {
			i = j // handled on the next turn
			continue
		}
		if len(ip.strs) == cap(ip.strs) {
			// Move this list's elements so far to a new slab.
			n := len(ip.strs) - start
			slab := make([]string, 0, max(ip.grow(cap(ip.strs), 64, 4096), 2*n+1))
			ip.strs = append(slab, ip.strs[start:]...)
			start = 0
		}
		ip.strs = append(ip.strs, v[i:j])
		i = j
	}
	if len(ip.strs) == start {
		return nil
	}
	return ip.strs[start:len(ip.strs):len(ip.strs)]
}
