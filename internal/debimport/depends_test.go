package debimport

import (
	"slices"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/version"
)

func TestMapDepends(t *testing.T) {
	for _, tc := range []struct {
		field, arch string
		want        []string
		warnings    int
	}{
		{"", "amd64", nil, 0},
		{"libgcc-s1", "amd64", []string{"libgcc-s1"}, 0},
		{"libc6 (>= 2.34)", "amd64", []string{"libc6>=2.34"}, 0},
		{"gcc-12-base (= 12.2.0-14+deb12u1), libc6 (>= 2.35)", "amd64", []string{"gcc-12-base=12.2.0_p1-r14", "libc6>=2.35"}, 0},
		{"debconf (>= 0.5) | debconf-2.0", "amd64", []string{"debconf>=0.5"}, 0},
		{"a (<< 2.0~), b (>> 1:1.0-1), c (<= 3), d (< 4), e (> 5)", "amd64",
			[]string{"a<2.0_alpha", "b>1.0-r1", "c<=3", "d<=4", "e>=5"}, 0},
		{"python3:any (>= 3.11~), perl:native, libfoo:amd64", "amd64", []string{"python3>=3.11_alpha", "perl", "libfoo"}, 0},
		{"libc6 (>= 2.34) [amd64], libc6.1 [ia64]", "amd64", []string{"libc6>=2.34"}, 0},
		{"a [!amd64] | b [amd64 arm64], c [linux-any], d [any-amd64], e [!i386]", "amd64", []string{"b", "c", "d", "e"}, 0},
		{"a [i386]", "amd64", nil, 0},
		{"a <!nocheck>, b [amd64] <!stage1> <cross>", "amd64", []string{"a", "b"}, 0},
		{"a,\n b (>= 1)\n , c,", "amd64", []string{"a", "b>=1", "c"}, 0},
		{"a (>= 1), a (>= 1), a", "amd64", []string{"a>=1", "a"}, 0},
		{"a(>=1)", "amd64", []string{"a>=1"}, 0},
		{"a (>= x1.0)", "amd64", []string{"a"}, 1}, // version does not map
		{"awk", "all", []string{"awk"}, 0},
	} {
		got, warnings, err := MapDepends(tc.field, tc.arch)
		if err != nil {
			t.Errorf("MapDepends(%q): %v", tc.field, err)
			continue
		}
		if !slices.Equal(got, tc.want) || len(warnings) != tc.warnings {
			t.Errorf("MapDepends(%q) = %q, %q; want %q and %d warnings", tc.field, got, warnings, tc.want, tc.warnings)
		}
		for _, d := range got {
			if _, err := version.ParseDep(d); err != nil {
				t.Errorf("MapDepends(%q): %q: %v", tc.field, d, err)
			}
		}
	}
}

func TestMapDependsErrors(t *testing.T) {
	for _, tc := range []struct{ field, msg string }{
		{"a |", "missing package name"},
		{"(>= 1)", "missing package name"},
		{"a (>= 1", `unclosed "("`},
		{"a (~> 1)", "missing or invalid version relation"},
		{"a (=> 1)", `invalid version relation "=>"`},
		{"a (>= )", "missing version"},
		{"a (1.0)", "missing or invalid version relation"},
		{"a [amd64", `unclosed "["`},
		{"a []", "empty architecture list"},
		{"a <!nocheck", `unclosed "<"`},
		{"a b", `unexpected "b"`},
		{"a:", "empty architecture qualifier"},
		{"${shlibs:Depends}", "invalid package name"},
		{"_a", "invalid package name"},
	} {
		got, _, err := MapDepends(tc.field, "amd64")
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("MapDepends(%q) = %q, %v; want an error containing %q", tc.field, got, err, tc.msg)
		}
	}
}

