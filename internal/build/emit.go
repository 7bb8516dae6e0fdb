package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/sbom"
	"github.com/reef-dev/reef/internal/sca"
	"github.com/reef-dev/reef/internal/version"
)

// emitted is a package written to the staging directory.
type emitted struct {
	BuiltPackage
	file string // file name in the repository directory
}

// emitAll writes every package into a staging directory next to the
// repository directory, then publishes them all at once.
func (r *runner) emitAll(ctx context.Context) (*Result, error) {
	arch := r.b.Arch
	dir := filepath.Join(r.opts.OutDir, arch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	stage, err := os.MkdirTemp(dir, ".reef-build-")
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	defer os.RemoveAll(stage)

	embedded, err := r.embeddedConfig()
	if err != nil {
		return nil, err
	}
	buildFile := detectBuildFileSource(ctx, r.b.File)
	owners, err := readOwners(r.guest.Dir)
	if err != nil {
		return nil, err
	}
	outRoot := strings.TrimPrefix(OutDir, WorkDir+"/")
	if err := r.realDir(outRoot); err != nil {
		return nil, err
	}
	var hostDirs []string
	for _, o := range r.b.Packages {
		rel := outRoot + "/" + o.Name
		if err := r.realDir(rel); err != nil {
			return nil, err
		}
		hostDirs = append(hostDirs, filepath.Join(r.ws, filepath.FromSlash(rel)))
	}
	var out []emitted
	for i, o := range r.b.Packages {
		siblings := slices.Concat(hostDirs[:i], hostDirs[i+1:])
		e, err := r.emit(ctx, o, hostDirs[i], siblings, stage, embedded, buildFile, owners)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", o.Name, err)
		}
		out = append(out, *e)
	}
	return r.publish(ctx, stage, dir, out)
}

// realDir checks that rel, in the workspace, is a directory and not a
// symlink a step left there.
func (r *runner) realDir(rel string) error {
	fi, err := r.wsRoot.Lstat(rel)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", WorkDir, rel, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s/%s is not a directory (%v): a step replaced it", WorkDir, rel, fi.Mode().Type())
	}
	return nil
}

