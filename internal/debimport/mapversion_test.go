package debimport

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/version"
)

func TestMapVersion(t *testing.T) {
	for _, tc := range []struct{ deb, want string }{
		// Real Debian 12 versions.
		{"2.10-3", "2.10-r3"},
		{"2.40-2", "2.40-r2"},
		{"4.3-4.1", "4.3_p1-r4"},                  // NMU
		{"1:1.36.1-9", "1.36.1-r9"},               // epoch dropped
		{"1:1.2.13.dfsg-1", "1.2.13-r1"},          // zlib: repack marker dropped
		{"1.5.4+dfsg2-5", "1.5.4-r5"},             // libzstd
		{"2.36-9+deb12u10", "2.36_p10-r9"},        // stable update
		{"2.36-9+deb12u14", "2.36_p14-r9"},        // a later one sorts after
		{"12.2.0-14+deb12u1", "12.2.0_p1-r14"},    // gcc-12
		{"7.88.1-10+deb12u14", "7.88.1_p14-r10"},  // curl
		{"3.0.18-1~deb12u1", "3.0.18_p1-r1"},      // stable update of a newer upload
		{"2.4.7-7~deb12u1", "2.4.7_p1-r7"},        // libltdl7
		{"1:1.35.0-4+deb12u1+b1", "1.35.0_p1-r4"}, // busybox-static: binNMU dropped
		{"5.2.15-2+b2", "5.2.15-r2"},              // bash: binNMU
		{"0.2.8~rc1-1", "0.2.8_rc1-r1"},           // pre-release
		{"20230311", "20230311"},                  // native, no revision
		{"12.4+deb12u14", "12.4_p14"},             // base-files: native stable update
		{"2026b-0+deb12u1", "2026b_p1-r0"},        // tzdata: one letter kept
		{"1:9.2p1-2+deb12u3", "9.2_p1_p3-r2"},     // openssh: p1 → _p1
		{"1.1.1w-0+deb11u1", "1.1.1w_p1-r0"},      // openssl 1.1
		{"2:1.8+git20210923~", "1.8_git20210923_alpha"},
		{"0.0~git20230101.1a2b3c4-2", "0.0_pre20230101-r2"}, // hash dropped
		{"1.36+u20200211.f2c61c1~dfsg-2~", "1.36_p20200211_pre-r2"},
		{"1.0+really0.9-1", "1.0_p-r1"},
		{"8.3.2+~8.3.3-3", "8.3.2_p_pre8_p3_p3-r3"}, // node bundles: "+~" sorts after 8.3.2
		{"3.0043+nmu1+deb12u1", "3.0043_p1_p1"},
		{"1.26.3-0~eo", "1.26.3-r0"}, // "~" in a revision: the rest is dropped
		{"1.2-1~bpo12+1", "1.2-r1"},
		{"2.12.40-3.1.~", "2.12.40_p1_p-r3"},
		// Pre-release words.
		{"1.0~alpha2", "1.0_alpha2"},
		{"1.0~a2", "1.0_alpha2"},
		{"1.0~beta", "1.0_beta"},
		{"1.0~b3", "1.0_beta3"},
		{"1.0~RC1-1", "1.0_rc1-r1"},
		{"1.0~pre4", "1.0_pre4"},
		{"1.0~dfsg", "1.0_pre"},
		{"2.0.5~", "2.0.5_alpha"},
		// Other post-release parts.
		{"1.0+git20240101", "1.0_git20240101"},
		{"1.0+svn123", "1.0_svn123"},
		{"1.0+hg5", "1.0_hg5"},
		{"1.0+cvs20000101", "1.0_cvs20000101"},
		{"1.0+nmu2", "1.0_p2"},
		{"1.0.", "1.0_p"},
		{"1.0+", "1.0_p"},
		{"1.2rc3-1", "1.2_p3-r1"}, // without "~", Debian sorts it after 1.2
		{"1.0a1", "1.0a_p1"},
		{"1.0-0ubuntu1", "1.0_p1-r0"},
		{"1.0-1build2", "1.0_p2-r1"},
		{"007-1", "007-r1"},
		{"1.0-007", "1.0-r7"},
		{"1.0~rc0001", "1.0_rc1"},
		{"1.0+99999999999999999999", "1.0_p999999999999999999"}, // cut to 18 digits
	} {
		got, err := MapVersion(tc.deb)
		if err != nil {
			t.Errorf("MapVersion(%q): %v", tc.deb, err)
			continue
		}
		if got != tc.want {
			t.Errorf("MapVersion(%q) = %q, want %q", tc.deb, got, tc.want)
		}
		if !version.Valid(got) {
			t.Errorf("MapVersion(%q) = %q, not a valid apk version", tc.deb, got)
		}
	}
}

