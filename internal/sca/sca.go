package sca

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/version"
)

// Directories, relative to the package root, that the rules look at. A
// directory matches the files directly in it, not those in subdirectories.
var (
	// defaultLibDirs hold the shared objects whose SONAMEs are provided.
	defaultLibDirs = []string{"lib", "usr/lib", "lib64", "usr/lib64"}
	// binDirs hold the executables that provide cmd: names.
	binDirs = []string{"bin", "sbin", "usr/bin", "usr/sbin"}
	// pkgconfigDirs hold the .pc files that provide pc: names.
	pkgconfigDirs = []string{
		"usr/lib/pkgconfig", "usr/lib64/pkgconfig", "usr/share/pkgconfig",
		"usr/local/lib/pkgconfig", "usr/local/share/pkgconfig",
	}
	// shebangTrees hold the scripts whose interpreters become cmd: depends;
	// unlike the others these match recursively.
	shebangTrees = []string{"usr/bin/", "usr/local/bin/", "usr/local/sbin/"}
)

// Options describe the package being scanned.
type Options struct {
	// Name is the package name. It matters only for documentation
	// packages: a name ending in "-doc" enables the man-db and texinfo
	// depends.
	Name string

	// Version is the full package version, such as "2.12-r0". It is the
	// version of the generated cmd:, pc: and so-ver: provides. Required.
	Version string

	// NoProvides, NoDepends and NoCommands are melange's package options
	// no-provides, no-depends and no-commands: they drop all generated
	// provides, all generated depends, and every cmd: entry (provides and
	// depends) respectively. Vendored names are still reported.
	NoProvides, NoDepends, NoCommands bool

	// LibDirs are extra library directories, relative to the package root
	// (a leading "/" is ignored), whose shared objects' SONAMEs are
	// provided like those in lib, usr/lib, lib64 and usr/lib64. Directories
	// listed in etc/ld.so.conf.d/*.conf of the package or of a sibling are
	// added automatically. A directory matches only the files directly in
	// it; "dir/..." matches its whole subtree.
	LibDirs []string

	// Siblings are the output trees of the other packages built from the
	// same build file (the main package and the other subpackages). A
	// symlink such as a -dev package's usr/lib/libfoo.so whose target is a
	// library in a sibling gives a so: depend on that library's SONAME,
	// and the siblings' etc/ld.so.conf.d files count as the package's own.
	// Depends satisfied by a sibling are kept: apk installs the sibling.
	Siblings []string

	// Declared are the package's declared runtime dependencies
	// (dependencies.runtime). The python, ruby and perl runtime depends
	// are not generated when a matching one is declared, as in melange.
	Declared []string

	// CommandLinks, when set, also gives cmd: provides for symlinks directly
	// in a bin directory whose target, inside the package, is an
	// executable regular file. melange gives none (its issue #1612), so
	// this is off by default.
	CommandLinks bool
}

// Result is what Scan found.
type Result struct {
	// Depends are the generated runtime dependencies ("so:libc.so.6",
	// "cmd:bash", "pc:zlib", "python-3.12-base"), minus those the package
	// satisfies itself; sorted, without duplicates.
	Depends []string

	// Provides are the generated provides ("so:libfoo.so.1=1",
	// "so-ver:libfoo.so.1=2.0-r0", "cmd:foo=2.0-r0", "pc:foo=2.0-r0");
	// sorted, without duplicates.
	Provides []string

	// Vendored are the SONAMEs and pkg-config names the package ships
	// outside the standard directories, in the same form as Provides.
	// They are not provided, but they satisfy the package's own depends.
	// melange records them in .PKGINFO as "# vendored = ..." comments.
	Vendored []string

	// Notes explain, for logs and --debug, why each entry was generated
	// and which were dropped, and report files that could not be analysed
	// (malformed ELF, unreadable .pc, odd names). Their order is
	// deterministic.
	Notes []string
}

// maxReasons bounds the reasons kept in a note for one entry.
const maxReasons = 3

