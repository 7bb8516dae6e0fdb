package debimport

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/repo"
)

// apkEntry is a data entry of a written package, for comparisons.
type apkEntry struct {
	typ      byte
	mode     int64
	size     int64
	linkname string
	owner    string
}

// readAPK verifies the package at path against kr and returns its
// .PKGINFO and data entries.
func readAPK(t *testing.T, path string, kr *apk.Keyring) (*apk.PkgInfo, map[string]apkEntry, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := apk.VerifyPackage(f, kr, apk.Limits{})
	if err != nil {
		t.Fatalf("%s: verify: %v", path, err)
	}
	if rep.SignedBy == "" && kr != nil {
		t.Errorf("%s: not signed by the test key", path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	r, err := apk.NewReader(f, apk.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]apkEntry{}
	var order []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		entries[e.Name] = apkEntry{typ: e.Typeflag, mode: e.Mode, size: e.Size, linkname: e.Linkname, owner: e.Uname + "/" + e.Gname}
		order = append(order, e.Name)
		if e.ModTime.Unix() != r.Info().BuildDate {
			t.Errorf("%s: %s: mtime %d, want the build date %d", path, e.Name, e.ModTime.Unix(), r.Info().BuildDate)
		}
	}
	return r.Info(), entries, order
}

func TestImportSynthetic(t *testing.T) {
	signer, kr := testSigner(t)
	for _, suffix := range []string{"", ".gz", ".xz", ".zst", ".bz2"} {
		t.Run("data.tar"+suffix, func(t *testing.T) {
			tmp := t.TempDir()
			var deb []byte
			if suffix == ".bz2" {
				if _, err := exec.LookPath("bzip2"); err != nil {
					t.Skip("bzip2 not installed")
				}
				cmd := exec.Command("bzip2", "-c")
				cmd.Stdin = bytes.NewReader(buildTar(t, "", goodDataEntries...))
				out, err := cmd.Output()
				if err != nil {
					t.Fatal(err)
				}
				deb = buildAr(arMember{"debian-binary", []byte("2.0\n")}, arMember{"control.tar.gz", goodControlTar(t)}, arMember{"data.tar.bz2", out})
			} else {
				deb = buildDeb(t, suffix, goodDataEntries...)
			}
			debPath := writeFile(t, tmp, "demo.deb", deb)
			out := filepath.Join(tmp, "repo")
			res, err := Import(context.Background(), debPath, Options{OutDir: out, Signer: signer})
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(out, "x86_64", "demo-1.0_rc1_p3-r2.apk"); res.APKPath != want {
				t.Errorf("APKPath = %s, want %s", res.APKPath, want)
			}
			info, entries, order := readAPK(t, res.APKPath, kr)
			want := &apk.PkgInfo{
				Name:        "demo",
				Version:     "1.0_rc1_p3-r2",
				Arch:        "x86_64",
				Description: "demo package for tests",
				URL:         "https://example.org/demo",
				Origin:      "demo-src",
				Maintainer:  "Demo Maintainer <demo@example.org>",
				License:     "GPL-2.0-or-later",
				BuildDate:   1700000000, // the ar member's timestamp
				Depends:     []string{"init-system-helpers>=1.54_alpha", "libc6>=2.34", "debconf>=0.5", "python3"},
				Provides: []string{"demo-virtual", "demo-api=2",
					"cmd:demo=1.0_rc1_p3-r2", "cmd:demo-hard=1.0_rc1_p3-r2", "cmd:demo-link=1.0_rc1_p3-r2"},
				Comments: []string{"Imported by reef from the Debian package demo 1:1.0~rc1-2+deb12u3 (amd64)"},
			}
			if info.Name != want.Name || info.Version != want.Version || info.Arch != want.Arch ||
				info.Description != want.Description || info.URL != want.URL || info.Origin != want.Origin ||
				info.Maintainer != want.Maintainer || info.License != want.License || info.BuildDate != want.BuildDate ||
				!slices.Equal(info.Depends, want.Depends) || !slices.Equal(info.Provides, want.Provides) ||
				!slices.Equal(info.Comments, want.Comments) {
				t.Errorf(".PKGINFO:\n got %+v\nwant %+v", info, want)
			}
			if info.Size == 0 || info.Size != res.Info.Size {
				t.Errorf("size %d, result %d", info.Size, res.Info.Size)
			}
			if !slices.Equal(res.Skipped, []string{"postinst"}) {
				t.Errorf("Skipped = %q, want [postinst]", res.Skipped)
			}
			wantOrder := []string{"usr", "usr/bin", "usr/bin/demo", "usr/bin/demo-link", "usr/bin/demo-hard",
				"usr/share", "usr/share/doc", "usr/share/doc/demo", "usr/share/doc/demo/copyright"}
			if !slices.Equal(order, wantOrder) {
				t.Errorf("entries %q, want %q", order, wantOrder)
			}
			if e := entries["usr/bin/demo"]; e.typ != tar.TypeReg || e.mode != 0o755 || e.size != 20 || e.owner != "root/root" {
				t.Errorf("usr/bin/demo: %+v", e)
			}
			if e := entries["usr/bin/demo-link"]; e.typ != tar.TypeSymlink || e.linkname != "demo" {
				t.Errorf("usr/bin/demo-link: %+v", e)
			}
			if e := entries["usr/bin/demo-hard"]; e.typ != tar.TypeLink || e.linkname != "usr/bin/demo" {
				t.Errorf("usr/bin/demo-hard: %+v", e)
			}
		})
	}
}

func TestImportDeterministic(t *testing.T) {
	signer, _ := testSigner(t)
	tmp := t.TempDir()
	debPath := writeFile(t, tmp, "demo.deb", buildDeb(t, ".xz", goodDataEntries...))
	var outs [][]byte
	for _, dir := range []string{"a", "b"} {
		res, err := Import(context.Background(), debPath, Options{OutDir: filepath.Join(tmp, dir), Signer: signer})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(res.APKPath)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("two imports of the same .deb differ")
	}
	res, err := Import(context.Background(), debPath, Options{OutDir: filepath.Join(tmp, "c"), SourceDateEpoch: 1234})
	if err != nil {
		t.Fatal(err)
	}
	info, _, _ := readAPK(t, res.APKPath, nil)
	if info.BuildDate != 1234 {
		t.Errorf("builddate %d, want SourceDateEpoch 1234", info.BuildDate)
	}
}

func TestImportOutOfOrder(t *testing.T) {
	tmp := t.TempDir()
	debPath := writeFile(t, tmp, "demo.deb", buildDeb(t, ".gz",
		tarEntry{name: "./usr/bin/demo", body: "x", mode: 0o755},
		tarEntry{name: "./usr/", typ: tar.TypeDir, mode: 0o700}, // after its contents: skipped
		tarEntry{name: "usr/lib/", typ: tar.TypeDir},            // no "./"
		tarEntry{name: "./usr/lib/x/y", body: "y"},
		tarEntry{typ: tar.TypeXGlobalHeader, name: "pax_global_header"},
	))
	res, err := Import(context.Background(), debPath, Options{OutDir: filepath.Join(tmp, "out")})
	if err != nil {
		t.Fatal(err)
	}
	_, _, order := readAPK(t, res.APKPath, nil)
	want := []string{"usr", "usr/bin", "usr/bin/demo", "usr/lib", "usr/lib/x", "usr/lib/x/y"}
	if !slices.Equal(order, want) {
		t.Errorf("entries %q, want %q", order, want)
	}
	if len(res.Warnings) != 3 || !strings.Contains(res.Warnings[0], "directory usr was not listed before its contents") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// controlDeb builds a .deb with the given control file.
func controlDeb(t *testing.T, control string) []byte {
	return buildAr(
		arMember{"debian-binary", []byte("2.0\n")},
		arMember{"control.tar.xz", buildTar(t, ".xz", tarEntry{name: "./control", body: control})},
		arMember{"data.tar.xz", buildTar(t, ".xz", goodDataEntries...)},
	)
}

func TestImportBadInput(t *testing.T) {
	good := buildDeb(t, ".gz", goodDataEntries...)
	ctl := goodControlTar(t)
	data := buildTar(t, ".gz", goodDataEntries...)
	bin := arMember{"debian-binary", []byte("2.0\n")}
	corruptGz := append([]byte(nil), data...)
	corruptGz[len(corruptGz)/2] ^= 0xff
	hugeXZ := buildTar(t, ".xz", goodDataEntries...)
	if i := bytes.Index(hugeXZ[12:], []byte{0x21, 0x01}); i >= 0 {
		hugeXZ[12+i+2] = 40
	} else {
		t.Fatal("no LZMA2 filter flags in the xz test data")
	}
	replace := func(old, new string) []byte {
		return controlDeb(t, strings.Replace(testControl, old, new, 1))
	}
	for _, tc := range []struct {
		name string
		deb  []byte
		msg  string
	}{
		{"empty", nil, "ar: empty file: not an ar archive"},
		{"wrong magic", []byte("PK\x03\x04 this is a zip file"), "ar: not an ar archive"},
		{"short magic", []byte("!<ar"), "not an ar archive: only 4 bytes"},
		{"truncated header", good[:len(arMagic)+30], "ar: truncated ar archive: member header at offset 8 has 30 of 60 bytes"},
		{"truncated control", good[:len(arMagic)+60+4+60+40], "control.tar.gz"},
		{"truncated data", good[:len(good)-200], "data.tar.gz"},
		{"bad header end", append(append([]byte(nil), good[:len(arMagic)+58]...), "xx"...), "bad header terminator"},
		{"bad size", []byte(arMagic + "debian-binary   0           0     0     100644  4x        `\n2.0\n"), `size: "4x" is not a non-negative number`},
		{"huge member", []byte(arMagic + "debian-binary   0           0     0     100644  9999999999`\n"), "debian-binary: 9999999999 bytes"},
		{"not debian-binary first", buildAr(arMember{"control.tar.gz", ctl}), `first member is "control.tar.gz", want debian-binary`},
		{"format 3.0", buildAr(arMember{"debian-binary", []byte("3.0\n")}), `format version "3.0" is not supported`},
		{"no control", buildAr(bin), "ar: no control.tar member"},
		{"missing control.tar", buildAr(bin, arMember{"data.tar.gz", data}), `member "data.tar.gz" where control.tar`},
		{"missing data.tar", buildAr(bin, arMember{"control.tar.gz", ctl}), "ar: no data.tar member"},
		{"unknown compression", buildAr(bin, arMember{"control.tar.gz", ctl}, arMember{"data.tar.lzma", data}), `member "data.tar.lzma" where data.tar{,.gz,.xz,.zst,.bz2} was expected`},
		{"control not gzip", buildAr(bin, arMember{"control.tar.gz", []byte("not gzip")}), "control.tar.gz: gzip:"},
		{"corrupt data", buildAr(bin, arMember{"control.tar.gz", ctl}, arMember{"data.tar.gz", corruptGz}), "data.tar.gz:"},
		{"huge xz dictionary", buildAr(bin, arMember{"control.tar.gz", ctl}, arMember{"data.tar.xz", hugeXZ}), "xz: dictionary of 4095 MiB is over the limit of 128 MiB"},
		{"no control file", buildAr(bin, arMember{"control.tar.gz", buildTar(t, ".gz", tarEntry{name: "./postinst", body: "x"})}, arMember{"data.tar.gz", data}), "control.tar.gz: no control file"},
		{"nested control file", buildAr(bin, arMember{"control.tar.gz", buildTar(t, ".gz", tarEntry{name: "./a/control", body: "x"})}), `unexpected entry "./a/control"`},
		{"bad control syntax", controlDeb(t, "Package: demo\nVersion 1\n"), `control: line 2: "Version 1" is not a "Field: value" line`},
		{"bad version", replace("Version: 1:1.0~rc1-2+deb12u3", "Version: x"), `control: Version "x": upstream version "x" does not start with a digit`},
		{"bad name", replace("Package: demo", "Package: -demo"), `control: Package "-demo": not a valid package name`},
		{"bad arch", replace("Architecture: amd64", "Architecture: armel"), `control: Architecture "armel": has no apk equivalent`},
		{"bad depends", replace("Depends: libc6 (>= 2.34)", "Depends: libc6 (>= 2.34"), `control: Depends: unclosed "(" in "libc6 (>= 2.34"`},
		{"bad provides", replace("Provides: demo-virtual", "Provides: demo-virtual | x"), "control: Provides: alternatives are not allowed"},
		{"dotdot path", buildDeb(t, ".gz", tarEntry{name: "./", typ: tar.TypeDir}, tarEntry{name: "./../evil", body: "x"}), `data.tar.gz: entry "./../evil": path "./../evil" leaves the package root`},
		{"deep dotdot path", buildDeb(t, ".gz", tarEntry{name: "./usr/", typ: tar.TypeDir}, tarEntry{name: "./usr/../../evil", body: "x"}), "leaves the package root"},
		{"absolute path", buildDeb(t, ".gz", tarEntry{name: "/etc/passwd", body: "x"}), `absolute path "/etc/passwd"`},
		{"hard link escape", buildDeb(t, ".gz", tarEntry{name: "./x", typ: tar.TypeLink, linkname: "../etc/passwd"}), "hard link target: path \"../etc/passwd\" leaves the package root"},
		{"hard link absolute", buildDeb(t, ".gz", tarEntry{name: "./x", typ: tar.TypeLink, linkname: "/etc/passwd"}), "hard link target: absolute path"},
		{"hard link to nothing", buildDeb(t, ".gz", tarEntry{name: "./x", typ: tar.TypeLink, linkname: "./y"}), `hard link to "./y", which is not a regular file earlier in the archive`},
		{"duplicate", buildDeb(t, ".gz", tarEntry{name: "./x", body: "1"}, tarEntry{name: "./x", body: "2"}), `entry "./x": duplicate entry`},
		{"file as parent", buildDeb(t, ".gz", tarEntry{name: "./x", body: "1"}, tarEntry{name: "./x/y", body: "2"}), `parent "x" is not a directory`},
		{"root not a dir", buildDeb(t, ".gz", tarEntry{name: ".", body: "1"}), "the package root is not a directory"},
		{"unsupported type", buildDeb(t, ".gz", tarEntry{name: "./x", typ: 'Z'}), `unsupported tar entry type "Z"`},
		{"empty symlink", buildDeb(t, ".gz", tarEntry{name: "./x", typ: tar.TypeSymlink}), "symlink with an empty target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			debPath := writeFile(t, tmp, "bad.deb", tc.deb)
			out := filepath.Join(tmp, "repo")
			res, err := Import(context.Background(), debPath, Options{OutDir: out})
			if err == nil {
				t.Fatalf("imported: %s", res.APKPath)
			}
			var e *Error
			if !errors.As(err, &e) || e.Deb != debPath {
				t.Errorf("error %T %v, want an *Error naming %s", err, err, debPath)
			}
			if !strings.HasPrefix(err.Error(), debPath+": ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q\nwant %q", err, tc.msg)
			}
			if files := regularFiles(t, out); len(files) > 0 {
				t.Errorf("left behind: %q", files)
			}
		})
	}
}

