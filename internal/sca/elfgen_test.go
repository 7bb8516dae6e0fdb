package sca

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// elfSpec describes a minimal dynamic ELF object for tests: any class,
// byte order and machine, with an optional interpreter and .dynamic
// entries, laid out so that debug/elf (and so Scan) reads them.
type elfSpec struct {
	class   elf.Class
	order   binary.ByteOrder
	machine elf.Machine
	typ     elf.Type
	interp  string
	needed  []string
	soname  string
}

// buildELF returns the bytes of the object s describes.
func buildELF(s elfSpec) []byte {
	is64 := s.class == elf.ELFCLASS64
	ehsize, phentsize, shentsize, dynent := 52, 32, 40, 8
	if is64 {
		ehsize, phentsize, shentsize, dynent = 64, 56, 64, 16
	}
	align := func(n int) int { return (n + 7) &^ 7 }

	// Contents.
	dynstr := []byte{0}
	strOff := func(name string) int {
		off := len(dynstr)
		dynstr = append(dynstr, name...)
		dynstr = append(dynstr, 0)
		return off
	}
	type dyn struct {
		tag elf.DynTag
		val int
	}
	var dyns []dyn
	for _, n := range s.needed {
		dyns = append(dyns, dyn{elf.DT_NEEDED, strOff(n)})
	}
	if s.soname != "" {
		dyns = append(dyns, dyn{elf.DT_SONAME, strOff(s.soname)})
	}
	dyns = append(dyns, dyn{elf.DT_NULL, 0})
	shstr := []byte{0}
	nameOff := func(name string) uint32 {
		off := len(shstr)
		shstr = append(shstr, name...)
		shstr = append(shstr, 0)
		return uint32(off)
	}

	// Layout.
	nph := 1
	if s.interp != "" {
		nph = 2
	}
	off := ehsize + nph*phentsize
	interpOff, interpLen := off, 0
	if s.interp != "" {
		interpLen = len(s.interp) + 1
		off += interpLen
	}
	dynstrOff := off
	off = align(off + len(dynstr))
	dynOff := off
	dynLen := len(dyns) * dynent
	off += dynLen
	type sect struct {
		name             uint32
		typ              elf.SectionType
		off, size, link  int
		entsize, alignto int
	}
	sects := []sect{{}}
	if s.interp != "" {
		sects = append(sects, sect{nameOff(".interp"), elf.SHT_PROGBITS, interpOff, interpLen, 0, 0, 1})
	}
	dynstrIdx := len(sects)
	sects = append(sects, sect{nameOff(".dynstr"), elf.SHT_STRTAB, dynstrOff, len(dynstr), 0, 0, 1})
	sects = append(sects, sect{nameOff(".dynamic"), elf.SHT_DYNAMIC, dynOff, dynLen, dynstrIdx, dynent, 8})
	shstrIdx := len(sects)
	shstrName := nameOff(".shstrtab")
	shstrOff := off
	sects = append(sects, sect{shstrName, elf.SHT_STRTAB, shstrOff, len(shstr), 0, 0, 1})
	off = align(off + len(shstr))
	shoff := off

	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, s.order, v) }
	var ident [elf.EI_NIDENT]byte
	copy(ident[:], elf.ELFMAG)
	ident[elf.EI_CLASS] = byte(s.class)
	if s.order == binary.BigEndian {
		ident[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	} else {
		ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	}
	ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	if is64 {
		w(elf.Header64{Ident: ident, Type: uint16(s.typ), Machine: uint16(s.machine), Version: 1,
			Phoff: uint64(ehsize), Shoff: uint64(shoff), Ehsize: uint16(ehsize),
			Phentsize: uint16(phentsize), Phnum: uint16(nph), Shentsize: uint16(shentsize),
			Shnum: uint16(len(sects)), Shstrndx: uint16(shstrIdx)})
		if s.interp != "" {
			w(elf.Prog64{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: uint64(interpOff),
				Vaddr: uint64(interpOff), Paddr: uint64(interpOff), Filesz: uint64(interpLen), Memsz: uint64(interpLen), Align: 1})
		}
		w(elf.Prog64{Type: uint32(elf.PT_DYNAMIC), Flags: uint32(elf.PF_R | elf.PF_W), Off: uint64(dynOff),
			Vaddr: uint64(dynOff), Paddr: uint64(dynOff), Filesz: uint64(dynLen), Memsz: uint64(dynLen), Align: 8})
	} else {
		w(elf.Header32{Ident: ident, Type: uint16(s.typ), Machine: uint16(s.machine), Version: 1,
			Phoff: uint32(ehsize), Shoff: uint32(shoff), Ehsize: uint16(ehsize),
			Phentsize: uint16(phentsize), Phnum: uint16(nph), Shentsize: uint16(shentsize),
			Shnum: uint16(len(sects)), Shstrndx: uint16(shstrIdx)})
		if s.interp != "" {
			w(elf.Prog32{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: uint32(interpOff),
				Vaddr: uint32(interpOff), Paddr: uint32(interpOff), Filesz: uint32(interpLen), Memsz: uint32(interpLen), Align: 1})
		}
		w(elf.Prog32{Type: uint32(elf.PT_DYNAMIC), Flags: uint32(elf.PF_R | elf.PF_W), Off: uint32(dynOff),
			Vaddr: uint32(dynOff), Paddr: uint32(dynOff), Filesz: uint32(dynLen), Memsz: uint32(dynLen), Align: 8})
	}
	pad := func(to int) {
		for b.Len() < to {
			b.WriteByte(0)
		}
	}
	if s.interp != "" {
		b.WriteString(s.interp)
		b.WriteByte(0)
	}
	b.Write(dynstr)
	pad(dynOff)
	for _, d := range dyns {
		if is64 {
			w(elf.Dyn64{Tag: int64(d.tag), Val: uint64(d.val)})
		} else {
			w(elf.Dyn32{Tag: int32(d.tag), Val: uint32(d.val)})
		}
	}
	b.Write(shstr)
	pad(shoff)
	for _, sc := range sects {
		if is64 {
			w(elf.Section64{Name: sc.name, Type: uint32(sc.typ), Off: uint64(sc.off), Size: uint64(sc.size),
				Link: uint32(sc.link), Addralign: uint64(sc.alignto), Entsize: uint64(sc.entsize)})
		} else {
			w(elf.Section32{Name: sc.name, Type: uint32(sc.typ), Off: uint32(sc.off), Size: uint32(sc.size),
				Link: uint32(sc.link), Addralign: uint32(sc.alignto), Entsize: uint32(sc.entsize)})
		}
	}
	return b.Bytes()
}
