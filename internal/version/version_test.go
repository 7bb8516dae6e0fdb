package version

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// versionData is apk-tools' test/version.data. The shared/ tree is a
// sibling of the repository root, both locally and in CI.
var versionData = filepath.Join("..", "..", "..", "shared", "fixtures", "apk-tools", "version.data")

// wantSign maps a relation in version.data to the expected Compare result.
var wantSign = map[string]int{"<": -1, "=": 0, ">": 1}

// TestVersionData checks every vector of apk-tools' version.data, in both
// directions. Lines are "a OP b [# comment]"; lines starting with '#' and
// blank lines are skipped. For forward compatibility with apk-tools 3's
// test/unit/version.data it also understands the fuzzy relations ("~",
// "!~", "<~", ">~") and single-version validity lines ("v" valid, "!v"
// invalid).
func TestVersionData(t *testing.T) {
	f, err := os.Open(versionData)
	if err != nil {
		t.Fatalf("apk-tools version vectors not found (shared/ must sit beside the repository root): %v", err)
	}
	defer f.Close()

	var n int
	sc := bufio.NewScanner(f)
	for lineno := 1; sc.Scan(); lineno++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		switch len(fields) {
		case 0:
			continue
		case 1:
			v, want := fields[0], true
			if strings.HasPrefix(v, "!") {
				v, want = v[1:], false
			}
			if got := Valid(v); got != want {
				t.Errorf("line %d: Valid(%q) = %v, want %v", lineno, v, got, want)
			}
			n++
			continue
		case 3:
		default:
			t.Fatalf("line %d: cannot parse %q", lineno, sc.Text())
		}
		a, rel, b := fields[0], fields[1], fields[2]
		n++
		if want, ok := wantSign[rel]; ok {
			if got := Compare(a, b); got != want {
				t.Errorf("line %d: Compare(%q, %q) = %d, want %d (%s)", lineno, a, b, got, want, rel)
			}
			if got := Compare(b, a); got != -want {
				t.Errorf("line %d: Compare(%q, %q) = %d, want %d (antisymmetry)", lineno, b, a, got, -want)
			}
			continue
		}
		var d Dep
		switch rel {
		case "~", "<~", ">~":
			d = Dep{Name: "x", Op: mustOp(t, rel), Version: b}
		case "!~":
			d = Dep{Name: "x", Op: Equal | Fuzzy, Version: b, Conflict: true}
		default:
			t.Fatalf("line %d: unknown relation %q", lineno, rel)
		}
		if got := d.MatchVersion(a) != d.Conflict; !got {
			t.Errorf("line %d: %q %s %q does not hold", lineno, a, rel, b)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 700 {
		t.Fatalf("only %d vectors read from %s", n, versionData)
	}
	t.Logf("%d vectors checked", n)
}

func mustOp(t *testing.T, s string) Op {
	t.Helper()
	op, ok := parseOp(s)
	if !ok {
		t.Fatalf("bad operator %q", s)
	}
	return op
}

// TestVersionDataAllPairs checks antisymmetry and reflexivity for every
// pair of versions mentioned in version.data, not just the listed pairs.
func TestVersionDataAllPairs(t *testing.T) {
	data, err := os.ReadFile(versionData)
	if err != nil {
		t.Fatalf("apk-tools version vectors not found: %v", err)
	}
	seen := map[string]bool{}
	var vs []string
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			if _, rel := wantSign[f]; rel || seen[f] {
				continue
			}
			seen[f] = true
			vs = append(vs, f)
		}
	}
	for _, a := range vs {
		if r := Compare(a, a); r != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0", a, a, r)
		}
		for _, b := range vs {
			if x, y := Compare(a, b), Compare(b, a); x != -y {
				t.Errorf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, x, b, a, y)
			}
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		// Leading zeros in ".N" components compare as byte strings.
		{"1.05", "1.5", -1},
		{"8.2.0", "8.2.001", -1},
		{"8.2.0015", "8.2.002", -1},
		{"1.0", "1.00", -1},
		{"1.01", "1.1", -1},
		{"1.010", "1.01", 1},
		{"1.09", "1.1", -1},
		// ... but not in the initial number, suffix numbers or revisions.
		{"006", "6", 0},
		{"06", "5", 1},
		{"1.0_p01", "1.0_p1", 0},
		{"1.0-r01", "1.0-r1", 0},
		{"1.0_rc010", "1.0_rc9", 1},
		// Huge numbers do not overflow.
		{"123456789012345678901234567890", "123456789012345678901234567889", 1},
		{"1.99999999999999999999999", "1.99999999999999999999998", 1},
		{"1.0-r18446744073709551616", "1.0-r18446744073709551615", 1},
		{"1.0_p18446744073709551616", "1.0_p1", 1},
		{"0000000000000000000000000001", "1", 0},
		{"1.0.100000000000000000000", "1.0.99999999999999999999", 1},
		// Type order: INITIAL_DIGIT < DIGIT < LETTER < SUFFIX < SUFFIX_NO <
		// COMMIT_HASH < REVISION < END, the lower-ranked type being greater.
		{"1.0", "1.0.1", -1},
		{"1.0", "1.0a", -1},
		{"1.0a", "1.0.1", -1},
		{"1.0", "1.0_p1", -1},
		{"1.0-r1", "1.0_p1", -1},
		{"1.0_rc1", "1.0", -1},
		{"1.0_p", "1.0_p1", -1},
		{"1.0~abc", "1.0", 1},
		{"1.0~abc", "1.0-r0", 1},
		{"1.0-r0", "1.0", 1},
		{"1.0_p1", "1.0~abc", 1},
		// Suffix ranks.
		{"1_alpha", "1_beta", -1},
		{"1_beta", "1_pre", -1},
		{"1_pre", "1_rc", -1},
		{"1_rc", "1", -1},
		{"1", "1_cvs", -1},
		{"1_cvs", "1_svn", -1},
		{"1_svn", "1_git", -1},
		{"1_git", "1_hg", -1},
		{"1_hg", "1_p", -1},
		{"1_alpha_pre2", "1_alpha", -1},
		{"1_p1_pre2", "1_p1", -1},
		{"1_git20240101_pre1", "1_git20240101", -1},
		// Letters.
		{"1.0a", "1.0b", -1},
		{"1.0z-r1", "1.0z-r0", 1},
		// Commit hashes compare as strings.
		{"1.0~1234", "1.0~2345", -1},
		{"1.0~1234-r1", "1.0~2345-r0", -1},
		{"1.0~1234-r1", "1.0~1234-r0", 1},
		{"1.0~abc", "1.0~abcd", -1},
		{"1.0~abc", "1.0~abc", 0},
		// Invalid versions compare up to where they turn invalid.
		{"1.0", "1.0bc", -1},
		{"1.0b", "1.0bc", 1},
		{"1.0bc", "1.0bd", 0},
		{"1.0_foo", "1.0", -1},
		{"1.0_foo", "1.0_bar", 0},
		{"1.0_foo", "1.0_rc1", 1},
		{"23_foo", "4_beta", 1},
		{"", "", 0},
		{"", "0", -1},
		{"a", "b", 0},
		{"a", "0", -1},
		{"1.0-x", "1.0", -1},
		{"1.0-r", "1.0", -1},
		{"1.", "1", -1},
		{"1.0A", "1.0", -1},
		{"1.0~", "1.0", -1},
		{"1.0~xyz", "1.0", -1},
		{"1.0a2", "1.0a3", 0},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestCompareFuzzy(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"3.6.0", "3.6", 0},
		{"3.6.9", "3.6", 0},
		{"3.6_pre1", "3.6", 0},
		{"3.6.0_pre1", "3.6", 0},
		{"3.6.9_post1", "3.6", 0},
		{"3.6.0", "3.6.0", 0},
		{"3.6-r3", "3.6", 0},
		{"3.6a", "3.6", 0},
		{"3.5", "3.6", -1},
		{"3.7", "3.6", 1},
		{"3.6", "3.6.0", -1},
		{"3.8", "3.8.1", -1},
		{"3.8.0", "3.8.1", -1},
		{"3.8.0.1", "3.8.1", -1},
		{"3.6_pre1", "3.8", -1},
		{"3.6.9_post1", "3.8", -1},
		{"3.60", "3.6", 1},
		{"1.05", "1.0", 1},
		{"1.0", "", 1},
	}
	for _, tt := range tests {
		if got := CompareFuzzy(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareFuzzy(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestValid(t *testing.T) {
	valid := []string{
		"0", "1", "1.2", "1.2.3.4.5", "20240101", "1.0a", "2.5.1a-r1",
		"0.1_pre2", "0.1_pre2~1234abcd", "0.1_p1_pre2", "0.1_alpha1_pre2",
		"0.1_git20240101_pre1", "1.0_p", "1.0_alpha_beta_pre_rc_cvs_svn_git_hg_p",
		"1.0-r0", "1.0-r123", "1.0~0", "1.0~abcdef0123456789-r1", "1.0a_rc1~ff-r2",
		"01.002", "1.0-r01", "123456789012345678901234567890.1",
	}
	invalid := []string{
		"", "0.1bc", "0.1bc1", "0.1a1", "0.1a.1", "0.1_pre2~", "0.1_pre2~1234xbcd",
		"0.1_pre2~1234abcd_pre1", "0.1_pre2-r1~1234xbcd", "0.1_foobar",
		"0.1_foobar1", "0.1-pre1.1", "0.1-r", "0.1-r2_pre1", "0.1-r2_p3_pre1",
		"0.1-r2-r3", "0.1-r2.1", ".1", "a", "_pre1", "-r1", "0.1_", "0.1_-r0",
		"0.1__alpha", "0.1_1_alpha", "1.", "1..2", "1.0A", "1.0~ABC", "1.0-R1",
		"1.0 ", " 1.0", "1.0\x00", "1.0-r1a", "1.0~ab~cd", "1.0_prea", "v1.0",
		"1.0a2", "1.0_p1a", "1.0~abc.1", "1,0", "1.0+1",
	}
	for _, v := range valid {
		if !Valid(v) {
			t.Errorf("Valid(%q) = false, want true", v)
		}
	}
	for _, v := range invalid {
		if Valid(v) {
			t.Errorf("Valid(%q) = true, want false", v)
		}
	}
}

func TestValidV2(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"1.0", true},
		{"1.0a2", true},
		{"1.0a2b3", true},
		{"2.12r-r4", true},
		{"a1", true},
		{"1.", true},
		{"1..2", true},
		{"1-r1-r2", true},
		{"1.0_pre20", true},
		{"1.00.1", true},
		{"1.0bc", false},
		{"1.0A", false},
		{"1.0~abc", false},
		{"1.0_foo", false},
		{"1.0-x", false},
		{"1.0-r1_p1", false},
		{"1.0_p1.1", false},
		{"1.0a.1", false},
	}
	for _, tt := range tests {
		if got := validV2(tt.v); got != tt.want {
			t.Errorf("validV2(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestCompareAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		Compare("1.2.3_rc1~abc-r2", "1.2.3_rc1~abd-r2")
		CompareFuzzy("123456789012345678901234567890.05", "123456789012345678901234567890")
		Valid("1.0_p1-r3")
	})
	if allocs != 0 {
		t.Errorf("Compare allocates %v times per run, want 0", allocs)
	}
}
