package sca

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// demo holds a shared library and a program linked against it, built with
// gcc for the host.
type demo struct {
	dir    string // where they are
	lib    string // libdemo.so.1.0.0, SONAME libdemo.so.1, needs libc
	prog   string // demo, needs libdemo.so.1 and libc
	interp string // base name of the program's PT_INTERP
}

// The demo objects are built once per test binary, in demoDir.
var (
	demoOnce sync.Once
	demoDir  string
	demoObj  demo
	demoErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoDir != "" {
		os.RemoveAll(demoDir)
	}
	os.Exit(code)
}

// buildDemo returns the demo objects, building them on first use; it
// skips the test when gcc is missing.
func buildDemo(t *testing.T) demo {
	t.Helper()
	needGCC(t)
	demoOnce.Do(func() { demoObj, demoErr = compileDemo() })
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	want := map[string]string{"amd64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}[runtime.GOARCH]
	if want != "" && demoObj.interp != want {
		t.Fatalf("gcc's program interpreter is %q, want %q", demoObj.interp, want)
	}
	return demoObj
}

func compileDemo() (demo, error) {
	src, err := os.MkdirTemp("", "sca-demo-")
	if err != nil {
		return demo{}, err
	}
	demoDir = src
	files := map[string]string{
		"demo.c": "#include <stdio.h>\nint demo(void) { return puts(\"demo\"); }\n",
		"main.c": "#include <stdio.h>\nint demo(void);\nint main(void) { printf(\"%d\\n\", demo()); return 0; }\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			return demo{}, err
		}
	}
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-Wl,-soname,libdemo.so.1", "-o", "libdemo.so.1.0.0", "demo.c"},
		{"-o", "demo", "main.c", "-L.", "-l:libdemo.so.1.0.0"},
	} {
		if out, err := runGCC(src, args...); err != nil {
			return demo{}, fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	d := demo{dir: src, lib: filepath.Join(src, "libdemo.so.1.0.0"), prog: filepath.Join(src, "demo")}
	ef, err := elf.Open(d.prog)
	if err != nil {
		return demo{}, err
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return demo{}, err
			}
			d.interp = path.Base(strings.TrimRight(string(b), "\x00"))
		}
	}
	return d, nil
}

func hasNote(res *Result, substr string) bool {
	return slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, substr) })
}

func TestScanProgramAndLibrary(t *testing.T) {
	d := buildDemo(t)
	root := t.TempDir()
	copyFile(t, d.lib, root, "usr/lib/libdemo.so.1.0.0", 0o755)
	symlink(t, root, "usr/lib/libdemo.so.1", "libdemo.so.1.0.0")
	copyFile(t, d.prog, root, "usr/bin/demo", 0o755)
	writeFile(t, root, "usr/share/doc/demo/README", "hello\n", 0o644)

	res := scan(t, root, Options{Version: "2.12-r0"})
	defer func() {
		if t.Failed() {
			dumpNotes(t, res)
		}
	}()
	wantList(t, "Depends", res.Depends, []string{"so:" + d.interp, "so:libc.so.6"})
	wantList(t, "Provides", res.Provides, []string{
		"cmd:demo=2.12-r0",
		"so-ver:libdemo.so.1=2.12-r0",
		"so:libdemo.so.1=1",
	})
	wantList(t, "Vendored", res.Vendored, nil)
	if !hasNote(res, "dropped depend so:libdemo.so.1: the package satisfies it itself") {
		t.Error("no note for the self-satisfied so:libdemo.so.1")
	}
	if !hasNote(res, "depend so:libc.so.6: DT_NEEDED of usr/bin/demo") {
		t.Error("no note explaining so:libc.so.6")
	}
}

