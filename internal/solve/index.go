package solve

import (
	"fmt"
	"slices"
	"strings"
	"sync"

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
type Index struct {
	repos   []Repository
	repoTag []uint64 // repository → its tag bit, 0 when untagged
	tags    []string // tag bit → tag name

	pkgs       []*pkg
	byChecksum map[string]int32

	names   []string // name id → name
	nameIDs map[string]int32
	provs   [][]provider      // name id → providers
	riif    map[int32][]int32 // name id → packages whose install_if mentions it

	hasTagged bool
}

// pkg is a package of an index (or an installed package found in no
// repository, added for one solve).
type pkg struct {
	id       int32
	p        *repo.Package
	name     int32
	repos    []int32 // repositories holding it, ascending
	untagged bool    // in at least one untagged repository
	tagMask  uint64  // tags of the tagged repositories holding it
	provides []provide
	origin   int32 // origin id, -1 without origin
	err      error // invalid p: entry

	once    sync.Once
	deps    []dep
	iif     []dep
	depsErr error // invalid D: or i: entry
}

// provide is a parsed p: entry.
type provide struct {
	name      int32
	ver       string
	versioned bool
}

// provider is one way to satisfy a name: a package, and the version it
// gives the name ("" and versioned false for a virtual provide).
type provider struct {
	pkg       int32
	ver       string
	versioned bool
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
	n, nprov := 0, 0
	for _, r := range repos {
		n += len(r.Packages)
		for _, rp := range r.Packages {
			if rp != nil {
				nprov += len(rp.Provides)
			}
		}
	}
	// Maps are sized up front: growing them rehashes every entry.
	ix.byChecksum = make(map[string]int32, n)
	// Packages, their repository lists and provides live in slabs.
	slab := make([]pkg, 0, n)
	repoBuf := make([]int32, n)
	provBuf := make([]provide, 0, nprov)
	ix.pkgs = make([]*pkg, 0, n)
	ix.nameIDs = make(map[string]int32, n+nprov)
	ix.names = make([]string, 0, n+nprov)
	count := make([]int32, 0, n+nprov) // providers per name
	tagBit := map[string]uint64{}
	origins := make(map[string]int32, n/2)
	intern := func(name string) int32 {
		id := ix.intern(name)
		if int(id) == len(count) {
			count = append(count, 0)
		}
		count[id]++
		return id
	}
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
				if id, ok := ix.byChecksum[rp.Checksum]; ok {
					p := ix.pkgs[id]
					if p.repos[len(p.repos)-1] != int32(ri) {
						p.repos = append(p.repos, int32(ri))
					}
					p.tagMask |= bit
					p.untagged = p.untagged || bit == 0
					continue
				}
				ix.byChecksum[rp.Checksum] = int32(len(ix.pkgs))
			}
			k := len(slab)
			repoBuf[k] = int32(ri)
			slab = append(slab, pkg{
				id:       int32(k),
				p:        rp,
				repos:    repoBuf[k : k+1 : k+1],
				untagged: bit == 0,
				tagMask:  bit,
				origin:   -1,
			})
			p := &slab[k]
			ix.pkgs = append(ix.pkgs, p)
			p.name = intern(rp.Name)
			if len(rp.Provides) > 0 {
				start := len(provBuf)
				for _, str := range rp.Provides {
					name, ver, versioned, err := parseProvide(str)
					if err != nil {
						if p.err == nil {
							p.err = err
						}
						continue
					}
					if name == rp.Name || slices.ContainsFunc(provBuf[start:], func(pr provide) bool { return ix.names[pr.name] == name }) {
						continue // provided twice: the first one counts
					}
					provBuf = append(provBuf, provide{intern(name), ver, versioned})
				}
				p.provides = provBuf[start:len(provBuf):len(provBuf)]
			}
			if rp.Origin != "" {
				id, ok := origins[rp.Origin]
				if !ok {
					id = int32(len(origins))
					origins[rp.Origin] = id
				}
				p.origin = id
			}
		}
	}
	// Providers of each name, in package order, in one flat slice.
	flat := make([]provider, 0, len(slab)+len(provBuf))
	ix.provs = make([][]provider, len(ix.names))
	for id, c := range count {
		ix.provs[id] = flat[len(flat) : len(flat) : len(flat)+int(c)]
		flat = flat[:len(flat)+int(c)]
	}
	for _, p := range ix.pkgs {
		ix.provs[p.name] = append(ix.provs[p.name], provider{p.id, p.p.Version, true})
		for _, pr := range p.provides {
			ix.provs[pr.name] = append(ix.provs[pr.name], provider{p.id, pr.ver, pr.versioned})
		}
	}
	// install_if reverse map, by name only; the constraints are checked
	// when the package is considered.
	ix.riif = make(map[int32][]int32)
	for _, p := range ix.pkgs {
		for _, s := range p.p.InstallIf {
			if id, ok := ix.nameIDs[depName(s)]; ok {
				ix.riif[id] = append(ix.riif[id], p.id)
			}
		}
	}
	return ix, nil
}

func (ix *Index) intern(name string) int32 {
	if id, ok := ix.nameIDs[name]; ok {
		return id
	}
	id := int32(len(ix.names))
	ix.nameIDs[name] = id
	ix.names = append(ix.names, name)
	return id
}

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
	if s[i] != '=' || name == "" || ver == "" || strings.IndexAny(ver, "<>=~") >= 0 || name[0] == '!' {
		return "", "", false, fmt.Errorf("invalid provides %q: want name or name=version", s)
	}
	return name, ver, true, nil
}

// depName returns the name of dependency string s without parsing it
// fully.
func depName(s string) string {
	s = strings.TrimPrefix(s, "!")
	if i := strings.IndexAny(s, "@<>=~"); i >= 0 {
		return s[:i]
	}
	return s
}

// ensure parses p's dependencies and install_if once.
func (ix *Index) ensure(p *pkg) {
	p.once.Do(func() {
		p.deps, p.depsErr = ix.parseDeps(p.p.Depends, "depends")
		if p.depsErr == nil {
			p.iif, p.depsErr = ix.parseDeps(p.p.InstallIf, "install_if")
		}
	})
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
		id, ok := ix.nameIDs[d.Name]
		if !ok {
			id = -1
		}
		deps = append(deps, dep{Dep: d, raw: s, name: id})
	}
	return deps, nil
}

// Repos returns the repositories the index was built from.
func (ix *Index) Repos() []Repository { return ix.repos }
