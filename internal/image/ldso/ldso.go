package ldso

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Path is where the cache goes in a root, and ConfPath the configuration
// whose presence asks for it.
const (
	Path     = "etc/ld.so.cache"
	ConfPath = "etc/ld.so.conf"
)

const (
	magic      = "glibc-ld.so.cache"
	magicVer   = "1.1"
	headerSize = 48 // magic, version, nlibs, len_strings, flags, padding, extension offset, unused
	entrySize  = 24 // flags, key, value, osversion, hwcap

	// endianLittle is the header flag value glibc writes on little-endian
	// hosts (cache_file_new_flags_endian_little).
	endianLittle = 2
)

// Entry flags (glibc's sysdeps/generic/ldconfig.h): the low byte is the
// library type, the high byte the ABI the dynamic linker requires.
const (
	flagELFLibc6         = 0x0003
	flagX8664Lib64       = 0x0300
	flagS390Lib64        = 0x0400
	flagPowerPCLib64     = 0x0500
	flagX8664LibX32      = 0x0800
	flagARMLibHF         = 0x0900
	flagAArch64Lib64     = 0x0a00
	flagARMLibSF         = 0x0b00
	flagRISCVDouble      = 0x1000
	flagLoongArchDouble  = 0x1200
	maxConfIncludeDepth  = 16
	maxSymlinkFollows    = 40
	maxLibrariesScanned  = 1 << 16
	maxConfSize          = 1 << 20
	elfHeaderSniffLength = 4
)

// Entry is one cache entry.
type Entry struct {
	Flags int32  // library type and ABI, e.g. 0x0303 for x86-64
	Key   string // soname, e.g. "libc.so.6"
	Value string // absolute path, e.g. "/usr/lib/libc.so.6"
}

// Cache is the content of an ld.so.cache.
type Cache struct {
	Entries []Entry // in file order: sorted by Key, descending in LibCmp order
}

// Result is what Generate produced.
type Result struct {
	Cache *Cache
	// Warnings lists libraries skipped (an ELF machine the cache cannot
	// describe, an unreadable file) and configuration lines ignored.
	Warnings []string
}