// Scan analyses the package tree at root and returns its generated
// dependencies and provides. It fails only if root is not a readable
// directory, opts.Version is not a valid version, or ctx is cancelled;
// problems with individual files are reported in Result.Notes.
func Scan(ctx context.Context, root string, opts Options) (*Result, error) {
	if !version.Valid(opts.Version) {
		return nil, fmt.Errorf("sca: package version %q is not a valid apk version (set Options.Version to the full version, such as 1.2.3-r0)", opts.Version)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("sca: package tree: %w", err)
	}
	if fi, err := os.Stat(realRoot); err != nil {
		return nil, fmt.Errorf("sca: package tree: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("sca: package tree %s is not a directory", root)
	}

	s := &scanner{root: realRoot, opts: opts}
	for _, sib := range opts.Siblings {
		r, err := filepath.EvalSymlinks(sib)
		if err != nil {
			s.warn(fmt.Sprintf("sibling tree %s: %v", sib, err))
			continue
		}
		s.siblings = append(s.siblings, r)
	}
	s.setLibDirs()
	if err := s.walk(ctx); err != nil {
		return nil, err
	}
	if err := s.analyse(ctx); err != nil {
		return nil, err
	}
	return s.result(), nil
}

// RemoveSatisfied returns the dependencies in depends whose name is not
// provided by any entry of the provides lists, in their original order.
// Like melange it compares names only: "so:libfoo.so.1" and
// "so-ver:libfoo.so.1>=1.2" are satisfied by a package that provides
// "so:libfoo.so.1=1" and "so-ver:libfoo.so.1=1.2-r0". Conflicts ("!name")
// are never removed.
//
// Scan applies it to its own output; a build applies it again after
// merging the declared dependencies and provides.
func RemoveSatisfied(depends []string, provides ...[]string) []string {
	have := map[string]bool{}
	for _, list := range provides {
		for _, p := range list {
			have[depName(p)] = true
		}
	}
	out := make([]string, 0, len(depends))
	for _, d := range depends {
		if !strings.HasPrefix(d, "!") && have[depName(d)] {
			continue
		}
		out = append(out, d)
	}
	return out
}

// depName returns the name part of a dependency or provide string.
func depName(s string) string {
	if d, err := version.ParseDep(s); err == nil {
		return d.Name
	}
	if i := strings.IndexAny(s, "<>=~"); i >= 0 {
		return s[:i]
	}
	return s
}

// kind says what a finding adds.
type kind uint8

const (
	kDepend kind = iota
	kProvide
	kVendored
)

func (k kind) String() string {
	switch k {
	case kDepend:
		return "depend"
	case kProvide:
		return "provides"
	}
	return "vendored"
}

// finding is one generated entry with the reason for it.
type finding struct {
	kind  kind
	entry string
	why   string
}

// findings collects what one walked entry produced, so that entries can
// be analysed concurrently and merged in walk order.
type findings struct {
	items []finding
	notes []string
}

func (f *findings) add(k kind, entry, why string) {
	f.items = append(f.items, finding{k, entry, why})
}

func (f *findings) warn(format string, args ...any) {
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

// task is a walked entry whose content must be read.
type task struct {
	rel  string      // slash-separated path relative to the root
	mode fs.FileMode // from Lstat
	slot int
}

type scanner struct {
	root     string
	siblings []string
	opts     Options

	libDirs    []string // matched with inDir
	lookupDirs []string // plain library directories, for symlink lookups

	slots []findings // in walk order
	tasks []task
	notes []string // scan-level warnings, in order

	// language runtimes and documentation
	pythonVer        string // last pythonX.Y/site-packages seen
	rubyUsr, rubyLib string // first lib/ruby/gems/X.Y.Z/gems
	perlUsr, perlLib string // first lib/perlN/*_perl
	manWhy, infoWhy  string
}

func (s *scanner) warn(msg string) { s.notes = append(s.notes, msg) }

// setLibDirs combines the default, optional and ld.so.conf.d library
// directories.
func (s *scanner) setLibDirs() {
	seen := map[string]bool{}
	add := func(d string) {
		d, rec := strings.CutSuffix(d, "/...")
		d = path.Clean("/" + d)[1:] // relative, never above the root
		if rec {
			d += "/..."
		}
		if d == "" || d == "/..." || seen[d] {
			return
		}
		seen[d] = true
		s.libDirs = append(s.libDirs, d)
		if !rec {
			s.lookupDirs = append(s.lookupDirs, d)
		}
	}
	for _, d := range defaultLibDirs {
		add(d)
	}
	for _, d := range s.opts.LibDirs {
		add(d)
	}
	for _, r := range append([]string{s.root}, s.siblings...) {
		for _, d := range ldSoConfDirs(r, s.warn) {
			add(d)
		}
	}
}

// inDir reports whether rel is directly in one of dirs, or anywhere below
// a "dir/..." entry.
func inDir(rel string, dirs []string) bool {
	dir := path.Dir(rel)
	for _, d := range dirs {
		if p, ok := strings.CutSuffix(d, "/..."); ok {
			if dir == p || strings.HasPrefix(dir, p+"/") {
				return true
			}
		} else if dir == d {
			return true
		}
	}
	return false
}

// walk visits the tree in lexical order, handles the rules that need no
// file content and queues the others.
func (s *scanner) walk(ctx context.Context) error {
	return filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p == s.root {
			return err
		}
		rel, rerr := filepath.Rel(s.root, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			s.warn(fmt.Sprintf("%s: %v", rel, err))
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			s.warn(fmt.Sprintf("%s: %v", rel, err))
			return nil
		}
		s.visit(rel, fi.Mode())
		return nil
	})
}

