package image

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/arch"
	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/solve"
)

// plan returns the packages to install, by architecture: from the lock
// file, or resolved for all architectures at once.
func (b *build) plan(ctx context.Context) (map[string][]resolvedPkg, error) {
	start := time.Now()
	defer b.timings.since(PhaseResolve, start)
	if b.opts.Lock != nil {
		return b.planFromLock(ctx)
	}
	if len(b.buildRepos) == 0 {
		return nil, b.cfg.errorf("contents.repositories", "no repositories to install packages from")
	}
	if len(b.world) == 0 {
		return nil, b.cfg.errorf("contents.packages", "no packages to install")
	}
	archs := b.archs
	probe := len(archs) == 0
	if probe {
		archs = arch.All
	}
	// Load every index of every architecture in parallel.
	type key struct {
		arch string
		repo int
	}
	var mu sync.Mutex
	indexes := map[key]*repo.Index{}
	errs := map[key]error{}
	var g errgroup.Group
	g.SetLimit(8)
	for _, arch := range archs {
		for i, r := range b.buildRepos {
			g.Go(func() error {
				idx, err := b.src.loadIndex(ctx, r, arch)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, errNoIndex):
					if !probe {
						b.warn("repository %s has no index for %s", r.URL, arch)
					}
				case err != nil:
					errs[key{arch, i}] = err
				default:
					if idx.Untrusted != nil {
						b.warn("repository %s (%s): index not verified: %v", r.URL, arch, idx.Untrusted)
					}
					indexes[key{arch, i}] = idx
				}
				return nil
			})
		}
	}
	g.Wait()
	// The first failure in order (repository, then architecture), so
	// that the message does not depend on timing.
	for i := range b.buildRepos {
		for _, arch := range archs {
			if err := errs[key{arch, i}]; err != nil {
				return nil, err
			}
		}
	}
	if probe {
		var found []string
		for _, arch := range archs {
			for i := range b.buildRepos {
				if indexes[key{arch, i}] != nil {
					found = append(found, arch)
					break
				}
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("no repository has an index for any architecture (looked for %s)", strings.Join(archs, ", "))
		}
		b.archs = found
		b.log.Info("no archs given: building for every architecture the repositories have", "archs", found)
	}
	reqs := map[string]solve.Request{}
	for _, arch := range b.archs {
		var repos []solve.Repository
		for i, r := range b.buildRepos {
			idx := indexes[key{arch, i}]
			if idx == nil {
				continue
			}
			repos = append(repos, solve.Repository{Name: r.String(), Tag: r.Tag, Packages: idx.Packages})
		}
		if len(repos) == 0 {
			return nil, fmt.Errorf("no repository has an index for %s (%s)", arch, joinRepos(b.buildRepos))
		}
		reqs[arch] = solve.Request{World: b.world, Repos: repos, Arch: arch}
	}
	plans, err := solve.SolveArchs(ctx, reqs)
	if err != nil {
		var se *solve.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("cannot resolve the packages of %s:\n%w", cmp.Or(b.cfg.file, "the image"), err)
		}
		return nil, err
	}
	out := map[string][]resolvedPkg{}
	for _, arch := range b.archs {
		p := plans[arch]
		var used []repo.Repository
		for i := range b.buildRepos {
			if indexes[key{arch, i}] != nil {
				used = append(used, b.buildRepos[i])
			}
		}
		for _, sel := range p.Packages {
			if sel.Repo < 0 || sel.Repo >= len(used) {
				return nil, fmt.Errorf("%s: %s comes from no repository", arch, sel.Package)
			}
			r := used[sel.Repo]
			out[arch] = append(out[arch], resolvedPkg{
				pkg: sel.Package, tag: r.Tag, loc: r.PackageURL(arch, sel.Package), repo: r, reasons: sel.Reasons,
				ref: repo.PackageRef{Package: sel.Package, Repo: r, Arch: arch},
			})
		}
	}
	return out, nil
}

func joinRepos(rs []repo.Repository) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.URL)
	}
	return strings.Join(s, ", ")
}

// planFromLock reads each locked package's control member to make its
// record: the lock has no index records, and the identity is checked.
func (b *build) planFromLock(ctx context.Context) (map[string][]resolvedPkg, error) {
	l := b.opts.Lock
	if len(b.opts.ExtraPackages) > 0 {
		return nil, fmt.Errorf("a build from a lock file installs exactly the locked packages: lock again with %s added", strings.Join(b.opts.ExtraPackages, ", "))
	}
	if l.Config != nil && l.Config.Checksum != "" && len(b.cfg.sources) > 0 && l.Config.Checksum != b.cfg.Checksum() {
		return nil, fmt.Errorf("lock file was made from another version of %s (checksum %s, file has %s): lock again", l.Config.Name, l.Config.Checksum, b.cfg.Checksum())
	}
	if l.Config == nil || l.Config.Checksum == "" {
		b.warn("lock file has no configuration checksum: cannot tell whether it matches the image file")
	}
	have := l.Archs()
	out := map[string][]resolvedPkg{}
	for _, arch := range b.archs {
		if !slices.Contains(have, arch) {
			return nil, fmt.Errorf("lock file has no packages for %s (it has %s)", arch, strings.Join(have, ", "))
		}
		for _, lp := range l.PackagesFor(arch) {
			loc := lp.URL
			if !isURL(loc) && !filepath.IsAbs(loc) && b.opts.LockDir != "" {
				loc = filepath.Join(b.opts.LockDir, loc)
			}
			lp := lp
			rp := resolvedPkg{loc: loc, lock: &lp}
			if isURL(loc) && !strings.HasPrefix(loc, "file://") {
				ref, err := lockedRef(&lp, loc)
				if err != nil {
					return nil, err
				}
				rp.ref = ref
			}
			rec, err := b.lockedRecord(ctx, &rp)
			if err != nil {
				return nil, err
			}
			rp.pkg = rec
			out[arch] = append(out[arch], rp)
		}
	}
	return out, nil
}

// lockedRecord opens a locked package, checks its identity and returns
// the index record made from its .PKGINFO.
func (b *build) lockedRecord(ctx context.Context, rp *resolvedPkg) (*repo.Package, error) {
	lp, loc := rp.lock, rp.loc
	f, err := b.src.openPackage(ctx, rp)
	if err != nil {
		return nil, fmt.Errorf("locked package %s-%s: %w", lp.Name, lp.Version, err)
	}
	defer f.Close()
	ar, err := apk.NewReader(f, b.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("locked package %s: %w", loc, err)
	}
	if id := ar.Identity(); id != lp.Checksum {
		return nil, fmt.Errorf("locked package %s: checksum %s, lock file says %s", loc, id, lp.Checksum)
	}
	info := ar.Info()
	if info.Name != lp.Name || info.Version != lp.Version {
		return nil, fmt.Errorf("locked package %s is %s-%s, lock file says %s-%s", loc, info.Name, info.Version, lp.Name, lp.Version)
	}
	var size uint64
	if st, ok := f.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			size = uint64(fi.Size())
		}
	}
	return repo.FromPkgInfo(info, ar.Identity(), size), nil
}
