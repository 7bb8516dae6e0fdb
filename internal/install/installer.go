package install

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/version"
)

// Layout says where the installed database goes.
type Layout int

const (
	// LayoutApk puts the database in lib/apk/db, as apk-tools does.
	LayoutApk Layout = iota
	// LayoutApko puts it in usr/lib/apk/db and, after the packages are
	// installed, makes lib/apk a symlink to ../usr/lib/apk (unless lib
	// already leads to usr/lib), as apko does.
	LayoutApko
)

// dbDir returns the layout's database directory.
func (l Layout) dbDir() string {
	if l == LayoutApko {
		return "usr/lib/apk/db"
	}
	return "lib/apk/db"
}

// Installer installs packages into a root.
//
// Installing into a root that already has an installed database adds to
// it. Upgrading or removing packages is not supported yet: a package
// whose name is installed at another version (or with another identity)
// is an error.
type Installer struct {
	// FS is the root: a DirFS or a MemFS.
	FS FS
	// Arch is written to etc/apk/arch. If the root has an etc/apk/arch
	// naming another architecture, Install fails. "" leaves it alone.
	Arch string
	// Layout chooses lib/apk/db (apk-tools) or usr/lib/apk/db with the
	// lib/apk symlink (apko). In a root that already has a database, the
	// database is kept where it is.
	Layout Layout
	// RunScripts runs the packages' .pre-install, .post-install and
	// .trigger scripts, chrooted into the root with bubblewrap. Off by
	// default, as in apko. It needs a DirFS.
	RunScripts bool
	// Bwrap is the bubblewrap program; "" means "bwrap" from $PATH.
	Bwrap string
	// ForceOverwrite lets a package overwrite another's files even when
	// apk's rules (same name or origin, replaces) do not allow it, as
	// apk's --force-overwrite; each such file is logged.
	ForceOverwrite bool
	// Limits bound what is read from each package (see apk.Limits).
	Limits apk.Limits
	// ModTime is the modification time of the files the installer writes
	// itself (database, world, keys, ...), such as SOURCE_DATE_EPOCH. The
	// zero value leaves them at the current time on disk and at the zero
	// time in a MemFS.
	ModTime time.Time
	// Logger receives progress and warnings; nil discards them.
	Logger *slog.Logger
	// ReadAhead is how many packages are read ahead of the one being
	// written, each in a goroutine of its own: opened, decompressed and
	// checked (file checksums, datahash) into memory, so that packages
	// are unpacked in parallel while they are still written into the root
	// one at a time, in order. It changes nothing in what Install does or
	// returns. 0 means GOMAXPROCS for a MemFS, whose files are held in
	// memory anyway, and no read-ahead for other roots; a negative value
	// turns it off. The bytes read ahead and not yet written are bounded
	// (by the index records' installed sizes), but a package read ahead
	// is held in memory whole, however large.
	//
	// With read-ahead, Package.Open is called from other goroutines, for
	// several packages at once, and possibly for packages after one that
	// fails (every file it opens is closed before Install returns).
	ReadAhead int

	readAheadBudget int64 // tests: the byte budget instead of readAheadBytes
}

// Package is one package to install: what the index says it is (when
// known) and how to open the .apk file.
type Package struct {
	// Index is the package's index record, or nil for a local file, in
	// which case the record is made from .PKGINFO. When set, the
	// package's name, version and identity (C:) must match it, and it is
	// what the installed database records, as apk-tools does. A package
	// whose installed size (I:) is 0 is a meta package: like apk-tools,
	// Install records it without opening it.
	Index *repo.Package
	// RepoTag is the tag of the repository the package comes from
	// (the s: field), without "@"; "" for an untagged repository.
	RepoTag string
	// Open opens the .apk file. With read-ahead (Installer.ReadAhead) it
	// is called from another goroutine, concurrently with other
	// packages' Open and Read.
	Open func() (io.ReadCloser, error)
	// Source names the file in messages (a path or URL); optional.
	Source string
}

// Key is a public key to put in etc/apk/keys.
type Key struct {
	Name string // file name, such as "melange.rsa.pub"
	Data []byte // PEM
}

