package debimport

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/version"
)

const (
	// maxCopyright bounds the copyright file read for the license.
	maxCopyright = 1 << 20
	// spoolMem is the largest library kept in memory while its SONAME is
	// read; larger ones go to a temporary file.
	spoolMem = 16 << 20
)

// converter streams the entries of a data.tar into an apk DataWriter and
// collects what .PKGINFO needs from the files: shared-library sonames,
// commands and the copyright file.
type converter struct {
	ctx     context.Context
	dw      *apk.DataWriter
	debName string // Debian package name, for usr/share/doc/<name>/copyright
	tempDir string

	names   map[string]byte // path → tar type of every entry added
	entries int

	sonames     map[string]string // soname → version, for so: provides
	cmds        map[string]bool   // command names, for cmd: provides
	copyright   []byte
	synthesized []string // parent directories the archive did not list first
	spool       *os.File // reused temporary file for large libraries
}

func newConverter(ctx context.Context, dw *apk.DataWriter, debName, tempDir string) *converter {
	return &converter{
		ctx:     ctx,
		dw:      dw,
		debName: debName,
		tempDir: tempDir,
		names:   map[string]byte{},
		sonames: map[string]string{},
		cmds:    map[string]bool{},
	}
}

// close releases the temporary file, if one was made.
func (c *converter) close() {
	if c.spool != nil {
		c.spool.Close()
		os.Remove(c.spool.Name())
	}
}

// convert copies every entry of tr. Entry names are cleaned ("./usr/x" →
// "usr/x"); an absolute name or one with a ".." component is an error, so
// nothing can be placed outside the package root. Directories missing
// before their contents are added (mode 0755, root) and reported in
// c.synthesized; a directory entry for a path already added is skipped.
func (c *converter) convert(tr *tar.Reader) error {
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return tarError(err)
		}
		if c.entries%256 == 0 {
			if err := c.ctx.Err(); err != nil {
				return err
			}
		}
		c.entries++
		if c.entries > maxDataEntries {
			return fmt.Errorf("more than %d entries", maxDataEntries)
		}
		if err := c.add(hdr, tr); err != nil {
			return fmt.Errorf("entry %q: %w", clip(hdr.Name, 200), err)
		}
	}
}

func (c *converter) add(h *tar.Header, body io.Reader) error {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX global header: no file; apk ignores it too
	}
	name, err := cleanPath(h.Name)
	if err != nil {
		return err
	}
	if name == "" {
		if h.Typeflag != tar.TypeDir {
			return fmt.Errorf("the package root is not a directory")
		}
		return nil // the root itself: apk has no entry for it
	}
	typ := h.Typeflag
	switch typ {
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeGNUSparse:
		typ = tar.TypeReg
	case tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("unsupported tar entry type %q", string(rune(typ)))
	}
	if prev, ok := c.names[name]; ok {
		if typ == tar.TypeDir && prev == tar.TypeDir {
			return nil
		}
		return fmt.Errorf("duplicate entry")
	}
	if err := c.parents(name); err != nil {
		return err
	}
	if h.Uid < 0 || h.Gid < 0 {
		return fmt.Errorf("negative uid/gid")
	}
	out := &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     h.Mode & 0o7777,
		Uid:      h.Uid,
		Gid:      h.Gid,
		Uname:    h.Uname,
		Gname:    h.Gname,
		Devmajor: h.Devmajor,
		Devminor: h.Devminor,
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	switch typ {
	case tar.TypeReg:
		if h.Size > maxFileSize {
			return fmt.Errorf("file of %d bytes: apk cannot hold files of 4 GiB or more", h.Size)
		}
		out.Size = h.Size
		body, err = c.inspect(name, dir, base, h.Size, body)
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		// Symlink targets are kept verbatim: they are data, resolved (and
		// confined to the root) by whoever installs the package.
		out.Linkname = h.Linkname
	case tar.TypeLink:
		target, err := cleanPath(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		if c.names[target] != tar.TypeReg {
			return fmt.Errorf("hard link to %q, which is not a regular file earlier in the archive", clip(h.Linkname, 200))
		}
		out.Linkname = target
	}
	if isBinDir(dir) && (typ == tar.TypeSymlink || (typ == tar.TypeReg || typ == tar.TypeLink) && h.Mode&0o111 != 0) && validProvideName(base) {
		c.cmds[base] = true
	}
	if err := c.dw.Add(out, body); err != nil {
		return err
	}
	c.names[name] = typ
	return nil
}

// parents adds the missing parent directories of name, outermost first.
func (c *converter) parents(name string) error {
	var missing []string
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		t, ok := c.names[d]
		if ok {
			if t != tar.TypeDir {
				return fmt.Errorf("parent %q is not a directory", d)
			}
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, Uname: "root", Gname: "root"}
		if err := c.dw.Add(hdr, nil); err != nil {
			return err
		}
		c.names[d] = tar.TypeDir
		c.synthesized = append(c.synthesized, d)
	}
	return nil
}