func (s *scanner) visit(rel string, mode fs.FileMode) {
	s.runtimeDirs(rel, mode)

	var f findings
	queue := false
	switch {
	case mode.IsRegular():
		if mode.Perm()&0o555 == 0o555 && inDir(rel, binDirs) {
			f.add(kProvide, "cmd:"+path.Base(rel)+"="+s.opts.Version, "executable "+rel)
		}
		queue = s.elfCandidate(rel, mode) || inTree(rel, shebangTrees) || strings.HasSuffix(rel, ".pc")
	case mode&fs.ModeSymlink != 0:
		queue = true
	}
	if len(f.items) == 0 && !queue {
		return
	}
	slot := len(s.slots)
	s.slots = append(s.slots, f)
	if queue {
		s.tasks = append(s.tasks, task{rel: rel, mode: mode, slot: slot})
	}
}

// elfCandidate reports whether a regular file is analysed as ELF: like
// melange, files with all of r-x for user, group and other; unlike melange,
// also any file in a library directory, so that a 0644 library's SONAME
// is provided (melange skips it but still generates a depend on it through
// the library's symlinks, which nothing then satisfies).
func (s *scanner) elfCandidate(rel string, mode fs.FileMode) bool {
	return mode.Perm()&0o555 == 0o555 || inDir(rel, s.libDirs)
}

func inTree(rel string, trees []string) bool {
	for _, t := range trees {
		if strings.HasPrefix(rel, t) {
			return true
		}
	}
	return false
}