func TestScanOptions(t *testing.T) {
	d := buildDemo(t)
	root := t.TempDir()
	copyFile(t, d.lib, root, "usr/lib/libdemo.so.1.0.0", 0o755)
	copyFile(t, d.prog, root, "usr/bin/demo", 0o755)
	writeFile(t, root, "usr/bin/demo-wrapper", "#!/bin/bash\nexec demo \"$@\"\n", 0o755)
	writeFile(t, root, "usr/lib/pkgconfig/demo.pc", "Name: demo\nVersion: 1\nRequires: zlib\n", 0o644)

	all := scan(t, root, Options{})
	wantList(t, "Depends", all.Depends, []string{"cmd:bash", "pc:zlib", "so:" + d.interp, "so:libc.so.6"})
	wantList(t, "Provides", all.Provides, []string{
		"cmd:demo-wrapper=1.0-r0", "cmd:demo=1.0-r0", "pc:demo=1.0-r0",
		"so-ver:libdemo.so.1=1.0-r0", "so:libdemo.so.1=1",
	})

	res := scan(t, root, Options{NoProvides: true})
	wantList(t, "no-provides Provides", res.Provides, nil)
	// What the package ships still satisfies its own depends.
	wantList(t, "no-provides Depends", res.Depends, all.Depends)

	res = scan(t, root, Options{NoDepends: true})
	wantList(t, "no-depends Depends", res.Depends, nil)
	wantList(t, "no-depends Provides", res.Provides, all.Provides)

	res = scan(t, root, Options{NoCommands: true})
	wantList(t, "no-commands Depends", res.Depends, []string{"pc:zlib", "so:" + d.interp, "so:libc.so.6"})
	wantList(t, "no-commands Provides", res.Provides, []string{"pc:demo=1.0-r0", "so-ver:libdemo.so.1=1.0-r0", "so:libdemo.so.1=1"})

	res = scan(t, root, Options{NoProvides: true, NoDepends: true, NoCommands: true})
	if len(res.Depends)+len(res.Provides) != 0 {
		t.Errorf("all options: got depends %q provides %q", res.Depends, res.Provides)
	}
	for _, n := range []string{"no-provides", "no-depends", "no-commands"} {
		if !hasNote(res, n+": dropped") {
			t.Errorf("no note for %s", n)
		}
	}
}

func TestScanSiblings(t *testing.T) {
	d := buildDemo(t)
	out := t.TempDir() // melange-out
	lib := filepath.Join(out, "libdemo")
	dev := filepath.Join(out, "libdemo-dev")
	prog := filepath.Join(out, "demo")
	copyFile(t, d.lib, lib, "usr/lib/libdemo.so.1.0.0", 0o755)
	symlink(t, lib, "usr/lib/libdemo.so.1", "libdemo.so.1.0.0")
	symlink(t, dev, "usr/lib/libdemo.so", "libdemo.so.1")
	writeFile(t, dev, "usr/include/demo.h", "int demo(void);\n", 0o644)
	copyFile(t, d.prog, prog, "usr/bin/demo", 0o755)
	all := []string{prog, lib, dev}
	siblings := func(self string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == self })
	}

	res := scan(t, lib, Options{Siblings: siblings(lib)})
	wantList(t, "libdemo Depends", res.Depends, []string{"so:libc.so.6"})
	wantList(t, "libdemo Provides", res.Provides, []string{"so-ver:libdemo.so.1=1.0-r0", "so:libdemo.so.1=1"})

	res = scan(t, dev, Options{Siblings: siblings(dev)})
	wantList(t, "libdemo-dev Depends", res.Depends, []string{"so:libdemo.so.1"})
	wantList(t, "libdemo-dev Provides", res.Provides, nil)
	if !hasNote(res, "symlink usr/lib/libdemo.so to usr/lib/libdemo.so.1 of sibling libdemo") {
		dumpNotes(t, res)
		t.Error("no note for the sibling link")
	}

	// Without siblings the link dangles and gives nothing.
	res = scan(t, dev, Options{})
	wantList(t, "libdemo-dev alone Depends", res.Depends, nil)

	// A program's depend on a sibling's library is kept.
	res = scan(t, prog, Options{Siblings: siblings(prog)})
	wantList(t, "demo Depends", res.Depends, []string{"so:" + d.interp, "so:libc.so.6", "so:libdemo.so.1"})
	wantList(t, "demo Provides", res.Provides, []string{"cmd:demo=1.0-r0"})
}

