package sca

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/reef-dev/reef/internal/version"
)

// headSize is how much of each file is read to recognise it: ELF magic,
// or a "#!" line (melange reads 80 bytes of it too).
const headSize = 80

var elfMagic = []byte(elf.ELFMAG)

// Bounds for what is read from an ELF file.
const (
	maxInterp     = 4096     // PT_INTERP contents
	maxDynSection = 64 << 20 // .dynamic and its string table
)

// hostProvidedLibs are NVIDIA driver libraries that the host's driver
// injects into containers: packages neither depend on them nor provide
// them (the same list as melange's).
var hostProvidedLibs = map[string]bool{
	"libEGL_nvidia.so.1":             true,
	"libGLESv1_CM_nvidia.so.1":       true,
	"libGLESv2_nvidia.so.1":          true,
	"libGLX_nvidia.so.1":             true,
	"libcuda.so.1":                   true,
	"libcudadebugger.so.1":           true,
	"libnvcuvid.so.1":                true,
	"libnvidia-allocator.so.1":       true,
	"libnvidia-cfg.so.1":             true,
	"libnvidia-eglcore.so.1":         true,
	"libnvidia-encode.so.1":          true,
	"libnvidia-fbc.so.1":             true,
	"libnvidia-glcore.so.1":          true,
	"libnvidia-glsi.so.1":            true,
	"libnvidia-glvkspirv.so.1":       true,
	"libnvidia-gpucomp.so.1":         true,
	"libnvidia-ml.so.1":              true,
	"libnvidia-ngx.so.1":             true,
	"libnvidia-nvvm.so.1":            true,
	"libnvidia-opencl.so.1":          true,
	"libnvidia-opticalflow.so.1":     true,
	"libnvidia-pkcs11-openssl3.so.1": true,
	"libnvidia-pkcs11.so.1":          true,
	"libnvidia-ptxjitcompiler.so.1":  true,
	"libnvidia-rtcore.so.1":          true,
	"libnvidia-tls.so.1":             true,
	"libnvoptix.so.1":                true,
}

// elfInfo is what the rules need from a dynamic ELF object.
type elfInfo struct {
	interp  string   // PT_INTERP path, "" if none
	needed  []string // DT_NEEDED
	sonames []string // DT_SONAME (normally at most one)
}

// readELF reads the interpreter and dynamic entries of the ELF file r. It
// returns nil, nil for ELF files that are not executables or shared
// objects (relocatable objects, kernel modules, core dumps). On a
// malformed file it returns what it could read with an error; it never
// panics.
func readELF(r io.ReaderAt) (info *elfInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed ELF file: %v", p)
		}
	}()
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("malformed ELF file: %w", err)
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return nil, nil
	}
	info = &elfInfo{}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p.Open(), maxInterp+1))
		if err != nil {
			return info, fmt.Errorf("malformed ELF file: PT_INTERP: %w", err)
		}
		if len(b) > maxInterp {
			return info, errors.New("malformed ELF file: PT_INTERP too long")
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		info.interp = string(b)
		break
	}
	if err := checkDynamic(ef); err != nil {
		return info, err
	}
	if info.needed, err = ef.ImportedLibraries(); err != nil {
		return info, fmt.Errorf("malformed ELF file: DT_NEEDED: %w", err)
	}
	if info.sonames, err = ef.DynString(elf.DT_SONAME); err != nil {
		return info, fmt.Errorf("malformed ELF file: DT_SONAME: %w", err)
	}
	return info, nil
}

// checkDynamic bounds the sections that DynString reads into memory.
func checkDynamic(ef *elf.File) error {
	ds := ef.SectionByType(elf.SHT_DYNAMIC)
	if ds == nil {
		return nil
	}
	if ds.Size > maxDynSection {
		return fmt.Errorf("malformed ELF file: .dynamic section of %d bytes", ds.Size)
	}
	if ds.Link > 0 && int(ds.Link) < len(ef.Sections) {
		if ss := ef.Sections[ds.Link]; ss.Size > maxDynSection {
			return fmt.Errorf("malformed ELF file: dynamic string table of %d bytes", ss.Size)
		}
	}
	return nil
}

// sonameVersion returns the version melange gives a SONAME's so: provide:
// the part after ".so." ("libfoo.so.1.2" → "1.2"), or "0" when there is
// none or it is not a valid version ("libfoo.so", "libfoo.so.0unstable").
func sonameVersion(soname string) string {
	_, v, ok := strings.Cut(soname, ".so.")
	if !ok {
		return "0"
	}
	if i := strings.Index(v, ".so."); i >= 0 {
		v = v[:i]
	}
	for _, c := range []byte(v) {
		if c != '.' && (c < '0' || c > '9') {
			return "0"
		}
	}
	if !version.Valid(v) {
		return "0"
	}
	return v
}

