package solve

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"

	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/version"
)

// maxProblems bounds how many independent problems one Error reports.
const maxProblems = 5

// archLock restricts, for SolveArchs, the versions a name may have.
type archLock struct {
	allowed map[string]map[string]bool   // name → allowed versions
	why     map[string]map[string]string // name → version → why it is excluded
}

// worldDep is a parsed world entry.
type worldDep struct {
	dep
	tag uint64 // tag bit, 0 when untagged
}

// req is a requirement: a dependency of a chosen package or of the world.
type req struct {
	d     *dep
	name  int32 // -1: no package has or provides the name
	from  int32 // requiring package, -1 for the world
	level int32 // level of the choice that introduced it, 0 for the world
	prev  int32 // index+1 of the previous requirement on the same name
	unit  bool  // the name has at most one provider: decide it first
}

// Undo kinds.
const (
	uChoose = iota
	uLock
	uVirt
	uDecline
	uOrigin
)

type undo struct {
	kind uint8
	x    int32
}

// choice is a choice point: the candidates for one name.
type choice struct {
	name  int32
	req   int32   // requirement decided, -1 for install_if
	cands []int32 // indexes into providers(name), in s.candBuf from buf; ordered as tried
	buf   int32
	next  int  // next candidate to try; the current one is next-1
	none  bool // install_if: "do not install" is the last alternative
	cs    lvset

	wantTag uint64 // for a tagged world requirement: the preferred tag
	world   bool   // the requirement is a world entry

	trail, nreqs, norder int32
	cur                  [3]int32

	tried []*Attempt
	more  int // attempts beyond those kept in tried
}

// solver is the state of one Solve.
type solver struct {
	ctx      context.Context
	ix       *Index
	arch     string
	upgrade  bool
	maxSteps int
	steps    int
	lock     *archLock

	pkgs       []*pkg // ix.pkgs, then installed packages found in no repository
	nNames     int
	extraNames map[string]int32
	extraProvs map[int32][]provider

	installed []bool
	allowed   []uint64 // tag masks allowed per package; nil without pins
	world     []worldDep

	chosen   []int32    // by package: level+1 of its choice, 0 when not chosen
	via      []int32    // by package: requirement it was chosen for, -1 for install_if
	lockBy   []int32    // by name: package+1 holding a versioned provide
	virtHead []int32    // by name: index+1 in virtPool of the latest unversioned provider
	virtPool []virtNode // chosen unversioned providers, linked per name
	reqHead  []int32    // by name: index+1 of the last requirement on it
	declined []bool
	origin   map[int32][]int32 // by origin id: chosen packages
	reqs     []req
	trail    []undo
	cps      []choice
	candBuf  []int32
	order    []int32
	cur      [3]int32 // cursors: unit, breadth-first, final

	limit    bool
	first    *Problem // the first failure met
	root     *Problem // the failure that ended the search
	rootDrop []*dep   // world dependencies to leave out to look for more problems
}

func (ix *Index) solve(ctx context.Context, r *Request, lock *archLock) (*Plan, error) {
	s := &solver{
		ctx:      ctx,
		ix:       ix,
		arch:     r.Arch,
		upgrade:  r.Upgrade,
		maxSteps: r.MaxSteps,
		lock:     lock,
		pkgs:     ix.pkgs,
		nNames:   len(ix.names),
	}
	if s.maxSteps <= 0 {
		s.maxSteps = DefaultMaxSteps
	}
	if err := s.addInstalled(r.Installed); err != nil {
		return nil, err
	}
	if err := s.parseWorld(r.World); err != nil {
		return nil, err
	}
	s.computeAllowed()

	var problems []*Problem
	dropped := map[*dep]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.reset(dropped)
		ok, err := s.run()
		if err != nil {
			return nil, err
		}
		if ok && len(problems) == 0 {
			return s.plan(), nil
		}
		if ok {
			break
		}
		if s.limit {
			if len(problems) == 0 {
				first := s.first
				if first == nil {
					first = &Problem{Kind: "limit", Detail: []string{"no conflict was met before the budget ran out"}}
				}
				return nil, &Error{Arch: r.Arch, Problems: []*Problem{first}, Limit: true, Steps: s.steps}
			}
			break
		}
		if !slices.ContainsFunc(problems, func(p *Problem) bool { return p.String() == s.root.String() }) {
			problems = append(problems, s.root)
		}
		added := false
		for _, d := range s.rootDrop {
			if !dropped[d] {
				dropped[d] = true
				added = true
			}
		}
		if !added || len(problems) == maxProblems {
			break
		}
	}
	return nil, &Error{Arch: r.Arch, Problems: problems, Steps: s.steps}
}