func TestScanLibraryDirectories(t *testing.T) {
	d := buildDemo(t)
	vendored := []string{"so-ver:libdemo.so.1=1.0-r0", "so:libdemo.so.1=1"}
	deps := []string{"so:" + d.interp, "so:libc.so.6"}

	// A private library next to its program is vendored; the program's
	// depend on it is satisfied.
	root := t.TempDir()
	copyFile(t, d.lib, root, "usr/libexec/demo/libdemo.so.1.0.0", 0o755)
	copyFile(t, d.prog, root, "usr/libexec/demo/demo", 0o755)
	res := scan(t, root, Options{})
	wantList(t, "libexec Depends", res.Depends, deps)
	wantList(t, "libexec Provides", res.Provides, nil)
	wantList(t, "libexec Vendored", res.Vendored, vendored)

	// Options.LibDirs makes it a library directory.
	res = scan(t, root, Options{LibDirs: []string{"/usr/libexec/demo"}})
	wantList(t, "LibDirs Provides", res.Provides, vendored)
	wantList(t, "LibDirs Vendored", res.Vendored, nil)

	// So does an ld.so.conf.d file, of the package or of a sibling.
	writeFile(t, root, "etc/ld.so.conf.d/demo.conf", "# demo\n/usr/libexec/demo  # private\ninclude /etc/other\n", 0o644)
	res = scan(t, root, Options{})
	wantList(t, "ld.so.conf.d Provides", res.Provides, vendored)
	if err := os.RemoveAll(filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	sib := t.TempDir()
	writeFile(t, sib, "etc/ld.so.conf.d/demo.conf", "/usr/libexec/demo\n", 0o644)
	res = scan(t, root, Options{Siblings: []string{sib}})
	wantList(t, "sibling ld.so.conf.d Provides", res.Provides, vendored)

	// Like melange, only files directly in a library directory count.
	root = t.TempDir()
	copyFile(t, d.lib, root, "usr/lib/x86_64-linux-gnu/libdemo.so.1.0.0", 0o755)
	res = scan(t, root, Options{})
	wantList(t, "multiarch Provides", res.Provides, nil)
	wantList(t, "multiarch Vendored", res.Vendored, vendored)
	res = scan(t, root, Options{LibDirs: []string{"usr/lib/..."}})
	wantList(t, "usr/lib/... Provides", res.Provides, vendored)
}

func TestScanModes(t *testing.T) {
	d := buildDemo(t)
	root := t.TempDir()
	// A library without execute bits in a library directory is still a
	// library (melange would skip it).
	copyFile(t, d.lib, root, "usr/lib/libdemo.so.1.0.0", 0o644)
	// A program without them is not analysed, and is not a command.
	copyFile(t, d.prog, root, "usr/bin/demo", 0o644)
	copyFile(t, d.prog, root, "usr/libexec/demo", 0o644)
	// Only r-x for everyone makes a command.
	copyFile(t, d.prog, root, "usr/bin/private", 0o750)
	res := scan(t, root, Options{})
	wantList(t, "Provides", res.Provides, []string{"so-ver:libdemo.so.1=1.0-r0", "so:libdemo.so.1=1"})
	wantList(t, "Depends", res.Depends, []string{"so:libc.so.6"})
	if slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "usr/bin/demo") }) {
		dumpNotes(t, res)
		t.Error("a 0644 program was analysed")
	}
}

func TestScan32Bit(t *testing.T) {
	needGCC(t)
	src := t.TempDir()
	writeFile(t, src, "l.c", "int f(void) { return 1; }\n", 0o644)
	writeFile(t, src, "p.c", "extern int f(void);\nvoid _start(void) { f(); }\n", 0o644)
	for _, args := range [][]string{
		{"-m32", "-shared", "-nostdlib", "-fPIC", "-Wl,-soname,libx.so.3", "-o", "libx.so.3", "l.c"},
		{"-m32", "-nostdlib", "-fPIE", "-pie", "-Wl,--dynamic-linker=/lib/ld-linux.so.2", "-o", "p32", "p.c", "-L.", "-l:libx.so.3"},
	} {
		if out, err := runGCC(src, args...); err != nil {
			t.Skipf("gcc cannot build 32-bit objects here: %v\n%s", err, out)
		}
	}
	root := t.TempDir()
	copyFile(t, filepath.Join(src, "libx.so.3"), root, "usr/lib/libx.so.3", 0o755)
	copyFile(t, filepath.Join(src, "p32"), root, "usr/bin/p32", 0o755)
	res := scan(t, root, Options{})
	wantList(t, "Depends", res.Depends, []string{"so:ld-linux.so.2"})
	wantList(t, "Provides", res.Provides, []string{"cmd:p32=1.0-r0", "so-ver:libx.so.3=1.0-r0", "so:libx.so.3=3"})
}

