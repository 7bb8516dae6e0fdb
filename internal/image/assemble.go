package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/image/oci"
	"github.com/reef-dev/reef/internal/install"
	"github.com/reef-dev/reef/internal/repo"
)

// buildArch installs, assembles and layers the image of one architecture
// (or, warm, puts it together from the cache).
func (b *build) buildArch(ctx context.Context, arch string, pkgs []resolvedPkg, created time.Time) (*ArchImage, error) {
	log := b.log.With("arch", arch)
	key := b.imageKey(arch, pkgs, created)
	if facts := b.loadFacts(key); facts != nil {
		t := time.Now()
		ai, err := b.warmArch(arch, pkgs, created, facts)
		if err == nil {
			b.timings.since(PhaseLayers, t)
			log.Info("image built from the cache", "digest", ai.Digest.String(), "packages", len(pkgs), "layers", len(ai.Layers), "size", ai.UncompressedSize)
			return ai, nil
		}
		if !errors.Is(err, errCacheMiss) {
			return nil, err
		}
		log.Debug("image cache miss", "err", err)
	}

	// Download the remote packages in parallel before installing them
	// one after the other.
	t := time.Now()
	if err := b.src.fetchRemote(ctx, pkgs); err != nil {
		return nil, err
	}
	b.timings.since(PhaseFetch, t)

	t = time.Now()
	mem := install.NewMemFS()
	rt := newRoot(mem, created)
	if err := rt.initBase(); err != nil {
		return nil, err
	}
	world := make([]string, 0, len(pkgs))
	ipkgs := make([]install.Package, 0, len(pkgs))
	for _, p := range pkgs {
		// Every installed package, pinned, as apko writes the world; a
		// package from a tagged repository keeps its tag, so that apk in
		// the image may still take it from there.
		w := p.pkg.Name
		if p.tag != "" {
			w += "@" + p.tag
		}
		world = append(world, w+"="+p.pkg.Version)
		ipkgs = append(ipkgs, install.Package{
			Index:   p.pkg,
			RepoTag: p.tag,
			Source:  p.loc,
			Open: func() (io.ReadCloser, error) {
				return b.src.openPackage(ctx, &p)
			},
		})
	}
	in := &install.Installer{FS: mem, Arch: arch, Layout: install.LayoutApko, ModTime: created, Limits: b.opts.Limits, Logger: slog.New(quiet{log.Handler()})}
	ires, err := in.Install(ctx, ipkgs, install.Options{World: world, Repositories: b.runtimeRepos, Keys: b.keys})
	if err != nil {
		return nil, err
	}
	for _, w := range ires.Warnings {
		log.Debug(w)
	}
	b.timings.since(PhaseInstall, t)
	// Collect the installer's garbage (package readers, tar headers,
	// buffers: tens of megabytes) now, so that compression's buffers
	// reuse that memory instead of touching fresh pages, each a page
	// fault that costs more here than the collection (bench/image.sh:
	// about 20 ms less for a 100 MB image).
	runtime.GC()

	t = time.Now()
	if err := b.assemble(rt, arch, pkgs); err != nil {
		return nil, err
	}
	names, err := rt.idNames()
	if err != nil {
		return nil, err
	}
	user, err := b.cfg.resolveRunAs(names)
	if err != nil {
		return nil, err
	}
	var sb *sbomInput
	if !b.opts.NoSBOM {
		if sb, err = b.sbomInputs(rt, arch, pkgs); err != nil {
			return nil, err
		}
	}
	b.timings.since(PhaseAssemble, t)

	t = time.Now()
	specs, err := rt.planLayers(b.cfg.Layering, ires.Installed)
	if err != nil {
		return nil, err
	}
	assigned := map[string]bool{}
	for _, s := range specs {
		for f := range s.files {
			assigned[f] = true
		}
	}
	facts := &imageFacts{User: user, InstalledSize: mem.Size()}
	if sb != nil {
		facts.OS, facts.Embedded = sb.os, sb.raw
	}
	layers := make([]*oci.Layer, len(specs))
	g, _ := errgroup.WithContext(ctx)
	for i, s := range specs {
		lkey := ""
		if key != "" {
			lkey = fmt.Sprintf("%s/layer/%d", key, i)
		}
		facts.Layers = append(facts.Layers, factLayer{Name: s.Name, Key: lkey})
		g.Go(func() error {
			l, err := oci.NewLayer(func(w io.Writer) error {
				return rt.writeLayer(w, s, assigned, names)
			}, oci.LayerOptions{Cache: b.cache, CacheKey: lkey})
			if err != nil {
				return fmt.Errorf("layer %q: %w", s.Name, err)
			}
			layers[i] = l
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ai, err := b.finishArch(arch, pkgs, created, layers, facts)
	if err != nil {
		return nil, err
	}
	ai.sbomIn = sb
	b.timings.since(PhaseLayers, t)
	b.saveFacts(key, facts)
	log.Info("image built", "digest", ai.Digest.String(), "packages", len(pkgs), "layers", len(layers), "size", ai.UncompressedSize)
	return ai, nil
}

// warmArch puts an image together from cached facts and layers; it
// returns an error wrapping errCacheMiss when a layer is missing.
func (b *build) warmArch(arch string, pkgs []resolvedPkg, created time.Time, facts *imageFacts) (*ArchImage, error) {
	layers := make([]*oci.Layer, len(facts.Layers))
	for i, fl := range facts.Layers {
		l, err := oci.NewLayer(func(io.Writer) error { return errCacheMiss }, oci.LayerOptions{Cache: b.cache, CacheKey: fl.Key})
		if err != nil {
			for _, l := range layers[:i] {
				l.Close()
			}
			if errors.Is(err, errCacheMiss) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errCacheMiss, err)
		}
		layers[i] = l
	}
	ai, err := b.finishArch(arch, pkgs, created, layers, facts)
	if err != nil {
		return nil, err
	}
	if !b.opts.NoSBOM {
		if ai.sbomIn, err = sbomInputFromFacts(facts); err != nil {
			return nil, fmt.Errorf("%w: %v", errCacheMiss, err)
		}
	}
	return ai, nil
}

// finishArch makes the image of an architecture from its layers.
func (b *build) finishArch(arch string, pkgs []resolvedPkg, created time.Time, layers []*oci.Layer, facts *imageFacts) (*ArchImage, error) {
	names := make([]string, len(facts.Layers))
	for i, l := range facts.Layers {
		names[i] = l.Name
	}
	cfg, err := b.imageConfig(facts.User, created, names)
	if err != nil {
		return nil, err
	}
	platform, err := oci.OCIPlatform(arch)
	if err != nil {
		return nil, err
	}
	vl := make([]v1.Layer, len(layers))
	var usize int64
	for i, l := range layers {
		vl[i] = l
		usize += l.UncompressedSize()
	}
	img, err := oci.NewImage(vl, cfg, platform, b.annotations(created))
	if err != nil {
		return nil, err
	}
	dig, err := img.Digest()
	if err != nil {
		return nil, err
	}
	recs := make([]*repo.Package, len(pkgs))
	for i, p := range pkgs {
		recs[i] = p.pkg
	}
	return &ArchImage{Arch: arch, Image: img, Digest: dig, Packages: recs, Layers: layers, UncompressedSize: usize, InstalledSize: facts.InstalledSize}, nil
}

// initBase creates what apko's InitDB creates besides the apk database:
// the base directories and the character devices of /dev.
func (r *root) initBase() error {
	dirs := []struct {
		name string
		mode uint32
	}{
		{"dev", 0o755}, {"etc", 0o755}, {"etc/apk", 0o755}, {"etc/apk/keys", 0o755},
		{"proc", 0o555}, {"tmp", 0o1777}, {"var", 0o755}, {"var/cache", 0o755},
		{"var/cache/apk", 0o755}, {"var/cache/misc", 0o755},
	}
	for _, d := range dirs {
		if err := r.fs.Create(&install.Entry{Name: d.name, Type: install.TypeDir, Mode: d.mode, ModTime: r.mtime}, nil); err != nil {
			return err
		}
	}
	devs := []struct {
		name         string
		mode         uint32
		major, minor int64
	}{
		{"dev/console", 0o600, 5, 1}, {"dev/null", 0o666, 1, 3}, {"dev/random", 0o666, 1, 8},
		{"dev/urandom", 0o666, 1, 9}, {"dev/zero", 0o666, 1, 5},
	}
	for _, d := range devs {
		if err := r.fs.Create(&install.Entry{Name: d.name, Type: install.TypeChar, Mode: d.mode, Devmajor: d.major, Devminor: d.minor, ModTime: r.mtime}, nil); err != nil {
			return err
		}
	}
	return nil
}

// assemble applies everything after the packages, in apko's order:
// accounts, the locked configuration, path mutations, the runtime
// keyring, and ld.so.cache.
func (b *build) assemble(r *root, arch string, pkgs []resolvedPkg) error {
	if err := r.applyAccounts(b.cfg.Accounts); err != nil {
		return err
	}
	locked, err := b.lockedConfigJSON(arch, pkgs)
	if err != nil {
		return err
	}
	if err := r.writeFile("/etc/apko.json", locked, 0o444, 0, 0, false); err != nil {
		return fmt.Errorf("/etc/apko.json: %w", err)
	}
	if err := r.applyPaths(b.cfg); err != nil {
		return err
	}
	for _, k := range b.cfg.Contents.RuntimeKeyring {
		p := "/etc/apk/keys/" + k.Name
		if e, err := r.lstat(p); err != nil {
			return err
		} else if e != nil {
			return b.cfg.errorf("contents.runtime_keyring", "key %q collides with %s from a package", k.Name, p)
		}
		if err := r.writeFile(p, []byte(k.Content), 0o644, 0, 0, false); err != nil {
			return err
		}
	}
	if err := r.linkBusybox(); err != nil {
		return fmt.Errorf("busybox links: %w", err)
	}
	return r.writeLDSOCache()
}

// lockedConfigJSON is the configuration as built for one architecture, as
// apko records it in /etc/apko.json: the packages pinned to every
// installed name=version, archs the one architecture, repository URLs
// without credentials.
func (b *build) lockedConfigJSON(arch string, pkgs []resolvedPkg) ([]byte, error) {
	c := *b.cfg
	c.Contents.Packages = make([]string, len(pkgs))
	for i, p := range pkgs {
		c.Contents.Packages[i] = p.pkg.Name + "=" + p.pkg.Version
	}
	slices.Sort(c.Contents.Packages)
	c.Archs = []string{arch}
	c.Include = ""
	c.Contents.Repositories = redactAll(append(slices.Clone(c.Contents.Repositories), b.opts.ExtraRepositories...))
	c.Contents.BuildRepositories = redactAll(append(slices.Clone(c.Contents.BuildRepositories), b.opts.ExtraBuildRepositories...))
	c.Contents.RuntimeRepositories = redactAll(c.Contents.RuntimeRepositories)
	c.Contents.Keyring = redactAll(append(slices.Clone(c.Contents.Keyring), b.opts.ExtraKeyring...))
	c.Annotations = maps.Clone(c.Annotations)
	if len(b.opts.Annotations) > 0 {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		maps.Copy(c.Annotations, b.opts.Annotations)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// redact removes user information from a URL.
func redact(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	host := rest
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		host = rest[:j]
	}
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		return s[:i+3] + rest[at+1:]
	}
	return s
}

func redactAll(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = redact(s)
	}
	return out
}

// imageConfig is the OCI configuration of the image file.
func (b *build) imageConfig(user string, created time.Time, layerNames []string) (oci.ImageConfig, error) {
	c := b.cfg
	var ic oci.ImageConfig
	switch {
	case c.Entrypoint.ShellFragment != "":
		ic.Entrypoint = []string{"/bin/sh", "-c", c.Entrypoint.ShellFragment}
	case c.Entrypoint.Command != "":
		ep, err := shellSplit(c.Entrypoint.Command)
		if err != nil {
			return ic, c.errorf("entrypoint.command", "%v", err)
		}
		ic.Entrypoint = ep
	}
	if c.Cmd != "" {
		cmd, err := shellSplit(c.Cmd)
		if err != nil {
			return ic, c.errorf("cmd", "%v", err)
		}
		ic.Cmd = cmd
	}
	env := maps.Clone(c.Environment)
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin"
	}
	if _, ok := env["SSL_CERT_FILE"]; !ok {
		env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		ic.Env = append(ic.Env, k+"="+env[k])
	}
	ic.User = user
	ic.WorkingDir = c.WorkDir
	ic.StopSignal = c.StopSignal
	ic.Volumes = slices.Clone(c.Volumes)
	ic.Labels = b.annotations(created)
	ic.Created = created
	ic.Author = Author
	for _, n := range layerNames {
		ic.History = append(ic.History, oci.History{Created: created, Author: Author, CreatedBy: "reef", Comment: n})
	}
	return ic, nil
}

// quiet passes on a handler's records one level lower (Info becomes
// Debug): per-package progress of the installer is detail in an image
// build.
type quiet struct{ h slog.Handler }

func demote(l slog.Level) slog.Level {
	if l <= slog.LevelInfo {
		return l - 4
	}
	return l
}

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool { return q.h.Enabled(ctx, demote(l)) }
func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return q.h.Handle(ctx, r)
}
func (q quiet) WithAttrs(a []slog.Attr) slog.Handler { return quiet{q.h.WithAttrs(a)} }
func (q quiet) WithGroup(n string) slog.Handler      { return quiet{q.h.WithGroup(n)} }
