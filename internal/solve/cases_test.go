package solve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/repo"
)

var update = flag.Bool("update", false, "rewrite the want and error sections of testdata/*.txt")

// A testdata file is a list of sections "-- KIND ARGS --" followed by
// their text. Sections before the first "case" are shared by every case.
//
//	-- repo NAME [@TAG] [arch=ARCH] --   APKINDEX text of a repository
//	-- installed [arch=ARCH] --          APKINDEX text of installed packages
//	-- case NAME --                      starts a case
//	-- world --                          world entries, blank-separated
//	-- options --                        "arch A", "arches A B", "upgrade", "maxsteps N"
//	-- want [ARCH] --                    the plan: "name-version repo" per line
//	-- reasons --                        "name-version: reason | reason" per line; without
//	                                     a want section only the reasons are checked
//	-- error --                          the error text (golden)
type section struct {
	kind string
	args []string
	body string
}

type testCase struct {
	name     string
	repos    []section
	inst     []section
	world    []string
	opts     []string
	want     map[string]*section // by arch ("" for single)
	reasons  *section
	errSec   *section
	sections []*section
}

func parseSections(text string) ([]*section, error) {
	var out []*section
	var cur *section
	for i, line := range strings.SplitAfter(text, "\n") {
		t := strings.TrimRight(line, "\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") {
			f := strings.Fields(t[3 : len(t)-3])
			if len(f) == 0 {
				return nil, fmt.Errorf("line %d: empty section header", i+1)
			}
			cur = &section{kind: f[0], args: f[1:]}
			out = append(out, cur)
			continue
		}
		if cur == nil {
			if t != "" && !strings.HasPrefix(t, "#") {
				return nil, fmt.Errorf("line %d: text before the first section", i+1)
			}
			continue
		}
		cur.body += line
	}
	return out, nil
}