func TestMapVersionErrors(t *testing.T) {
	for _, tc := range []struct{ deb, msg string }{
		{"", "empty"},
		{" 1.0", "white space"},
		{"a1.0", `upstream version "a1.0" does not start with a digit`},
		{"~1", "does not start with a digit"},
		{"x:1.0", `epoch "x" is not a number`},
		{":1.0", `epoch "" is not a number`},
		{"1:", "empty upstream version"},
		{"-1", "empty upstream version"},
		{"1.0-", "empty Debian revision"},
		{"1.0_1", `character '_' is not allowed`},
		{"1.0-1:2", `epoch "1.0-1" is not a number`},
		{"1:1.0-1:2", `Debian revision "1:2": character ':' is not allowed`},
		{"1.0 2", "not allowed"},
		{"1234567890123456789.0", "more than 18 digits"},
		{"1.0-1234567890123456789", "more than 18 digits"},
		{strings.Repeat("1", 300), "longer than"},
	} {
		got, err := MapVersion(tc.deb)
		if err == nil {
			t.Errorf("MapVersion(%q) = %q, want an error", tc.deb, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), fmt.Sprintf("version %q: ", tc.deb)) {
			t.Errorf("MapVersion(%q): %q, want it to contain %q", tc.deb, err, tc.msg)
		}
	}
}

// TestMapVersionOrder checks that MapVersion keeps Debian's order along
// chains of versions that are in strictly ascending Debian order.
func TestMapVersionOrder(t *testing.T) {
	chains := [][]string{
		{"1.0~~", "1.0~", "1.0~alpha2", "1.0~beta1", "1.0~rc1", "1.0~rc2", "1.0", "1.0+dfsg1-1", "1.0+git2023", "1.0.1"},
		{"2.36-9", "2.36-9+deb12u1", "2.36-9+deb12u9", "2.36-9+deb12u10", "2.36-9+deb12u14"},
		{"3.0.17-1", "3.0.18-1~deb12u1", "3.0.18-1~deb12u2", "3.0.19-1"},
		{"2.0.4", "2.0.5~", "2.0.5~rc1", "2.0.5", "2.0.5-1", "2.0.5-2", "2.0.5-10", "2.0.6~beta"},
		{"1.8", "1.8+git20200101", "1.8+git20210923~", "1.8+git20210923", "1.9"},
		{"0.9", "1.0+really0.9", "1.0.1"},
		{"1.0", "1.0a", "1.0b", "1.0.1"},
		{"9.2p1-2", "9.2p1-2+deb12u1", "9.2p1-2+deb12u3", "9.2p2-1", "9.3p1-1"},
		{"2026a-1", "2026b-0+deb12u1", "2026b-0+deb12u2", "2026c-1"},
		{"8.3.2-1", "8.3.2+~8.3.3-3", "8.3.3-1"},
		{"1.2-2", "1.2-3", "1.2-3+b1", "1.2-3.1", "1.2-3.2"}, // binNMU equal to its source, see below
	}
	for _, chain := range chains {
		for i := 0; i+1 < len(chain); i++ {
			a, b := chain[i], chain[i+1]
			if debCompare(a, b) >= 0 {
				t.Fatalf("test chain not in Debian order: %q !< %q", a, b)
			}
			ma, err1 := MapVersion(a)
			mb, err2 := MapVersion(b)
			if err1 != nil || err2 != nil {
				t.Fatalf("%v %v", err1, err2)
			}
			c := version.Compare(ma, mb)
			if a == "1.2-3" && b == "1.2-3+b1" {
				// A binNMU maps to its source's version.
				if c != 0 {
					t.Errorf("binNMU: %q → %q, %q → %q: compare %d, want 0", a, ma, b, mb, c)
				}
				continue
			}
			if c >= 0 {
				t.Errorf("order lost: %q < %q in Debian, but %q → %q, %q → %q compare %d", a, b, a, ma, b, mb, c)
			}
		}
	}
}

// TestMapVersionKnownInversions pins down the orderings MapVersion cannot
// keep, which docs/debimport.md lists.
func TestMapVersionKnownInversions(t *testing.T) {
	for _, tc := range []struct {
		a, b string // a < b in Debian
		why  string
	}{
		{"2.0", "1:1.0", "epochs are dropped"},
		{"2.36-9+deb12u10", "2.36-10", "revision suffixes outrank later revision numbers"},
		{"4.3-4.1", "4.3-5", "revision suffixes outrank later revision numbers"},
		{"2026b-0+deb12u1", "2026b-1", "revision suffixes outrank later revision numbers"},
		{"3.0.18-1~deb12u2", "3.0.18-1", "~debNNuM in a revision becomes _pN"},
		{"1.0~", "1.0~alpha", "a bare ~ and ~alpha both become _alpha (equal)"},
		{"1.2-3~bpo12+1", "1.2-3", "the part after ~ in a revision is dropped (equal)"},
		{"3.12", "3.0043", "apk compares leading-zero components as strings"},
	} {
		if debCompare(tc.a, tc.b) >= 0 {
			t.Fatalf("%q !< %q in Debian", tc.a, tc.b)
		}
		ma, _ := MapVersion(tc.a)
		mb, _ := MapVersion(tc.b)
		if version.Compare(ma, mb) < 0 {
			t.Errorf("%s: %q → %q < %q → %q now holds; update docs/debimport.md", tc.why, tc.a, ma, tc.b, mb)
		}
	}
}