// Options are the parts of the root's apk configuration that Install
// writes besides the packages.
type Options struct {
	// World lists dependencies ("name", "name=1.2-r0", "name>1") to add
	// to etc/apk/world; an entry replaces an existing one for the same
	// name. The file is written sorted, as apk does.
	World []string
	// Repositories, when not nil, is written to etc/apk/repositories (one
	// "[@tag ]URL" per line), replacing it. nil leaves the file alone.
	Repositories []string
	// Keys are written to etc/apk/keys, replacing files of the same name.
	Keys []Key
}

// Result describes what Install did.
type Result struct {
	// Installed holds the packages installed by this call, in order (not
	// the ones that were there before, nor those skipped as already
	// installed).
	Installed []*InstalledPackage
	Files     int   // non-directory entries written
	Bytes     int64 // bytes of regular-file content written
	// Warnings lists what apk-tools would warn about: files without a
	// checksum, files kept by a package with a higher replaces_priority,
	// overwrites forced with ForceOverwrite.
	Warnings []string
}

// ConflictError reports a file that two packages ship when neither may
// overwrite the other's.
type ConflictError struct {
	Path  string // the file, relative to the root, as the new package names it
	Owner string // NAME-VERSION of the package that owns it
	New   string // NAME-VERSION of the package being installed
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("file %s: owned by %s, also in %s (no replaces: the packages have different origins and neither replaces the other; add \"replaces = %s\" to %s, or force the overwrite)",
		e.Path, e.Owner, e.New, pkgNameOf(e.Owner), pkgNameOf(e.New))
}

// pkgNameOf strips "-VERSION-rN" from NAME-VERSION-rN.
func pkgNameOf(nv string) string {
	i := strings.LastIndexByte(nv, '-')
	if i > 0 {
		if j := strings.LastIndexByte(nv[:i], '-'); j > 0 {
			return nv[:j]
		}
	}
	return nv
}

// PackageError wraps an error met while installing one package.
type PackageError struct {
	Package string // NAME-VERSION, or the source when the name is not known yet
	Err     error
}

func (e *PackageError) Error() string { return e.Package + ": " + e.Err.Error() }
func (e *PackageError) Unwrap() error { return e.Err }

// Install installs pkgs into the root, in the order given (a plan's
// install order), then writes the installed database, scripts.tar,
// triggers, etc/apk/world, and as opts says etc/apk/repositories and
// etc/apk/keys, and etc/apk/arch.
//
// Each package is streamed: its control member is checked against its
// index record, its data entries are written under temporary names, and
// only when the whole package has been read and its datahash checked are
// they renamed into place and recorded, so that a package that fails
// leaves none of its files (only the directories it created). Paths never
// leave the root: entries with absolute or ".." paths are refused, and
// symlinks in the root are resolved inside it.
//
// If a package fails, the packages installed before it are recorded in
// the database and the error (a *PackageError) is returned with the
// Result so far. A failing post-install or trigger script does not stop
// the installation: the package is flagged in the database (f:s) and a
// *ScriptError is returned at the end, as apk-tools does.
func (in *Installer) Install(ctx context.Context, pkgs []Package, opts Options) (*Result, error) {
	if in.FS == nil {
		return nil, errors.New("install: Installer.FS is nil")
	}
	if in.RunScripts {
		if _, ok := in.FS.(*DirFS); !ok {
			return nil, errors.New("install: scripts need a directory root (DirFS), not an in-memory one")
		}
	}
	r := &run{in: in, fs: in.FS, res: &Result{}, log: in.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.ids.in = r
	if d, ok := in.FS.(*DirFS); ok {
		unlock, err := d.lockDB(r.lockDir())
		if err != nil {
			return r.res, fmt.Errorf("install: %w", err)
		}
		defer unlock()
	}
	if err := r.load(); err != nil {
		return r.res, err
	}
	ra := r.startReadAhead(ctx, pkgs)
	defer ra.stop()
	var scriptErrs []error
	var failed error
	for i := range pkgs {
		if err := ctx.Err(); err != nil {
			failed = err
			break
		}
		serr, err := r.installOne(ctx, &pkgs[i], ra.get(i))
		ra.done(i)
		if serr != nil {
			scriptErrs = append(scriptErrs, serr)
		}
		if err != nil {
			failed = err
			break
		}
	}
	ra.stop()
	if failed == nil && in.RunScripts {
		scriptErrs = append(scriptErrs, r.runTriggers(ctx)...)
	}
	if err := r.commit(opts); err != nil {
		return r.res, errors.Join(failed, err)
	}
	if failed != nil {
		return r.res, failed
	}
	return r.res, errors.Join(scriptErrs...)
}

// run is the state of one Install call.
type run struct {
	in  *Installer
	fs  FS
	res *Result
	log *slog.Logger
	ids idCache

	dbDir    string // database directory in use
	pkgs     []*InstalledPackage
	byName   map[string]*InstalledPackage
	isNew    map[*InstalledPackage]bool
	owners   map[string]fileOwner // real path of a non-directory → owner
	dirRefs  map[string]int       // real path of a directory → number of packages owning it
	dirReal  map[string]string    // package path of a directory → its real path (cache)
	scripts  map[string]map[string][]byte
	triggers map[string][]string
	changed  map[string]bool // directories (package paths) that got files in this run
}

// fileOwner is the package owning a file, and the file's database path.
type fileOwner struct {
	pkg  *InstalledPackage
	dir  string // InstalledDir.Path
	name string
}

func (r *run) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.res.Warnings = append(r.res.Warnings, msg)
	r.log.Warn(msg)
}

