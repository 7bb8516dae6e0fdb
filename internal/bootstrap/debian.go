package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/reef-dev/reef/internal/debimport"
	"github.com/reef-dev/reef/internal/version"
)

// debPackage is one Debian binary package of the closure: the candidate
// version apt would install, as its record in apt's lists describes it.
type debPackage struct {
	Name       string
	Version    string   // Debian version, epoch included
	Arch       string   // Debian architecture: amd64, all, …
	SHA256     string   // of the .deb, from the signed archive index
	Size       int64    // of the .deb
	Depends    []string // Pre-Depends and Depends, mapped to apk as debimport maps them
	Provides   []string // likewise
	RequiredBy string   // the package (or "root") that brought it in, for messages
}

// FileName is the name `apt-get download` gives the .deb: NAME_VERSION_ARCH.deb
// with the epoch's colon escaped as "%3a".
func (p *debPackage) FileName() string {
	return p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + p.Arch + ".deb"
}

// apt runs the apt tools (apt-cache and apt-get from $PATH) for one
// bootstrap.
type apt struct {
	debArch string // the Debian architecture asked for (amd64)
	logger  *slog.Logger
	updated bool // apt-get update has run in this bootstrap
}

// run runs an apt tool and returns its standard output.
func (a *apt) run(ctx context.Context, dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	a.logger.Debug("running", "cmd", name+" "+strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(abbrev(args, 8), " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// abbrev shortens a long argument list for messages.
func abbrev(args []string, n int) []string {
	if len(args) <= n {
		return args
	}
	out := append([]string(nil), args[:n]...)
	return append(out, fmt.Sprintf("… (%d more)", len(args)-n))
}

// available reads the candidate record of every package apt knows
// (`apt-cache dumpavail`, in one call: apt-cache spends a second or more
// loading its lists on every call, so the closure is computed from this in
// memory). It returns the raw records by package name; records for other
// architectures than debArch and "all" are left out.
func (a *apt) available(ctx context.Context) (map[string][]byte, error) {
	stdout, err := a.run(ctx, "", "apt-cache", "dumpavail")
	if err != nil {
		return nil, err
	}
	return parseAvailable(stdout, a.debArch), nil
}

// parseAvailable splits apt-cache dumpavail output into records by
// package name, keeping those of architecture debArch or "all".
func parseAvailable(b []byte, debArch string) map[string][]byte {
	out := map[string][]byte{}
	for _, para := range splitParagraphs(b) {
		if arch := string(fieldValue(para, "Architecture")); arch != debArch && arch != "all" {
			continue
		}
		if name := fieldValue(para, "Package"); len(name) > 0 {
			out[string(name)] = para
		}
	}
	return out
}

// fieldValue returns a field of a deb822 paragraph, continuation lines
// joined with spaces, without parsing the rest; nil when absent.
func fieldValue(para []byte, name string) []byte {
	var val []byte
	found := false
	for len(para) > 0 {
		line := para
		if i := bytes.IndexByte(para, '\n'); i >= 0 {
			line, para = para[:i], para[i+1:]
		} else {
			para = nil
		}
		if found {
			if len(line) == 0 || (line[0] != ' ' && line[0] != '\t') {
				break
			}
			val = append(append(val, ' '), bytes.TrimSpace(line)...)
			continue
		}
		if len(line) > len(name) && line[len(name)] == ':' && string(line[:len(name)]) == name {
			val = append([]byte(nil), bytes.TrimSpace(line[len(name)+1:])...)
			found = true
		}
	}
	return val
}

// record turns an apt-cache record into a debPackage, mapping its
// relationship fields as debimport maps them into the .apk, so that the
// closure follows exactly the dependencies the stage-0 index will hold.
func (a *apt) record(p *debimport.Paragraph) (*debPackage, error) {
	rec := &debPackage{
		Name:    p.Get("Package"),
		Version: p.Get("Version"),
		Arch:    p.Get("Architecture"),
		SHA256:  strings.ToLower(p.Get("SHA256")),
	}
	if s := p.Get("Size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("apt record of %s: Size %q: %v", rec.Name, s, err)
		}
		rec.Size = n
	}
	arch := rec.Arch
	if arch == "all" {
		arch = a.debArch
	}
	for _, field := range []string{"Pre-Depends", "Depends"} {
		v := p.Get(field)
		if v == "" {
			continue
		}
		deps, _, err := debimport.MapDepends(v, arch)
		if err != nil {
			return nil, fmt.Errorf("apt record of %s: %s: %w", rec.Name, field, err)
		}
		rec.Depends = append(rec.Depends, deps...)
	}
	if v := p.Get("Provides"); v != "" {
		prov, _, err := debimport.MapProvides(v)
		if err != nil {
			return nil, fmt.Errorf("apt record of %s: Provides: %w", rec.Name, err)
		}
		rec.Provides = prov
	}
	return rec, nil
}

// splitParagraphs splits deb822 text into paragraphs.
func splitParagraphs(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		para := b
		if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
			para, b = b[:i+1], b[i+2:]
		} else {
			b = nil
		}
		if len(bytes.TrimSpace(para)) > 0 {
			out = append(out, para)
		}
	}
	return out
}