// addInstalled marks installed packages, adding those found in no
// repository as extra packages.
func (s *solver) addInstalled(inst []*repo.Package) error {
	ix := s.ix
	s.installed = make([]bool, len(ix.pkgs), len(ix.pkgs)+len(inst))
	var extra []*pkg
	for i, rp := range inst {
		if rp == nil {
			return fmt.Errorf("solve: installed package %d is nil", i)
		}
		if rp.Checksum != "" {
			if id, _, ok := ix.byChecksum.find(rp.Checksum, ix.checksum); ok {
				s.installed[id] = true
				continue
			}
		}
		extra = append(extra, &pkg{p: rp, origin: -1, repo: -1})
	}
	if len(extra) == 0 {
		return nil
	}
	s.pkgs = slices.Clip(ix.pkgs)
	s.extraNames = map[string]int32{}
	s.extraProvs = map[int32][]provider{}
	intern := func(name string) int32 {
		if id, ok := ix.nameID(name); ok {
			return id
		}
		if id, ok := s.extraNames[name]; ok {
			return id
		}
		id := int32(s.nNames)
		s.nNames++
		s.extraNames[name] = id
		return id
	}
	addProv := func(name int32, pv provider) {
		l, ok := s.extraProvs[name]
		if !ok && int(name) < len(ix.names) {
			l = ix.providers(name)
		}
		s.extraProvs[name] = append(l, pv)
	}
	for _, p := range extra {
		p.id = int32(len(s.pkgs))
		s.pkgs = append(s.pkgs, p)
		s.installed = append(s.installed, true)
		p.name = intern(p.p.Name)
		addProv(p.name, provider{p.id, true, p.p.Version})
		for _, str := range p.p.Provides {
			name, ver, versioned, err := parseProvide(str)
			if err != nil {
				p.badProvides = true
				continue
			}
			if name == p.p.Name || slices.ContainsFunc(p.provides, func(pr provide) bool { return s.nameString(pr.name) == name }) {
				continue // provided twice: the first one counts
			}
			id := intern(name)
			p.provides = append(p.provides, provide{id, versioned, ver})
			addProv(id, provider{p.id, versioned, ver})
		}
	}
	// Parse the extra packages' dependencies now, resolving names in
	// both tables.
	for _, p := range extra {
		pd := &pkgDeps{}
		pd.deps, pd.err = s.parseDeps(p.p.Depends, "depends")
		if pd.err == nil {
			pd.iif, pd.err = s.parseDeps(p.p.InstallIf, "install_if")
		}
		p.parsed.Store(pd)
	}
	return nil
}

// parseDeps parses a list of dependencies, resolving names in the index
// and in the extra names of this solve.
func (s *solver) parseDeps(list []string, what string) ([]dep, error) {
	deps, err := s.ix.parseDeps(list, what)
	for i := range deps {
		if deps[i].name < 0 {
			deps[i].name = s.extraName(deps[i].Name)
		}
	}
	return deps, err
}

func (s *solver) extraName(name string) int32 {
	if id, ok := s.extraNames[name]; ok {
		return id
	}
	return -1
}

// depID returns the name id of d in this solve.
func (s *solver) depID(d *dep) int32 {
	if d.name >= 0 || s.extraNames == nil {
		return d.name
	}
	return s.extraName(d.Name)
}

func (s *solver) providers(name int32) []provider {
	if name < 0 {
		return nil
	}
	if s.extraProvs != nil {
		if l, ok := s.extraProvs[name]; ok {
			return l
		}
	}
	if int(name) < len(s.ix.names) {
		return s.ix.providers(name)
	}
	return nil
}

func (s *solver) nameString(id int32) string {
	if int(id) < len(s.ix.names) {
		return s.ix.names[id]
	}
	for n, i := range s.extraNames {
		if i == id {
			return n
		}
	}
	return "?"
}

func (s *solver) deps(p *pkg) []dep {
	return s.ix.ensure(p).deps
}

func (s *solver) parseWorld(world []string) error {
	tagBit := func(tag string) uint64 {
		for i, t := range s.ix.tags {
			if t == tag {
				return 1 << i
			}
		}
		return 0
	}
	for _, entry := range world {
		list, err := version.ParseDeps(entry)
		if err != nil {
			return fmt.Errorf("solve: world entry %q: %w", entry, err)
		}
		fields := strings.Fields(entry)
		for i, d := range list {
			w := worldDep{dep: dep{Dep: d, raw: fields[i], name: -1}}
			if id, ok := s.ix.nameID(d.Name); ok {
				w.name = id
			} else {
				w.name = s.extraName(d.Name)
			}
			if d.Tag != "" {
				w.tag = tagBit(d.Tag)
				if w.tag == 0 {
					return fmt.Errorf("solve: world entry %q: no repository has the tag @%s", fields[i], d.Tag)
				}
			}
			s.world = append(s.world, w)
		}
	}
	// apk sorts the world by name.
	sort.SliceStable(s.world, func(i, j int) bool { return s.world[i].Name < s.world[j].Name })
	return nil
}

