package solve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/version"
)

// fuzzBytes hands out bytes, then zeros.
type fuzzBytes struct {
	b []byte
	i int
}

func (f *fuzzBytes) next() int {
	if f.i >= len(f.b) {
		return 0
	}
	f.i++
	return int(f.b[f.i-1])
}

func (f *fuzzBytes) pick(list []string) string { return list[f.next()%len(list)] }

var (
	fuzzNames    = []string{"a", "b", "c", "d", "e", "f"}
	fuzzVirtuals = []string{"v", "w", "so:x"}
	fuzzVersions = []string{"1-r0", "1.1-r0", "2-r0", "2-r1"}
	fuzzOps      = []string{"", "", "=", "<", "<=", ">", ">=", "~", "><"}
)

// fuzzRequest builds a small request (three repositories, the last
// pinned as @edge; some installed packages) from data.
func fuzzRequest(data []byte) Request {
	f := &fuzzBytes{b: data}
	req := Request{Arch: "aarch64", MaxSteps: 3000}
	repos := make([][]*repo.Package, 3)
	var all []*repo.Package
	dep := func() string {
		var b strings.Builder
		if f.next()%8 == 0 {
			b.WriteByte('!')
		}
		if f.next()%3 == 0 {
			b.WriteString(f.pick(fuzzVirtuals))
		} else {
			b.WriteString(f.pick(fuzzNames))
		}
		switch op := f.pick(fuzzOps); op {
		case "":
		case "><":
			b.WriteString("><Q1fuzz" + fmt.Sprint(f.next()%12))
		default:
			b.WriteString(op + f.pick(fuzzVersions))
		}
		return b.String()
	}
	n := 1 + f.next()%12
	for i := 0; i < n; i++ {
		p := &repo.Package{
			Checksum: "Q1fuzz" + fmt.Sprint(i),
			Name:     f.pick(fuzzNames),
			Version:  f.pick(fuzzVersions),
		}
		switch f.next() % 8 {
		case 0:
			p.Arch = "x86_64"
		case 1:
			p.Arch = "noarch"
		default:
			p.Arch = "aarch64"
		}
		for range f.next() % 4 {
			p.Depends = append(p.Depends, dep())
		}
		for range f.next() % 3 {
			v := f.pick(fuzzVirtuals)
			if f.next()%2 == 0 {
				v += "=" + f.pick(fuzzVersions)
			}
			p.Provides = append(p.Provides, v)
		}
		if f.next()%3 == 0 {
			p.ProviderPriority = uint64(f.next() % 3)
		}
		if f.next()%5 == 0 {
			for range 1 + f.next()%2 {
				d := dep()
				p.InstallIf = append(p.InstallIf, strings.TrimPrefix(d, "!"))
			}
		}
		r := f.next() % 4
		if r == 3 {
			// installed only
			req.Installed = append(req.Installed, p)
			continue
		}
		repos[r] = append(repos[r], p)
		all = append(all, p)
		if f.next()%6 == 0 {
			req.Installed = append(req.Installed, p)
		}
	}
	req.Repos = []Repository{
		{Name: "main", Packages: repos[0]},
		{Name: "community", Packages: repos[1]},
		{Name: "edge", Tag: "edge", Packages: repos[2]},
	}
	for range 1 + f.next()%3 {
		w := dep()
		if f.next()%4 == 0 && !strings.ContainsAny(w, "<>=~") {
			w += "@edge"
		}
		req.World = append(req.World, w)
	}
	req.Upgrade = f.next()%5 == 0
	return req
}