func TestScanSyntheticELF(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	root := t.TempDir()
	put := func(rel string, s elfSpec) { writeFile(t, root, rel, string(buildELF(s)), 0o755) }
	// 32-bit big-endian PowerPC program.
	put("usr/bin/ppc", elfSpec{class: elf.ELFCLASS32, order: be, machine: elf.EM_PPC, typ: elf.ET_EXEC,
		interp: "/lib/ld.so.1", needed: []string{"libc.so.6", "libppc.so.4"}})
	// 64-bit big-endian s390x library.
	put("usr/lib/libppc.so.4.1", elfSpec{class: elf.ELFCLASS64, order: be, machine: elf.EM_S390, typ: elf.ET_DYN,
		needed: []string{"libc.so.6"}, soname: "libppc.so.4"})
	// musl: the loader's name becomes libc.musl-*.
	put("usr/bin/musl", elfSpec{class: elf.ELFCLASS64, order: le, machine: elf.EM_AARCH64, typ: elf.ET_DYN,
		interp: "/lib/ld-musl-aarch64.so.1", needed: []string{"libc.musl-aarch64.so.1"}})
	// Unversioned and host-provided NEEDED names give no depend.
	put("usr/bin/gpu", elfSpec{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64, typ: elf.ET_DYN,
		interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libplain.so", "libcuda.so.1", "libm.so.6"}})
	// A program with a SONAME (jlink does this) provides nothing...
	put("usr/bin/java", elfSpec{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64, typ: elf.ET_EXEC,
		interp: "/lib64/ld-linux-x86-64.so.2", soname: "libjli.so"})
	// ...but a library that runs (like libc) does, as does one named *.so.
	put("lib/libc.so.6", elfSpec{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64, typ: elf.ET_DYN,
		interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"ld-linux-x86-64.so.2"}, soname: "libc.so.6"})
	put("usr/lib/libunversioned.so", elfSpec{class: elf.ELFCLASS64, order: le, machine: elf.EM_RISCV, typ: elf.ET_DYN,
		interp: "/lib/ld-linux-riscv64-lp64d.so.1", soname: "libunversioned.so"})
	// Non-numeric SONAME versions become 0; host-provided SONAMEs are not provided.
	put("usr/lib/libweird.so.0unstable", elfSpec{class: elf.ELFCLASS32, order: le, machine: elf.EM_ARM, typ: elf.ET_DYN,
		soname: "libweird.so.0unstable"})
	put("usr/lib/libcuda.so.1", elfSpec{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64, typ: elf.ET_DYN,
		soname: "libcuda.so.1"})
	// Relocatable objects are ignored.
	put("usr/lib/crt.o", elfSpec{class: elf.ELFCLASS64, order: le, machine: elf.EM_X86_64, typ: elf.ET_REL,
		needed: []string{"libignored.so.1"}, soname: "libignored.so.1"})

	res := scan(t, root, Options{})
	defer func() {
		if t.Failed() {
			dumpNotes(t, res)
		}
	}()
	wantList(t, "Depends", res.Depends, []string{
		"so:ld-linux-riscv64-lp64d.so.1",
		"so:ld-linux-x86-64.so.2",
		"so:ld.so.1",
		"so:libc.musl-aarch64.so.1",
		"so:libm.so.6",
	})
	wantList(t, "Provides", res.Provides, []string{
		"cmd:gpu=1.0-r0", "cmd:java=1.0-r0", "cmd:musl=1.0-r0", "cmd:ppc=1.0-r0",
		"so-ver:libc.so.6=1.0-r0", "so-ver:libppc.so.4=1.0-r0", "so-ver:libunversioned.so=1.0-r0", "so-ver:libweird.so.0unstable=1.0-r0",
		"so:libc.so.6=6", "so:libppc.so.4=4", "so:libunversioned.so=0", "so:libweird.so.0unstable=0",
	})
}

func TestScanMalformed(t *testing.T) {
	root := t.TempDir()
	good := buildELF(elfSpec{class: elf.ELFCLASS64, order: binary.LittleEndian, machine: elf.EM_X86_64, typ: elf.ET_DYN,
		needed: []string{"libc.so.6"}, soname: "libok.so.1"})
	writeFile(t, root, "usr/lib/libok.so.1", string(good), 0o755)
	writeFile(t, root, "usr/lib/libtrunc.so.1", string(good[:100]), 0o755)
	writeFile(t, root, "usr/lib/libmagic.so.1", "\x7fELF\x02\x01\x01garbage", 0o755)
	writeFile(t, root, "usr/libexec/empty", "", 0o755)
	writeFile(t, root, "usr/libexec/text", "just text\n", 0o755)
	writeFile(t, root, "usr/lib/libstatic.a", "!<arch>\n", 0o644)
	// A bogus section size must not make Scan allocate it.
	huge := slices.Clone(good)
	ef, err := elf.NewFile(strings.NewReader(string(good)))
	if err != nil {
		t.Fatal(err)
	}
	ds := ef.SectionByType(elf.SHT_DYNAMIC)
	// Patch the .dynamic section header's size (Section64.Size is at
	// offset 32 within the header).
	shoff := binary.LittleEndian.Uint64(huge[0x28:])
	idx := slices.Index(ef.Sections, ds)
	binary.LittleEndian.PutUint64(huge[int(shoff)+idx*64+32:], 1<<40)
	writeFile(t, root, "usr/lib/libhuge.so.1", string(huge), 0o755)

	res := scan(t, root, Options{})
	wantList(t, "Depends", res.Depends, []string{"so:libc.so.6"})
	wantList(t, "Provides", res.Provides, []string{"so-ver:libok.so.1=1.0-r0", "so:libok.so.1=1"})
	for _, f := range []string{"libtrunc.so.1", "libmagic.so.1", "libhuge.so.1"} {
		if !hasNote(res, "usr/lib/"+f+": malformed ELF file") {
			dumpNotes(t, res)
			t.Errorf("no note for %s", f)
		}
	}
}

// runGCC runs gcc and returns its output and error.
func runGCC(dir string, args ...string) ([]byte, error) {
	return execIn(dir, "gcc", args...)
}

func TestScanObjectFiles(t *testing.T) {
	needGCC(t)
	src := t.TempDir()
	writeFile(t, src, "o.c", "int o(void) { return 0; }\n", 0o644)
	gcc(t, src, "-c", "-fPIC", "-o", "o.o", "o.c")
	if out, err := execIn(src, "ar", "rcs", "libo.a", "o.o"); err != nil {
		t.Skipf("ar: %v\n%s", err, out)
	}
	root := t.TempDir()
	copyFile(t, filepath.Join(src, "o.o"), root, "usr/lib/o.o", 0o755)
	copyFile(t, filepath.Join(src, "libo.a"), root, "usr/lib/libo.a", 0o755)
	res := scan(t, root, Options{})
	if len(res.Depends)+len(res.Provides)+len(res.Vendored)+len(res.Notes) != 0 {
		t.Errorf("object files gave %+v", res)
	}
}

func TestScanSymlinks(t *testing.T) {
	d := buildDemo(t)
	root := t.TempDir()
	copyFile(t, d.prog, root, "usr/libexec/demo/demo", 0o755)
	copyFile(t, d.lib, root, "opt/demo/lib/libdemo.so.1.0.0", 0o755)
	// A command linked into usr/bin: no cmd: provide unless CommandLinks.
	symlink(t, root, "usr/bin/demo", "../libexec/demo/demo")
	// A library linked into a library directory is provided, under the
	// SONAME of the file it links to.
	symlink(t, root, "usr/lib/libdemo-any-name.so", "/opt/demo/lib/libdemo.so.1.0.0")
	// Links that leave the tree, dangle or loop give nothing.
	symlink(t, root, "usr/lib/libc.so.6", "/../../../../lib/x86_64-linux-gnu/libc.so.6")
	symlink(t, root, "usr/bin/loop", "loop2")
	symlink(t, root, "usr/bin/loop2", "loop")
	symlink(t, root, "usr/lib/libloop.so", "libloop.so")
	symlink(t, root, "usr/bin/dir", "../..")

	res := scan(t, root, Options{})
	defer func() {
		if t.Failed() {
			dumpNotes(t, res)
		}
	}()
	wantList(t, "Depends", res.Depends, []string{"so:" + d.interp, "so:libc.so.6"})
	wantList(t, "Provides", res.Provides, []string{"so-ver:libdemo.so.1=1.0-r0", "so:libdemo.so.1=1"})
	wantList(t, "Vendored", res.Vendored, []string{"so-ver:libdemo.so.1=1.0-r0", "so:libdemo.so.1=1"})

	res = scan(t, root, Options{CommandLinks: true})
	if !slices.Contains(res.Provides, "cmd:demo=1.0-r0") {
		t.Errorf("CommandLinks: no cmd:demo in %q", res.Provides)
	}
	if slices.ContainsFunc(res.Provides, func(p string) bool { return strings.HasPrefix(p, "cmd:loop") || strings.HasPrefix(p, "cmd:dir") }) {
		t.Errorf("CommandLinks: provides for broken links: %q", res.Provides)
	}
}

func TestScanShebangs(t *testing.T) {
	root := t.TempDir()
	scripts := map[string]string{
		"usr/bin/a":           "#!/bin/bash\necho a\n",
		"usr/bin/b":           "#!/usr/bin/env python3\n",
		"usr/bin/c":           "#!/bin/sh\n",
		"usr/bin/sub/d":       "#!/usr/bin/env -S perl -w\n",
		"usr/local/bin/e":     "#! /usr/bin/ruby3.2 --disable-gems\n",
		"usr/local/sbin/f":    "#!/usr/bin/env node\r\n",
		"usr/bin/g":           "#!/usr/bin/env bash -x\n",
		"usr/bin/h":           "#!/usr/bin/mytool\n",
		"usr/bin/i":           "#!/usr/bin/env\n",
		"bin/j":               "#!/bin/zsh\n",
		"usr/sbin/k":          "#!/bin/ksh\n",
		"usr/share/demo/l.sh": "#!/bin/fish\n",
	}
	for rel, content := range scripts {
		writeFile(t, root, rel, content, 0o755)
	}
	// The package provides the interpreter of h itself.
	writeFile(t, root, "usr/bin/mytool", "#!/usr/bin/awk -f\n", 0o755)
	// A symlinked script is not read.
	writeFile(t, root, "usr/share/demo/m.sh", "#!/bin/tcsh\n", 0o755)
	symlink(t, root, "usr/bin/m", "../share/demo/m.sh")

	res := scan(t, root, Options{})
	wantList(t, "Depends", res.Depends, []string{"cmd:bash", "cmd:node", "cmd:perl", "cmd:ruby3.2"})
	for _, want := range []string{"usr/bin/g: #! line runs /usr/bin/env with several arguments", "usr/bin/i: #! line is only /usr/bin/env", "dropped depend cmd:mytool"} {
		if !hasNote(res, want) {
			dumpNotes(t, res)
			t.Errorf("no note %q", want)
		}
	}
}

func TestShebangCommand(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{"#!/usr/bin/env bash\n", "bash", false},
		{"#!/usr/bin/env python3.12\nwith open...\n", "python3.12", false},
		{"#!/bin/sh\necho hi\n", "", false},
		{"#!/bin/dash\necho hi\n", "dash", false},
		{"#!/usr/bin/env -S bash -x\n", "bash", false},
		{"#!/usr/bin/env -S -i bash\n", "", true},
		{"#!/usr/bin/env bash -x\n", "", true},
		{"#!/usr/bin/env\n", "", true},
		{"cs101 assignment", "", false},
		{"#!/usr/bin/perl", "perl", false},
		{"#!   \n", "", false},
		{"#!\t\n", "", false},
		{"#!\n", "", false},
		{"#!", "", false},
		{"#", "", false},
		{"", "", false},
		{"#!/usr/bin/awk -f\n", "", false},
		{"#!/usr/bin/luajit\n", "", false},
		{"#!/usr/bin/python\n", "", false},
		{"#!/usr/bin/env python3\n", "", false},
		{"#!/usr/local/bin/lua5.4\r\n", "lua5.4", false},
		{"#!/bin/env bash\n", "env", false}, // only /usr/bin/env is special, as in melange
		// Only the first 80 bytes are read.
		{"#!/usr/bin/" + strings.Repeat("x", 100) + "\n", strings.Repeat("x", 80-len("#!/usr/bin/")), false},
	} {
		got, err := shebangCommand([]byte(tc.in))
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("shebangCommand(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParsePkgConfig(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // field:name
		warn     bool
	}{
		{"plain", "Name: foo\nVersion: 1.0\nRequires: bar\n", []string{"Requires:bar"}, false},
		{"lists", "Requires: a >= 1.0, b,c d<2 e = 3\nRequires.private: f\tg\nRequires.internal: h\n",
			[]string{"Requires:a", "Requires:b", "Requires:c", "Requires:d", "Requires:e", "Requires.private:f", "Requires.private:g", "Requires.internal:h"}, false},
		{"variables", "major=3\nglib=glib-2.${major}\nRequires: ${glib} >= 2.50, gtk+-${major}.0\n",
			[]string{"Requires:glib-2.3", "Requires:gtk+-3.0"}, false},
		{"undefined", "Requires: foo${suffix}\n", []string{"Requires:foo"}, true},
		{"comments and continuations", "# c\nRequires: a \\\n b # c\nprefix=/usr\\#x\n", []string{"Requires:a", "Requires:b"}, false},
		{"case-sensitive", "requires: a\nREQUIRES: b\n", nil, false},
		{"empty", "Requires:\nRequires.private: \n", nil, false},
		{"stray operator", "Requires: >= 1.0 a\n", []string{"Requires:a"}, true},
		{"crlf", "Requires: a\r\nRequires.private: b\r\n", []string{"Requires:a", "Requires.private:b"}, false},
		{"dollar", "x=$$y\nRequires: ${x}\n", []string{"Requires:$y"}, false},
		{"other lines", "garbage\n: x\n=y\nCflags: -I${includedir}\n", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reqs, warns, err := parsePkgConfig([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range reqs {
				got = append(got, r.field+":"+r.name)
			}
			wantList(t, "requires", got, tc.want)
			if (len(warns) > 0) != tc.warn {
				t.Errorf("warnings %q, want some: %v", warns, tc.warn)
			}
		})
	}
	// Exponential expansion is bounded.
	var b strings.Builder
	b.WriteString("v00=xxxxxxxxxxxxxxxx\n")
	for i := 1; i < 40; i++ {
		b.WriteString("v" + itoa(i) + "=${v" + itoa(i-1) + "}${v" + itoa(i-1) + "}\n")
	}
	if _, _, err := parsePkgConfig([]byte(b.String())); err == nil {
		t.Error("no error for a 2^40-byte expansion")
	}
}

// itoa formats i with two digits, so that names sort numerically.
func itoa(i int) string { return fmt.Sprintf("%02d", i) }

func TestScanPkgConfig(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "usr/lib/pkgconfig/foo.pc",
		"prefix=/usr\npriv=qux\nName: foo\nVersion: 3.1\nRequires: bar >= 1.0, foo-core\nRequires.private: ${priv}\n", 0o644)
	writeFile(t, root, "usr/share/pkgconfig/foo-core.pc", "Name: foo-core\nVersion: 3.1\n", 0o644)
	writeFile(t, root, "usr/local/lib/pkgconfig/gtk+-3.0.pc", "Requires: glib-2.0\n", 0o644)
	symlink(t, root, "usr/lib/pkgconfig/foo-alias.pc", "foo.pc")
	writeFile(t, root, "usr/libexec/foo/pkgconfig/vendored.pc", "Requires: ignored\n", 0o644)
	writeFile(t, root, "usr/lib/pkgconfig/sub/deep.pc", "Requires: ignored2\n", 0o644)
	writeFile(t, root, "usr/lib/pkgconfig/bad name.pc", "Name: x\n", 0o644)

	res := scan(t, root, Options{Version: "3.1-r2"})
	defer func() {
		if t.Failed() {
			dumpNotes(t, res)
		}
	}()
	wantList(t, "Depends", res.Depends, []string{"pc:bar", "pc:glib-2.0", "pc:qux"})
	wantList(t, "Provides", res.Provides, []string{"pc:foo-core=3.1-r2", "pc:foo=3.1-r2", "pc:gtk+-3.0=3.1-r2"})
	wantList(t, "Vendored", res.Vendored, []string{"pc:deep=3.1-r2", "pc:vendored=3.1-r2"})
	if !hasNote(res, `skipped provides "pc:bad name=3.1-r2"`) {
		t.Error("no note for the invalid pkg-config name")
	}
}

func TestScanRuntimes(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "usr/lib/python3.11/site-packages/a/__init__.py", "", 0o644)
	writeFile(t, root, "usr/lib/python3.12/site-packages/b/__init__.py", "", 0o644)
	writeFile(t, root, "usr/lib/ruby/gems/3.3.0/gems/x-1.0/lib/x.rb", "", 0o644)
	writeFile(t, root, "lib/ruby/gems/3.2.0/gems/y-1.0/lib/y.rb", "", 0o644)
	writeFile(t, root, "usr/lib/perl5/vendor_perl/JSON.pm", "", 0o644)
	writeFile(t, root, "usr/share/man/man1/x.1", "", 0o644)
	writeFile(t, root, "usr/share/info/x.info", "", 0o644)

	res := scan(t, root, Options{Name: "multi"})
	wantList(t, "Depends", res.Depends, []string{"perl~5", "python-3.12-base", "ruby-3.3"})

	res = scan(t, root, Options{Name: "multi-doc", Declared: []string{"python3", "ruby", "perl"}})
	wantList(t, "Depends with declared runtimes", res.Depends, []string{"man-db", "texinfo"})

	res = scan(t, root, Options{Name: "multi-doc", NoDepends: true})
	wantList(t, "no-depends", res.Depends, nil)
}