// computeAllowed computes, when pinned repositories exist, which tags each
// package may be taken from: the tags of the world dependencies it is
// reachable from.
func (s *solver) computeAllowed() {
	if !s.ix.hasTagged {
		return
	}
	s.allowed = make([]uint64, len(s.pkgs))
	var queue []int32
	mark := func(p int32, bits uint64) {
		if s.allowed[p]|bits != s.allowed[p] {
			s.allowed[p] |= bits
			queue = append(queue, p)
		}
	}
	for i := range s.world {
		w := &s.world[i]
		if w.tag == 0 || w.Conflict {
			continue
		}
		for _, pv := range s.providers(w.name) {
			if s.matches(&w.dep, pv) {
				mark(pv.pkg, w.tag)
			}
		}
	}
	for len(queue) > 0 {
		pi := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		p := s.pkgs[pi]
		bits := s.allowed[pi]
		deps := s.deps(p)
		for i := range deps {
			d := &deps[i]
			if d.Conflict {
				continue
			}
			for _, pv := range s.providers(s.depID(d)) {
				if s.matches(d, pv) {
					mark(pv.pkg, bits)
				}
			}
		}
		for _, q := range s.ix.installIf(p.name) {
			mark(q, bits)
		}
		for _, pr := range p.provides {
			for _, q := range s.ix.installIf(pr.name) {
				mark(q, bits)
			}
		}
	}
}

// reset clears the search state and applies the world, leaving out the
// positive world dependencies on the names in drop.
func (s *solver) reset(drop map[*dep]bool) {
	np, nn := len(s.pkgs), s.nNames
	if s.chosen == nil {
		s.chosen = make([]int32, np)
		s.via = make([]int32, np)
		s.declined = make([]bool, np)
		s.lockBy = make([]int32, nn)
		s.virtHead = make([]int32, nn)
		s.reqHead = make([]int32, nn)
		s.origin = map[int32][]int32{}
		s.reqs = make([]req, 0, 256)
		s.trail = make([]undo, 0, 1024)
		s.cps = make([]choice, 0, 128)
		s.order = make([]int32, 0, 128)
	} else {
		clear(s.chosen)
		clear(s.declined)
		clear(s.lockBy)
		clear(s.virtHead)
		clear(s.reqHead)
		clear(s.origin)
	}
	s.reqs = s.reqs[:0]
	s.virtPool = s.virtPool[:0]
	s.trail = s.trail[:0]
	s.cps = s.cps[:0]
	s.candBuf = s.candBuf[:0]
	s.order = s.order[:0]
	s.cur = [3]int32{}
	s.root = nil
	s.rootDrop = nil
	for i := range s.world {
		w := &s.world[i]
		if !drop[&w.dep] {
			s.pushReq(&w.dep, w.name, -1, 0)
		}
	}
}

func (s *solver) pushReq(d *dep, name, from, level int32) {
	r := req{d: d, name: name, from: from, level: level}
	if name >= 0 {
		r.prev = s.reqHead[name]
		s.reqHead[name] = int32(len(s.reqs)) + 1
		r.unit = !d.Conflict && len(s.providers(name)) <= 1
	} else {
		r.unit = !d.Conflict
	}
	s.reqs = append(s.reqs, r)
}

// run searches for a plan. It returns true on success and false when the
// world cannot be satisfied (s.root is set) or the budget is exhausted
// (s.limit is set).
func (s *solver) run() (bool, error) {
	for tick := 1; ; tick++ {
		if tick&255 == 0 {
			if err := s.ctx.Err(); err != nil {
				return false, err
			}
		}
		if r, phase := s.nextReq(); r >= 0 {
			if !s.decide(r, phase) {
				return false, nil
			}
			continue
		}
		progress, ok := s.installIf()
		if !ok {
			return false, nil
		}
		if !progress {
			return true, nil
		}
	}
}

// nextReq returns the next unsatisfied requirement to decide and the
// phase it was found in: unit requirements first, then breadth-first,
// then (final) the ones deferred in the breadth-first phase.
func (s *solver) nextReq() (int32, int) {
	n := int32(len(s.reqs))
	for ; s.cur[0] < n; s.cur[0]++ {
		r := &s.reqs[s.cur[0]]
		if r.unit && !r.d.Conflict && !s.satisfied(r) {
			return s.cur[0], 0
		}
	}
	for ; s.cur[1] < n; s.cur[1]++ {
		r := &s.reqs[s.cur[1]]
		if !r.d.Conflict && !s.satisfied(r) {
			return s.cur[1], 1
		}
	}
	for ; s.cur[2] < n; s.cur[2]++ {
		r := &s.reqs[s.cur[2]]
		if !r.d.Conflict && !s.satisfied(r) {
			return s.cur[2], 2
		}
	}
	return -1, 0
}

