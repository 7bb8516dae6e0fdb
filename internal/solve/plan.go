package solve

import "strings"

// plan builds the Plan from the chosen packages: install order and
// reasons.
func (s *solver) plan() *Plan {
	state := make(map[int32]bool, len(s.order)) // true once placed
	order := make([]int32, 0, len(s.order))
	var visit func(p int32)
	visit = func(p int32) {
		if _, seen := state[p]; seen {
			return
		}
		state[p] = false
		s.edges(p, func(q int32, _ *dep) { visit(q) })
		state[p] = true
		order = append(order, p)
	}
	for i := range s.world {
		d := &s.world[i].dep
		if d.Conflict {
			continue
		}
		s.chosenFor(d, s.depID(d), visit)
	}
	for _, p := range s.order {
		visit(p)
	}

	reasons := make(map[int32][]string, len(order))
	for i := range s.world {
		d := &s.world[i].dep
		if d.Conflict {
			continue
		}
		s.chosenFor(d, s.depID(d), func(q int32) {
			reasons[q] = append(reasons[q], "world: "+d.raw)
		})
	}
	for _, p := range order {
		from := s.pkgs[p].p.String()
		deps := s.deps(s.pkgs[p])
		for i := range deps {
			d := &deps[i]
			if d.Conflict {
				continue
			}
			s.chosenFor(d, s.depID(d), func(q int32) {
				if q != p {
					reasons[q] = append(reasons[q], from+" depends on "+d.raw)
				}
			})
		}
	}
	plan := &Plan{Packages: make([]Selection, len(order))}
	for i, p := range order {
		pk := s.pkgs[p]
		r := reasons[p]
		if s.via[p] < 0 {
			r = append(r, "install_if: "+strings.Join(pk.p.InstallIf, " "))
		}
		plan.Packages[i] = Selection{Package: pk.p, Repo: s.repoOf(pk), Reasons: r}
	}
	return plan
}

// edges calls f for every chosen package p depends on, and for an
// install_if package, every chosen package satisfying its conditions.
func (s *solver) edges(p int32, f func(q int32, d *dep)) {
	pk := s.pkgs[p]
	pd := s.ix.ensure(pk)
	walk := func(deps []dep) {
		for i := range deps {
			d := &deps[i]
			if d.Conflict {
				continue
			}
			s.chosenFor(d, s.depID(d), func(q int32) {
				if q != p {
					f(q, d)
				}
			})
		}
	}
	walk(pd.deps)
	if s.via[p] < 0 {
		walk(pd.iif)
	}
}

// chosenFor calls f for each chosen package satisfying positive
// dependency d on name.
func (s *solver) chosenFor(d *dep, name int32, f func(q int32)) {
	if name < 0 {
		return
	}
	if l := s.lockBy[name]; l != 0 && s.matches(d, s.provOf(l-1, name)) {
		f(l - 1)
	}
	for i := s.virtHead[name]; i != 0; i = s.virtPool[i-1].next {
		if q := s.virtPool[i-1].pkg; s.matches(d, provider{q, false, ""}) {
			f(q)
		}
	}
}