// inspect looks at a regular file on its way to the DataWriter: the
// package's copyright file is kept for the license, and a shared library's
// SONAME is read. It returns the reader to take the body from.
func (c *converter) inspect(name, dir, base string, size int64, body io.Reader) (io.Reader, error) {
	if name == "usr/share/doc/"+c.debName+"/copyright" && size <= maxCopyright {
		b, err := readN(body, size)
		if err != nil {
			return nil, err
		}
		c.copyright = b
		return bytes.NewReader(b), nil
	}
	if !isLibDir(dir) || !strings.Contains(base, ".so") || size < 64 {
		return body, nil
	}
	var ra interface {
		io.ReaderAt
		io.ReadSeeker
	}
	if size <= spoolMem {
		b, err := readN(body, size)
		if err != nil {
			return nil, err
		}
		ra = bytes.NewReader(b)
	} else {
		f, err := c.spoolFile()
		if err != nil {
			return nil, err
		}
		n, err := io.Copy(f, io.LimitReader(body, size))
		if err != nil {
			return nil, err
		}
		if n != size {
			return nil, fmt.Errorf("unexpected end of data (%d of %d bytes)", n, size)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		ra = f
	}
	if soname := readSoname(ra); soname != "" {
		c.sonames[soname] = sonameVersion(soname)
	}
	return ra, nil
}

// spoolFile returns the temporary file, emptied.
func (c *converter) spoolFile() (*os.File, error) {
	if c.spool == nil {
		f, err := os.CreateTemp(c.tempDir, "reef-debimport-*")
		if err != nil {
			return nil, err
		}
		c.spool = f
		return f, nil
	}
	if err := c.spool.Truncate(0); err != nil {
		return nil, err
	}
	_, err := c.spool.Seek(0, io.SeekStart)
	return c.spool, err
}

// readN reads exactly n bytes.
func readN(r io.Reader, n int64) ([]byte, error) {
	b := make([]byte, n)
	if k, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("unexpected end of data (%d of %d bytes): %w", k, n, tarError(err))
	}
	return b, nil
}

// readSoname returns the DT_SONAME of an ELF shared object, or "" for
// anything else (including malformed ELF files, which are not an error:
// the file is packaged all the same).
func readSoname(ra io.ReaderAt) (soname string) {
	var magic [4]byte
	if _, err := ra.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return ""
	}
	defer func() {
		// debug/elf is robust, but this is untrusted input: a panic in
		// it must not take the import down.
		if recover() != nil {
			soname = ""
		}
	}()
	f, err := elf.NewFile(ra)
	if err != nil {
		return ""
	}
	names, err := f.DynString(elf.DT_SONAME)
	if err != nil || len(names) == 0 || !validProvideName(names[0]) {
		return ""
	}
	return names[0]
}

// sonameVersion returns the version of a so: provide as abuild computes
// it: what follows ".so." in the soname ("libc.so.6" → "6"), or "0".
func sonameVersion(soname string) string {
	i := strings.LastIndex(soname, ".so.")
	if i < 0 {
		return "0"
	}
	if v := soname[i+4:]; version.Valid(v) {
		return v
	}
	return "0"
}

// libDirs are the directories searched for shared libraries, each also
// with a multiarch subdirectory (lib/x86_64-linux-gnu).
var libDirs = map[string]bool{
	"lib": true, "lib32": true, "lib64": true, "libx32": true,
	"usr/lib": true, "usr/lib32": true, "usr/lib64": true, "usr/libx32": true,
	"usr/local/lib": true,
}

func isLibDir(dir string) bool {
	if libDirs[dir] {
		return true
	}
	parent, triplet := path.Split(dir)
	return libDirs[strings.TrimSuffix(parent, "/")] && strings.Contains(triplet, "-linux-")
}

// isBinDir reports whether commands in dir are on the default PATH.
func isBinDir(dir string) bool {
	switch dir {
	case "bin", "sbin", "usr/bin", "usr/sbin":
		return true
	}
	return false
}

// validProvideName reports whether s can be used after "so:" or "cmd:" in
// a provide: the characters of apk dependency names.
func validProvideName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("._+-:/,[]", rune(c)) {
			return false
		}
	}
	return true
}

// provides returns the so: and cmd: provides collected, sorted: "so:NAME=V"
// for each soname and "cmd:NAME=pkgver" for each command.
func (c *converter) provides(pkgver string) []string {
	var out []string
	for _, s := range sortedKeys(c.sonames) {
		out = append(out, "so:"+s+"="+c.sonames[s])
	}
	for _, s := range sortedKeys(c.cmds) {
		out = append(out, "cmd:"+s+"="+pkgver)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