// satisfied reports whether a chosen package satisfies positive
// requirement r.
func (s *solver) satisfied(r *req) bool {
	if r.name < 0 {
		return false
	}
	if l := s.lockBy[r.name]; l != 0 {
		return s.matches(r.d, s.provOf(l-1, r.name))
	}
	for i := s.virtHead[r.name]; i != 0; i = s.virtPool[i-1].next {
		if s.matches(r.d, provider{s.virtPool[i-1].pkg, false, ""}) {
			return true
		}
	}
	return false
}

// provOf returns how package p provides name: its own version, or the
// version of its first provide of the name.
func (s *solver) provOf(p, name int32) provider {
	pk := s.pkgs[p]
	if pk.name == name {
		return provider{p, true, pk.p.Version}
	}
	for _, pr := range pk.provides {
		if pr.name == name && pr.versioned {
			return provider{p, true, pr.ver}
		}
	}
	return provider{p, false, ""}
}

// anyVersion reports whether d places no constraint on the version.
func anyVersion(d *dep) bool {
	return d.Op == 0 || d.Op&version.Checksum == 0 && d.Op&version.Any == version.Any
}

// matches reports whether provider pv satisfies d, ignoring d.Conflict
// (the caller inverts it): a dependency without a version is satisfied by
// any provider, one with a version only by a versioned provider whose
// version matches, "><" by the package's identity.
func (s *solver) matches(d *dep, pv provider) bool {
	if d.Op&version.Checksum != 0 {
		return s.pkgs[pv.pkg].p.Checksum == d.Version
	}
	if anyVersion(d) {
		return true
	}
	return pv.versioned && d.MatchVersion(pv.ver)
}

// Exclusion kinds: why a provider is not a candidate.
const (
	exNone = iota
	exChosen
	exArch
	exBroken
	exPin
	exLock
	exVirtual
	exTaken // a name it provides is occupied by pkg
	exConflict
	exVersion // does not satisfy requirement req
)

type exclusion struct {
	kind uint8
	name int32 // the name concerned
	pkg  int32 // the package concerned (exTaken, exChosen)
	req  int32 // the requirement concerned (exConflict, exVersion)
}

func (s *solver) archOK(p *pkg) bool {
	a := p.p.Arch
	return a == "" || a == "noarch" || s.arch == "" || a == s.arch
}

func (s *solver) tagOK(p *pkg) bool {
	return p.untagged || s.installed[p.id] || s.allowed != nil && s.allowed[p.id]&p.tagMask != 0
}

func (s *solver) lockOK(p *pkg) bool {
	if s.lock == nil {
		return true
	}
	vs, ok := s.lock.allowed[p.p.Name]
	return !ok || vs[p.p.Version]
}

// exclude reports why provider pv of name may not be chosen now, or
// exNone.
func (s *solver) exclude(pv provider, name int32) exclusion {
	p := s.pkgs[pv.pkg]
	if s.chosen[pv.pkg] != 0 {
		return exclusion{kind: exChosen, pkg: pv.pkg, name: name}
	}
	if !s.archOK(p) {
		return exclusion{kind: exArch, name: name}
	}
	if p.badProvides {
		// Invalid provides; invalid depends are found when the package
		// is tried (see apply), to parse only the packages tried.
		return exclusion{kind: exBroken, name: name}
	}
	if !s.tagOK(p) {
		return exclusion{kind: exPin, name: name}
	}
	if !s.lockOK(p) {
		return exclusion{kind: exLock, name: name}
	}
	if !pv.versioned && p.name != name && p.p.ProviderPriority == 0 &&
		len(s.providers(name)) > 1 && s.reqHead[p.name] == 0 {
		return exclusion{kind: exVirtual, name: name}
	}
	if e := s.excludeName(pv.pkg, p.name, p.p.Version, true); e.kind != exNone {
		return e
	}
	for _, pr := range p.provides {
		if e := s.excludeName(pv.pkg, pr.name, pr.ver, pr.versioned); e.kind != exNone {
			return e
		}
	}
	return exclusion{}
}