func FuzzSolve(f *testing.F) {
	for _, seed := range []string{
		"",
		"\x05\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c",
		"\x0bhello, solver: find me a plan with conflicts and pins",
		strings.Repeat("\x07\x03\x01", 40),
		strings.Repeat("\xff\x10\x22\x35\x08", 30),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := fuzzRequest(data)
		ctx := context.Background()
		plan, err := Solve(ctx, req)
		if err != nil {
			checkAgainstBruteForce(t, req, nil, err)
			var se *Error
			if errors.As(err, &se) {
				if len(se.Problems) == 0 || se.Error() == "" {
					t.Fatalf("empty explanation: %#v", se)
				}
				for _, p := range se.Problems {
					if p == nil {
						t.Fatalf("nil problem")
					}
				}
			} else if !strings.HasPrefix(err.Error(), "solve: world entry") {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if err := checkPlan(req, plan); err != nil {
			t.Fatalf("invalid plan for world %v:\n%v\nplan: %v", req.World, err, planLines(req, plan))
		}
		checkAgainstBruteForce(t, req, plan, err)

		// The same world for two architectures.
		x := req
		x.Arch = "x86_64"
		plans, err := SolveArchs(ctx, map[string]Request{"aarch64": req, "x86_64": x})
		if err != nil {
			return
		}
		versions := map[string]string{}
		for arch, r := range map[string]Request{"aarch64": req, "x86_64": x} {
			p := plans[arch]
			if err := checkPlan(r, p); err != nil {
				t.Fatalf("%s: invalid plan:\n%v", arch, err)
			}
			for _, sel := range p.Packages {
				n := sel.Package.Name
				if v, ok := versions[n]; ok && v != sel.Package.Version {
					t.Fatalf("%s has %s on one arch and %s on another", n, v, sel.Package.Version)
				}
				versions[n] = sel.Package.Version
			}
		}
	})
}

// checkAgainstBruteForce compares the solver with an exhaustive search on
// inputs where apk's rules leave no judgement: no virtual (unversioned)
// provides, no pinned packages. The solver must find a plan exactly when
// some set of packages satisfies the world.
func checkAgainstBruteForce(t *testing.T, req Request, plan *Plan, err error) {
	var se *Error
	if err != nil && (!errors.As(err, &se) || se.Limit) {
		return
	}
	var cands []*repo.Package
	seen := map[string]bool{}
	add := func(p *repo.Package) bool {
		for _, pr := range p.Provides {
			if !strings.Contains(pr, "=") {
				return false
			}
		}
		if !seen[p.Checksum] {
			seen[p.Checksum] = true
			cands = append(cands, p)
		}
		return true
	}
	for i, r := range req.Repos {
		for _, p := range r.Packages {
			if r.Tag != "" || !add(p) {
				_ = i
				return
			}
		}
	}
	for _, p := range req.Installed {
		if !add(p) {
			return
		}
	}
	if len(cands) > 14 {
		return
	}
	found := -1
	for set := 0; set < 1<<len(cands); set++ {
		if validSet(req, cands, set) {
			found = set
			break
		}
	}
	switch {
	case err == nil && found < 0:
		t.Fatalf("solver found %v but brute force finds no plan", planLines(req, plan))
	case err != nil && found >= 0:
		var names []string
		for i, p := range cands {
			if found&(1<<i) != 0 {
				names = append(names, p.String())
			}
		}
		t.Fatalf("world %v: solver says\n%v\nbut %v is a plan", req.World, err, names)
	}
}

// validSet reports whether the packages of cands selected by the bits of
// set satisfy the world: dependencies, conflicts, one package per name,
// architecture. It shares no code with the solver.
func validSet(req Request, cands []*repo.Package, set int) bool {
	var chosen []*repo.Package
	names := map[string]bool{}
	for i, p := range cands {
		if set&(1<<i) == 0 {
			continue
		}
		if a := p.Arch; a != "" && a != "noarch" && a != req.Arch {
			return false
		}
		own := []string{p.Name}
		for _, pr := range p.Provides {
			n, _, _ := strings.Cut(pr, "=")
			if !slices.Contains(own, n) {
				own = append(own, n)
			}
		}
		for _, n := range own {
			if names[n] {
				return false
			}
			names[n] = true
		}
		chosen = append(chosen, p)
	}
	ok := func(s string, self *repo.Package) bool {
		d, err := version.ParseDep(s)
		if err != nil {
			return false
		}
		for _, q := range chosen {
			if d.Conflict && q == self {
				continue
			}
			if satisfies(q, d) {
				return !d.Conflict
			}
		}
		return d.Conflict
	}
	for _, w := range req.World {
		if !ok(w, nil) {
			return false
		}
	}
	for _, p := range chosen {
		for _, d := range p.Depends {
			if !ok(d, p) {
				return false
			}
		}
	}
	return true
}
