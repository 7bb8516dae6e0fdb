package image

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/repo"
)

// ResolvedPackage is one package of a resolved image.
type ResolvedPackage struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Arch       string   `json:"arch"`
	Origin     string   `json:"origin,omitempty"`
	Checksum   string   `json:"checksum"`
	Repository string   `json:"repository,omitempty"`
	URL        string   `json:"url"`
	Reasons    []string `json:"reasons,omitempty"`
	// Source is the origin (source package) name, for apko's
	// show-packages templates.
	Source string `json:"-"`
}

// Resolution is what an image file resolves to, per architecture.
type Resolution struct {
	Archs    []string                     `json:"archs"`
	Packages map[string][]ResolvedPackage `json:"packages"` // by arch, install order

	b     *build
	plans map[string][]resolvedPkg
}

// Resolve resolves the image file's packages for its architectures
// (or installs nothing but reads the lock, with Options.Lock), without
// building anything.
func Resolve(ctx context.Context, cfg *Config, opts Options) (*Resolution, error) {
	b, err := newBuild(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	plans, err := b.plan(ctx)
	if err != nil {
		return nil, err
	}
	r := &Resolution{Archs: b.archs, Packages: map[string][]ResolvedPackage{}, b: b, plans: plans}
	for _, arch := range b.archs {
		for _, p := range plans[arch] {
			r.Packages[arch] = append(r.Packages[arch], ResolvedPackage{
				Name: p.pkg.Name, Version: p.pkg.Version, Arch: arch, Origin: p.pkg.Origin,
				Checksum: p.pkg.Checksum, Repository: p.repo.String(), URL: p.loc, Reasons: p.reasons,
				Source: p.pkg.Origin,
			})
		}
	}
	return r, nil
}

// Warnings returns the warnings met while resolving.
func (r *Resolution) Warnings() []string { return r.b.warnings }

// showFormats are apko's show-packages presets.
var showFormats = map[string]string{
	"name-version":          "{{.Name}}-{{.Version}}",
	"name=version":          "{{.Name}}={{.Version}}",
	"name-(version)":        "{{.Name}} ({{.Version}})",
	"packagelock":           "{{.Name}}-{{.Version}}.apk",
	"name-version-source":   "{{.Name}}-{{.Version}} {{.Source}}",
	"name=version-source":   "{{.Name}}={{.Version}} {{.Source}}",
	"name-(version)-source": "{{.Name}} ({{.Version}}) {{.Source}}",
	"packagelock-source":    "{{.Name}}-{{.Version}}.apk {{.Source}}",
}

// Show writes the packages of each architecture, one per line, formatted
// by a preset (name-version, name=version, name-(version), packagelock,
// each also with -source) or a Go template over .Name .Version .Arch
// .Origin .Source .URL .Checksum. With several architectures each list is
// headed by "# ARCH".
func (r *Resolution) Show(w io.Writer, format string) error {
	if format == "" {
		format = "name-version"
	}
	text, ok := showFormats[format]
	if !ok {
		text = format
	}
	t, err := template.New("format").Option("missingkey=error").Parse(text)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	for _, arch := range r.Archs {
		if len(r.Archs) > 1 {
			fmt.Fprintf(w, "# %s\n", arch)
		}
		for _, p := range r.Packages[arch] {
			if p.Source == "" {
				p.Source = p.Name
			}
			if err := t.Execute(w, p); err != nil {
				return fmt.Errorf("--format: %w", err)
			}
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	return nil
}

// Lock makes the lock file of the resolution. lockDir is the directory
// the lock will be written to: local package paths are recorded
// relative to it.
func (r *Resolution) Lock(ctx context.Context, lockDir string) (*Lock, error) {
	b := r.b
	l := &Lock{Version: LockVersion, Contents: LockContents{
		Keyring: []LockKeyring{}, BuildRepositories: []LockRepository{}, RuntimeRepositories: []LockRepository{},
		Repositories: []LockRepository{}, Packages: []LockPackage{},
	}}
	if b.cfg.file != "" {
		l.Config = &LockConfig{Name: filepath.Base(b.cfg.file), Checksum: b.cfg.Checksum()}
	}
	rel := func(loc string) string {
		if isURL(loc) || lockDir == "" {
			return loc
		}
		abs, err1 := filepath.Abs(loc)
		dir, err2 := filepath.Abs(lockDir)
		if err1 != nil || err2 != nil {
			return loc
		}
		if p, err := filepath.Rel(dir, abs); err == nil {
			return filepath.ToSlash(p)
		}
		return abs
	}
	for i, k := range b.cfg.Contents.Keyring {
		l.Contents.Keyring = append(l.Contents.Keyring, b.lockKey(k, rel(resolveLocal(k, dirAt(b.cfg.dirs.keyring, i)))))
	}
	for _, k := range b.opts.ExtraKeyring {
		l.Contents.Keyring = append(l.Contents.Keyring, b.lockKey(k, rel(k)))
	}
	slices.SortFunc(l.Contents.Keyring, func(a, b LockKeyring) int { return strings.Compare(a.Name, b.Name) })

	// Build-only repositories, located as the build located them.
	buildOnly := map[string]bool{}
	for i, s := range append(slices.Clone(b.cfg.Contents.BuildRepositories), b.opts.ExtraBuildRepositories...) {
		_, loc := splitRepoTag(s)
		dir := "."
		if i < len(b.cfg.Contents.BuildRepositories) {
			dir = dirAt(b.cfg.dirs.buildRepositories, i)
		}
		if r, ok, err := repo.ParseRepositoryLine(resolveLocal(loc, dir)); err == nil && ok {
			buildOnly[r.URL] = true
		}
	}
	for _, arch := range r.Archs {
		for _, br := range b.buildRepos {
			lr := LockRepository{Name: rel(br.URL) + "/" + arch, URL: rel(br.IndexURL(arch)), Architecture: arch}
			if buildOnly[br.URL] {
				l.Contents.BuildRepositories = append(l.Contents.BuildRepositories, lr)
			} else {
				l.Contents.Repositories = append(l.Contents.Repositories, lr)
			}
		}
		for _, rr := range b.cfg.Contents.RuntimeRepositories {
			_, loc := splitRepoTag(rr)
			loc = strings.TrimRight(loc, "/")
			l.Contents.RuntimeRepositories = append(l.Contents.RuntimeRepositories, LockRepository{Name: loc + "/" + arch, URL: loc + "/" + arch + "/APKINDEX.tar.gz", Architecture: arch})
		}
	}

	type job struct {
		arch string
		p    resolvedPkg
	}
	var jobs []job
	for _, arch := range r.Archs {
		for _, p := range r.plans[arch] {
			jobs = append(jobs, job{arch, p})
		}
	}
	pkgs := make([]LockPackage, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, j := range jobs {
		g.Go(func() error {
			lp, err := b.lockPackage(gctx, j.arch, j.p)
			if err != nil {
				return err
			}
			lp.URL = rel(j.p.loc)
			pkgs[i] = *lp
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	l.Contents.Packages = pkgs
	return l, nil
}

// lockKey is the lock entry of a keyring entry (written as in the image
// file, at loc): named by its location without scheme, with the content
// that was trusted.
func (b *build) lockKey(written, loc string) LockKeyring {
	name := loc
	if i := strings.Index(name, "://"); i >= 0 {
		name = name[i+3:]
	}
	var content string
	for _, k := range b.keys {
		if k.Name == keyName(written) {
			content = string(k.Data)
		}
	}
	return LockKeyring{Name: name, URL: loc, Content: content}
}

// lockPackage reads the package's signature and control members to
// record where its three members are and their checksums.
func (b *build) lockPackage(ctx context.Context, arch string, p resolvedPkg) (*LockPackage, error) {
	f, err := b.src.openPackage(ctx, &p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.pkg, err)
	}
	defer f.Close()
	cr := &countingReader{r: f}
	ar, err := apk.NewReader(cr, b.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.loc, err)
	}
	if id := ar.Identity(); id != p.pkg.Checksum {
		return nil, fmt.Errorf("%s: identity %s, index says %s", p.loc, id, p.pkg.Checksum)
	}
	sigSize := ar.SignatureMemberSize()
	ctlSize := int64(len(ar.ControlMember()))
	// The signature member's checksum needs its bytes, which the reader
	// consumed: hash them from a second open (cheap: a few hundred bytes).
	sigSum := ""
	if sigSize > 0 {
		f2, err := b.src.openPackage(ctx, &p)
		if err != nil {
			return nil, err
		}
		h2 := sha1.New()
		_, err = io.CopyN(h2, f2, sigSize)
		f2.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.loc, err)
		}
		sigSum = "sha1-" + base64.StdEncoding.EncodeToString(h2.Sum(nil))
	}
	ctlSum := "sha1-" + strings.TrimPrefix(p.pkg.Checksum, "Q1")
	dh, err := hex.DecodeString(ar.Info().DataHash)
	if err != nil || len(dh) != 32 {
		return nil, fmt.Errorf("%s: no valid datahash in .PKGINFO", p.loc)
	}
	size := int64(p.pkg.Size)
	if size == 0 {
		// Not in the index: read to the end to learn it.
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return nil, fmt.Errorf("%s: %w", p.loc, err)
		}
		size = cr.n
	}
	dataStart := sigSize + ctlSize
	lp := &LockPackage{
		Name: p.pkg.Name, Version: p.pkg.Version, Architecture: arch,
		Signature: LockRange{Range: fmt.Sprintf("bytes=0-%d", max(sigSize-1, 0)), Checksum: sigSum},
		Control:   LockRange{Range: fmt.Sprintf("bytes=%d-%d", sigSize, dataStart-1), Checksum: ctlSum},
		Data:      LockRange{Range: fmt.Sprintf("bytes=%d-%d", dataStart, size-1), Checksum: "sha256-" + base64.StdEncoding.EncodeToString(dh)},
		Checksum:  p.pkg.Checksum,
	}
	if sigSize == 0 {
		lp.Signature = LockRange{}
	}
	return lp, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Close releases what resolving made (a temporary package cache).
func (r *Resolution) Close() error {
	r.b.close()
	return nil
}