// excludeName checks that package p may provide name (with version ver if
// versioned) given the chosen packages and the requirements met so far.
func (s *solver) excludeName(p, name int32, ver string, versioned bool) exclusion {
	if l := s.lockBy[name]; l != 0 && l-1 != p {
		return exclusion{kind: exTaken, name: name, pkg: l - 1}
	}
	free := s.lockBy[name] == 0
	for i := s.virtHead[name]; i != 0; i = s.virtPool[i-1].next {
		if q := s.virtPool[i-1].pkg; q != p {
			if versioned {
				return exclusion{kind: exTaken, name: name, pkg: q}
			}
			free = false
		}
	}
	pv := provider{p, versioned, ver}
	for ri := s.reqHead[name]; ri != 0; ri = s.reqs[ri-1].prev {
		r := &s.reqs[ri-1]
		if r.d.Conflict {
			if r.from != p && s.matches(r.d, pv) {
				return exclusion{kind: exConflict, name: name, req: ri - 1}
			}
		} else if free && !s.matches(r.d, pv) {
			return exclusion{kind: exVersion, name: name, req: ri - 1}
		}
	}
	return exclusion{}
}

// reasons adds to cs the levels responsible for exclusion e.
func (s *solver) reasons(cs *lvset, e exclusion) {
	switch e.kind {
	case exChosen:
		cs.add(s.chosen[e.pkg] - 1)
	case exTaken:
		if l := s.lockBy[e.name]; l != 0 {
			cs.add(s.chosen[l-1] - 1)
		}
		for i := s.virtHead[e.name]; i != 0; i = s.virtPool[i-1].next {
			cs.add(s.chosen[s.virtPool[i-1].pkg] - 1)
		}
	case exConflict, exVersion:
		cs.add(s.reqs[e.req].level)
	case exVirtual:
		// Selectable once its own name is required: blame whoever
		// required this name.
	}
}

// reqLevels adds the levels of the requirements on name to cs.
func (s *solver) reqLevels(cs *lvset, name int32) {
	if name < 0 {
		return
	}
	for ri := s.reqHead[name]; ri != 0; ri = s.reqs[ri-1].prev {
		if !s.reqs[ri-1].d.Conflict {
			cs.add(s.reqs[ri-1].level)
		}
	}
}

// decide opens a choice point for requirement r. It returns false when
// the search is over without a plan.
func (s *solver) decide(r int32, phase int) bool {
	q := &s.reqs[r]
	name := q.name
	start := len(s.candBuf)
	sawVirtual := false
	for k, pv := range s.providers(name) {
		e := s.exclude(pv, name)
		if e.kind == exNone {
			s.candBuf = append(s.candBuf, int32(k))
		} else if e.kind == exVirtual {
			sawVirtual = true
		}
	}
	if len(s.candBuf) == start && sawVirtual && phase == 1 {
		// Virtual name without an automatic choice: wait until
		// everything else is decided, a provider may be required by then.
		s.candBuf = s.candBuf[:start]
		s.cur[1]++
		return true
	}
	cp := choice{
		name:   name,
		req:    r,
		cands:  s.candBuf[start:len(s.candBuf):len(s.candBuf)],
		buf:    int32(start),
		trail:  int32(len(s.trail)),
		nreqs:  int32(len(s.reqs)),
		norder: int32(len(s.order)),
		cur:    s.cur,
		world:  q.from < 0,
	}
	if cp.world {
		for i := range s.world {
			if &s.world[i].dep == q.d {
				cp.wantTag = s.world[i].tag
			}
		}
	}
	s.cps = append(s.cps, cp)
	return s.resume()
}

// resume tries the remaining candidates of the top choice point, and
// backjumps while choice points are exhausted. It returns false when the
// search is over without a plan.
func (s *solver) resume() bool {
	for {
		if s.tryNext() {
			return true
		}
		if s.limit {
			return false
		}
		// The top choice point is exhausted.
		j := int32(len(s.cps))
		name, r := s.cps[j-1].name, s.cps[j-1].req
		prob, cs := s.exhausted()
		s.popChoices(j - 1)
		cs.remove(j)
		if !s.backjump(cs, prob) {
			s.rootDrop = s.worldDepsOn(name, r)
			return false
		}
	}
}

// backjump returns to the latest choice point in cs, undoing its current
// candidate and recording prob as that candidate's failure. It returns
// false when cs holds no choice point: the failure is the world's own.
func (s *solver) backjump(cs lvset, prob *Problem) bool {
	if s.first == nil {
		s.first = prob
	}
	j := cs.max()
	if j <= 0 {
		s.root = prob
		return false
	}
	// Drop the choice points above j, and undo j's current candidate.
	s.popChoices(j)
	cp := &s.cps[j-1]
	s.undoTo(cp)
	cs.remove(j)
	cp.cs.union(cs)
	s.attach(cp, prob)
	return true
}