// TestMapDebianArchive maps every version and relationship field in the
// local apt package lists (the whole Debian archive after apt-get update)
// and checks that the dependencies Debian considers satisfied within the
// archive stay satisfied after mapping, but for a tiny, documented rest.
func TestMapDebianArchive(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("reads the whole Debian archive index; skipped in -short mode")
	}
	lists := debianPackageLists(t)
	var paras []*Paragraph
	for _, l := range lists {
		out, err := exec.Command("/usr/lib/apt/apt-helper", "cat-file", l).Output()
		if err != nil {
			t.Fatalf("apt-helper cat-file %s: %v", l, err)
		}
		ps, err := parseParagraphs(out, true)
		if err != nil {
			t.Fatal(err)
		}
		paras = append(paras, ps...)
	}
	if len(paras) < 1000 {
		t.Skipf("only %d packages in the apt lists", len(paras))
	}
	versions := map[string]string{}
	for _, p := range paras {
		name, v := p.Get("Package"), p.Get("Version")
		mv, err := MapVersion(v)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !version.Valid(mv) {
			t.Errorf("%s: %q → %q: not valid", name, v, mv)
		}
		if prev, ok := versions[name]; !ok || debCompare(v, prev) > 0 {
			versions[name] = v
		}
		for _, field := range []string{"Pre-Depends", "Depends", "Replaces"} {
			deps, _, err := MapDepends(p.Get(field), "amd64")
			if err != nil {
				t.Errorf("%s: %s: %v", name, field, err)
			}
			for _, d := range deps {
				if _, err := version.ParseDep(d); err != nil {
					t.Errorf("%s: %s: %v", name, field, err)
				}
			}
		}
		provides, _, err := MapProvides(p.Get("Provides"))
		if err != nil {
			t.Errorf("%s: Provides: %v", name, err)
		}
		for _, d := range provides {
			if _, err := version.ParseDep(d); err != nil {
				t.Errorf("%s: Provides: %v", name, err)
			}
		}
	}
	total, lost := 0, 0
	for _, p := range paras {
		for _, field := range []string{"Pre-Depends", "Depends"} {
			for _, entry := range splitList(p.Get(field)) {
				for _, alt := range strings.Split(entry, "|") {
					r, err := parseRelation(alt)
					if err != nil || r.op == "" {
						continue
					}
					have, ok := versions[r.name]
					if !ok {
						continue
					}
					c := debCompare(have, r.version)
					var debOK bool
					switch r.op {
					case ">=", ">":
						debOK = c >= 0
					case "<=", "<":
						debOK = c <= 0
					case "=":
						debOK = c == 0
					case ">>":
						debOK = c > 0
					case "<<":
						debOK = c < 0
					}
					if !debOK {
						continue
					}
					total++
					mv, _ := MapVersion(have)
					d, _ := r.apkDep()
					dep, err := version.ParseDep(d)
					if err != nil {
						t.Fatal(err)
					}
					if !dep.MatchVersion(mv) {
						lost++
						if testing.Verbose() {
							t.Logf("lost: %s: %s (%s %s) by %s → %s vs %s", p.Get("Package"), r.name, r.op, r.version, have, mv, d)
						}
					}
				}
			}
		}
	}
	t.Logf("%d packages; %d satisfied versioned dependencies, %d no longer satisfied after mapping (%.3f%%)",
		len(paras), total, lost, 100*float64(lost)/float64(total))
	if float64(lost) > 0.001*float64(total) {
		t.Errorf("%d of %d satisfied dependencies lost in mapping, want under 0.1%%", lost, total)
	}
}

// debianPackageLists returns the apt Packages lists of this machine, or
// skips the test.
func debianPackageLists(t *testing.T) []string {
	if _, err := os.Stat("/usr/lib/apt/apt-helper"); err != nil {
		t.Skip("apt-helper not found")
	}
	out, err := exec.Command("apt-get", "indextargets", "--format", "$(FILENAME)", "Created-By: Packages").Output()
	if err != nil {
		t.Skipf("apt-get indextargets: %v", err)
	}
	var lists []string
	for _, l := range strings.Fields(string(out)) {
		if _, err := os.Stat(l); err == nil {
			lists = append(lists, l)
		}
	}
	if len(lists) == 0 {
		t.Skip("no apt package lists (run apt-get update)")
	}
	return lists
}

func ExampleMapVersion() {
	for _, v := range []string{"2.10-3", "1:1.2.13.dfsg-1", "7.88.1-10+deb12u14", "0.2.8~rc1-1"} {
		m, _ := MapVersion(v)
		fmt.Println(v, "→", m)
	}
	// Output:
	// 2.10-3 → 2.10-r3
	// 1:1.2.13.dfsg-1 → 1.2.13-r1
	// 7.88.1-10+deb12u14 → 7.88.1_p14-r10
	// 0.2.8~rc1-1 → 0.2.8_rc1-r1
}
