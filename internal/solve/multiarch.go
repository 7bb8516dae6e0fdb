package solve

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/reef-dev/reef/internal/version"
)

// SolveArchs solves the same world for several architectures at once, so
// that every package name chosen on more than one architecture has the
// same version on each (apko lock semantics). reqs maps an architecture
// to its request; an empty Request.Arch defaults to the key.
//
// The architectures are first solved independently. When a name gets
// different versions, it is restricted on every architecture to the
// versions all of them have, no higher than the lowest version chosen,
// and the architectures are solved again, until they agree. When no
// version of a name exists on every architecture that needs it, or an
// architecture cannot be solved under the restriction, the *Error names
// the architecture and the package.
func SolveArchs(ctx context.Context, reqs map[string]Request) (map[string]*Plan, error) {
	arches := make([]string, 0, len(reqs))
	for a := range reqs {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	idx := make([]*Index, len(arches))
	rs := make([]Request, len(arches))
	for i, a := range arches {
		rs[i] = reqs[a]
		if rs[i].Arch == "" {
			rs[i].Arch = a
		}
		ix, err := NewIndex(rs[i].Repos)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		idx[i] = ix
	}
	lock := &archLock{allowed: map[string]map[string]bool{}, why: map[string]map[string]string{}}
	plans := make([]*Plan, len(arches))
	errs := make([]error, len(arches))
	for {
		var wg sync.WaitGroup
		for i := range arches {
			wg.Go(func() {
				var l *archLock
				if len(lock.allowed) > 0 {
					l = lock
				}
				plans[i], errs[i] = idx[i].solve(ctx, &rs[i], l)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		changed, err := unify(arches, rs, idx, plans, lock)
		if err != nil {
			return nil, err
		}
		if !changed {
			break
		}
	}
	out := make(map[string]*Plan, len(arches))
	for i, a := range arches {
		out[a] = plans[i]
	}
	return out, nil
}

// unify restricts the names whose chosen versions differ between
// architectures. It reports whether a restriction changed.
func unify(arches []string, rs []Request, idx []*Index, plans []*Plan, lock *archLock) (bool, error) {
	type use struct {
		arch int
		sel  *Selection
	}
	byName := map[string][]use{}
	for i, p := range plans {
		for k := range p.Packages {
			sel := &p.Packages[k]
			byName[sel.Package.Name] = append(byName[sel.Package.Name], use{i, sel})
		}
	}
	names := make([]string, 0, len(byName))
	for n, us := range byName {
		if len(us) > 1 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	changed := false
	for _, n := range names {
		us := byName[n]
		low := us[0].sel.Package.Version
		differ := false
		for _, u := range us[1:] {
			v := u.sel.Package.Version
			if v != low {
				differ = true
			}
			if version.Compare(v, low) < 0 {
				low = v
			}
		}
		if !differ {
			continue
		}
		// Versions every architecture using n has, not above low.
		var common map[string]bool
		for _, u := range us {
			have := map[string]bool{}
			for _, v := range available(idx[u.arch], rs[u.arch].Arch, n) {
				if version.Compare(v, low) <= 0 && (lock.allowed[n] == nil || lock.allowed[n][v]) {
					have[v] = true
				}
			}
			if common == nil {
				common = have
				continue
			}
			for v := range common {
				if !have[v] {
					delete(common, v)
				}
			}
		}
		if len(common) == 0 {
			p := &Problem{Name: n, Kind: "lock"}
			p.Detail = append(p.Detail, "no version of "+n+" is available on every architecture that needs it:")
			var involved []string
			for _, u := range us {
				vs := available(idx[u.arch], rs[u.arch].Arch, n)
				p.Detail = append(p.Detail, fmt.Sprintf("  %s has %s %s (needed by %s)", arches[u.arch], n,
					strings.Join(vs, ", "), firstReason(u.sel)))
				involved = append(involved, arches[u.arch])
			}
			return false, &Error{Arch: strings.Join(involved, ", "), Problems: []*Problem{p}}
		}
		// Say why each version left out is excluded.
		why := lock.why[n]
		if why == nil {
			why = map[string]string{}
			lock.why[n] = why
		}
		for _, u := range us {
			for _, v := range available(idx[u.arch], rs[u.arch].Arch, n) {
				if common[v] || why[v] != "" {
					continue
				}
				var lack []string
				for _, o := range us {
					if !slices.Contains(available(idx[o.arch], rs[o.arch].Arch, n), v) {
						lack = append(lack, arches[o.arch])
					}
				}
				if len(lack) > 0 {
					why[v] = strings.Join(lack, ", ") + " has no " + n + "-" + v
				} else {
					var chose []string
					for _, o := range us {
						chose = append(chose, arches[o.arch]+" chose "+o.sel.Package.String())
					}
					why[v] = strings.Join(chose, ", ")
				}
			}
		}
		lock.allowed[n] = common
		changed = true
	}
	return changed, nil
}

func firstReason(sel *Selection) string {
	if len(sel.Reasons) == 0 {
		return "chosen"
	}
	return sel.Reasons[0]
}

// available returns the versions of packages named name that ix offers
// to arch, highest first.
func available(ix *Index, arch, name string) []string {
	id, ok := ix.nameID(name)
	if !ok {
		return nil
	}
	var vs []string
	for _, pv := range ix.providers(id) {
		p := ix.pkgs[pv.pkg]
		a := p.p.Arch
		if p.p.Name != name || !(a == "" || a == "noarch" || a == arch) || slices.Contains(vs, p.p.Version) {
			continue
		}
		vs = append(vs, p.p.Version)
	}
	slices.SortFunc(vs, func(a, b string) int { return version.Compare(b, a) })
	return vs
}