func writeSections(path string, head string, secs []*section) error {
	var b strings.Builder
	b.WriteString(head)
	for _, s := range secs {
		b.WriteString("-- " + strings.Join(append([]string{s.kind}, s.args...), " ") + " --\n")
		b.WriteString(s.body)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func splitCases(secs []*section) ([]*testCase, error) {
	var shared []section
	var sharedInst []section
	var cases []*testCase
	var tc *testCase
	for _, s := range secs {
		if s.kind == "case" {
			tc = &testCase{name: strings.Join(s.args, " "), want: map[string]*section{}}
			tc.repos = append(tc.repos, shared...)
			tc.inst = append(tc.inst, sharedInst...)
			cases = append(cases, tc)
			continue
		}
		if tc == nil {
			switch s.kind {
			case "repo":
				shared = append(shared, *s)
			case "installed":
				sharedInst = append(sharedInst, *s)
			default:
				return nil, fmt.Errorf("section %q before the first case", s.kind)
			}
			continue
		}
		switch s.kind {
		case "repo":
			tc.repos = append(tc.repos, *s)
		case "installed":
			tc.inst = append(tc.inst, *s)
		case "world":
			tc.world = strings.Fields(s.body)
		case "options":
			tc.opts = strings.Split(strings.TrimSpace(s.body), "\n")
		case "want":
			arch := ""
			if len(s.args) > 0 {
				arch = s.args[0]
			}
			tc.want[arch] = s
		case "reasons":
			tc.reasons = s
		case "error":
			tc.errSec = s
		default:
			return nil, fmt.Errorf("case %s: unknown section %q", tc.name, s.kind)
		}
	}
	return cases, nil
}

func sectionArch(s section) string {
	for _, a := range s.args {
		if v, ok := strings.CutPrefix(a, "arch="); ok {
			return v
		}
	}
	return ""
}

func parsePkgs(t *testing.T, s section) []*repo.Package {
	t.Helper()
	pkgs, err := repo.ParseRecords(strings.NewReader(strings.TrimLeft(s.body, "\n")), s.kind)
	if err != nil {
		t.Fatalf("%s %v: %v", s.kind, s.args, err)
	}
	return pkgs
}

// request builds the request of tc for arch ("" when single-arch).
func (tc *testCase) request(t *testing.T, arch string) Request {
	req := Request{World: tc.world, Arch: arch}
	for _, s := range tc.repos {
		if a := sectionArch(s); a != "" && a != arch {
			continue
		}
		r := Repository{Name: s.args[0], Packages: parsePkgs(t, s)}
		for _, a := range s.args[1:] {
			if tag, ok := strings.CutPrefix(a, "@"); ok {
				r.Tag = tag
			}
		}
		req.Repos = append(req.Repos, r)
	}
	for _, s := range tc.inst {
		if a := sectionArch(s); a != "" && a != arch {
			continue
		}
		req.Installed = append(req.Installed, parsePkgs(t, s)...)
	}
	for _, o := range tc.opts {
		f := strings.Fields(o)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "arch":
			req.Arch = f[1]
		case "upgrade":
			req.Upgrade = true
		case "maxsteps":
			req.MaxSteps, _ = strconv.Atoi(f[1])
		case "arches":
		default:
			t.Fatalf("unknown option %q", o)
		}
	}
	return req
}

func (tc *testCase) arches() []string {
	for _, o := range tc.opts {
		if f := strings.Fields(o); len(f) > 0 && f[0] == "arches" {
			return f[1:]
		}
	}
	return nil
}

func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			secs, err := parseSections(text)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			cases, err := splitCases(secs)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			changed := false
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					if runCase(t, tc) {
						changed = true
					}
				})
			}
			if *update && changed {
				head := text[:strings.Index(text, "-- ")]
				if err := writeSections(file, head, secs); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// runCase runs one case; in update mode it rewrites its want and error
// sections and reports whether it did.
func runCase(t *testing.T, tc *testCase) (changed bool) {
	ctx := context.Background()
	got := map[string][]string{}
	var gotErr error
	var reqs map[string]Request
	if arches := tc.arches(); arches != nil {
		reqs = map[string]Request{}
		for _, a := range arches {
			reqs[a] = tc.request(t, a)
		}
		plans, err := SolveArchs(ctx, reqs)
		gotErr = err
		for a, p := range plans {
			if err := checkPlan(reqs[a], p); err != nil {
				t.Errorf("%s: invalid plan:\n%v", a, err)
			}
			got[a] = planLines(reqs[a], p)
		}
		plans2, err2 := SolveArchs(ctx, reqs)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Errorf("not deterministic: %v / %v", err, err2)
		}
		for a, p := range plans2 {
			if !slices.Equal(got[a], planLines(reqs[a], p)) {
				t.Errorf("%s: not deterministic", a)
			}
		}
	} else {
		req := tc.request(t, "")
		reqs = map[string]Request{"": req}
		plan, err := Solve(ctx, req)
		gotErr = err
		if err == nil {
			if err := checkPlan(req, plan); err != nil {
				t.Errorf("invalid plan:\n%v\nplan: %v", err, planLines(req, plan))
			}
			got[""] = planLines(req, plan)
			if tc.reasons != nil {
				checkReasons(t, tc, plan)
			}
		}
		plan2, err2 := Solve(ctx, req)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Errorf("not deterministic: %v / %v", err, err2)
		}
		if err2 == nil && !slices.Equal(got[""], planLines(req, plan2)) {
			t.Errorf("not deterministic")
		}
	}
	if gotErr != nil {
		var se *Error
		if !errors.As(gotErr, &se) && strings.Contains(gotErr.Error(), "cannot satisfy") {
			t.Errorf("error is %T, not *Error: %v", gotErr, gotErr)
		}
		want := ""
		if tc.errSec != nil {
			want = strings.TrimRight(tc.errSec.body, "\n")
		}
		if gotErr.Error() != want {
			if *update && tc.errSec != nil {
				tc.errSec.body = gotErr.Error() + "\n\n"
				return true
			}
			t.Errorf("error:\n%s\nwant:\n%s", gotErr, want)
		}
		if len(tc.want) > 0 {
			t.Errorf("got an error, want a plan")
		}
		return false
	}
	if tc.errSec != nil {
		t.Errorf("got a plan %v, want error:\n%s", got, tc.errSec.body)
	}
	for arch, lines := range got {
		w := tc.want[arch]
		if w == nil && tc.reasons != nil {
			continue
		}
		if w == nil {
			t.Errorf("no want section for %q; got:\n%s", arch, strings.Join(lines, "\n"))
			continue
		}
		wl := nonEmptyLines(w.body)
		if !slices.Equal(lines, wl) {
			if *update {
				w.body = strings.Join(lines, "\n") + "\n\n"
				changed = true
				continue
			}
			t.Errorf("plan %s:\n%s\nwant:\n%s", arch, strings.Join(lines, "\n"), strings.Join(wl, "\n"))
		}
	}
	return changed
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func checkReasons(t *testing.T, tc *testCase, plan *Plan) {
	t.Helper()
	got := map[string]string{}
	for _, sel := range plan.Packages {
		got[sel.Package.String()] = strings.Join(sel.Reasons, " | ")
	}
	for _, l := range nonEmptyLines(tc.reasons.body) {
		name, want, _ := strings.Cut(l, ": ")
		if got[name] != want {
			t.Errorf("reasons of %s: %q, want %q", name, got[name], want)
		}
	}
}
