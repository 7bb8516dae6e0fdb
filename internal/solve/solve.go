package solve

import (
	"context"

	"github.com/reef-dev/reef/internal/repo"
)

// Repository is one source of candidates. Repositories are given in
// priority order: an earlier one is preferred, like apk's repository
// number (the line number in etc/apk/repositories).
type Repository struct {
	Name     string // URL or path, used in messages and in the plan
	Tag      string // pin tag without "@", "" for untagged
	Packages []*repo.Package
}

// Request is what to solve.
type Request struct {
	// World holds dependency strings as in etc/apk/world
	// ("[!]name[@tag][op version]"), one per element.
	World []string
	// Repos are the candidates, in priority order.
	Repos []Repository
	// Installed are the packages already in the root (may be nil).
	// The solver prefers keeping them. An installed package with the
	// same identity (C:) as a repository package is that package; one
	// found in no repository is still a candidate, with Selection.Repo
	// -1.
	Installed []*repo.Package
	// Arch is the architecture being solved for. Packages whose A: names
	// another architecture are not candidates; "noarch" and "" are
	// accepted everywhere. Empty Arch accepts every package.
	Arch string

	// Upgrade prefers the highest versions over the installed ones
	// (apk upgrade); by default installed packages are kept when they
	// still satisfy the world.
	Upgrade bool
	// MaxSteps bounds the search: the number of candidate attempts
	// before Solve gives up with an *Error whose Limit is set. Zero means
	// DefaultMaxSteps.
	MaxSteps int
}

// DefaultMaxSteps is the search budget used when Request.MaxSteps is zero.
// Real worlds need a few hundred steps; only inputs built to defeat
// backtracking come near it.
const DefaultMaxSteps = 200000

// Selection is one package of a plan.
type Selection struct {
	Package *repo.Package
	// Repo is the index into Request.Repos of the repository the package
	// is taken from (the lowest-numbered one holding it whose pin is
	// allowed), or -1 for an installed package found in no repository.
	Repo int
	// Reasons say why the package is in the plan, in a stable order:
	// "world: foo" for world entries first, then
	// "foo-1.0-r0 depends on so:libc.so.6" for each chosen dependent (in
	// install order), then "install_if: …" when install_if added it.
	Reasons []string
}

// Plan is the result of Solve.
type Plan struct {
	// Packages are in install order: each package comes after the
	// packages it depends on (and, for install_if packages, after the
	// packages that triggered them). Dependency cycles are broken
	// deterministically, at the edge that closes the cycle in a
	// depth-first walk from the world.
	Packages []Selection
}

// Solve resolves req.World against req.Repos. It returns an *Error when
// the world cannot be satisfied, and another error for invalid input
// (an unparsable world entry, an unknown pin tag) or when ctx is done.
//
// Solve indexes req.Repos on every call; to solve several worlds against
// the same repositories, use NewIndex once and call Index.Solve.
func Solve(ctx context.Context, req Request) (*Plan, error) {
	ix, err := NewIndex(req.Repos)
	if err != nil {
		return nil, err
	}
	return ix.Solve(ctx, req)
}

// Solve resolves req.World against the index's repositories; req.Repos
// is ignored. An Index may be used by several goroutines at once.
func (ix *Index) Solve(ctx context.Context, req Request) (*Plan, error) {
	return ix.solve(ctx, &req, nil)
}