// worldDepsOn returns the positive world dependencies on name, or the
// world dependency of requirement r when the name is unknown.
func (s *solver) worldDepsOn(name, r int32) []*dep {
	var out []*dep
	if name >= 0 {
		for i := range s.world {
			if w := &s.world[i]; w.name == name && !w.Conflict {
				out = append(out, &w.dep)
			}
		}
	} else if r >= 0 && s.reqs[r].from < 0 {
		out = append(out, s.reqs[r].d)
	}
	return out
}

// cand returns candidate i of cp.
func (s *solver) cand(cp *choice, i int) provider {
	return s.providers(cp.name)[cp.cands[i]]
}

// attach records prob as the failure of cp's current candidate.
func (s *solver) attach(cp *choice, prob *Problem) {
	i := cp.next - 1
	if i < 0 || i >= len(cp.cands) {
		return
	}
	pkg := s.cand(cp, i).pkg
	for _, a := range cp.tried {
		if a.pkg == pkg {
			if a.Problem == nil {
				a.Problem = prob
			}
			return
		}
	}
	if len(cp.tried) >= maxAttempts {
		cp.more++
		return
	}
	cp.tried = append(cp.tried, &Attempt{pkg: pkg, Problem: prob})
}

// undoTo restores the state of choice point cp's creation.
func (s *solver) undoTo(cp *choice) {
	for i := len(s.trail) - 1; i >= int(cp.trail); i-- {
		u := s.trail[i]
		switch u.kind {
		case uChoose:
			s.chosen[u.x] = 0
		case uLock:
			s.lockBy[u.x] = 0
		case uVirt:
			n := s.virtHead[u.x]
			s.virtHead[u.x] = s.virtPool[n-1].next
			s.virtPool = s.virtPool[:n-1]
		case uDecline:
			s.declined[u.x] = false
		case uOrigin:
			s.origin[u.x] = s.origin[u.x][:len(s.origin[u.x])-1]
		}
	}
	s.trail = s.trail[:cp.trail]
	for i := len(s.reqs) - 1; i >= int(cp.nreqs); i-- {
		if n := s.reqs[i].name; n >= 0 {
			s.reqHead[n] = s.reqs[i].prev
		}
	}
	s.reqs = s.reqs[:cp.nreqs]
	s.order = s.order[:cp.norder]
	s.cur = cp.cur
}

// tryNext applies the next workable candidate of the top choice point.
func (s *solver) tryNext() bool {
	j := int32(len(s.cps))
	for {
		cp := &s.cps[j-1]
		n := len(cp.cands)
		if cp.none {
			n++
		}
		if cp.next >= n {
			return false
		}
		s.steps++
		if s.steps > s.maxSteps {
			s.limit = true
			return false
		}
		i := cp.next
		cp.next++
		if i == len(cp.cands) {
			// install_if: leave the package out.
			for k := range cp.cands {
				c := s.cand(cp, k)
				s.declined[c.pkg] = true
				s.trail = append(s.trail, undo{uDecline, c.pkg})
			}
			return true
		}
		s.selectBest(cp, i)
		cs, prob := s.apply(s.cand(cp, i), j, cp.req)
		if prob == nil {
			return true
		}
		cp = &s.cps[j-1]
		cp.cs.union(cs)
		s.attach(cp, prob)
		s.undoTo(cp)
	}
}

// apply chooses candidate c at level j, for requirement via (-1 for
// install_if). When a dependency of c is already violated by a chosen
// package it returns the levels responsible and the problem.
func (s *solver) apply(c provider, j, via int32) (lvset, *Problem) {
	p := s.pkgs[c.pkg]
	s.chosen[c.pkg] = j + 1
	s.via[c.pkg] = via
	s.trail = append(s.trail, undo{uChoose, c.pkg})
	s.order = append(s.order, c.pkg)
	if p.origin >= 0 {
		s.origin[p.origin] = append(s.origin[p.origin], c.pkg)
		s.trail = append(s.trail, undo{uOrigin, p.origin})
	}
	s.occupy(p.name, c.pkg, true)
	for _, pr := range p.provides {
		s.occupy(pr.name, c.pkg, pr.versioned)
	}
	pd := s.ix.ensure(p)
	deps := pd.deps
	if pd.err != nil {
		return nil, s.brokenProblem(c.pkg)
	}
	for i := range deps {
		d := &deps[i]
		name := s.depID(d)
		if name >= 0 {
			if d.Conflict {
				if q := s.conflictHit(d, name, c.pkg); q >= 0 {
					var cs lvset
					cs.add(s.chosen[q] - 1)
					return cs, s.applyProblem(c.pkg, d, q)
				}
			} else if l := s.lockBy[name]; l != 0 {
				if !s.matches(d, s.provOf(l-1, name)) {
					var cs lvset
					cs.add(s.chosen[l-1] - 1)
					return cs, s.applyProblem(c.pkg, d, l-1)
				}
			} else if h := s.virtHead[name]; h != 0 && !s.satisfiedByVirt(d, name) {
				var cs lvset
				for i := h; i != 0; i = s.virtPool[i-1].next {
					cs.add(s.chosen[s.virtPool[i-1].pkg] - 1)
				}
				return cs, s.applyProblem(c.pkg, d, s.virtPool[h-1].pkg)
			}
		}
		s.pushReq(d, name, c.pkg, j)
	}
	return nil, nil
}