// lockDir is the directory of apk's database lock, lib/apk/db (through
// the lib/apk symlink of the apko layout too), or "" when the root has no
// such directory yet.
func (r *run) lockDir() string {
	if real, err := Resolve(r.fs, LayoutApk.dbDir()); err == nil {
		if e, err := r.fs.Lstat(real); err == nil && e.Type == TypeDir {
			return real
		}
	}
	return ""
}

// load reads the root's existing installed database, if any.
func (r *run) load() error {
	r.byName = map[string]*InstalledPackage{}
	r.isNew = map[*InstalledPackage]bool{}
	r.owners = map[string]fileOwner{}
	r.dirRefs = map[string]int{}
	r.dirReal = map[string]string{}
	r.scripts = map[string]map[string][]byte{}
	r.triggers = map[string][]string{}
	r.changed = map[string]bool{}

	if r.in.Arch != "" {
		if real, err := Resolve(r.fs, "etc/apk/arch"); err == nil {
			if data, err := ReadFile(r.fs, real); err == nil {
				if a := strings.TrimSpace(string(data)); a != "" && a != r.in.Arch {
					return fmt.Errorf("install: the root's etc/apk/arch is %s, not %s: refusing to mix architectures", a, r.in.Arch)
				}
			}
		}
	}

	// Prefer the layout's location, then the other one.
	r.dbDir = r.in.Layout.dbDir()
	var data []byte
	for _, dir := range []string{r.dbDir, LayoutApk.dbDir(), LayoutApko.dbDir()} {
		real, err := Resolve(r.fs, dir+"/installed")
		if err != nil {
			continue
		}
		d, err := ReadFile(r.fs, real)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("install: reading the installed database: %w", err)
		}
		r.dbDir, data = dir, d
		break
	}
	if data == nil {
		return nil
	}
	pkgs, err := ParseInstalled(strings.NewReader(string(data)), r.dbDir+"/installed")
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	r.pkgs = pkgs
	for _, p := range pkgs {
		if _, dup := r.byName[p.Name]; dup {
			return fmt.Errorf("install: %s/installed lists %s twice", r.dbDir, p.Name)
		}
		r.byName[p.Name] = p
		for i := range p.Dirs {
			d := &p.Dirs[i]
			real := r.realDir(d.Path)
			r.dirRefs[real]++
			for _, f := range d.Files {
				r.owners[joinReal(real, f.Name)] = fileOwner{p, d.Path, f.Name}
			}
		}
	}
	if err := r.readScripts(); err != nil {
		return err
	}
	return r.readTriggers()
}

// realDir returns where directory dir (a package path) is in the root,
// following symlinks within it; the path itself if it cannot be resolved.
func (r *run) realDir(dir string) string {
	if real, ok := r.dirReal[dir]; ok {
		return real
	}
	real, err := Resolve(r.fs, dir)
	if err != nil {
		return dir
	}
	r.dirReal[dir] = real
	return real
}

