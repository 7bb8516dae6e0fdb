package install

import (
	"io"

	"github.com/reef-dev/reef/internal/solve"
)

// FromPlan turns a solver plan into the packages Install takes, in the
// plan's install order. repos are the repositories the plan was solved
// against (for the repository tags); open opens a selection's .apk file,
// typically through a repository fetcher that verifies it. Selections
// with Repo -1 (installed packages found in no repository) are passed on
// as they are: Install skips them when they are installed already.
func FromPlan(plan *solve.Plan, repos []solve.Repository, open func(sel solve.Selection) (io.ReadCloser, error)) []Package {
	out := make([]Package, 0, len(plan.Packages))
	for _, sel := range plan.Packages {
		p := Package{Index: sel.Package}
		if sel.Repo >= 0 && sel.Repo < len(repos) {
			p.RepoTag = repos[sel.Repo].Tag
			p.Source = repos[sel.Repo].Name + "/" + sel.Package.Filename()
		}
		p.Open = func() (io.ReadCloser, error) { return open(sel) }
		out = append(out, p)
	}
	return out
}