// file analyses a regular file: ELF, "#!" line and pkg-config.
func (s *scanner) file(rel string, mode fs.FileMode, f *findings) {
	p := filepath.Join(s.root, filepath.FromSlash(rel))
	fh, err := os.Open(p)
	if err != nil {
		f.warn("%s: %v", rel, err)
		return
	}
	defer fh.Close()
	head := make([]byte, headSize)
	n, err := io.ReadFull(fh, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		f.warn("%s: %v", rel, err)
		return
	}
	head = head[:n]

	if s.elfCandidate(rel, mode) && bytes.HasPrefix(head, elfMagic) {
		s.elfFile(rel, fh, f)
	}
	if inTree(rel, shebangTrees) {
		cmd, err := shebangCommand(head)
		if err != nil {
			f.warn("%s: %v", rel, err)
		} else if cmd != "" {
			f.add(kDepend, "cmd:"+cmd, "#! line of "+rel)
		}
	}
	if strings.HasSuffix(rel, ".pc") {
		s.pcFile(rel, fh, f)
	}
}

// elfFile adds the so: entries of the ELF file r, found at rel (the walked
// path, which may be a symlink to r).
func (s *scanner) elfFile(rel string, r io.ReaderAt, f *findings) {
	info, err := readELF(r)
	if err != nil {
		f.warn("%s: %v", rel, err)
	}
	if info == nil {
		return
	}
	if info.interp != "" {
		lib := path.Base(info.interp)
		// musl's loader is a symlink to libc; depend on the library.
		if rest, ok := strings.CutPrefix(lib, "ld-musl"); ok {
			lib = "libc.musl" + rest
		}
		f.add(kDepend, "so:"+lib, "PT_INTERP of "+rel)
	}
	for _, lib := range info.needed {
		if !strings.Contains(lib, ".so.") || hostProvidedLibs[lib] {
			continue
		}
		f.add(kDepend, "so:"+lib, "DT_NEEDED of "+rel)
	}
	// A program has no SONAME, but some have one anyway (jlink); some
	// libraries have an interpreter so that they run (libc, libcap). As
	// melange does, read the SONAME of objects without interpreter and of
	// files named like libraries.
	base := path.Base(rel)
	if info.interp != "" && !strings.Contains(base, ".so.") && !strings.HasSuffix(base, ".so") {
		return
	}
	for _, so := range info.sonames {
		if hostProvidedLibs[so] {
			continue
		}
		soVer := "so:" + so + "=" + sonameVersion(so)
		verVer := "so-ver:" + so + "=" + s.opts.Version
		if inDir(rel, s.libDirs) {
			f.add(kProvide, soVer, "DT_SONAME of "+rel)
			f.add(kProvide, verVer, "DT_SONAME of "+rel)
		} else {
			why := "DT_SONAME of " + rel + " (not in a library directory)"
			f.add(kVendored, soVer, why)
			f.add(kVendored, verVer, why)
		}
	}
}

// symlink analyses a symlink: the cross-package library rule, then the
// target (inside the package) as if it were at the link's place.
func (s *scanner) symlink(rel string, f *findings) {
	if strings.Contains(rel, ".so") {
		s.libraryLink(rel, f)
	}
	real, fi, err := resolve(s.root, rel)
	if err != nil || !fi.Mode().IsRegular() {
		// Dangling inside this package, such as a -dev package's
		// libfoo.so link to the library package.
		return
	}
	if s.opts.CommandLinks && fi.Mode().Perm()&0o555 == 0o555 && inDir(rel, binDirs) {
		f.add(kProvide, "cmd:"+path.Base(rel)+"="+s.opts.Version, "symlink "+rel+" to an executable")
	}
	fh, err := os.Open(real)
	if err != nil {
		f.warn("%s: %v", rel, err)
		return
	}
	defer fh.Close()
	head := make([]byte, len(elfMagic))
	if _, err := io.ReadFull(fh, head); err != nil || !bytes.Equal(head, elfMagic) {
		return
	}
	s.elfFile(rel, fh, f)
}

// libraryLink implements melange's rule for symlinks whose path contains
// ".so": the base name of the link target is looked up in the library
// directories of the package, then of each sibling; the first match's
// SONAMEs become so: depends. For a -dev package's libfoo.so →
// libfoo.so.1.2 link this is a depend on the library package.
func (s *scanner) libraryLink(rel string, f *findings) {
	target, err := os.Readlink(filepath.Join(s.root, filepath.FromSlash(rel)))
	if err != nil {
		f.warn("%s: %v", rel, err)
		return
	}
	base := path.Base(target)
	if base == "/" || base == "." || base == ".." {
		return
	}
	for i, r := range append([]string{s.root}, s.siblings...) {
		for _, d := range s.lookupDirs {
			real, fi, err := resolve(r, d+"/"+base)
			if err != nil {
				continue
			}
			if !fi.Mode().IsRegular() {
				return
			}
			where := d + "/" + base
			if i > 0 {
				where += " of sibling " + filepath.Base(r)
			}
			fh, err := os.Open(real)
			if err != nil {
				f.warn("%s: %v", where, err)
				return
			}
			defer fh.Close()
			head := make([]byte, len(elfMagic))
			if _, err := io.ReadFull(fh, head); err != nil || !bytes.Equal(head, elfMagic) {
				return
			}
			info, err := readELF(fh)
			if err != nil {
				f.warn("%s: %v", where, err)
			}
			if info == nil {
				return
			}
			for _, so := range info.sonames {
				if !hostProvidedLibs[so] {
					f.add(kDepend, "so:"+so, "symlink "+rel+" to "+where)
				}
			}
			return
		}
	}
}
