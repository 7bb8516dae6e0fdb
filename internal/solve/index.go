package solve

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/version"
)

// maxTags bounds the number of distinct repository tags (they are bits of
// a mask).
const maxTags = 64

// Index is a prepared set of repositories: every package, and every name
// mapped to its providers. Building it costs about as much as one Solve;
// reuse it to solve several worlds against the same repositories. An
// Index is immutable and safe for concurrent use.
//
// Building it is a large part of a one-off `reef resolve`, and much of
// that is the first touch of fresh memory (a page fault every 4 KiB), so
// the tables are kept compact: lists by name are flat slices cut by
// offsets rather than slices of slices or maps, strings are found through
// idTables, and structs are laid out without padding.
type Index struct {
	repos   []Repository
	repoTag []uint64 // repository → its tag bit, 0 when untagged
	tags    []string // tag bit → tag name

	pkgs       []*pkg
	byChecksum idTable // identity (C:) → package
	// moreRepos lists, for each package held by several repositories,
	// all of them, ascending; nil when there is no such package.
	moreRepos map[int32][]int32

	names   []string // name id → name
	nameIDs idTable  // name → name id
	// The providers of name id are provFlat[provOff[id]:provOff[id+1]],
	// in package order.
	provOff  []int32
	provFlat []provider
	// The packages whose install_if mentions name id (by name only) are
	// riifFlat[riifOff[id]:riifOff[id+1]], ascending.
	riifOff  []int32
	riifFlat []int32

	hasTagged bool
}

// pkg is a package of an index (or an installed package found in no
// repository, added for one solve).
type pkg struct {
	p        *repo.Package
	provides []provide
	tagMask  uint64 // tags of the tagged repositories holding it
	parsed   atomic.Pointer[pkgDeps]
	id       int32
	name     int32
	origin   int32 // origin id, -1 without origin
	// repo is the first repository holding it (Index.moreRepos lists
	// them all when there are several), -1 for an installed package
	// found in none.
	repo        int32
	untagged    bool // in at least one untagged repository
	badProvides bool // a p: entry is invalid (see provideErr)
}

// provideErr returns the error of p's first invalid p: entry, if any.
func (p *pkg) provideErr() error {
	for _, s := range p.p.Provides {
		if _, _, _, err := parseProvide(s); err != nil {
			return err
		}
	}
	return nil
}

// pkgDeps is a package's parsed dependencies and install_if, made when
// the solver first looks at the package (see Index.ensure): most packages
// of an index never are.
type pkgDeps struct {
	deps []dep
	iif  []dep
	err  error // invalid D: or i: entry
}

// provide is a parsed p: entry.
type provide struct {
	name      int32
	versioned bool
	ver       string
}

// provider is one way to satisfy a name: a package, and the version it
// gives the name ("" and versioned false for a virtual provide).
type provider struct {
	pkg       int32
	versioned bool
	ver       string
}

// dep is a parsed dependency with its name resolved in the index.
type dep struct {
	version.Dep
	raw  string
	name int32 // -1 when no package of the index has or provides the name
}