func TestImportOptions(t *testing.T) {
	tmp := t.TempDir()
	debPath := writeFile(t, tmp, "demo.deb", buildDeb(t, ".gz", goodDataEntries...))
	if _, err := Import(context.Background(), debPath, Options{}); err == nil || !strings.Contains(err.Error(), "no output directory") {
		t.Errorf("no OutDir: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, debPath, Options{OutDir: tmp}); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), debPath+": ") {
		t.Errorf("canceled: %v", err)
	}
	if _, err := ImportAll(ctx, []string{debPath}, Options{OutDir: tmp}); !errors.Is(err, context.Canceled) {
		t.Errorf("ImportAll canceled: %v", err)
	}
	missing := filepath.Join(tmp, "missing.deb")
	if _, err := Import(context.Background(), missing, Options{OutDir: tmp}); !errors.Is(err, os.ErrNotExist) || err.Error() != missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
	// Skipped control files are logged at Debug level.
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := Import(context.Background(), debPath, Options{OutDir: filepath.Join(tmp, "log"), Logger: logger}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "maintainer scripts") || !strings.Contains(logs.String(), "files=postinst") {
		t.Errorf("log: %s", logs.String())
	}
	// Architecture: all goes to NoarchDir.
	all := controlDeb(t, strings.Replace(testControl, "Architecture: amd64", "Architecture: all", 1))
	res, err := Import(context.Background(), writeFile(t, tmp, "all.deb", all), Options{OutDir: filepath.Join(tmp, "r"), NoarchDir: "aarch64"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Info.Arch != "noarch" || filepath.Base(filepath.Dir(res.APKPath)) != "aarch64" {
		t.Errorf("arch %s in %s, want noarch in aarch64/", res.Info.Arch, res.APKPath)
	}
}

func TestImportAll(t *testing.T) {
	signer, kr := testSigner(t)
	tmp := t.TempDir()
	good := buildDeb(t, ".gz", goodDataEntries...)
	other := controlDeb(t, strings.Replace(testControl, "Package: demo", "Package: other", 1))
	paths := []string{
		writeFile(t, tmp, "demo.deb", good),
		writeFile(t, tmp, "bad.deb", []byte("garbage")),
		writeFile(t, tmp, "other.deb", other),
		writeFile(t, tmp, "demo-copy.deb", good),
	}
	out := filepath.Join(tmp, "repo")
	results, err := ImportAll(context.Background(), paths, Options{OutDir: out, Signer: signer, Jobs: 2})
	if err == nil {
		t.Fatal("no error for bad.deb")
	}
	msg := err.Error()
	if !strings.Contains(msg, paths[1]+": ar: not an ar archive") {
		t.Errorf("error %q does not name bad.deb", msg)
	}
	if !strings.Contains(msg, paths[3]+": maps to ") {
		t.Errorf("error %q does not report the duplicate", msg)
	}
	if results[0] == nil || results[1] != nil || results[2] == nil {
		t.Fatalf("results %v", results)
	}
	for _, r := range results[:3] {
		if r != nil {
			readAPK(t, r.APKPath, kr)
		}
	}
	checkIndex(t, filepath.Join(out, "x86_64"), kr, "demo", "other")
}

// TestImportDebian imports real Debian packages and compares the result
// with what dpkg-deb reports about the same files.
func TestImportDebian(t *testing.T) {
	t.Parallel()
	debs := fetchDebs(t)
	signer, kr := testSigner(t)
	out := t.TempDir()
	var paths []string
	for _, name := range realDebs {
		paths = append(paths, debs[name])
	}
	results, err := ImportAll(context.Background(), paths, Options{OutDir: out, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Result{}
	for _, r := range results {
		byName[r.Info.Name] = r
	}
	for _, name := range realDebs {
		r := byName[name]
		if r == nil {
			t.Fatalf("%s not imported", name)
		}
		t.Run(name, func(t *testing.T) {
			info, entries, _ := readAPK(t, r.APKPath, kr)
			debVersion := dpkgField(t, r.Deb, "Version")
			if want, _ := MapVersion(debVersion); info.Version != want {
				t.Errorf("version %s, want MapVersion(%s) = %s", info.Version, debVersion, want)
			}
			if want := filepath.Base(r.APKPath); want != info.Name+"-"+info.Version+".apk" {
				t.Errorf("file name %s", want)
			}
			compareWithDpkg(t, r.Deb, entries)
			debDeps := len(splitList(dpkgField(t, r.Deb, "Depends"))) + len(splitList(dpkgField(t, r.Deb, "Pre-Depends")))
			if len(info.Depends) != debDeps {
				t.Errorf("%d depends %q for %d Debian relations", len(info.Depends), info.Depends, debDeps)
			}
		})
	}
	check := func(name string, ok bool, format string, args ...any) {
		t.Helper()
		if !ok {
			t.Errorf(name+": "+format, args...)
		}
	}
	bb, libc, hello, zlib, tz := byName["busybox-static"].Info, byName["libc6"].Info, byName["hello"].Info, byName["zlib1g"].Info, byName["tzdata"].Info
	check("busybox-static", slices.Contains(bb.Provides, "cmd:busybox="+bb.Version), "provides %q, want cmd:busybox", bb.Provides)
	check("busybox-static", slices.Contains(bb.Provides, "busybox"), "provides %q, want busybox (Debian Provides)", bb.Provides)
	check("busybox-static", bb.Origin == "busybox" && bb.Arch == "x86_64", "origin %q arch %q", bb.Origin, bb.Arch)
	check("libc6", slices.Equal(libc.Depends, []string{"libgcc-s1"}), "depends %q, want [libgcc-s1]", libc.Depends)
	check("libc6", slices.Contains(libc.Provides, "so:libc.so.6=6") && slices.Contains(libc.Provides, "so:ld-linux-x86-64.so.2=2") && slices.Contains(libc.Provides, "so:libm.so.6=6"), "provides %q", libc.Provides)
	check("libc6", libc.Origin == "glibc" && libc.License == "", "origin %q license %q (free-form copyright: no license)", libc.Origin, libc.License)
	check("libc6", slices.Contains(byName["libc6"].Skipped, "postinst") && slices.Contains(byName["libc6"].Skipped, "preinst"), "skipped %q", byName["libc6"].Skipped)
	check("hello", len(hello.Depends) == 1 && strings.HasPrefix(hello.Depends[0], "libc6>="), "depends %q, want libc6>=…", hello.Depends)
	check("hello", slices.Contains(hello.Provides, "cmd:hello="+hello.Version), "provides %q", hello.Provides)
	check("zlib1g", zlib.License == "Zlib" && slices.Contains(zlib.Provides, "so:libz.so.1=1"), "license %q provides %q", zlib.License, zlib.Provides)
	check("tzdata", tz.Arch == "noarch" && filepath.Base(filepath.Dir(byName["tzdata"].APKPath)) == byName["hello"].Info.Arch, "arch %q in %s", tz.Arch, byName["tzdata"].APKPath)
	checkIndex(t, filepath.Join(out, "x86_64"), kr, "busybox-static", "hello", "libc6", "tzdata", "zlib1g")
}

func dpkgField(t *testing.T, deb, field string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not found")
	}
	out, err := exec.Command("dpkg-deb", "-f", deb, field).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f %s %s: %v", deb, field, err)
	}
	return strings.TrimSpace(string(out))
}

// compareWithDpkg checks that entries (from the .apk) list the same paths,
// types, sizes, modes, owners and link targets as `dpkg-deb -c` does for
// the .deb.
func compareWithDpkg(t *testing.T, deb string, entries map[string]apkEntry) {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c %s: %v", deb, err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// drwxr-xr-x root/root         0 2026-05-07 20:33 ./bin/
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		perm, owner, size := f[0], f[1], f[2]
		rest := line
		for range 5 {
			rest = strings.TrimLeft(rest, " ")
			rest = rest[strings.IndexByte(rest, ' '):]
		}
		name := strings.TrimLeft(rest, " ")
		link := ""
		switch perm[0] {
		case 'l':
			name, link, _ = strings.Cut(name, " -> ")
		case 'h':
			name, link, _ = strings.Cut(name, " link to ")
			link = strings.TrimPrefix(link, "./")
		}
		name = strings.TrimSuffix(strings.TrimPrefix(name, "./"), "/")
		if name == "" {
			continue
		}
		seen++
		e, ok := entries[name]
		if !ok {
			t.Errorf("%s: missing from the .apk", name)
			continue
		}
		types := map[byte]byte{'-': tar.TypeReg, 'd': tar.TypeDir, 'l': tar.TypeSymlink, 'h': tar.TypeLink, 'c': tar.TypeChar, 'b': tar.TypeBlock, 'p': tar.TypeFifo}
		if e.typ != types[perm[0]] {
			t.Errorf("%s: type %q, dpkg-deb says %q", name, e.typ, perm[0])
		}
		if m := parsePerm(perm); e.mode != m {
			t.Errorf("%s: mode %o, dpkg-deb says %s (%o)", name, e.mode, perm, m)
		}
		if e.owner != owner {
			t.Errorf("%s: owner %s, dpkg-deb says %s", name, e.owner, owner)
		}
		if perm[0] == '-' && size != "" && strings.TrimLeft(size, "0") != strings.TrimLeft(strconv.FormatInt(e.size, 10), "0") {
			t.Errorf("%s: size %d, dpkg-deb says %s", name, e.size, size)
		}
		if link != e.linkname {
			t.Errorf("%s: link %q, dpkg-deb says %q", name, e.linkname, link)
		}
	}
	if seen != len(entries) {
		t.Errorf("%d entries in the .apk, %d in dpkg-deb -c", len(entries), seen)
	}
}

// parsePerm turns "-rwsr-xr-x" into 04755.
func parsePerm(s string) int64 {
	var m int64
	bits := []int64{0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1}
	for i, c := range s[1:10] {
		if c != '-' && c != 'S' && c != 'T' {
			m |= bits[i]
		}
	}
	if s[3] == 's' || s[3] == 'S' {
		m |= 0o4000
	}
	if s[6] == 's' || s[6] == 'S' {
		m |= 0o2000
	}
	if s[9] == 't' || s[9] == 'T' {
		m |= 0o1000
	}
	return m
}

// checkIndex reads dir/APKINDEX.tar.gz with kr and checks that it lists
// the named packages, each with the directory's arch and a record that
// matches its .apk file.
func checkIndex(t *testing.T, dir string, kr *apk.Keyring, names ...string) {
	t.Helper()
	idx, err := repo.ReadIndexFile(filepath.Join(dir, "APKINDEX.tar.gz"), kr, repo.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range idx.Packages {
		got = append(got, p.Name)
		if p.Arch != filepath.Base(dir) {
			t.Errorf("index: %s: A:%s, want %s", p.Name, p.Arch, filepath.Base(dir))
		}
		rec, err := repo.ReadPackageRecord(filepath.Join(dir, p.Filename()), repo.BuildOptions{Keyring: kr})
		if err != nil {
			t.Errorf("index: %s: %v", p.Name, err)
		} else if rec.Checksum != p.Checksum || rec.Size != p.Size {
			t.Errorf("index: %s: C:%s S:%d, the file has %s %d", p.Name, p.Checksum, p.Size, rec.Checksum, rec.Size)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Errorf("index lists %q, want %q", got, names)
	}
}