// analyse runs the queued tasks on a bounded pool of workers.
func (s *scanner) analyse(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, t := range s.tasks {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			s.runTask(t, &s.slots[t.slot])
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// runTask analyses one entry; a panic in a parser becomes a note.
func (s *scanner) runTask(t task, f *findings) {
	defer func() {
		if r := recover(); r != nil {
			f.warn("%s: analysis failed: %v", t.rel, r)
		}
	}()
	if t.mode&fs.ModeSymlink != 0 {
		s.symlink(t.rel, f)
		return
	}
	s.file(t.rel, t.mode, f)
}

// result merges the findings and applies the options.
func (s *scanner) result() *Result {
	type acc struct {
		reasons []string
		n       int
	}
	sets := [3]map[string]*acc{{}, {}, {}}
	var notes []string
	notes = append(notes, s.notes...)
	add := func(fd finding) {
		if err := checkEntry(fd.kind, fd.entry); err != nil {
			notes = append(notes, fmt.Sprintf("%s: skipped %s %q: %v", fd.why, fd.kind, fd.entry, err))
			return
		}
		a := sets[fd.kind][fd.entry]
		if a == nil {
			a = &acc{}
			sets[fd.kind][fd.entry] = a
		}
		a.n++
		if len(a.reasons) < maxReasons && !slices.Contains(a.reasons, fd.why) {
			a.reasons = append(a.reasons, fd.why)
		}
	}
	for _, f := range s.slots {
		notes = append(notes, f.notes...)
		for _, fd := range f.items {
			add(fd)
		}
	}
	for _, fd := range s.runtimeFindings() {
		add(fd)
	}

	keys := func(k kind) []string {
		out := make([]string, 0, len(sets[k]))
		for e := range sets[k] {
			out = append(out, e)
		}
		slices.Sort(out)
		return out
	}
	res := &Result{Depends: keys(kDepend), Provides: keys(kProvide), Vendored: keys(kVendored)}
	for k := kDepend; k <= kVendored; k++ {
		for _, e := range keys(k) {
			a := sets[k][e]
			why := strings.Join(a.reasons, "; ")
			if more := a.n - len(a.reasons); more > 0 {
				why += fmt.Sprintf("; and %d more", more)
			}
			notes = append(notes, fmt.Sprintf("%s %s: %s", k, e, why))
		}
	}

	// Depends the package satisfies itself; what it ships counts even when
	// no-provides keeps it from advertising it.
	kept := RemoveSatisfied(res.Depends, res.Provides, res.Vendored)
	for i, j := 0, 0; i < len(res.Depends); i++ {
		if j < len(kept) && kept[j] == res.Depends[i] {
			j++
			continue
		}
		notes = append(notes, fmt.Sprintf("dropped depend %s: the package satisfies it itself", res.Depends[i]))
	}
	res.Depends = kept

	if s.opts.NoCommands {
		isCmd := func(e string) bool { return strings.HasPrefix(e, "cmd:") }
		n := countFunc(res.Provides, isCmd) + countFunc(res.Depends, isCmd)
		res.Provides = slices.DeleteFunc(res.Provides, isCmd)
		res.Depends = slices.DeleteFunc(res.Depends, isCmd)
		if n > 0 {
			notes = append(notes, fmt.Sprintf("no-commands: dropped %d cmd: entries", n))
		}
	}
	if s.opts.NoDepends && len(res.Depends) > 0 {
		notes = append(notes, fmt.Sprintf("no-depends: dropped %d depends", len(res.Depends)))
		res.Depends = nil
	}
	if s.opts.NoProvides && len(res.Provides) > 0 {
		notes = append(notes, fmt.Sprintf("no-provides: dropped %d provides", len(res.Provides)))
		res.Provides = nil
	}
	res.Notes = notes
	return res
}

func countFunc(list []string, f func(string) bool) int {
	n := 0
	for _, e := range list {
		if f(e) {
			n++
		}
	}
	return n
}

// maxEntry bounds a generated entry; real ones are far shorter.
const maxEntry = 1024

// checkEntry reports whether e can be written to .PKGINFO as a dependency
// (kDepend) or a provide: a valid apk dependency string, written
// canonically, without conflict marker or repository tag, and for provides
// with no operator other than "=".
func checkEntry(k kind, e string) error {
	if len(e) > maxEntry {
		return errors.New("too long")
	}
	d, err := version.ParseDep(e)
	if err != nil {
		return err
	}
	if d.Conflict || d.Tag != "" || d.String() != e {
		return errors.New("not a plain dependency")
	}
	if k != kDepend && d.Op != version.Any && d.Op != version.Equal {
		return errors.New("provides take no operator but \"=\"")
	}
	return nil
}