func (s *solver) satisfiedByVirt(d *dep, name int32) bool {
	for i := s.virtHead[name]; i != 0; i = s.virtPool[i-1].next {
		if s.matches(d, provider{s.virtPool[i-1].pkg, false, ""}) {
			return true
		}
	}
	return false
}

// virtNode links the chosen unversioned providers of a name.
type virtNode struct{ pkg, next int32 }

func (s *solver) occupy(name, p int32, versioned bool) {
	if versioned {
		s.lockBy[name] = p + 1
		s.trail = append(s.trail, undo{uLock, name})
		return
	}
	s.virtPool = append(s.virtPool, virtNode{p, s.virtHead[name]})
	s.virtHead[name] = int32(len(s.virtPool))
	s.trail = append(s.trail, undo{uVirt, name})
}

// conflictHit returns a chosen package other than self that provides
// name matching conflict d, or -1.
func (s *solver) conflictHit(d *dep, name, self int32) int32 {
	if l := s.lockBy[name]; l != 0 && l-1 != self && s.matches(d, s.provOf(l-1, name)) {
		return l - 1
	}
	for i := s.virtHead[name]; i != 0; i = s.virtPool[i-1].next {
		if q := s.virtPool[i-1].pkg; q != self && s.matches(d, s.provOf(q, name)) {
			return q
		}
	}
	return -1
}

// exhausted builds the problem of the top choice point, whose candidates
// all failed, and its complete conflict set. The state is that of the
// choice point's creation.
func (s *solver) exhausted() (*Problem, lvset) {
	cp := &s.cps[len(s.cps)-1]
	cs := cp.cs
	s.reqLevels(&cs, cp.name)
	if cp.req >= 0 {
		cs.add(s.reqs[cp.req].level)
	}
	var excluded []provider
	var exs []exclusion
	for k, pv := range s.providers(cp.name) {
		if slices.Contains(cp.cands, int32(k)) {
			continue
		}
		e := s.exclude(pv, cp.name)
		if e.kind == exNone {
			continue
		}
		s.reasons(&cs, e)
		excluded = append(excluded, pv)
		exs = append(exs, e)
	}
	if len(cp.tried) == 1 && cp.more == 0 && len(excluded) == 0 && cp.tried[0].Problem != nil {
		return cp.tried[0].Problem, cs
	}
	return s.exhaustedProblem(cp, excluded, exs), cs
}

// installIf adds a package whose install_if conditions hold, if any. It
// reports whether a choice point was opened, and false in ok when the
// search is over without a plan.
func (s *solver) installIf() (progress, ok bool) {
	var found []int32
	best := ""
	check := func(name int32) {
		for _, q := range s.ix.installIf(name) {
			p := s.pkgs[q]
			if s.chosen[q] != 0 || s.declined[q] || s.lockBy[p.name] != 0 ||
				best != "" && p.p.Name > best || slices.Contains(found, q) || !s.triggered(p) {
				continue
			}
			if best == "" || p.p.Name < best {
				best = p.p.Name
				found = found[:0]
			}
			found = append(found, q)
		}
	}
	for _, pi := range s.order {
		p := s.pkgs[pi]
		check(p.name)
		for _, pr := range p.provides {
			check(pr.name)
		}
	}
	if len(found) == 0 {
		return false, true
	}
	name := s.pkgs[found[0]].name
	start := len(s.candBuf)
	for k, pv := range s.providers(name) {
		q := pv.pkg
		if !pv.versioned || s.pkgs[q].name != name || !slices.Contains(found, q) {
			continue
		}
		if s.exclude(pv, name).kind == exNone {
			s.candBuf = append(s.candBuf, int32(k))
		} else {
			// Triggered but not installable here: leave it out.
			s.declined[q] = true
			s.trail = append(s.trail, undo{uDecline, q})
		}
	}
	if len(s.candBuf) == start {
		return true, true
	}
	s.cps = append(s.cps, choice{
		name:   name,
		req:    -1,
		cands:  s.candBuf[start:len(s.candBuf):len(s.candBuf)],
		buf:    int32(start),
		none:   true,
		trail:  int32(len(s.trail)),
		nreqs:  int32(len(s.reqs)),
		norder: int32(len(s.order)),
		cur:    s.cur,
	})
	return true, s.resume()
}