func TestRemoveSatisfied(t *testing.T) {
	got := RemoveSatisfied(
		[]string{"so:libfoo.so.1", "so-ver:libfoo.so.1>=1.2", "so:libbar.so.2", "!so:libfoo.so.1", "pc:foo", "cmd:sh", "bad dep"},
		[]string{"so:libfoo.so.1=1", "so-ver:libfoo.so.1=1.2-r0"},
		[]string{"pc:foo=1.0-r0", "cmd:sh"},
	)
	wantList(t, "RemoveSatisfied", got, []string{"so:libbar.so.2", "!so:libfoo.so.1", "bad dep"})
}

func TestScanErrors(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"", "latest", "1.0 r0"} {
		if _, err := Scan(context.Background(), root, Options{Version: v}); err == nil {
			t.Errorf("version %q: no error", v)
		}
	}
	if _, err := Scan(context.Background(), filepath.Join(root, "missing"), Options{Version: "1-r0"}); err == nil {
		t.Error("missing root: no error")
	}
	writeFile(t, root, "file", "x", 0o644)
	if _, err := Scan(context.Background(), filepath.Join(root, "file"), Options{Version: "1-r0"}); err == nil {
		t.Error("root is a file: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, root, Options{Version: "1-r0"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
	// A symlink to the tree is followed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "usr/bin/x", "#!/bin/bash\n", 0o755)
	res := scan(t, link, Options{})
	wantList(t, "Depends through a symlinked root", res.Depends, []string{"cmd:bash"})
}

func TestScanDeterministic(t *testing.T) {
	d := buildDemo(t)
	root := t.TempDir()
	for i := range 20 {
		copyFile(t, d.prog, root, "usr/bin/demo"+itoa(i), 0o755)
		copyFile(t, d.lib, root, "usr/lib/libdemo"+itoa(i)+".so.1", 0o755)
		writeFile(t, root, "usr/bin/s"+itoa(i), "#!/bin/tool"+itoa(i%3)+"\n", 0o755)
	}
	first := scan(t, root, Options{})
	for range 5 {
		if again := scan(t, root, Options{}); !reflect.DeepEqual(first, again) {
			t.Fatalf("results differ:\n%+v\n%+v", first, again)
		}
	}
	if !slices.IsSorted(first.Depends) || !slices.IsSorted(first.Provides) {
		t.Error("output not sorted")
	}
	// One note per entry, however many files gave it.
	if !hasNote(first, "DT_NEEDED of usr/bin/demo00; DT_NEEDED of usr/bin/demo01; DT_NEEDED of usr/bin/demo02; and 17 more") {
		dumpNotes(t, first)
		t.Error("reasons not summarised")
	}
}
