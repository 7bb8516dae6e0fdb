package solve

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/reef-dev/reef/internal/version"
)

// maxAttempts bounds the failed candidates kept per name in a Problem;
// maxListed bounds the packages listed in one line.
const (
	maxAttempts = 6
	maxListed   = 8
	maxNesting  = 2 // levels of Tried kept below a problem
	// maxNestedAttempts bounds the Tried of nested problems.
	maxNestedAttempts = 2
	// maxLines bounds the text of an Error.
	maxLines = 80
)

// Error is returned by Solve when the world cannot be satisfied. Its Error
// method gives the human explanation, one chain per problem; Problems
// holds the same as data (it marshals to JSON).
type Error struct {
	// Arch is the architecture solved for, when known.
	Arch string `json:"arch,omitempty"`
	// Problems are independent reasons the world fails, at least one. After
	// a problem is found the solver retries without the world entries
	// involved, to report several at once.
	Problems []*Problem `json:"problems"`
	// Limit is set when the search gave up (Request.MaxSteps) before
	// proving there is no plan; Problems then holds the first conflict
	// met.
	Limit bool `json:"limit,omitempty"`
	// Steps is the number of candidates tried.
	Steps int `json:"steps"`
}

// Problem explains why one requirement cannot be met.
type Problem struct {
	// Chain leads from a world entry (or an install_if package) to the
	// requirement that cannot be met, outermost first.
	Chain []Link `json:"chain"`
	// Name is the name that cannot be provided.
	Name string `json:"name"`
	// Kind classifies the problem: "missing" (nothing provides the name),
	// "version" (no version matches), "pinned" (only in a pinned
	// repository that is not allowed), "arch", "virtual" (several
	// providers and none preferred), "conflict", "taken" (the name is
	// already provided by another package), "broken" (invalid
	// dependency data), "lock" (versions differ between
	// architectures), "candidates" (mixed reasons, see Detail) or
	// "exhausted" (every candidate was tried, see Tried).
	Kind string `json:"kind"`
	// Detail holds the explanation following the chain, one line each.
	Detail []string `json:"detail,omitempty"`
	// Suggestions are existing names close to a missing one.
	Suggestions []string `json:"suggestions,omitempty"`
	// Tried are the candidates that were chosen and failed, each with its
	// own problem.
	Tried []*Attempt `json:"tried,omitempty"`
	// More counts tried candidates left out of Tried.
	More int `json:"more,omitempty"`
	// Excluded explains the candidates that could not be tried at all.
	Excluded []string `json:"excluded,omitempty"`
}

// Link is one step of a Problem's chain: the world or a package, and the
// dependency followed from it.
type Link struct {
	Package   string `json:"package,omitempty"`    // "foo-1.0-r0"; empty for the world
	Repo      string `json:"repo,omitempty"`       // repository name; empty for an installed package
	InstallIf string `json:"install_if,omitempty"` // set when install_if added Package
	Dep       string `json:"dep"`                  // the dependency followed, as written
}

// Attempt is a candidate that was chosen and then failed.
type Attempt struct {
	Package string   `json:"package"`
	Repo    string   `json:"repo,omitempty"`
	Problem *Problem `json:"problem"`

	pkg int32
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Limit:
		fmt.Fprintf(&b, "solve: gave up after %d steps (Request.MaxSteps); the first conflict met:\n", e.Steps)
	case e.Arch != "":
		fmt.Fprintf(&b, "solve: cannot satisfy the world for %s:\n", e.Arch)
	default:
		b.WriteString("solve: cannot satisfy the world:\n")
	}
	for _, p := range e.Problems {
		if p != nil {
			p.write(&b, "  ", 0)
		}
	}
	text := strings.TrimSuffix(b.String(), "\n")
	if n := strings.Count(text, "\n"); n > maxLines {
		cut := 0
		for range maxLines {
			cut += strings.IndexByte(text[cut:], '\n') + 1
		}
		text = text[:cut] + fmt.Sprintf("  … %d more lines; the full explanation is in Error.Problems", n-maxLines)
	}
	return text
}

// String returns the problem as text, one line per step.
func (p *Problem) String() string {
	var b strings.Builder
	p.write(&b, "", 0)
	return strings.TrimSuffix(b.String(), "\n")
}