// NewIndex indexes repos, given in priority order. Packages with the same
// identity (C:) in several repositories are one package. It fails only on
// malformed input: a nil package, or more than 64 distinct tags.
func NewIndex(repos []Repository) (*Index, error) {
	ix := &Index{repos: repos}
	n, nprov, niif := 0, 0, 0
	for _, r := range repos {
		n += len(r.Packages)
		for _, rp := range r.Packages {
			if rp != nil {
				nprov += len(rp.Provides)
				niif += len(rp.InstallIf)
			}
		}
	}
	// Tables are sized up front for the most entries they can get.
	ix.byChecksum = newIDTable(n)
	// Packages and their provides live in slabs.
	slab := make([]pkg, n)
	provBuf := make([]provide, 0, nprov)
	ix.pkgs = make([]*pkg, 0, n)
	ix.nameIDs = newIDTable(n + nprov)
	ix.names = make([]string, 0, n+nprov)
	// Providers per name, then (below) the offsets of each name's list.
	count := make([]int32, 0, n+nprov)
	intern := func(name string) int32 {
		id := ix.intern(name)
		if int(id) == len(count) {
			count = append(count, 0)
		}
		return id
	}
	tagBit := map[string]uint64{}
	// Origins are numbered in order of appearance.
	originNames := make([]string, 0, n/2)
	origins := newIDTable(n)
	origin := func(id int32) string { return originNames[id] }
	for ri, r := range repos {
		var bit uint64
		if r.Tag != "" {
			ix.hasTagged = true
			b, ok := tagBit[r.Tag]
			if !ok {
				if len(ix.tags) == maxTags {
					return nil, fmt.Errorf("solve: more than %d repository tags", maxTags)
				}
				b = 1 << len(ix.tags)
				tagBit[r.Tag] = b
				ix.tags = append(ix.tags, r.Tag)
			}
			bit = b
		}
		ix.repoTag = append(ix.repoTag, bit)
		for i, rp := range r.Packages {
			if rp == nil {
				return nil, fmt.Errorf("solve: repository %s: package %d is nil", r.Name, i)
			}
			if rp.Checksum != "" {
				id, slot, ok := ix.byChecksum.find(rp.Checksum, ix.checksum)
				if ok {
					p := ix.pkgs[id]
					repos, ok := ix.moreRepos[id]
					if !ok {
						repos = []int32{p.repo}
					}
					if repos[len(repos)-1] != int32(ri) {
						if ix.moreRepos == nil {
							ix.moreRepos = map[int32][]int32{}
						}
						ix.moreRepos[id] = append(repos, int32(ri))
					}
					p.tagMask |= bit
					p.untagged = p.untagged || bit == 0
					continue
				}
				ix.byChecksum.add(slot, int32(len(ix.pkgs)))
			}
			k := len(ix.pkgs)
			p := &slab[k]
			p.p = rp
			p.id = int32(k)
			p.repo = int32(ri)
			p.untagged = bit == 0
			p.tagMask = bit
			p.origin = -1
			ix.pkgs = append(ix.pkgs, p)
			p.name = intern(rp.Name)
			count[p.name]++
			if rp.Origin != "" {
				id, slot, ok := origins.find(rp.Origin, origin)
				if !ok {
					id = int32(len(originNames))
					origins.add(slot, id)
					originNames = append(originNames, rp.Origin)
				}
				p.origin = id
			}
			if len(rp.Provides) > 0 {
				start := len(provBuf)
				for _, str := range rp.Provides {
					name, ver, versioned, err := parseProvide(str)
					if err != nil {
						p.badProvides = true
						continue
					}
					id := intern(name)
					if id == p.name || slices.ContainsFunc(provBuf[start:], func(pr provide) bool { return pr.name == id }) {
						continue // provided twice: the first one counts
					}
					count[id]++
					provBuf = append(provBuf, provide{id, versioned, ver})
				}
				p.provides = provBuf[start:len(provBuf):len(provBuf)]
			}
		}
	}
	// Providers of each name, in package order, in one flat slice.
	ix.provOff = offsets(count)
	ix.provFlat = make([]provider, len(ix.pkgs)+len(provBuf))
	next := count // reused: the next free slot of each name
	copy(next, ix.provOff)
	for _, p := range ix.pkgs {
		ix.provFlat[next[p.name]] = provider{p.id, true, p.p.Version}
		next[p.name]++
		for _, pr := range p.provides {
			ix.provFlat[next[pr.name]] = provider{p.id, pr.versioned, pr.ver}
			next[pr.name]++
		}
	}
	// The install_if reverse map, by name only (the constraints are checked
	// when the package is considered): pairs, then counted into runs.
	pairs := make([]riifPair, 0, niif)
	for _, p := range ix.pkgs {
		for _, s := range p.p.InstallIf {
			if id, ok := ix.nameID(depName(s)); ok {
				pairs = append(pairs, riifPair{id, p.id})
			}
		}
	}
	clear(count)
	for _, pr := range pairs {
		count[pr.name]++
	}
	ix.riifOff = offsets(count)
	ix.riifFlat = make([]int32, len(pairs))
	next = count
	copy(next, ix.riifOff)
	for _, pr := range pairs {
		ix.riifFlat[next[pr.name]] = pr.pkg
		next[pr.name]++
	}
	return ix, nil
}