func joinReal(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// staged is a non-directory entry written under a temporary name.
type staged struct {
	tmp, real string
	dbDir     string // directory (package path) it is recorded under
	file      InstalledFile
	prev      *fileOwner // owner to take it from, if any
}

// pkgState is the state of the package being installed.
type pkgState struct {
	ipkg   *InstalledPackage
	nv     string
	staged []*staged
	byReal map[string]*staged // real path → staged entry
	byPath map[string]*staged // package path → staged entry (hard link targets)
	dirs   map[string]bool    // directories (package paths) seen in the package
	// symlinks says the package has symlinks, which may change how
	// directory paths resolve once they are in place.
	symlinks bool
}

// openPackage starts reading a package to install, streamed or read
// ahead: its files' SHA-1 records are trusted when its datahash covers
// them, as apk-tools trusts them (see apk.Reader.TrustDataHash).
func openPackage(r io.Reader, lim apk.Limits) (*apk.Reader, error) {
	ar, err := apk.NewReader(r, lim)
	if err != nil {
		return nil, err
	}
	ar.TrustDataHash()
	return ar, nil
}

// pkgReader is what installOne reads a package with: an *apk.Reader
// streaming it, or a package read ahead into memory (*stagedPkg), which
// replays what the Reader returned.
type pkgReader interface {
	Info() *apk.PkgInfo
	Identity() string
	Scripts() []apk.Script
	Next() (*apk.File, error)
	Read(p []byte) (int, error)
	DataHash() string
	Size() int64
}

// installOne installs one package, streaming it or, when pre is not nil,
// from what was read ahead. It returns a script error (not fatal) and a
// fatal error.
func (r *run) installOne(ctx context.Context, p *Package, pre *stagedPkg) (scriptErr, err error) {
	label := p.Source
	if p.Index != nil {
		label = p.Index.String()
		if skip, err := r.checkInstalled(p.Index.Name, p.Index.Version, p.Index.Checksum); err != nil || skip {
			return nil, wrapPkg(label, err)
		}
		if p.Index.InstalledSize == 0 {
			// A meta package: apk-tools neither fetches nor unpacks it.
			ip := &InstalledPackage{Package: *p.Index, RepoTag: p.RepoTag}
			r.add(ip)
			return nil, nil
		}
	}
	var ar pkgReader
	if pre != nil {
		if pre.err != nil {
			return nil, wrapPkg(label, pre.err)
		}
		ar = pre
	} else {
		if p.Open == nil {
			return nil, wrapPkg(label, errors.New("no way to open the package (Package.Open is nil)"))
		}
		rc, err := p.Open()
		if err != nil {
			return nil, wrapPkg(label, err)
		}
		defer rc.Close()
		sr, err := openPackage(rc, r.in.Limits)
		if err != nil {
			return nil, wrapPkg(label, err)
		}
		ar = sr
	}
	info := ar.Info()
	nv := info.Name + "-" + info.Version
	if label == "" {
		label = nv
	}
	id := ar.Identity()
	if p.Index != nil {
		if info.Name != p.Index.Name || info.Version != p.Index.Version {
			return nil, wrapPkg(label, fmt.Errorf("the file is %s, not the package the index describes", nv))
		}
		if id != "" && p.Index.Checksum != "" && id != p.Index.Checksum {
			return nil, wrapPkg(label, fmt.Errorf("identity %s does not match the index's C:%s (the file was changed or the index is stale)", id, p.Index.Checksum))
		}
	} else if skip, err := r.checkInstalled(info.Name, info.Version, id); err != nil || skip {
		return nil, wrapPkg(label, err)
	}

	ps := &pkgState{
		nv:     nv,
		byReal: map[string]*staged{},
		byPath: map[string]*staged{},
		dirs:   map[string]bool{},
	}
	var ip *InstalledPackage
	if p.Index != nil {
		pk := *p.Index
		ip = &InstalledPackage{Package: pk}
	} else {
		ip = &InstalledPackage{Package: *repo.FromPkgInfo(info, id, 0)}
	}
	ip.Replaces = append([]string(nil), info.Replaces...)
	ip.ReplacesPriority = info.ReplacesPriority
	ip.RepoTag = p.RepoTag
	ps.ipkg = ip

	if r.in.RunScripts {
		if body := scriptBody(ar.Scripts(), ".pre-install"); body != nil {
			if err := r.runScript(ctx, ip, "pre-install", body, []string{info.Version}); err != nil {
				return nil, wrapPkg(label, err)
			}
			r.dirReal = map[string]string{}
			r.ids.reset()
		}
	}

	if err := r.extract(ctx, ar, ps); err != nil {
		r.cleanup(ps)
		return nil, wrapPkg(label, err)
	}
	if info.DataHash != "" {
		if got := ar.DataHash(); got != info.DataHash {
			r.cleanup(ps)
			return nil, wrapPkg(label, &apk.DataHashError{Want: info.DataHash, Got: got})
		}
	} else {
		// Legacy package: the identity covers the data member too and is
		// known only now.
		id = ar.Identity()
		if p.Index != nil && p.Index.Checksum != "" && id != p.Index.Checksum {
			r.cleanup(ps)
			return nil, wrapPkg(label, fmt.Errorf("identity %s does not match the index's C:%s", id, p.Index.Checksum))
		}
		if ip.Checksum == "" {
			ip.Checksum = id
		}
	}
	if p.Index == nil {
		ip.Size = uint64(ar.Size())
	}
	if err := r.commitPackage(ps); err != nil {
		return nil, wrapPkg(label, err)
	}
	for _, s := range ar.Scripts() {
		typ := strings.TrimPrefix(s.Name, ".")
		if r.scripts[ip.Checksum] == nil {
			r.scripts[ip.Checksum] = map[string][]byte{}
		}
		r.scripts[ip.Checksum][typ] = s.Body
	}
	if len(info.Triggers) > 0 {
		r.triggers[ip.Checksum] = append([]string(nil), info.Triggers...)
	}
	r.log.Info("installed", "package", nv, "files", ip.FileCount())

	if r.in.RunScripts {
		if body := scriptBody(ar.Scripts(), ".post-install"); body != nil {
			err := r.runScript(ctx, ip, "post-install", body, []string{info.Version})
			r.dirReal = map[string]string{}
			r.ids.reset()
			if err != nil {
				ip.addFlag('s')
				return wrapPkg(label, err), nil
			}
		}
	}
	return nil, nil
}

func wrapPkg(label string, err error) error {
	if err == nil {
		return nil
	}
	var pe *PackageError
	if errors.As(err, &pe) {
		return err
	}
	return &PackageError{Package: label, Err: err}
}

func scriptBody(scripts []apk.Script, name string) []byte {
	for _, s := range scripts {
		if s.Name == name {
			return s.Body
		}
	}
	return nil
}

// checkInstalled reports whether the package is installed already (skip
// it) or is installed at another version or identity (an error, since
// upgrades are not supported yet).
func (r *run) checkInstalled(name, ver, id string) (skip bool, err error) {
	old := r.byName[name]
	if old == nil {
		return false, nil
	}
	if old.Version != ver {
		return false, fmt.Errorf("%s is installed; upgrading to %s is not supported yet (install into a fresh root)", old.String(), ver)
	}
	if id != "" && old.Checksum != "" && id != old.Checksum {
		return false, fmt.Errorf("%s is installed with identity %s, this file has %s; reinstalling a changed package is not supported yet", old.String(), old.Checksum, id)
	}
	return true, nil
}

// add records a package as installed.
func (r *run) add(ip *InstalledPackage) {
	r.pkgs = append(r.pkgs, ip)
	r.byName[ip.Name] = ip
	r.isNew[ip] = true
	r.res.Installed = append(r.res.Installed, ip)
}

// validPath checks a data entry name or hard link target against apk's
// rules (apk-format.md §1.3): relative, no "." or ".." components, no
// empty components, no control characters.
func validPath(name string) error {
	if name == "" {
		return errors.New("empty path")
	}
	if name[0] == '/' {
		return errors.New("absolute path")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return errors.New("control character in path")
		}
	}
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "":
			return errors.New("empty path component")
		case ".", "..":
			return fmt.Errorf("%q component in path", c)
		}
	}
	return nil
}