func (l Link) text() string {
	if l.Package == "" {
		if strings.HasPrefix(l.Dep, "!") {
			return "world forbids " + l.Dep[1:]
		}
		return "world requires " + l.Dep
	}
	where := "installed"
	if l.Repo != "" {
		where = "in " + l.Repo
	}
	if l.InstallIf != "" {
		where += ", added by install_if " + l.InstallIf
	}
	if strings.HasPrefix(l.Dep, "!") {
		return l.Package + " (" + where + ") conflicts with " + l.Dep[1:]
	}
	return l.Package + " (" + where + ") depends on " + l.Dep
}

// write renders p, skipping the first skip links of its chain.
func (p *Problem) write(b *strings.Builder, indent string, skip int) {
	line := func(in, s string) {
		b.WriteString(in)
		b.WriteString(s)
		b.WriteByte('\n')
	}
	for _, l := range p.Chain[min(skip, len(p.Chain)):] {
		line(indent, l.text())
	}
	for _, d := range p.Detail {
		line(indent, d)
	}
	for _, a := range p.Tried {
		sub := a.Problem
		if sub == nil {
			line(indent+"  ", a.Package+": failed")
			continue
		}
		k := slices.IndexFunc(sub.Chain, func(l Link) bool { return l.Package == a.Package })
		if k >= 0 {
			sub.write(b, indent+"  ", k)
			continue
		}
		line(indent+"  ", a.Package+" "+where(a.Repo)+":")
		sub.write(b, indent+"    ", 0)
	}
	if p.More > 0 && len(p.Tried) == 0 {
		if p.More == 1 {
			line(indent+"  ", "(1 candidate tried, it fails; details omitted)")
		} else {
			line(indent+"  ", "("+strconv.Itoa(p.More)+" candidates tried, all fail; details omitted)")
		}
	} else if p.More > 0 {
		if p.More == 1 {
			line(indent+"  ", "… and 1 more candidate that fails too")
		} else {
			line(indent+"  ", "… and "+strconv.Itoa(p.More)+" more candidates that fail too")
		}
	}
	for _, x := range p.Excluded {
		line(indent+"  ", x)
	}
}

// prune drops the Tried lists nested deeper than maxNesting below p,
// counting them in More, so that explanations stay readable.
func prune(p *Problem, depth int) {
	if p == nil {
		return
	}
	if depth >= maxNesting {
		p.More += len(p.Tried)
		p.Tried = nil
		return
	}
	if depth > 0 && len(p.Tried) > maxNestedAttempts {
		p.More += len(p.Tried) - maxNestedAttempts
		p.Tried = p.Tried[:maxNestedAttempts]
	}
	for _, a := range p.Tried {
		prune(a.Problem, depth+1)
	}
}

func where(repo string) string {
	if repo == "" {
		return "(installed)"
	}
	return "(in " + repo + ")"
}

// repoOf returns the repository a package is taken from: the first one
// holding it whose pin is allowed, -1 for an installed-only package.
func (s *solver) repoOf(p *pkg) int {
	for _, r := range s.ix.moreRepos[p.id] {
		bit := s.ix.repoTag[r]
		if bit == 0 || s.allowed != nil && s.allowed[p.id]&bit != 0 {
			return int(r)
		}
	}
	return int(p.repo)
}

func (s *solver) repoName(p *pkg) string {
	if r := s.repoOf(p); r >= 0 {
		return s.ix.repos[r].Name
	}
	return ""
}

// pkgText returns "name-version (in repo)".
func (s *solver) pkgText(p int32) string {
	pk := s.pkgs[p]
	return pk.p.String() + " " + where(s.repoName(pk))
}

// provText describes provider pv of name.
func (s *solver) provText(pv provider, name int32) string {
	pk := s.pkgs[pv.pkg]
	t := s.pkgText(pv.pkg)
	if pk.name == name {
		return t
	}
	if pv.versioned {
		return t + ", which provides " + s.nameString(name) + "=" + pv.ver
	}
	return t + ", which provides " + s.nameString(name)
}