// LibCmp compares two library names as glibc's _dl_cache_libcmp does:
// runs of digits compare as numbers, a digit sorts after any other
// character, and other characters compare by byte value. It returns a
// negative number, zero or a positive number.
func LibCmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) {
		ca := a[i]
		var cb byte
		if j < len(b) {
			cb = b[j]
		}
		switch {
		case isDigit(ca) && isDigit(cb):
			var va, vb uint64
			for i < len(a) && isDigit(a[i]) {
				va = va*10 + uint64(a[i]-'0')
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				vb = vb*10 + uint64(b[j]-'0')
				j++
			}
			if va != vb {
				if va < vb {
					return -1
				}
				return 1
			}
		case isDigit(ca):
			return 1
		case isDigit(cb):
			return -1
		case ca != cb:
			return int(ca) - int(cb)
		default:
			i++
			j++
		}
	}
	if j < len(b) {
		return -int(b[j])
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Marshal renders c in the glibc-ld.so.cache1.1 format, little-endian,
// with the entries in the order given.
func (c *Cache) Marshal() []byte {
	n := len(c.Entries)
	base := headerSize + n*entrySize
	var strs bytes.Buffer
	offsets := map[string]uint32{}
	intern := func(s string) uint32 {
		if o, ok := offsets[s]; ok {
			return o
		}
		o := uint32(base + strs.Len())
		strs.WriteString(s)
		strs.WriteByte(0)
		offsets[s] = o
		return o
	}
	type rec struct{ key, value uint32 }
	recs := make([]rec, n)
	for i, e := range c.Entries {
		recs[i] = rec{intern(e.Key), intern(e.Value)}
	}
	out := make([]byte, 0, base+strs.Len())
	out = append(out, magic...)
	out = append(out, magicVer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(n))
	out = binary.LittleEndian.AppendUint32(out, uint32(strs.Len()))
	out = append(out, endianLittle, 0, 0, 0)
	out = binary.LittleEndian.AppendUint32(out, 0) // no extension section
	out = append(out, make([]byte, 12)...)
	for i, e := range c.Entries {
		out = binary.LittleEndian.AppendUint32(out, uint32(e.Flags))
		out = binary.LittleEndian.AppendUint32(out, recs[i].key)
		out = binary.LittleEndian.AppendUint32(out, recs[i].value)
		out = binary.LittleEndian.AppendUint32(out, 0) // osversion, unused
		out = binary.LittleEndian.AppendUint64(out, 0) // hwcap
	}
	return append(out, strs.Bytes()...)
}

// Parse reads a cache in the glibc-ld.so.cache1.1 format (little-endian,
// without the old libc5 format in front).
func Parse(data []byte) (*Cache, error) {
	if len(data) < headerSize || string(data[:len(magic)]) != magic || string(data[len(magic):len(magic)+3]) != magicVer {
		return nil, errors.New("ld.so.cache: not a glibc-ld.so.cache1.1 file")
	}
	le := binary.LittleEndian
	n := le.Uint32(data[20:])
	if uint64(n)*entrySize+headerSize > uint64(len(data)) {
		return nil, errors.New("ld.so.cache: truncated entry table")
	}
	str := func(off uint32) (string, error) {
		if int(off) >= len(data) {
			return "", fmt.Errorf("ld.so.cache: string offset %d out of range", off)
		}
		end := bytes.IndexByte(data[off:], 0)
		if end < 0 {
			return "", errors.New("ld.so.cache: unterminated string")
		}
		return string(data[off : int(off)+end]), nil
	}
	c := &Cache{Entries: make([]Entry, 0, n)}
	for i := range int(n) {
		p := data[headerSize+i*entrySize:]
		k, err := str(le.Uint32(p[4:]))
		if err != nil {
			return nil, err
		}
		v, err := str(le.Uint32(p[8:]))
		if err != nil {
			return nil, err
		}
		c.Entries = append(c.Entries, Entry{Flags: int32(le.Uint32(p)), Key: k, Value: v})
	}
	return c, nil
}

// Lookup finds the first entry for soname with the given flags as the
// dynamic linker does: a binary search in LibCmp order (descending), then
// the first matching entry of the run of equal keys. It returns "" when
// there is none.
func (c *Cache) Lookup(soname string, flags int32) string {
	e := c.Entries
	lo, hi := 0, len(e)-1
	for lo <= hi {
		mid := (lo + hi) / 2
		r := LibCmp(soname, e[mid].Key)
		switch {
		case r == 0:
			for mid > 0 && LibCmp(soname, e[mid-1].Key) == 0 {
				mid--
			}
			for ; mid < len(e) && LibCmp(soname, e[mid].Key) == 0; mid++ {
				if e[mid].Flags == flags {
					return e[mid].Value
				}
			}
			return ""
		case r < 0:
			lo = mid + 1
		default:
			hi = mid - 1
		}
	}
	return ""
}

// Needed reports whether the root holds /etc/ld.so.conf, the sign that it
// wants a cache (apko's rule).
func Needed(fsys fs.FS) bool {
	_, err := fs.Stat(fsys, ConfPath)
	return err == nil
}

// Generate scans the root fsys and returns its cache. fsys names are
// root-relative ("usr/lib"). Symbolic links are followed inside the root:
// an absolute target starts again at the root. If fsys implements
// fs.ReadLinkFS, links are resolved with it, so that a directory reached
// twice (/lib → usr/lib) is scanned once; otherwise Open is expected to
// follow them.
func Generate(fsys fs.FS) (*Result, error) {
	g := &gen{fsys: fsys, seenDirs: map[string]bool{}}
	if err := g.readConf(ConfPath, 0); err != nil {
		return nil, err
	}
	for _, d := range []string{"lib", "usr/lib", "lib64", "usr/lib64"} {
		g.addDir(d)
	}
	var all []scanned
	for i, d := range g.dirs {
		libs, err := g.scanDir(d)
		if err != nil {
			return nil, err
		}
		for _, l := range libs {
			l.order = i
			all = append(all, l)
		}
	}
	slices.SortStableFunc(all, func(a, b scanned) int {
		if r := LibCmp(b.soname, a.soname); r != 0 {
			return r
		}
		if a.flags != b.flags {
			if a.flags > b.flags {
				return -1
			}
			return 1
		}
		return a.order - b.order
	})
	c := &Cache{Entries: make([]Entry, len(all))}
	for i, l := range all {
		c.Entries[i] = Entry{Flags: l.flags, Key: l.soname, Value: l.path}
	}
	return &Result{Cache: c, Warnings: g.warnings}, nil
}

type gen struct {
	fsys     fs.FS
	dirs     []searchDir // in search order
	seenDirs map[string]bool
	scanned  int
	warnings []string
}

// searchDir is a directory to scan: its path with links resolved, and the
// path as first named, which ldconfig records in the cache.
type searchDir struct{ real, named string }

type scanned struct {
	soname string
	path   string // absolute
	flags  int32
	order  int // index of the directory in search order
}

func (g *gen) warnf(format string, args ...any) {
	g.warnings = append(g.warnings, fmt.Sprintf(format, args...))
}

// clean turns an absolute or relative path into a root-relative one.
func clean(p string) string {
	c := path.Clean("/" + p)
	if c == "/" {
		return "."
	}
	return c[1:]
}

// resolve follows symbolic links in every component of name, inside the
// root. Without fs.ReadLinkFS it returns name unchanged.
func (g *gen) resolve(name string) (string, error) {
	rl, ok := g.fsys.(fs.ReadLinkFS)
	if !ok {
		return clean(name), nil
	}
	todo := strings.Split(clean(name), "/")
	var done []string
	follows := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case ".", "":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := strings.Join(append(done, c), "/")
		fi, err := rl.Lstat(cur)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		follows++
		if follows > maxSymlinkFollows {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: errors.New("too many levels of symbolic links")}
		}
		target, err := rl.ReadLink(cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return strings.Join(done, "/"), nil
}

func (g *gen) addDir(dir string) {
	real, err := g.resolve(dir)
	if err != nil {
		return
	}
	fi, err := fs.Stat(g.fsys, real)
	if err != nil || !fi.IsDir() {
		return
	}
	if g.seenDirs[real] {
		return
	}
	g.seenDirs[real] = true
	g.dirs = append(g.dirs, searchDir{real: real, named: clean(dir)})
}

// readConf reads an ld.so.conf-style file: one directory per line
// (an "=TYPE" suffix is ignored), "include GLOB..." lines, "hwcap" lines
// (ignored, as glibc 2.37 does), and "#" comments.
func (g *gen) readConf(name string, depth int) error {
	if depth > maxConfIncludeDepth {
		g.warnf("%s: includes nested too deep", "/"+name)
		return nil
	}
	real, err := g.resolve(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	f, err := g.fsys.Open(real)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfSize))
	f.Close()
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxConfSize)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "include") && len(line) > 7 && (line[7] == ' ' || line[7] == '\t'):
			for _, pat := range strings.Fields(line[8:]) {
				if !strings.HasPrefix(pat, "/") {
					pat = path.Join("/", path.Dir("/"+name), pat)
				}
				matches, err := g.glob(clean(pat))
				if err != nil {
					g.warnf("/%s: include %s: %v", name, pat, err)
					continue
				}
				for _, m := range matches {
					if err := g.readConf(m, depth+1); err != nil {
						return err
					}
				}
			}
		case strings.HasPrefix(line, "hwcap") && len(line) > 5 && (line[5] == ' ' || line[5] == '\t'):
		default:
			dir, _, _ := strings.Cut(line, "=")
			dir = strings.TrimRight(strings.TrimSpace(dir), "/")
			if dir == "" {
				dir = "/"
			}
			g.addDir(dir)
		}
	}
	return sc.Err()
}