// tmpName returns the temporary name an entry is written under before
// it is renamed into place: ".apk.<sha1 of the base name>" in the same
// directory, as apk-tools does.
func tmpName(realDir, base string) string {
	sum := sha1.Sum([]byte(base))
	return joinReal(realDir, ".apk."+hex.EncodeToString(sum[:]))
}

// extract reads the data entries and writes them under temporary names.
func (r *run) extract(ctx context.Context, ar pkgReader, ps *pkgState) error {
	ip := ps.ipkg
	for n := 0; ; n++ {
		if n&63 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		f, err := ar.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(f.Name, "/")
		if err := validPath(name); err != nil {
			return fmt.Errorf("entry %q: %v: refusing to install outside the root", f.Name, err)
		}
		if name[0] == '.' {
			continue // apk ignores top-level dot-files in the data member
		}
		uid := r.ids.uid(f.Uname, f.Uid)
		gid := r.ids.gid(f.Gname, f.Gid)
		mode := uint32(f.Mode) & 0o7777
		var xattrs map[string]string
		if len(f.Xattrs) > 0 {
			xattrs = make(map[string]string, len(f.Xattrs))
			for k, v := range f.Xattrs {
				xattrs[k] = string(v)
			}
		}
		if f.Typeflag == tarTypeDir {
			if err := r.extractDir(ps, name, uid, gid, mode, xattrs, f.ModTime); err != nil {
				return err
			}
			continue
		}

		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if strings.HasPrefix(base, ".keep_") {
			continue
		}
		if dir != "" && !ps.dirs[dir] {
			return fmt.Errorf("entry %s: its directory %s has no entry in the package (apk-tools would skip the file and mark the package broken)", name, dir)
		}
		if dir == "" && ip.dir("") == nil {
			ip.Dirs = append(ip.Dirs, InstalledDir{Path: "", Mode: DefaultDirMode})
		}
		realDir := r.realDir(dir)
		real := joinReal(realDir, base)

		e := &Entry{
			Name:     tmpName(realDir, base),
			Mode:     mode,
			UID:      uid,
			GID:      gid,
			ModTime:  f.ModTime,
			Xattrs:   xattrs,
			Devmajor: f.Devmajor,
			Devminor: f.Devminor,
			Size:     f.Size,
		}
		file := InstalledFile{Name: base, UID: uid, GID: gid, Mode: mode, XattrHash: XattrHash(xattrs)}
		var body io.Reader
		switch f.Typeflag {
		case tarTypeReg, tarTypeRegA:
			e.Type = TypeReg
			body = ar
		case tarTypeSymlink:
			e.Type = TypeSymlink
			e.Linkname = f.Linkname
			ps.symlinks = true
			if strings.IndexByte(f.Linkname, 0) >= 0 || f.Linkname == "" {
				return fmt.Errorf("entry %s: bad symlink target %q", name, f.Linkname)
			}
		case tarTypeLink:
			target := strings.TrimSuffix(f.Linkname, "/")
			if err := validPath(target); err != nil {
				return fmt.Errorf("entry %s: hard link to %q: %v: refusing to link outside the package", name, f.Linkname, err)
			}
			t := ps.byPath[target]
			if t == nil {
				return fmt.Errorf("entry %s: hard link to %s, which is not an earlier file of the package", name, target)
			}
			e.Type = TypeLink
			e.Linkname = t.tmp
			// A hard link is the target's inode: record what is on disk.
			file = t.file
			file.Name = base
		case tarTypeChar:
			e.Type = TypeChar
		case tarTypeBlock:
			e.Type = TypeBlock
		case tarTypeFifo:
			e.Type = TypeFifo
		default:
			return fmt.Errorf("entry %s: unsupported tar type %q", name, f.Typeflag)
		}
		if e.Type == TypeReg || e.Type == TypeSymlink {
			if f.Checksum == "" {
				ip.addFlag('f')
				r.warn("%s: %s has no checksum", ps.nv, name)
			} else {
				sum, err := hex.DecodeString(f.Checksum)
				if err != nil || len(sum) != sha1.Size {
					return fmt.Errorf("entry %s: bad checksum %q", name, f.Checksum)
				}
				file.Checksum = Q1(sum)
			}
		}

		// File conflicts (apk-format.md §6).
		var prev *fileOwner
		if o, ok := r.owners[real]; ok && o.pkg != ip {
			switch replacesFile(o.pkg, ip) {
			case replacesYes:
			case replacesNo:
				r.warn("%s: %s is kept from %s (higher replaces_priority)", ps.nv, name, o.pkg.String())
				continue
			default:
				if !r.in.ForceOverwrite {
					return &ConflictError{Path: name, Owner: o.pkg.String(), New: ps.nv}
				}
				r.warn("%s: overwriting %s owned by %s (forced)", ps.nv, name, o.pkg.String())
			}
			prev = &fileOwner{o.pkg, o.dir, o.name}
		}
		if st, err := r.fs.Lstat(real); err == nil && st.Type == TypeDir {
			return fmt.Errorf("entry %s: a directory is in the way", name)
		}

		if err := r.fs.Create(e, body); err != nil {
			return fmt.Errorf("entry %s: %w", name, err)
		}
		if e.Type == TypeReg {
			r.res.Bytes += f.Size
		}
		r.res.Files++
		s := &staged{tmp: e.Name, real: real, dbDir: dir, file: file, prev: prev}
		if old := ps.byReal[real]; old != nil {
			// The package names one file twice (directly or through a
			// symlinked directory): the later entry wins.
			old.tmp = ""
		}
		ps.byReal[real] = s
		ps.byPath[name] = s
		ps.staged = append(ps.staged, s)
	}
}