// chain returns the links from the world to requirement r.
func (s *solver) chain(r int32) []Link {
	var links []Link
	for r >= 0 {
		q := &s.reqs[r]
		if q.from < 0 {
			links = append(links, Link{Dep: q.d.raw})
			break
		}
		p := s.pkgs[q.from]
		l := Link{Package: p.p.String(), Repo: s.repoName(p), Dep: q.d.raw}
		r = s.via[q.from]
		if r < 0 {
			l.InstallIf = strings.Join(p.p.InstallIf, " ")
		}
		links = append(links, l)
	}
	slices.Reverse(links)
	return links
}

// requiredBy says why chosen package p is in the plan.
func (s *solver) requiredBy(p int32) string {
	r := s.via[p]
	if r < 0 {
		return "added by install_if " + strings.Join(s.pkgs[p].p.InstallIf, " ")
	}
	q := &s.reqs[r]
	if q.from < 0 {
		return "world requires " + q.d.raw
	}
	return "required by " + s.pkgText(q.from)
}

// holder describes how chosen package q holds name.
func (s *solver) holder(q, name int32) string {
	pk := s.pkgs[q]
	if pk.name == name {
		return s.pkgText(q) + " is chosen (" + s.requiredBy(q) + ")"
	}
	pv := s.provOf(q, name)
	n := s.nameString(name)
	if pv.versioned {
		n += "=" + pv.ver
	}
	return n + " is provided by " + s.pkgText(q) + " (" + s.requiredBy(q) + ")"
}

// applyProblem explains why candidate c cannot be chosen: its dependency
// d is violated by chosen package q.
func (s *solver) applyProblem(c int32, d *dep, q int32) *Problem {
	pk := s.pkgs[c]
	cp := &s.cps[len(s.cps)-1]
	chain := s.chain(cp.req)
	l := Link{Package: pk.p.String(), Repo: s.repoName(pk), Dep: d.raw}
	if cp.req < 0 {
		l.InstallIf = strings.Join(pk.p.InstallIf, " ")
	}
	chain = append(chain, l)
	name := s.depID(d)
	p := &Problem{Chain: chain, Name: d.Name}
	switch {
	case d.Conflict:
		p.Kind = "conflict"
	case s.lockBy[name] != 0:
		p.Kind = "taken"
		if s.pkgs[q].name == name {
			p.Kind = "version"
		}
	default:
		p.Kind = "taken"
		p.Detail = []string{"but " + d.Name + " is already provided without a version by " + s.pkgText(q) + " (" + s.requiredBy(q) + ")"}
		return p
	}
	p.Detail = []string{"but " + s.holder(q, name)}
	return p
}

// brokenProblem explains why candidate c, whose metadata is invalid, is
// not installed.
func (s *solver) brokenProblem(c int32) *Problem {
	pk := s.pkgs[c]
	cp := &s.cps[len(s.cps)-1]
	return &Problem{
		Chain:  s.chain(cp.req),
		Name:   s.reqName(cp),
		Kind:   "broken",
		Detail: []string{"but " + s.pkgText(c) + " has invalid metadata: " + s.ix.ensure(pk).err.Error()},
	}
}

// exhaustedProblem explains a name none of whose candidates can be
// installed.
func (s *solver) exhaustedProblem(cp *choice, excluded []provider, exs []exclusion) *Problem {
	name := s.reqName(cp)
	p := &Problem{Name: name}
	if cp.req >= 0 {
		p.Chain = s.chain(cp.req)
	}
	r := cp.req
	if len(cp.tried) == 0 {
		s.explainNone(p, cp.name, r, excluded, exs)
		return p
	}
	p.Kind = "exhausted"
	p.Detail = []string{"but no candidate for " + name + " can be installed:"}
	for _, a := range cp.tried {
		pk := s.pkgs[a.pkg]
		a.Package = pk.p.String()
		a.Repo = s.repoName(pk)
	}
	p.Tried = cp.tried
	p.More = cp.more
	prune(p, 0)
	for i, pv := range excluded {
		if i == maxListed {
			p.Excluded = append(p.Excluded, fmt.Sprintf("… and %d more candidates", len(excluded)-i))
			break
		}
		p.Excluded = append(p.Excluded, s.exclusionText(pv, cp.name, exs[i], r))
	}
	return p
}

func (s *solver) reqName(cp *choice) string {
	if cp.req >= 0 {
		return s.reqs[cp.req].d.Name
	}
	return s.nameString(cp.name)
}