// triggered reports whether every install_if condition of p is satisfied
// by the chosen packages.
func (s *solver) triggered(p *pkg) bool {
	pd := s.ix.ensure(p)
	if len(pd.iif) == 0 || pd.err != nil {
		return false
	}
	for i := range pd.iif {
		d := &pd.iif[i]
		name := s.depID(d)
		if d.Conflict {
			if name >= 0 && s.conflictHit(d, name, p.id) >= 0 {
				return false
			}
			continue
		}
		r := req{d: d, name: name}
		if !s.satisfied(&r) {
			return false
		}
	}
	return true
}

// popChoices drops the choice points above level n and their candidates.
func (s *solver) popChoices(n int32) {
	if int(n) < len(s.cps) {
		s.candBuf = s.candBuf[:s.cps[n].buf]
		s.cps = s.cps[:n]
	}
}

// selectBest moves the preferred candidate among cp.cands[i:] to i.
// Candidates are ordered lazily: most choice points try only one.
func (s *solver) selectBest(cp *choice, i int) {
	best := i
	for k := i + 1; k < len(cp.cands); k++ {
		if s.better(cp, s.cand(cp, k), s.cand(cp, best)) < 0 {
			best = k
		}
	}
	cp.cands[i], cp.cands[best] = cp.cands[best], cp.cands[i]
}

// better compares candidates a and b of choice point cp: negative when a
// is preferred. The order is total, so that choices are deterministic.
func (s *solver) better(cp *choice, a, b provider) int {
	pa, pb := s.pkgs[a.pkg], s.pkgs[b.pkg]
	preferred := func(p *pkg) bool {
		if cp.world && cp.wantTag != 0 {
			return p.tagMask&cp.wantTag != 0
		}
		return p.untagged
	}
	if x, y := preferred(pa), preferred(pb); x != y {
		return boolFirst(x)
	}
	ia, ib := s.installed[a.pkg], s.installed[b.pkg]
	if !s.upgrade && ia != ib {
		return boolFirst(ia)
	}
	if a.versioned != b.versioned {
		return boolFirst(a.versioned)
	}
	if a.versioned && a.ver != b.ver {
		if c := version.Compare(a.ver, b.ver); c != 0 {
			return -c
		}
	}
	if pa.name == pb.name && pa.p.Version != pb.p.Version {
		if c := version.Compare(pa.p.Version, pb.p.Version); c != 0 {
			return -c
		}
	}
	if ia != ib {
		return boolFirst(ia)
	}
	if x, y := pa.p.ProviderPriority, pb.p.ProviderPriority; x != y {
		if x > y {
			return -1
		}
		return 1
	}
	if x, y := s.originChosen(pa), s.originChosen(pb); x != y {
		return boolFirst(x)
	}
	if x, y := firstRepo(pa), firstRepo(pb); x != y {
		if x < y {
			return -1
		}
		return 1
	}
	if c := strings.Compare(pa.p.Name, pb.p.Name); c != 0 {
		return c
	}
	if c := version.Compare(pa.p.Version, pb.p.Version); c != 0 {
		return -c
	}
	if c := strings.Compare(pa.p.Checksum, pb.p.Checksum); c != 0 {
		return c
	}
	return int(a.pkg - b.pkg)
}

// originChosen reports whether a package of p's origin and version is
// chosen.
func (s *solver) originChosen(p *pkg) bool {
	if p.origin < 0 {
		return false
	}
	for _, q := range s.origin[p.origin] {
		if s.pkgs[q].p.Version == p.p.Version {
			return true
		}
	}
	return false
}

func firstRepo(p *pkg) int32 {
	if p.repo < 0 {
		return 1 << 30
	}
	return p.repo
}

func boolFirst(x bool) int {
	if x {
		return -1
	}
	return 1
}

// lvset is a set of choice levels.
type lvset []uint64

func (l *lvset) add(level int32) {
	if level <= 0 {
		return
	}
	w := int(level) / 64
	for len(*l) <= w {
		*l = append(*l, 0)
	}
	(*l)[w] |= 1 << (uint(level) % 64)
}

func (l *lvset) remove(level int32) {
	w := int(level) / 64
	if level > 0 && w < len(*l) {
		(*l)[w] &^= 1 << (uint(level) % 64)
	}
}

func (l *lvset) union(o lvset) {
	for len(*l) < len(o) {
		*l = append(*l, 0)
	}
	for i, w := range o {
		(*l)[i] |= w
	}
}

// max returns the highest level in l, or 0.
func (l lvset) max() int32 {
	for i := len(l) - 1; i >= 0; i-- {
		if l[i] != 0 {
			return int32(i*64 + 63 - bits.LeadingZeros64(l[i]))
		}
	}
	return 0
}