// emit writes one package into stage.
func (r *runner) emit(ctx context.Context, o *Output, hostDir string, siblings []string, stage string, embedded []byte, buildFile *sbom.Source, owners *owners) (*emitted, error) {
	opts := o.Options
	if opts == nil {
		opts = &config.PackageOptions{}
	}
	scan, err := sca.Scan(ctx, hostDir, sca.Options{
		Name:       o.Name,
		Version:    o.Version,
		NoProvides: opts.NoProvides,
		NoDepends:  opts.NoDepends,
		NoCommands: opts.NoCommands,
		Siblings:   siblings,
		Declared:   o.Dependencies.Runtime,
	})
	if err != nil {
		return nil, fmt.Errorf("dependency scan: %w", err)
	}
	for _, n := range scan.Notes {
		r.log.Debug("sca", "package", o.Name, "note", n)
	}
	provides := sortedSet(o.Dependencies.Provides, scan.Provides)
	depends := sortedSet(o.Dependencies.Runtime, scan.Depends)
	depends = sca.RemoveSatisfied(depends, provides, scan.Vendored)
	depends = slices.DeleteFunc(depends, func(d string) bool { return depName(d) == o.Name })

	info := &apk.PkgInfo{
		Name:        o.Name,
		Version:     o.Version,
		Description: oneLine(o.Description),
		URL:         o.URL,
		Arch:        r.b.Arch,
		Origin:      o.Origin,
		Commit:      o.Commit,
		BuildDate:   r.sde,
		License:     license(o.Copyright),
		Depends:     depends,
		Provides:    provides,
		Replaces:    sortedSet(o.Dependencies.Replaces),
	}
	if info.URL == "" {
		info.URL = r.b.Package.URL
	}
	if info.Commit == "" && buildFile != nil {
		info.Commit = buildFile.Commit
	}
	for _, v := range scan.Vendored {
		info.Comments = append(info.Comments, "vendored = "+v)
	}
	if p := o.Dependencies.ProviderPriority; p != "" {
		if info.ProviderPriority, err = strconv.ParseUint(strings.TrimSpace(p), 10, 64); err != nil {
			return nil, fmt.Errorf("provider-priority %q: %w", p, err)
		}
	}
	if p := o.Dependencies.ReplacesPriority; p != "" {
		if info.ReplacesPriority, err = strconv.ParseUint(strings.TrimSpace(p), 10, 64); err != nil {
			return nil, fmt.Errorf("replaces-priority %q: %w", p, err)
		}
	}
	scripts, triggers := scriptlets(o.Scriptlets)
	info.Triggers = triggers

	// The SBOM goes into the package, as melange puts it.
	doc, err := r.packageSBOM(o, info, buildFile)
	if err != nil {
		return nil, err
	}
	sbomRel := path.Join(strings.TrimPrefix(o.Dir, WorkDir+"/"), sbom.PackageSBOMPath(o.Name, o.Version))
	if err := r.wsRoot.MkdirAll(path.Dir(sbomRel), 0o755); err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	if err := r.wsRoot.WriteFile(sbomRel, doc, 0o644); err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	caps, err := setcapXattrs(o.SetCap)
	if err != nil {
		return nil, err
	}

	name := o.Name + "-" + o.Version + ".apk"
	f, err := os.OpenFile(filepath.Join(stage, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pkgRoot, err := r.wsRoot.OpenRoot(strings.TrimPrefix(o.Dir, WorkDir+"/"))
	if err != nil {
		return nil, err
	}
	defer pkgRoot.Close()
	w := &treeWriter{root: pkgRoot, owners: owners, keepOwners: os.Geteuid() == 0, caps: caps}
	res, err := apk.WritePackage(f, info, scripts, []apk.ControlFile{{Name: ".melange.yaml", Mode: 0o644, Body: embedded}},
		w.fill, apk.WriteOptions{SourceDateEpoch: r.sde, Signer: r.opts.Signer, TempDir: r.opts.TempDir})
	if err != nil {
		return nil, err
	}
	if len(w.caps) > 0 {
		var missing []string
		for p := range w.caps {
			missing = append(missing, "/"+p)
		}
		slices.Sort(missing)
		return nil, fmt.Errorf("setcap: %s not in the package (or not a regular file)", strings.Join(missing, ", "))
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	r.log.Info("package written", "name", o.Name, "version", o.Version, "bytes", res.Size, "files", res.Entries, "depends", len(depends), "provides", len(provides))
	return &emitted{
		BuiltPackage: BuiltPackage{Name: o.Name, Version: o.Version, Identity: res.Identity, Size: res.Size, Depends: depends, Provides: provides},
		file:         name,
	}, nil
}

// sortedSet merges lists into a sorted list without duplicates or empty
// entries.
func sortedSet(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// depName is the name a dependency string is about.
func depName(d string) string {
	if dep, err := version.ParseDep(d); err == nil && !dep.Conflict {
		return dep.Name
	}
	return d
}

// oneLine joins a multi-line text into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// license is the package's license expression: the copyright entries'
// licenses joined with AND. (melange writes one license line per entry,
// of which apk keeps only the last.)
func license(c []config.Copyright) string {
	var ls []string
	for _, e := range c {
		if l := strings.TrimSpace(e.License); l != "" && !slices.Contains(ls, l) {
			if strings.ContainsAny(l, " ") && !strings.HasPrefix(l, "(") && len(c) > 1 {
				l = "(" + l + ")"
			}
			ls = append(ls, l)
		}
	}
	return strings.Join(ls, " AND ")
}

// scriptlets returns the install scripts and the trigger paths.
func scriptlets(s *config.Scriptlets) ([]apk.Script, []string) {
	if s == nil {
		return nil, nil
	}
	var out []apk.Script
	add := func(name, body string) {
		if body != "" {
			out = append(out, apk.Script{Name: name, Mode: 0o755, Body: []byte(body)})
		}
	}
	add(".pre-install", s.PreInstall)
	add(".post-install", s.PostInstall)
	add(".pre-deinstall", s.PreDeinstall)
	add(".post-deinstall", s.PostDeinstall)
	add(".pre-upgrade", s.PreUpgrade)
	add(".post-upgrade", s.PostUpgrade)
	var triggers []string
	if s.Trigger.Script != "" && len(s.Trigger.Paths) > 0 {
		add(".trigger", s.Trigger.Script)
		triggers = s.Trigger.Paths
	}
	return out, triggers
}

// packageSBOM returns the SPDX document of a package.
func (r *runner) packageSBOM(o *Output, info *apk.PkgInfo, buildFile *sbom.Source) ([]byte, error) {
	var attest []string
	for _, c := range o.Copyright {
		if a := strings.TrimSpace(c.Attestation); a != "" {
			attest = append(attest, a)
		}
	}
	var srcs []sbom.Source
	origin := r.b.Packages[0].Name
	for _, s := range r.sources[origin] {
		srcs = append(srcs, s.src)
	}
	if o.Name != origin {
		for _, s := range r.sources[o.Name] {
			srcs = append(srcs, s.src)
		}
	}
	doc, err := sbom.ForPackage(sbom.PackageInput{
		Package: sbom.Package{
			Name:        info.Name,
			Version:     info.Version,
			Arch:        info.Arch,
			Origin:      info.Origin,
			License:     info.License,
			Description: info.Description,
			URL:         info.URL,
			Copyright:   strings.Join(attest, "\n"),
		},
		Sources:   srcs,
		BuildFile: buildFile,
		Namespace: r.opts.Namespace,
		Created:   time.Unix(r.sde, 0).UTC(),
	})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := doc.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// detectBuildFileSource describes the build file as a source for the
// SBOM when it is in a git work tree whose origin remote is a URL others
// can fetch: its repository, HEAD commit and path. A remote that is a
// local path (a clone of a clone, as CI systems make) names nothing
// outside this machine and is left out.
func detectBuildFileSource(ctx context.Context, file string) *sbom.Source {
	if file == "" {
		return nil
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil
	}
	dir := filepath.Dir(abs)
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil
	}
	commit := git("rev-parse", "HEAD")
	url := git("config", "--get", "remote.origin.url")
	if commit == "" || !fetchableRemote(url) {
		return nil
	}
	prefix := git("rev-parse", "--show-prefix")
	return &sbom.Source{Repository: url, Commit: commit, Path: prefix + filepath.Base(abs)}
}

// fetchableRemote reports whether a git remote names a repository on
// another machine: a URL with a network scheme or scp-like "user@host:path".
func fetchableRemote(url string) bool {
	if scheme, _, ok := strings.Cut(url, "://"); ok {
		return scheme != "file" && scheme != ""
	}
	at, colon := strings.Index(url, "@"), strings.Index(url, ":")
	return at > 0 && colon > at && !strings.Contains(url[:colon], "/")
}

// owners maps uids and gids to the names of the guest's accounts.
type owners struct {
	users, groups map[int]string
	// buildUID and buildGID are the build account's ids, recorded as
	// root (as melange does).
	buildUID, buildGID int
}

// readOwners reads the guest's etc/passwd and etc/group.
func readOwners(guest string) (*owners, error) {
	o := &owners{users: map[int]string{}, groups: map[int]string{}, buildUID: -1, buildGID: -1}
	root, err := os.OpenRoot(guest)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for _, f := range []struct {
		name string
		m    map[int]string
		idx  int
	}{{"etc/passwd", o.users, 2}, {"etc/group", o.groups, 2}} {
		data, err := root.ReadFile(f.name)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Split(line, ":")
			if len(fields) <= f.idx {
				continue
			}
			id, err := strconv.Atoi(fields[f.idx])
			if err != nil {
				continue
			}
			if _, ok := f.m[id]; !ok {
				f.m[id] = fields[0]
			}
			if fields[0] == "build" {
				if f.name == "etc/passwd" {
					o.buildUID = id
				} else {
					o.buildGID = id
				}
			}
		}
	}
	return o, nil
}

// treeWriter adds a package's directory to its data member.
type treeWriter struct {
	root       *os.Root
	owners     *owners
	keepOwners bool
	// caps are the security.capability xattrs to set, by path; entries
	// are removed as they are used.
	caps   map[string]string
	inodes map[[2]uint64]string
}

func (t *treeWriter) fill(dw *apk.DataWriter) error {
	t.inodes = map[[2]uint64]string{}
	return t.walk(dw, ".")
}

// walk adds the entries of dir, sorted by name, depth first.
func (t *treeWriter) walk(dw *apk.DataWriter, dir string) error {
	d, err := t.root.Open(dir)
	if err != nil {
		return err
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range ents {
		name := e.Name()
		if dir != "." {
			name = dir + "/" + name
		}
		isDir, err := t.add(dw, name)
		if err != nil {
			return fmt.Errorf("/%s: %w", name, err)
		}
		if isDir {
			if err := t.walk(dw, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *treeWriter) add(dw *apk.DataWriter, name string) (bool, error) {
	fi, err := t.root.Lstat(name)
	if err != nil {
		return false, err
	}
	hdr := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm())}
	m := fi.Mode()
	if m&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	id := statOf(fi)
	if t.keepOwners {
		hdr.Uid, hdr.Gid = id.uid, id.gid
		if hdr.Uid == t.owners.buildUID {
			hdr.Uid = 0
		}
		if hdr.Gid == t.owners.buildGID {
			hdr.Gid = 0
		}
		if hdr.Uid != 0 {
			hdr.Uname = t.owners.users[hdr.Uid]
		}
		if hdr.Gid != 0 {
			hdr.Gname = t.owners.groups[hdr.Gid]
		}
	}
	var body *os.File
	switch {
	case m.IsDir():
		hdr.Typeflag = tar.TypeDir
	case m.IsRegular():
		if id.nlink > 1 {
			key := [2]uint64{id.dev, id.ino}
			if first, ok := t.inodes[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				break
			}
			t.inodes[key] = name
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
		if body, err = t.root.Open(name); err != nil {
			return false, err
		}
		defer body.Close()
		if c, ok := t.caps[name]; ok {
			hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": c}
			delete(t.caps, name)
		}
	case m&fs.ModeSymlink != 0:
		target, err := t.root.Readlink(name)
		if err != nil {
			return false, err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case m&fs.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	default:
		return false, fmt.Errorf("cannot package a %v", m.Type())
	}
	if body != nil {
		return false, dw.Add(hdr, body)
	}
	return hdr.Typeflag == tar.TypeDir, dw.Add(hdr, nil)
}

// capNumbers are the capabilities setcap may grant (the ones melange
// allows).
var capNumbers = map[string]uint{
	"cap_net_bind_service": 10,
	"cap_net_admin":        12,
	"cap_net_raw":          13,
	"cap_ipc_lock":         14,
	"cap_sys_admin":        21,
}

// setcapXattrs turns setcap entries into security.capability values
// (struct vfs_cap_data, revision 2), by package path.
func setcapXattrs(sc []config.Capability) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range sc {
		p := strings.TrimPrefix(path.Clean("/"+c.Path), "/")
		if p == "" {
			return nil, c.Pos.Errorf("path", "setcap needs the path of a file")
		}
		var permitted, inheritable uint32
		effective := false
		for names, flags := range c.Add {
			var bits uint32
			for _, n := range strings.Split(names, ",") {
				n = strings.ToLower(strings.TrimSpace(n))
				num, ok := capNumbers[n]
				if !ok {
					return nil, c.Pos.Errorf("add", "capability %q cannot be set", n)
				}
				bits |= 1 << num
			}
			f := strings.TrimLeft(strings.TrimSpace(flags), "+=")
			if f == "" || strings.Trim(f, "eipEIP") != "" {
				return nil, c.Pos.Errorf("add", "flags %q for %s: want a combination of e, i and p, like +eip", flags, names)
			}
			f = strings.ToLower(f)
			if strings.Contains(f, "p") {
				permitted |= bits
			}
			if strings.Contains(f, "i") {
				inheritable |= bits
			}
			if strings.Contains(f, "e") {
				effective = true
			}
		}
		magic := uint32(0x02000000)
		if effective {
			magic |= 1
		}
		var b [20]byte
		binary.LittleEndian.PutUint32(b[0:], magic)
		binary.LittleEndian.PutUint32(b[4:], permitted)
		binary.LittleEndian.PutUint32(b[8:], inheritable)
		out[p] = string(b[:])
	}
	return out, nil
}