// errNoLists is returned when apt knows none of the root packages, which
// means its package lists are missing.
var errNoLists = errors.New("apt knows none of the root packages: its package lists are missing or empty; run `apt-get update` (as root) first")

// closure computes the Debian dependency closure of roots over avail:
// every package reachable through Pre-Depends and Depends, taking of each
// "a | b" the first alternative (as debimport does when it writes the apk
// dependency) and, for a virtual name, a provider already in the set or
// else the first real provider by name. Recommends, Suggests and the like
// are not followed. Every versioned dependency is then checked against the
// chosen candidate with apk's version rules, since that is how the stage-0
// index will be resolved; mismatches are returned as warnings.
func (a *apt) closure(avail map[string][]byte, roots []string) ([]*debPackage, []string, error) {
	set := map[string]*debPackage{} // by Debian name
	var providers map[string][]string

	type want struct{ name, by string }
	var queue []want
	for _, r := range roots {
		queue = append(queue, want{r, "root"})
	}
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		if _, ok := set[w.name]; ok {
			continue
		}
		raw, ok := avail[w.name]
		if !ok {
			// Not a real package: a virtual name. Prefer a provider that
			// is in the set already, else the first by name.
			if providers == nil {
				providers = providerMap(avail)
			}
			provs := providers[w.name]
			if len(provs) == 0 {
				if w.by == "root" {
					return nil, nil, fmt.Errorf("package %q: apt knows no such package (not in its package lists, nor provided by any package)", w.name)
				}
				return nil, nil, fmt.Errorf("%s depends on %q, which no Debian package is or provides", w.by, w.name)
			}
			chosen := provs[0]
			for _, pv := range provs {
				if _, ok := set[pv]; ok {
					chosen = pv
					break
				}
			}
			a.logger.Debug("virtual package", "name", w.name, "provider", chosen, "candidates", provs)
			queue = append(queue, want{chosen, w.by})
			continue
		}
		p, err := debimport.ParseControl(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("apt-cache record of %s: %w", w.name, err)
		}
		rec, err := a.record(p)
		if err != nil {
			return nil, nil, err
		}
		rec.RequiredBy = w.by
		set[w.name] = rec
		for _, dep := range rec.Depends {
			d, err := version.ParseDep(dep)
			if err != nil {
				return nil, nil, fmt.Errorf("%s %s: dependency %q: %w", rec.Name, rec.Version, dep, err)
			}
			queue = append(queue, want{d.Name, rec.Name})
		}
	}

	// Check the versioned dependencies as apk will see them.
	pkgs := make([]*debPackage, 0, len(set))
	for _, n := range sortedKeys(set) {
		pkgs = append(pkgs, set[n])
	}
	var warnings []string
	for _, p := range pkgs {
		for _, dep := range p.Depends {
			d, _ := version.ParseDep(dep)
			target, ok := set[d.Name]
			if !ok || d.Version == "" {
				continue // unversioned, or a virtual name
			}
			v, err := debimport.MapVersion(target.Version)
			if err != nil {
				return nil, nil, fmt.Errorf("%s %s: %w", target.Name, target.Version, err)
			}
			if !d.MatchVersion(v) {
				warnings = append(warnings, fmt.Sprintf("%s depends on %s, but the stage-0 %s is %s (Debian %s)", p.Name, dep, target.Name, v, target.Version))
			}
		}
	}
	return pkgs, warnings, nil
}

