package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/install"
	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/solve"
)

// guestFormat versions the layout of cached guest roots: bump it when
// what prepareGuest writes into a root changes.
const guestFormat = "reef-guest-1"

// Guest is a build environment: a root directory holding the resolved
// packages, the build accounts and the sandbox's mount points. It is
// cached under <cache>/guests/<Key> and never changed once made.
type Guest struct {
	// Dir is the root directory.
	Dir string `json:"dir"`
	// Key is the hash of what the root is made of: see guestKey.
	Key string `json:"key"`
	// Cached is set when the root was already in the cache.
	Cached bool `json:"cached"`
	// Packages are the installed packages, "name=version", in install
	// order: the locked build environment.
	Packages []string `json:"packages"`
}

// prepareGuest resolves the build environment and returns its root,
// from the cache or made now.
func (r *runner) prepareGuest(ctx context.Context) (*Guest, error) {
	start := time.Now()
	env := &r.b.Environment
	world := slices.Clone(env.Contents.Packages)
	for _, p := range r.opts.ExtraPackages {
		if p != "" && !slices.Contains(world, p) {
			world = append(world, p)
		}
	}
	if len(world) == 0 {
		return nil, errors.New("the build environment has no packages: add environment.contents.packages (at least busybox) or --package-append")
	}
	var repos []repo.Repository
	lines := slices.Concat(r.opts.Repositories, env.Contents.Repositories, env.Contents.BuildRepositories)
	for _, line := range lines {
		rp, ok, err := repo.ParseRepositoryLine(line)
		if err != nil {
			return nil, fmt.Errorf("repository %q: %w", line, err)
		}
		if ok && !slices.Contains(repos, rp) {
			repos = append(repos, rp)
		}
	}
	if len(repos) == 0 {
		return nil, errors.New("no repository to install the build environment from: add -r REPO (a directory or URL holding <arch>/APKINDEX.tar.gz) or environment.contents.repositories")
	}
	kr, err := r.keyring(ctx)
	if err != nil {
		return nil, err
	}
	fetcher := &repo.Fetcher{
		CacheDir:       r.opts.CacheDir,
		Offline:        r.opts.Offline,
		AllowUntrusted: r.opts.AllowUntrusted,
		Keyring:        kr,
		HTTP:           r.opts.HTTP,
		Limits:         r.opts.Limits,
		Logger:         r.log,
	}
	indexes, err := fetcher.FetchIndexes(ctx, repos, r.b.Arch)
	if err != nil {
		return nil, fmt.Errorf("build environment: %w", err)
	}
	var srepos []solve.Repository
	for _, ri := range indexes {
		srepos = append(srepos, solve.Repository{Name: ri.Repo.URL, Tag: ri.Repo.Tag, Packages: ri.Index.Packages})
	}
	plan, err := solve.Solve(ctx, solve.Request{World: world, Repos: srepos, Arch: r.b.Arch})
	if err != nil {
		var se *solve.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("cannot resolve the build environment (%s):\n%s", strings.Join(world, " "), strings.TrimRight(se.Error(), "\n"))
		}
		return nil, fmt.Errorf("build environment: %w", err)
	}
	g := &Guest{Key: guestKey(r.b.Arch, world, plan, env.Accounts)}
	for _, sel := range plan.Packages {
		g.Packages = append(g.Packages, sel.Package.Name+"="+sel.Package.Version)
	}
	guests := filepath.Join(r.opts.CacheDir, "guests")
	g.Dir = filepath.Join(guests, g.Key)
	if st, err := os.Stat(g.Dir); err == nil && st.IsDir() {
		g.Cached = true
		r.log.Info("build environment: cached", "packages", len(plan.Packages), "root", g.Dir)
		return g, nil
	}
	if err := os.MkdirAll(guests, 0o755); err != nil {
		return nil, err
	}

	// Fetch, install into a temporary directory and rename it into place:
	// a root in the cache is always complete.
	var refs []repo.PackageRef
	var sels []int
	for i, sel := range plan.Packages {
		if sel.Repo >= 0 {
			refs = append(refs, indexes[sel.Repo].Ref(sel.Package))
			sels = append(sels, i)
		}
	}
	paths, err := fetcher.FetchPackages(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("build environment: %w", err)
	}
	local := map[*repo.Package]string{}
	for j, i := range sels {
		local[plan.Packages[i].Package] = paths[j]
	}
	pkgs := install.FromPlan(plan, srepos, func(sel solve.Selection) (io.ReadCloser, error) {
		p, ok := local[sel.Package]
		if !ok {
			return nil, fmt.Errorf("%s-%s was not fetched", sel.Package.Name, sel.Package.Version)
		}
		return os.Open(p)
	})
	tmp, err := os.MkdirTemp(guests, ".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	fsys, err := install.OpenDir(tmp)
	if err != nil {
		return nil, err
	}
	in := &install.Installer{FS: fsys, Arch: r.b.Arch, Limits: r.opts.Limits, Logger: r.log, ModTime: time.Unix(r.sde, 0)}
	res, err := in.Install(ctx, pkgs, install.Options{World: world})
	fsys.Close()
	if err != nil {
		return nil, fmt.Errorf("installing the build environment: %w", err)
	}
	if err := setupGuest(tmp, env.Accounts); err != nil {
		return nil, fmt.Errorf("preparing the build environment: %w", err)
	}
	if err := os.Rename(tmp, g.Dir); err != nil {
		// Another build made the same root meanwhile: use it.
		if st, err2 := os.Stat(g.Dir); err2 == nil && st.IsDir() {
			g.Cached = true
			return g, nil
		}
		return nil, err
	}
	meta, _ := json.MarshalIndent(g, "", "  ")
	_ = fsutil.WriteFileAtomic(g.Dir+".json", append(meta, '\n'), 0o644)
	r.log.Info("build environment: installed", "packages", len(res.Installed), "files", res.Files, "root", g.Dir, "elapsed", time.Since(start).Round(time.Millisecond))
	return g, nil
}

