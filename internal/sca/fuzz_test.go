package sca

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// elfSeeds returns well-formed ELF objects of several classes, byte
// orders and machines, and truncations of them.
func elfSeeds() [][]byte {
	le, be := binary.LittleEndian, binary.BigEndian
	var seeds [][]byte
	for _, s := range []elfSpec{
		{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64, typ: elf.ET_DYN,
			interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libc.so.6", "libfuzz.so.1"}},
		{class: elf.ELFCLASS64, order: le, machine: elf.EM_AARCH64, typ: elf.ET_DYN,
			needed: []string{"libc.so.6"}, soname: "libfuzz.so.1"},
		{class: elf.ELFCLASS32, order: be, machine: elf.EM_PPC, typ: elf.ET_EXEC,
			interp: "/lib/ld-musl-powerpc.so.1", needed: []string{"libz.so.1"}, soname: "libx.so"},
		{class: elf.ELFCLASS32, order: le, machine: elf.EM_386, typ: elf.ET_DYN, soname: "libfuzz.so.1.2"},
	} {
		b := buildELF(s)
		seeds = append(seeds, b, b[:len(b)/2], b[:64])
	}
	return seeds
}

// FuzzScanELF scans a tree holding the input as a library, a program, a
// script and a pkg-config file: Scan must not fail or panic, and must
// return only valid, sorted entries.
//
// Each run builds a small tree on disk, so the fuzzer's input minimisation
// is slow; run it with -fuzzminimizetime=5s. FuzzReadELF covers the ELF
// reader alone, much faster.
func FuzzScanELF(f *testing.F) {
	for _, s := range elfSeeds() {
		f.Add(s)
	}
	if b, err := os.ReadFile(filepath.Join(fixtures, "x86_64/hello-wolfi-2.12.1-r0.apk")); err == nil {
		// Not an ELF file, but a real binary format.
		f.Add(b[:4096])
	}
	f.Add([]byte("#!/usr/bin/env -S fuzz -x\n"))
	f.Add([]byte("Requires: a >= 1, ${b}\nb=c\n"))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		for _, p := range []struct {
			rel  string
			mode os.FileMode
		}{
			{"usr/lib/libfuzz.so.1", 0o755},
			{"usr/bin/fuzz", 0o755},
			{"usr/libexec/fuzz/fuzz.so", 0o644},
			{"usr/lib/pkgconfig/fuzz.pc", 0o644},
		} {
			writeFile(t, root, p.rel, string(data), p.mode)
		}
		symlink(t, root, "usr/lib/libfuzz.so", "libfuzz.so.1")
		symlink(t, root, "usr/bin/fuzz-link", "/usr/lib/libfuzz.so.1")
		res, err := Scan(context.Background(), root, Options{Version: "1.0-r0", Siblings: []string{root}, CommandLinks: true})
		if err != nil {
			t.Fatal(err)
		}
		for k, list := range [][]string{res.Depends, res.Provides, res.Vendored} {
			if !slices.IsSorted(list) {
				t.Errorf("%s not sorted: %q", kind(k), list)
			}
			for _, e := range list {
				if err := checkEntry(kind(k), e); err != nil {
					t.Errorf("%s %q: %v", kind(k), e, err)
				}
			}
		}
	})
}

// FuzzParsePkgConfig checks that the pkg-config parser neither panics nor
// returns names that contain separators.
func FuzzParsePkgConfig(f *testing.F) {
	f.Add([]byte("prefix=/usr\nName: foo\nVersion: 1\nRequires: a >= 1.0, b\nRequires.private: ${prefix}\n"))
	f.Add([]byte("Requires: >= ,,, <\n"))
	f.Add([]byte("a=${a}${a}\nRequires: ${a}\\\n#x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, _, _ := parsePkgConfig(data)
		for _, r := range reqs {
			if r.name == "" {
				t.Fatalf("empty module name from %q", data)
			}
			for _, c := range []byte(r.name) {
				if isPCSep(c) || isPCOp(c) {
					t.Fatalf("module name %q contains %q", r.name, c)
				}
			}
		}
	})
}

// FuzzShebang checks that shebangCommand never panics and returns base
// names only.
func FuzzShebang(f *testing.F) {
	for _, s := range []string{"#!/bin/sh\n", "#!/usr/bin/env -S a b\n", "#!", "#! \t\r\n", "#!/usr/bin/env"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, _ := shebangCommand(data)
		if cmd != "" && filepath.Base(cmd) != cmd {
			t.Fatalf("shebangCommand(%q) = %q, not a base name", data, cmd)
		}
	})
}

// FuzzReadELF feeds the input to the ELF reader and the rules that use
// it: no panic, and only valid entries.
func FuzzReadELF(f *testing.F) {
	for _, s := range elfSeeds() {
		f.Add(s, "usr/lib/libfuzz.so.1")
		f.Add(s, "usr/bin/fuzz")
	}
	f.Fuzz(func(t *testing.T, data []byte, rel string) {
		s := &scanner{opts: Options{Version: "1.0-r0"}}
		s.setLibDirs()
		var fd findings
		s.elfFile(rel, bytes.NewReader(data), &fd)
		for _, it := range fd.items {
			if !strings.HasPrefix(it.entry, "so:") && !strings.HasPrefix(it.entry, "so-ver:") {
				t.Fatalf("unexpected entry %q", it.entry)
			}
		}
		s.slots = []findings{fd}
		res := s.result()
		for k, list := range [][]string{res.Depends, res.Provides, res.Vendored} {
			for _, e := range list {
				if err := checkEntry(kind(k), e); err != nil {
					t.Errorf("%s %q: %v", kind(k), e, err)
				}
			}
		}
	})
}
