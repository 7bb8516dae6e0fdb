package solve

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/version"
)

// alpineIndex is the real Alpine 3.17 main aarch64 index. CI clones the
// repository with shared/ beside it.
const alpineIndex = "../../../shared/fixtures/alpine-3.17-main-aarch64/APKINDEX.tar.gz"

var alpine struct {
	once sync.Once
	text []byte
	pkgs []*repo.Package
	err  error
}

// readIndexText returns the APKINDEX member of an APKINDEX.tar.gz,
// skipping the signature members (their key is not checked here).
func readIndexText(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	// The signature and the index are separate gzip members; the
	// reader reads them as one stream, so the tar reader meets the
	// signature entry, then the index entries.
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, errors.New("no APKINDEX member")
		}
		if err != nil {
			return nil, err
		}
		if h.Name == "APKINDEX" {
			return io.ReadAll(tr)
		}
	}
}

func loadAlpine(tb testing.TB) ([]byte, []*repo.Package) {
	tb.Helper()
	alpine.once.Do(func() {
		alpine.text, alpine.err = readIndexText(alpineIndex)
		if alpine.err == nil {
			alpine.pkgs, alpine.err = repo.ParseRecords(strings.NewReader(string(alpine.text)), "APKINDEX")
		}
	})
	if alpine.err != nil {
		if errors.Is(alpine.err, os.ErrNotExist) {
			tb.Skipf("fixture missing: %v", alpine.err)
		}
		tb.Fatal(alpine.err)
	}
	return alpine.text, alpine.pkgs
}

// provides reports how p provides name: ok, its version and whether
// the provide is versioned. Written independently of the solver. When a
// name is provided twice, the first counts.
func provides(p *repo.Package, name string) (ok bool, ver string, versioned bool) {
	if p.Name == name {
		return true, p.Version, true
	}
	for _, s := range p.Provides {
		n, v, hasVer := strings.Cut(s, "=")
		if n == name {
			return true, v, hasVer
		}
	}
	return false, "", false
}

// satisfies reports whether p satisfies dependency d (ignoring d.Conflict).
func satisfies(p *repo.Package, d version.Dep) bool {
	if d.Op == version.Checksum {
		ok, _, _ := provides(p, d.Name)
		return ok && p.Checksum == d.Version
	}
	ok, ver, versioned := provides(p, d.Name)
	if !ok {
		return false
	}
	if d.Op == version.Any || d.Op == 0 {
		return true
	}
	return versioned && d.MatchVersion(ver)
}