// guestKey names a guest root by what it is made of: the architecture,
// the database layout, the requested packages, the exact packages
// installed (name, version and identity, in install order) and the
// accounts written into it.
func guestKey(arch string, world []string, plan *solve.Plan, acc config.Accounts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\narch %s\nlayout apk\n", guestFormat, arch)
	w := slices.Clone(world)
	slices.Sort(w)
	fmt.Fprintf(&b, "world %s\n", strings.Join(w, " "))
	for _, sel := range plan.Packages {
		fmt.Fprintf(&b, "package %s %s %s\n", sel.Package.Name, sel.Package.Version, sel.Package.Checksum)
	}
	for _, l := range passwdLines(acc) {
		fmt.Fprintf(&b, "passwd %s\n", l)
	}
	for _, l := range groupLines(acc) {
		fmt.Fprintf(&b, "group %s\n", l)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// passwdLines are the /etc/passwd lines of the accounts' users.
func passwdLines(acc config.Accounts) []string {
	var out []string
	for _, u := range acc.Users {
		gid := u.UID
		if u.GID != nil {
			gid = *u.GID
		}
		home := u.HomeDir
		if home == "" {
			home = "/home/" + u.UserName
		}
		shell := u.Shell
		if shell == "" {
			shell = "/bin/sh"
		}
		out = append(out, fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", u.UserName, u.UID, gid, u.UserName, home, shell))
	}
	return out
}

// groupLines are the /etc/group lines of the accounts' groups.
func groupLines(acc config.Accounts) []string {
	var out []string
	for _, g := range acc.Groups {
		out = append(out, fmt.Sprintf("%s:x:%d:%s", g.GroupName, g.GID, strings.Join(g.Members, ",")))
	}
	return out
}

// guestMountPoints are created in every guest root, so that the
// sandbox can also mount it read-only.
var guestMountPoints = []string{"proc", "dev", "sys", "tmp", "var/tmp", "home/build", "var/cache/melange"}

// setupGuest adds the accounts to etc/passwd and etc/group (users and
// groups already there by name are kept) and creates the mount points
// and home directories. Everything goes through an os.Root: symlinks
// shipped by packages cannot lead outside the root.
func setupGuest(dir string, acc config.Accounts) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, m := range guestMountPoints {
		if err := root.MkdirAll(m, 0o755); err != nil {
			return fmt.Errorf("mount point /%s: %w", m, err)
		}
	}
	for _, t := range []string{"tmp", "var/tmp"} {
		if err := root.Chmod(t, 0o777|fs.ModeSticky); err != nil {
			return err
		}
	}
	if _, err := root.Lstat("etc/resolv.conf"); errors.Is(err, fs.ErrNotExist) {
		// The mount point of the host's resolv.conf with --network.
		if err := root.WriteFile("etc/resolv.conf", nil, 0o644); err != nil {
			return err
		}
	}
	if err := appendAccounts(root, "etc/passwd", passwdLines(acc)); err != nil {
		return err
	}
	if err := appendAccounts(root, "etc/group", groupLines(acc)); err != nil {
		return err
	}
	for _, u := range acc.Users {
		home := u.HomeDir
		if home == "" {
			home = "/home/" + u.UserName
		}
		rel := strings.TrimPrefix(path.Clean("/"+home), "/")
		if rel == "" {
			continue
		}
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return fmt.Errorf("home directory of %s: %w", u.UserName, err)
		}
		gid := u.UID
		if u.GID != nil {
			gid = *u.GID
		}
		if os.Geteuid() == 0 && rel != "home/build" {
			if err := root.Lchown(rel, int(u.UID), int(gid)); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendAccounts adds the lines whose first field is not in the file
// yet.
func appendAccounts(root *os.Root, name string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	old, err := root.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(old), "\n") {
		if f, _, ok := strings.Cut(l, ":"); ok {
			have[f] = true
		}
	}
	out := old
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	for _, l := range lines {
		f, _, _ := strings.Cut(l, ":")
		if !have[f] {
			out = append(out, l+"\n"...)
			have[f] = true
		}
	}
	if err := root.WriteFile(name+".reef-new", out, 0o644); err != nil {
		return err
	}
	return root.Rename(name+".reef-new", name)
}

// keyring loads the trusted keys: RunOptions.KeyPaths and the build
// file's environment.contents.keyring (local files, or URLs downloaded
// once into the cache).
func (r *runner) keyring(ctx context.Context) (*apk.Keyring, error) {
	kr := apk.NewKeyring()
	if err := kr.Load(r.opts.KeyPaths...); err != nil {
		return nil, err
	}
	for _, k := range r.b.Environment.Contents.Keyring {
		if !strings.Contains(k, "://") || strings.HasPrefix(k, "file://") {
			if err := kr.Load(strings.TrimPrefix(k, "file://")); err != nil {
				return nil, fmt.Errorf("environment.contents.keyring: %w", err)
			}
			continue
		}
		data, err := r.remoteKey(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("environment.contents.keyring: %w", err)
		}
		if err := kr.AddPEM(path.Base(k), data); err != nil {
			return nil, fmt.Errorf("environment.contents.keyring: %s: %w", k, err)
		}
	}
	return kr, nil
}

// remoteKey returns the key at url, from the cache or downloaded (and
// then cached: a key is trusted on first use, as when apko fetches it).
func (r *runner) remoteKey(ctx context.Context, url string) ([]byte, error) {
	sum := sha256.Sum256([]byte(url))
	cached := filepath.Join(r.opts.CacheDir, "keys", hex.EncodeToString(sum[:8]), path.Base(url))
	if data, err := os.ReadFile(cached); err == nil {
		return data, nil
	}
	if r.opts.Offline {
		return nil, fmt.Errorf("%s is not in the cache and --offline is set", url)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if _, err := apk.ParsePublicKey(data); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return nil, err
	}
	return data, fsutil.WriteFileAtomic(cached, data, 0o644)
}