// tar type flags, as archive/tar defines them.
const (
	tarTypeReg     = '0'
	tarTypeRegA    = '\x00'
	tarTypeLink    = '1'
	tarTypeSymlink = '2'
	tarTypeChar    = '3'
	tarTypeBlock   = '4'
	tarTypeDir     = '5'
	tarTypeFifo    = '6'
)

// extractDir handles a directory entry: it is created at once (apk does
// the same) or, if it exists, its permissions are merged.
func (r *run) extractDir(ps *pkgState, name string, uid, gid int, mode uint32, xattrs map[string]string, mtime time.Time) error {
	ip := ps.ipkg
	ps.dirs[name] = true
	xh := XattrHash(xattrs)
	if d := ip.dir(name); d != nil {
		d.UID, d.GID, d.Mode, d.XattrHash = uid, gid, mode, xh
	} else {
		ip.Dirs = append(ip.Dirs, InstalledDir{Path: name, UID: uid, GID: gid, Mode: mode, XattrHash: xh})
	}

	parent, base := path.Split(name)
	parent = strings.TrimSuffix(parent, "/")
	real := joinReal(r.realDir(parent), base)
	if s := ps.byReal[real]; s != nil && s.tmp != "" {
		return fmt.Errorf("entry %s: the package has both a directory and a non-directory there", name)
	}
	e := &Entry{Name: real, Type: TypeDir, Mode: mode, UID: uid, GID: gid, Xattrs: xattrs, ModTime: mtime}
	st, err := r.fs.Lstat(real)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := r.fs.Create(e, nil); err != nil {
			return fmt.Errorf("entry %s: %w", name, err)
		}
		r.dirReal[name] = real
	case err != nil:
		return fmt.Errorf("entry %s: %w", name, err)
	case st.Type == TypeDir:
		e.ModTime = time.Time{}
		if r.dirRefs[real] > 0 {
			// Owned by other packages too: apk gives the directory the
			// union of the modes and the lowest owner.
			e.Mode |= st.Mode
			if st.UID < e.UID || st.UID == e.UID && st.GID < e.GID {
				e.UID, e.GID = st.UID, st.GID
			}
		}
		if e.Mode != st.Mode || e.UID != st.UID || e.GID != st.GID || len(e.Xattrs) > 0 {
			if err := r.fs.Create(e, nil); err != nil {
				return fmt.Errorf("entry %s: %w", name, err)
			}
		}
		r.dirReal[name] = real
	case st.Type == TypeSymlink:
		// A symlink to a directory stands for the directory (usrmerge:
		// bin -> usr/bin), within the root.
		target, err := Resolve(r.fs, real)
		if err != nil {
			return fmt.Errorf("entry %s: %w", name, err)
		}
		tst, err := r.fs.Lstat(target)
		if err != nil || tst.Type != TypeDir {
			return fmt.Errorf("entry %s: %s is a symlink to %s, which is not a directory", name, real, st.Linkname)
		}
		real = target
		r.dirReal[name] = real
	default:
		if o, ok := r.owners[real]; ok {
			return fmt.Errorf("entry %s: a %s owned by %s is in the way of the directory", name, st.Type, o.pkg.String())
		}
		return fmt.Errorf("entry %s: a %s is in the way of the directory", name, st.Type)
	}
	return nil
}