// checkPlan verifies a plan independently of the solver: every
// dependency and world entry is satisfied, no conflicts, one package per
// name, install order puts dependencies first (except within cycles),
// architectures and pins respected.
func checkPlan(req Request, plan *Plan) error {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	pkgs := make([]*repo.Package, len(plan.Packages))
	pos := map[*repo.Package]int{}
	for i, sel := range plan.Packages {
		p := sel.Package
		pkgs[i] = p
		if _, dup := pos[p]; dup {
			fail("%s chosen twice", p)
		}
		pos[p] = i
		if a := p.Arch; req.Arch != "" && a != "" && a != "noarch" && a != req.Arch {
			fail("%s is for %s, not %s", p, a, req.Arch)
		}
		if sel.Repo < -1 || sel.Repo >= len(req.Repos) {
			fail("%s: repo %d out of range", p, sel.Repo)
		} else if sel.Repo >= 0 {
			if !slices.Contains(req.Repos[sel.Repo].Packages, p) {
				fail("%s is not in repo %d", p, sel.Repo)
			}
		} else if !slices.Contains(req.Installed, p) {
			fail("%s has repo -1 but is not installed", p)
		}
		if len(sel.Reasons) == 0 {
			fail("%s has no reasons", p)
		}
	}
	// One package per name: own names and versioned provides occupy a
	// name; unversioned provides may be shared but not mixed with one.
	type holder struct {
		p         *repo.Package
		versioned bool
	}
	holders := map[string][]holder{}
	for _, p := range pkgs {
		seen := map[string]bool{}
		add := func(name string, versioned bool) {
			if seen[name] {
				return
			}
			seen[name] = true
			holders[name] = append(holders[name], holder{p, versioned})
		}
		add(p.Name, true)
		for _, s := range p.Provides {
			n, _, hasVer := strings.Cut(s, "=")
			add(n, hasVer)
		}
	}
	for name, hs := range holders {
		if len(hs) < 2 {
			continue
		}
		for _, h := range hs {
			if h.versioned {
				var others []string
				for _, o := range hs {
					if o.p != h.p {
						others = append(others, o.p.String())
					}
				}
				fail("name %s is provided by %s and also by %v", name, h.p, others)
				break
			}
		}
	}
	checkDep := func(from string, s string, self *repo.Package) []*repo.Package {
		d, err := version.ParseDep(s)
		if err != nil {
			fail("%s: %v", from, err)
			return nil
		}
		var by []*repo.Package
		for _, p := range pkgs {
			if p != self && satisfies(p, d) {
				by = append(by, p)
			}
		}
		if self != nil && !d.Conflict && satisfies(self, d) {
			by = append(by, self)
		}
		if d.Conflict && len(by) > 0 {
			fail("%s has %s but %s is chosen", from, s, by[0])
		}
		if !d.Conflict && len(by) == 0 {
			fail("%s: %s is not satisfied", from, s)
		}
		if d.Conflict {
			return nil
		}
		return by
	}
	for _, w := range req.World {
		for _, s := range strings.Fields(w) {
			checkDep("world", s, nil)
		}
	}
	// A package added by install_if has its conditions met.
	for _, sel := range plan.Packages {
		if len(sel.Reasons) == 1 && strings.HasPrefix(sel.Reasons[0], "install_if: ") {
			for _, c := range sel.Package.InstallIf {
				checkDep(sel.Package.String()+" install_if", c, sel.Package)
			}
		}
	}
	edges := make([][]int, len(pkgs))
	for i, p := range pkgs {
		for _, s := range p.Depends {
			for _, q := range checkDep(p.String(), s, p) {
				if q != p {
					edges[i] = append(edges[i], pos[q])
				}
			}
		}
	}
	// Install order: a dependency comes first unless both are in one
	// strongly connected component.
	comp := scc(edges)
	for i := range pkgs {
		for _, j := range edges[i] {
			if j > i && comp[i] != comp[j] {
				fail("install order: %s before its dependency %s", pkgs[i], pkgs[j])
			}
		}
	}
	// Pins: a package from a tagged repository needs the tag in the
	// world, unless it is installed already.
	var tags []string
	for _, w := range req.World {
		for _, s := range strings.Fields(w) {
			if d, err := version.ParseDep(s); err == nil && d.Tag != "" {
				tags = append(tags, d.Tag)
			}
		}
	}
	installed := map[string]bool{}
	for _, p := range req.Installed {
		installed[p.Checksum] = true
	}
	for _, sel := range plan.Packages {
		if sel.Repo >= 0 && !installed[sel.Package.Checksum] {
			if t := req.Repos[sel.Repo].Tag; t != "" && !slices.Contains(tags, t) {
				fail("%s comes from @%s, which no world entry names", sel.Package, t)
			}
		}
	}
	if len(errs) > 0 {
		if len(errs) > 20 {
			errs = append(errs[:20], fmt.Sprintf("… %d more", len(errs)-20))
		}
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// scc returns the strongly connected component of each node (Tarjan).
func scc(edges [][]int) []int {
	n := len(edges)
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		for _, w := range edges[v] {
			if index[w] < 0 {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp[w] = ncomp
				if w == v {
					break
				}
			}
			ncomp++
		}
	}
	for v := range edges {
		if index[v] < 0 {
			strong(v)
		}
	}
	return comp
}

// planLines renders a plan as "name-version repo" lines.
func planLines(req Request, plan *Plan) []string {
	var out []string
	for _, sel := range plan.Packages {
		r := "installed"
		if sel.Repo >= 0 {
			r = req.Repos[sel.Repo].Name
		}
		out = append(out, sel.Package.String()+" "+r)
	}
	return out
}

func solveOK(tb testing.TB, req Request) *Plan {
	tb.Helper()
	plan, err := Solve(context.Background(), req)
	if err != nil {
		tb.Fatalf("Solve(%v): %v", req.World, err)
	}
	return plan
}