// providerMap maps every name that some package Provides to the real
// packages providing it, sorted.
func providerMap(avail map[string][]byte) map[string][]string {
	m := map[string][]string{}
	for name, raw := range avail {
		v := fieldValue(raw, "Provides")
		if len(v) == 0 {
			continue
		}
		prov, _, err := debimport.MapProvides(string(v))
		if err != nil {
			continue
		}
		for _, pv := range prov {
			if d, err := version.ParseDep(pv); err == nil {
				m[d.Name] = append(m[d.Name], name)
			}
		}
	}
	for k := range m {
		sort.Strings(m[k])
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fetch makes sure every package of pkgs is in cacheDir as the .deb the
// archive index describes (checked by SHA-256), downloading the missing
// ones with one `apt-get download`. It returns their paths in the order of
// pkgs. Offline, a missing package is an error.
func (a *apt) fetch(ctx context.Context, cacheDir string, pkgs []*debPackage, offline bool) ([]string, int, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, 0, err
	}
	paths := make([]string, len(pkgs))
	var missing []*debPackage
	for i, p := range pkgs {
		paths[i] = filepath.Join(cacheDir, p.FileName())
		ok, err := checkDeb(paths[i], p)
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return paths, 0, nil
	}
	if offline {
		var names []string
		for _, p := range missing {
			names = append(names, p.FileName())
		}
		return nil, 0, fmt.Errorf("offline: %d packages are not in the cache %s: %s", len(missing), cacheDir, strings.Join(abbrev(names, 10), ", "))
	}
	// Download into a private directory, check, then move into the cache,
	// so that an interrupted download never leaves a bad .deb behind.
	tmp, err := os.MkdirTemp(cacheDir, ".download-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(tmp)
	// apt drops privileges to _apt for downloads; let it write here.
	_ = os.Chmod(tmp, 0o777)
	args := []string{"download", "-q", "-o", "Acquire::Retries=3"}
	for _, p := range missing {
		args = append(args, p.Name+":"+p.Arch+"="+p.Version)
	}
	var bytes int64
	for _, p := range missing {
		bytes += p.Size
	}
	a.logger.Info("downloading Debian packages", "count", len(missing), "bytes", bytes, "into", cacheDir)
	if _, err := a.run(ctx, tmp, "apt-get", args...); err != nil {
		return nil, 0, fmt.Errorf("downloading %d packages: %w", len(missing), err)
	}
	for _, p := range missing {
		src := filepath.Join(tmp, p.FileName())
		ok, err := checkDeb(src, p)
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			return nil, 0, fmt.Errorf("apt-get download %s=%s: %s is missing or does not match the archive's SHA-256 %s", p.Name, p.Version, p.FileName(), p.SHA256)
		}
		if err := os.Chmod(src, 0o644); err != nil {
			return nil, 0, err
		}
		if err := os.Rename(src, filepath.Join(cacheDir, p.FileName())); err != nil {
			return nil, 0, err
		}
	}
	return paths, len(missing), nil
}

// checkDeb reports whether path holds p's .deb: its size and SHA-256 are
// those of the archive index. A missing file is not an error.
func checkDeb(path string, p *debPackage) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if p.Size > 0 && st.Size() != p.Size {
		return false, nil
	}
	if p.SHA256 == "" {
		return true, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == p.SHA256, nil
}

// update runs `apt-get update` once, when the process may (it needs root).
// Its exit status is not decisive: a repository that cannot be reached
// fails it while the others were updated, so the caller just retries.
func (a *apt) update(ctx context.Context) bool {
	if a.updated || os.Geteuid() != 0 {
		return false
	}
	a.updated = true
	a.logger.Info("running apt-get update")
	if _, err := a.run(ctx, "", "apt-get", "update", "-q"); err != nil {
		a.logger.Warn("apt-get update reported errors", "err", err)
	}
	return true
}