// riifPair says that package pkg's install_if mentions name.
type riifPair struct{ name, pkg int32 }

// offsets returns the start of each of len(count) consecutive runs of
// count[i] elements, and the end of the last one: len(count)+1 offsets.
func offsets(count []int32) []int32 {
	off := make([]int32, len(count)+1)
	for i, c := range count {
		off[i+1] = off[i] + c
	}
	return off
}

// providers returns the providers of name id in the index.
func (ix *Index) providers(id int32) []provider {
	return ix.provFlat[ix.provOff[id]:ix.provOff[id+1]:ix.provOff[id+1]]
}

// installIf returns the packages whose install_if mentions name id (none
// for a name the index does not know).
func (ix *Index) installIf(id int32) []int32 {
	if id < 0 || int(id) >= len(ix.names) {
		return nil
	}
	return ix.riifFlat[ix.riifOff[id]:ix.riifOff[id+1]]
}

func (ix *Index) intern(name string) int32 {
	id, slot, ok := ix.nameIDs.find(name, ix.name)
	if ok {
		return id
	}
	id = int32(len(ix.names))
	ix.nameIDs.add(slot, id)
	ix.names = append(ix.names, name)
	return id
}

// nameID returns the id of a name of the index.
func (ix *Index) nameID(name string) (int32, bool) {
	id, _, ok := ix.nameIDs.find(name, ix.name)
	return id, ok
}

// name returns the name with the given id.
func (ix *Index) name(id int32) string { return ix.names[id] }

// checksum returns the identity (C:) of package id.
func (ix *Index) checksum(id int32) string { return ix.pkgs[id].p.Checksum }

// parseProvide parses a p: entry, "name" or "name=version".
func parseProvide(s string) (name, ver string, versioned bool, err error) {
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != '<' && s[i] != '>' && s[i] != '~' {
		i++
	}
	if i == len(s) {
		if s == "" || strings.IndexByte(s, '@') >= 0 || s[0] == '!' {
			return "", "", false, fmt.Errorf("invalid provides %q", s)
		}
		return s, "", false, nil
	}
	name, ver = s[:i], s[i+1:]
	if s[i] != '=' || name == "" || ver == "" || indexOp(ver) >= 0 || name[0] == '!' {
		return "", "", false, fmt.Errorf("invalid provides %q: want name or name=version", s)
	}
	return name, ver, true, nil
}

// depName returns the name of dependency string s without parsing it
// fully.
func depName(s string) string {
	s = strings.TrimPrefix(s, "!")
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '@', '<', '>', '=', '~':
			return s[:i]
		}
	}
	return s
}

// indexOp returns the index of the first byte of s that is part of a
// version operator (< > = ~), or -1. It is strings.IndexAny(s, "<>=~")
// without the set that builds on every call.
func indexOp(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<', '>', '=', '~':
			return i
		}
	}
	return -1
}

// ensure returns p's parsed dependencies and install_if, parsing them on
// first use. Goroutines solving at once may both parse a package; they
// get equal results, and the first one stored is kept.
func (ix *Index) ensure(p *pkg) *pkgDeps {
	if pd := p.parsed.Load(); pd != nil {
		return pd
	}
	pd := &pkgDeps{}
	pd.deps, pd.err = ix.parseDeps(p.p.Depends, "depends")
	if pd.err == nil {
		pd.iif, pd.err = ix.parseDeps(p.p.InstallIf, "install_if")
	}
	if !p.parsed.CompareAndSwap(nil, pd) {
		pd = p.parsed.Load()
	}
	return pd
}

func (ix *Index) parseDeps(list []string, what string) ([]dep, error) {
	if len(list) == 0 {
		return nil, nil
	}
	deps := make([]dep, 0, len(list))
	for _, s := range list {
		d, err := version.ParseDep(s)
		if err != nil {
			return nil, fmt.Errorf("invalid %s entry %q", what, s)
		}
		id, ok := ix.nameID(d.Name)
		if !ok {
			id = -1
		}
		deps = append(deps, dep{Dep: d, raw: s, name: id})
	}
	return deps, nil
}

// Repos returns the repositories the index was built from.
func (ix *Index) Repos() []Repository { return ix.repos }