// cleanup removes the temporary files of a package that failed.
func (r *run) cleanup(ps *pkgState) {
	for i := len(ps.staged) - 1; i >= 0; i-- {
		if s := ps.staged[i]; s.tmp != "" {
			r.fs.Remove(s.tmp)
		}
	}
}

// commitPackage renames a package's files into place and records it.
func (r *run) commitPackage(ps *pkgState) error {
	ip := ps.ipkg
	for i, s := range ps.staged {
		if s.tmp == "" {
			continue
		}
		if err := r.fs.Rename(s.tmp, s.real); err != nil {
			for _, rest := range ps.staged[i:] {
				if rest.tmp != "" {
					r.fs.Remove(rest.tmp)
				}
			}
			return fmt.Errorf("moving %s into place: %w", s.real, err)
		}
	}
	if ps.symlinks {
		r.dirReal = map[string]string{} // paths may resolve differently now
	}
	for _, s := range ps.staged {
		if s.tmp == "" {
			continue
		}
		if s.prev != nil {
			s.prev.pkg.removeFile(s.prev.dir, s.prev.name)
		}
		d := ip.dir(s.dbDir)
		if d == nil { // cannot happen: extract made it
			ip.Dirs = append(ip.Dirs, InstalledDir{Path: s.dbDir, Mode: DefaultDirMode})
			d = &ip.Dirs[len(ip.Dirs)-1]
		}
		replaced := false
		for j := range d.Files {
			if d.Files[j].Name == s.file.Name {
				d.Files[j] = s.file
				replaced = true
			}
		}
		if !replaced {
			d.Files = append(d.Files, s.file)
		}
		r.owners[s.real] = fileOwner{ip, s.dbDir, s.file.Name}
		r.changed[s.dbDir] = true
		if s.real == "etc/passwd" || s.real == "etc/group" {
			r.ids.reset()
		}
	}
	for i := range ip.Dirs {
		r.dirRefs[r.realDir(ip.Dirs[i].Path)]++
	}
	r.add(ip)
	return nil
}