// glob matches pattern in the root, resolving links in the directory part.
func (g *gen) glob(pattern string) ([]string, error) {
	dir, file := path.Split(pattern)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if strings.ContainsAny(dir, "*?[") {
		// Patterns in directories: fall back to fs.Glob (no link
		// resolution needed for the common cases).
		m, err := fs.Glob(g.fsys, pattern)
		slices.Sort(m)
		return m, err
	}
	real, err := g.resolve(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	ents, err := fs.ReadDir(g.fsys, real)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		ok, err := path.Match(file, e.Name())
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, path.Join(real, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// candidate reports whether ldconfig looks at a directory entry of this
// name.
func candidate(name string) bool {
	return (strings.HasPrefix(name, "lib") || strings.HasPrefix(name, "ld-")) && strings.Contains(name, ".so")
}

type libFile struct {
	name   string
	soname string
	flags  int32
	link   bool
}

func (g *gen) scanDir(sd searchDir) ([]scanned, error) {
	dir := sd.real
	ents, err := fs.ReadDir(g.fsys, dir)
	if err != nil {
		g.warnf("/%s: %v", dir, err)
		return nil, nil
	}
	names := map[string]bool{}
	bySoname := map[string]*libFile{}
	var order []string
	for _, e := range ents {
		names[e.Name()] = true
		if !candidate(e.Name()) {
			continue
		}
		t := e.Type()
		if !t.IsRegular() && t&fs.ModeSymlink == 0 {
			continue
		}
		g.scanned++
		if g.scanned > maxLibrariesScanned {
			return nil, fmt.Errorf("ld.so.cache: more than %d library candidates", maxLibrariesScanned)
		}
		p := path.Join(dir, e.Name())
		real := p
		if t&fs.ModeSymlink != 0 {
			if real, err = g.resolve(p); err != nil {
				continue // dangling or looping link
			}
		}
		soname, flags, ok, err := g.inspect(real)
		if err != nil {
			g.warnf("/%s: %v", p, err)
			continue
		}
		if !ok {
			continue
		}
		if soname == "" {
			soname = e.Name()
		}
		// A link named as the soname, or the development link
		// ("libfoo.so" for "libfoo.so.1"), is an entry of its own name;
		// any other link counts as the file it points to (ldconfig's
		// rule).
		isLink := t&fs.ModeSymlink != 0
		if isLink {
			n := e.Name()
			if n == soname || strings.HasSuffix(n, ".so") && strings.HasPrefix(soname, n) {
				soname = n
			} else {
				isLink = false
			}
		}
		l := &libFile{name: e.Name(), soname: soname, flags: flags, link: isLink}
		old := bySoname[soname]
		if old == nil {
			bySoname[soname] = l
			order = append(order, soname)
			continue
		}
		// Prefer a file to a link, then the name that sorts last
		// (the newest version), as ldconfig does.
		if (!l.link && old.link) || (l.link == old.link && LibCmp(old.name, l.name) < 0) {
			bySoname[soname] = l
		}
	}
	var out []scanned
	for _, so := range order {
		l := bySoname[so]
		file := l.name
		if names[so] {
			file = so
		}
		abs := "/" + path.Join(sd.named, file)
		if sd.named == "." {
			abs = "/" + file
		}
		out = append(out, scanned{soname: so, path: abs, flags: l.flags})
	}
	return out, nil
}

// inspect reads the ELF header and dynamic section of a candidate.
// ok is false for files that are not ELF shared objects (linker scripts
// such as libc.so, static archives, executables).
func (g *gen) inspect(name string) (soname string, flags int32, ok bool, err error) {
	f, err := g.fsys.Open(name)
	if err != nil {
		return "", 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, false, err
	}
	if !fi.Mode().IsRegular() {
		return "", 0, false, nil
	}
	var ra io.ReaderAt
	if r, isRA := f.(io.ReaderAt); isRA {
		ra = r
	} else {
		data, err := io.ReadAll(f)
		if err != nil {
			return "", 0, false, err
		}
		ra = bytes.NewReader(data)
	}
	var head [elfHeaderSniffLength]byte
	if _, err := ra.ReadAt(head[:], 0); err != nil || string(head[:]) != elf.ELFMAG {
		return "", 0, false, nil
	}
	ef, err := elf.NewFile(ra)
	if err != nil {
		return "", 0, false, fmt.Errorf("bad ELF file: %v", err)
	}
	defer ef.Close()
	if ef.Type != elf.ET_DYN {
		return "", 0, false, nil
	}
	flags, known := abiFlags(ef, elfHeaderFlags(ra, ef))
	if !known {
		g.warnf("/%s: ELF machine %v (%v) has no ld.so.cache flags; skipped", name, ef.Machine, ef.Class)
		return "", 0, false, nil
	}
	if sn, err := ef.DynString(elf.DT_SONAME); err == nil && len(sn) > 0 {
		soname = sn[0]
	}
	return soname, flags, true, nil
}

// abiFlags returns the cache flags of an ELF library, as ldconfig
// computes them for the architectures Wolfi and Debian build.
func abiFlags(ef *elf.File, hdrFlags uint32) (int32, bool) {
	is64 := ef.Class == elf.ELFCLASS64
	switch ef.Machine {
	case elf.EM_X86_64:
		if is64 {
			return flagELFLibc6 | flagX8664Lib64, true
		}
		return flagELFLibc6 | flagX8664LibX32, true
	case elf.EM_AARCH64:
		if is64 {
			return flagELFLibc6 | flagAArch64Lib64, true
		}
	case elf.EM_386:
		if !is64 {
			return flagELFLibc6, true
		}
	case elf.EM_PPC64:
		if is64 {
			return flagELFLibc6 | flagPowerPCLib64, true
		}
	case elf.EM_S390:
		if is64 {
			return flagELFLibc6 | flagS390Lib64, true
		}
		return flagELFLibc6, true
	case elf.EM_ARM:
		if !is64 {
			const efARMABIFloatHard = 0x400
			if hdrFlags&efARMABIFloatHard != 0 {
				return flagELFLibc6 | flagARMLibHF, true
			}
			return flagELFLibc6 | flagARMLibSF, true
		}
	case elf.EM_RISCV:
		const floatABIMask, floatABIDouble = 0x6, 0x4
		if is64 && hdrFlags&floatABIMask == floatABIDouble {
			return flagELFLibc6 | flagRISCVDouble, true
		}
	case elf.EM_LOONGARCH:
		const abiMask, abiDouble = 0x7, 0x3
		if is64 && hdrFlags&abiMask == abiDouble {
			return flagELFLibc6 | flagLoongArchDouble, true
		}
	}
	return 0, false
}

// elfHeaderFlags returns e_flags, which debug/elf parses but does not keep.
func elfHeaderFlags(ra io.ReaderAt, ef *elf.File) uint32 {
	// e_flags follows e_entry, e_phoff and e_shoff.
	off := int64(36)
	if ef.Class == elf.ELFCLASS64 {
		off = 48
	}
	var b [4]byte
	if _, err := ra.ReadAt(b[:], off); err != nil {
		return 0
	}
	return ef.ByteOrder.Uint32(b[:])
}