// explainNone fills p for a requirement r on name without any candidate.
func (s *solver) explainNone(p *Problem, name int32, r int32, excluded []provider, exs []exclusion) {
	n := p.Name
	if len(s.providers(name)) == 0 {
		p.Kind = "missing"
		line := "but no package provides " + n
		p.Suggestions = s.suggest(n)
		if len(p.Suggestions) > 0 {
			line += " (did you mean " + strings.Join(p.Suggestions, ", ") + "?)"
		}
		p.Detail = []string{line}
		return
	}
	// Attribute version mismatches to the requirement decided when it
	// is the one that fails.
	for i, e := range exs {
		if e.kind == exVersion && r >= 0 && !s.matches(s.reqs[r].d, excluded[i]) {
			exs[i].req = r
		}
	}
	same := func(k uint8) bool {
		for _, e := range exs {
			if e.kind != k {
				return false
			}
		}
		return len(exs) > 0
	}
	list := func() string {
		var parts []string
		for i, pv := range excluded {
			if i == maxListed {
				parts = append(parts, fmt.Sprintf("and %d more", len(excluded)-i))
				break
			}
			parts = append(parts, s.provText(pv, name))
		}
		return strings.Join(parts, "; ")
	}
	switch {
	case same(exVersion) && r >= 0 && allReq(exs, r):
		p.Kind = "version"
		if d := s.reqs[r].d; d.Op&version.Checksum != 0 {
			p.Detail = []string{"but no " + n + " package has the identity " + d.Version + "; the repositories have " + list()}
			return
		}
		p.Detail = []string{"but the repositories have only " + list()}
		if d := s.reqs[r].d; d.Op == version.Equal {
			for _, pv := range excluded {
				if strings.HasPrefix(pv.ver, d.Version+"-r") {
					p.Detail = append(p.Detail, fmt.Sprintf("(= compares whole versions, revision included: write %s=%s or %s~%s)",
						d.Name, pv.ver, d.Name, d.Version))
					break
				}
			}
		}
		return
	case same(exPin):
		p.Kind = "pinned"
		var tags []string
		for _, pv := range excluded {
			for _, t := range s.pkgTags(s.pkgs[pv.pkg]) {
				if !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
		}
		slices.Sort(tags)
		at := make([]string, len(tags))
		for i, t := range tags {
			at[i] = "@" + t
		}
		repoWord := "repository"
		if len(tags) > 1 {
			repoWord = "repositories"
		}
		p.Detail = []string{fmt.Sprintf("but %s exists only in pinned %s %s; add %s@%s to the world to use it",
			n, repoWord, strings.Join(at, ", "), s.pkgs[excluded[0].pkg].p.Name, tags[0])}
		return
	case same(exArch):
		p.Kind = "arch"
		var arches []string
		for _, pv := range excluded {
			if a := s.pkgs[pv.pkg].p.Arch; !slices.Contains(arches, a) {
				arches = append(arches, a)
			}
		}
		slices.Sort(arches)
		p.Detail = []string{fmt.Sprintf("but %s is built only for %s, not %s: %s", n, strings.Join(arches, ", "), s.arch, list())}
		return
	case same(exVirtual):
		p.Kind = "virtual"
		var names []string
		for _, pv := range excluded {
			if nm := s.pkgs[pv.pkg].p.Name; !slices.Contains(names, nm) {
				names = append(names, nm)
			}
		}
		p.Detail = []string{fmt.Sprintf("but %s is a virtual name provided by %s, and none of them has a provider_priority; add the one you want to the world",
			n, strings.Join(names, ", "))}
		return
	case same(exLock):
		p.Kind = "lock"
	case same(exConflict):
		p.Kind = "conflict"
	case same(exTaken):
		p.Kind = "taken"
	case same(exBroken):
		p.Kind = "broken"
	default:
		p.Kind = "candidates"
	}
	if len(excluded) == 1 {
		p.Detail = []string{"but " + s.exclusionText(excluded[0], name, exs[0], r)}
		return
	}
	p.Detail = []string{"but no candidate for " + n + " can be chosen:"}
	for i, pv := range excluded {
		if i == maxListed {
			p.Excluded = append(p.Excluded, fmt.Sprintf("… and %d more candidates", len(excluded)-i))
			break
		}
		p.Excluded = append(p.Excluded, s.exclusionText(pv, name, exs[i], r))
	}
}

func allReq(exs []exclusion, r int32) bool {
	for _, e := range exs {
		if e.req != r {
			return false
		}
	}
	return true
}

// pkgTags returns the tags of the pinned repositories holding p.
func (s *solver) pkgTags(p *pkg) []string {
	var tags []string
	for i, t := range s.ix.tags {
		if p.tagMask&(1<<i) != 0 {
			tags = append(tags, t)
		}
	}
	return tags
}

// exclusionText says why provider pv is not a candidate.
func (s *solver) exclusionText(pv provider, name int32, e exclusion, r int32) string {
	pk := s.pkgs[pv.pkg]
	t := s.provText(pv, name)
	n := s.nameString(e.name)
	switch e.kind {
	case exChosen:
		return t + " is chosen already but does not match"
	case exArch:
		return t + " is built for " + pk.p.Arch
	case exBroken:
		err := pk.provideErr()
		if err == nil {
			err = s.ix.ensure(pk).err
		}
		return t + " has invalid metadata: " + err.Error()
	case exPin:
		tags := s.pkgTags(pk)
		return fmt.Sprintf("%s is only in pinned repository @%s (add %s@%s to the world to use it)", t, strings.Join(tags, ", @"), pk.p.Name, tags[0])
	case exLock:
		why := ""
		if s.lock != nil {
			why = s.lock.why[pk.p.Name][pk.p.Version]
		}
		return t + " is excluded to keep versions equal across architectures: " + why
	case exVirtual:
		return t + " provides " + n + " only as a virtual name and has no provider_priority"
	case exTaken:
		if e.name == pk.name {
			return t + " cannot be chosen: " + s.holder(e.pkg, e.name)
		}
		own := s.provOf(pv.pkg, e.name)
		what := n
		if own.versioned {
			what += "=" + own.ver
		}
		by := "already provided by " + s.pkgText(e.pkg)
		if held := s.provOf(e.pkg, e.name); held.versioned {
			by = "already provided as " + n + "=" + held.ver + " by " + s.pkgText(e.pkg)
		}
		return t + " would provide " + what + ", which is " + by + " (" + s.requiredBy(e.pkg) + ")"
	case exConflict:
		q := &s.reqs[e.req]
		if q.from < 0 {
			return t + " is forbidden by the world (" + q.d.raw + ")"
		}
		return s.pkgText(q.from) + " conflicts with " + t + " (" + q.d.raw + ")"
	case exVersion:
		q := &s.reqs[e.req]
		what := t
		if e.name != name {
			what = t + " would provide " + n
			if pv := s.provOf(pv.pkg, e.name); pv.versioned {
				what += "=" + pv.ver
			} else {
				what += " without a version"
			}
			what += ", which"
		}
		switch {
		case e.req == r || r >= 0 && q.d == s.reqs[r].d:
			return what + " does not satisfy " + q.d.raw
		case q.from < 0:
			return what + " does not satisfy " + q.d.raw + " (from the world)"
		}
		return what + " does not satisfy " + q.d.raw + " (required by " + s.pkgText(q.from) + ")"
	}
	return t + " cannot be chosen"
}

// suggest returns up to three known names close to a missing one.
func (s *solver) suggest(name string) []string {
	if len(name) < 3 {
		return nil
	}
	type cand struct {
		d int
		n string
	}
	var best []cand
	limit := 2
	if len(name) < 6 {
		limit = 1
	}
	virtual := strings.ContainsAny(name, ":/")
	for id, n := range s.ix.names {
		if strings.ContainsAny(n, ":/") != virtual || abs(len(n)-len(name)) > limit {
			continue
		}
		if len(s.ix.providers(int32(id))) == 0 {
			continue
		}
		d := editDistance(name, n, limit)
		if d > limit {
			continue
		}
		best = append(best, cand{d, n})
	}
	slices.SortFunc(best, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.n, b.n)
	})
	var out []string
	for i := 0; i < len(best) && i < 3; i++ {
		out = append(out, best[i].n)
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// editDistance returns the Levenshtein distance of a and b, or limit+1
// when it exceeds limit.
func editDistance(a, b string, limit int) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		lo := cur[0]
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
			lo = min(lo, c)
		}
		if lo > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