// removeFile drops file name in directory dir from p's entries.
func (p *InstalledPackage) removeFile(dir, name string) {
	d := p.dir(dir)
	if d == nil {
		return
	}
	for i := range d.Files {
		if d.Files[i].Name == name {
			d.Files = append(d.Files[:i], d.Files[i+1:]...)
			return
		}
	}
}

type replaces int

const (
	replacesConflict replaces = iota
	replacesYes
	replacesNo
)

// replacesFile decides whether package b may overwrite a file owned by
// package a, as apk-tools' apk_pkg_replaces_file does: yes for the same
// name or origin; otherwise by the replaces lists, where the side with
// the higher replaces_priority keeps the file; a conflict when neither
// replaces the other.
func replacesFile(a, b *InstalledPackage) replaces {
	if a.Name == b.Name {
		return replacesYes
	}
	if a.Origin != "" && a.Origin == b.Origin {
		return replacesYes
	}
	aPrio, bPrio := int64(-1), int64(-1)
	if depsMatch(a.Replaces, b) {
		aPrio = int64(min(a.ReplacesPriority, 1<<62))
	}
	if depsMatch(b.Replaces, a) {
		bPrio = int64(min(b.ReplacesPriority, 1<<62))
	}
	if aPrio > bPrio {
		return replacesNo
	}
	if bPrio >= 0 {
		return replacesYes
	}
	return replacesConflict
}

// depsMatch reports whether one of deps names p (and its version
// constraint, if any, holds for p's version).
func depsMatch(deps []string, p *InstalledPackage) bool {
	for _, s := range deps {
		d, err := version.ParseDep(s)
		if err != nil || d.Conflict || d.Name != p.Name {
			continue
		}
		if d.MatchVersion(p.Version) {
			return true
		}
	}
	return false
}