func TestMapProvides(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  []string
	}{
		{"", nil},
		{"busybox", []string{"busybox"}},
		{"libgcc1 (= 1:12.2.0-14+deb12u1)", []string{"libgcc1=12.2.0_p1-r14"}},
		{"libz1, base, base", []string{"libz1", "base"}},
		{"mail-transport-agent, default-mta (=1.0)", []string{"mail-transport-agent", "default-mta=1.0"}},
	} {
		got, _, err := MapProvides(tc.field)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("MapProvides(%q) = %q, %v; want %q", tc.field, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ field, msg string }{
		{"a | b", "alternatives are not allowed"},
		{"a (>= 1)", `only "=" versions`},
		{"a [amd64]", "architecture restrictions"},
		{"a (=", `unclosed "("`},
	} {
		if got, _, err := MapProvides(tc.field); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("MapProvides(%q) = %q, %v; want an error containing %q", tc.field, got, err, tc.msg)
		}
	}
}

func TestMapArch(t *testing.T) {
	for deb, want := range map[string]string{
		"amd64": "x86_64", "arm64": "aarch64", "i386": "x86", "armhf": "armv7", "all": "noarch",
		"ppc64el": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
	} {
		if got, err := MapArch(deb); err != nil || got != want {
			t.Errorf("MapArch(%q) = %q, %v; want %q", deb, got, err, want)
		}
	}
	for _, deb := range []string{"", "armel", "any", "hurd-i386", "AMD64"} {
		if got, err := MapArch(deb); err == nil {
			t.Errorf("MapArch(%q) = %q, want an error", deb, got)
		}
	}
}

func TestCopyrightLicense(t *testing.T) {
	const dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\n"
	for _, tc := range []struct{ name, in, want string }{
		{"zlib", dep5 + "Files: *\nCopyright: 1995 J\nLicense: Zlib\n\nFiles: debian/*\nLicense: Zlib\n\nLicense: Zlib\n This software is provided 'as-is'\n", "Zlib"},
		{"or", dep5 + "Files: *\nCopyright: Y\nLicense: BSD-3-clause or GPL-2\n", "BSD-3-Clause OR GPL-2.0-only"},
		{"and comma", dep5 + "Files: *\nLicense: GPL-2+, and LGPL-2.1+\n", "GPL-2.0-or-later, AND LGPL-2.1-or-later"},
		{"exception kept", dep5 + "Files: *\nLicense: GPL-2+ with OpenSSL exception\n", "GPL-2+ with OpenSSL exception"},
		{"unknown kept", dep5 + "Files: *\nLicense: public-domain\n This is public domain.\n", "public-domain"},
		{"star among others", dep5 + "Files: debian/*\nLicense: MIT\n\nFiles: src/* *\nLicense: Apache-2.0\n", "Apache-2.0"},
		{"comments", "# hand-edited\n" + dep5 + "Files: *\n# note\nLicense: ISC\n", "ISC"},
		{"old format name", "Format-Specification: http://svn.debian.org/wsvn/dep/web/deps/dep5.mdwn?rev=135\n\nFiles: *\nLicense: Expat\n", "MIT"},
		{"no files star", dep5 + "Files: src/*\nLicense: MIT\n", ""},
		{"free form", "This is the Debian prepackaged version of hello.\n\nCopyright: 1992 FSF\nLicense: GPL-3+\n", ""},
		{"empty", "", ""},
	} {
		if got := copyrightLicense([]byte(tc.in)); got != tc.want {
			t.Errorf("%s: license %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"./":             "",
		".":              "",
		"./usr/":         "usr",
		"./usr/bin/x":    "usr/bin/x",
		"usr/bin/x":      "usr/bin/x",
		"./a b/c":        "a b/c",
		"./usr/lib/x.so": "usr/lib/x.so",
	} {
		if got, err := cleanPath(in); err != nil || got != want {
			t.Errorf("cleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/etc/passwd", "../x", "./../x", "./a/../../x", "./a/..", "a//b", "./a/./b", "a/\x01", ".//a", strings.Repeat("a", 5000)} {
		if got, err := cleanPath(in); err == nil {
			t.Errorf("cleanPath(%q) = %q, want an error", in, got)
		}
	}
}

func TestSonameVersion(t *testing.T) {
	for in, want := range map[string]string{
		"libc.so.6":            "6",
		"ld-linux-x86-64.so.2": "2",
		"libfoo.so.1.2.3":      "1.2.3",
		"libmemusage.so":       "0",
		"libfoo-1.2.so":        "0",
		"libx.so.1a2":          "0",
	} {
		if got := sonameVersion(in); got != want {
			t.Errorf("sonameVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
