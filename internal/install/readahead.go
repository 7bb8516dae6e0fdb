package install

import (
	"archive/tar"
	"cmp"
	"context"
	"io"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/reef-dev/reef/internal/apk"
)

// readAheadBytes bounds the installed size of the packages read ahead
// and not yet written (see Installer.ReadAhead).
const readAheadBytes = 256 << 20

// localPackageWeight is what a package without an index record (whose
// installed size is not known before it is read) counts for against
// readAheadBytes.
const localPackageWeight = 32 << 20

// maxPrealloc bounds the buffer allocated up front for a regular file's
// content from its tar header's size: a larger file grows its buffer as
// its bytes arrive, so that a lying header cannot make Install allocate
// much more than the package really holds.
const maxPrealloc = 64 << 20

// stagedPkg is a package read ahead into memory: what an *apk.Reader
// returned while reading it to the end (or to its first final error).
// It implements pkgReader by replaying that, with the same results and
// errors, in the same order, so that installOne does the same with it as
// with the stream.
type stagedPkg struct {
	err     error // opening the package or reading its control member failed
	info    *apk.PkgInfo
	ident   string // Identity() after the control member
	scripts []apk.Script
	files   []stagedFile
	// end is what Next returned after the last file: io.EOF, or the error
	// that stopped the reading.
	end error
	// After io.EOF: the Reader's DataHash, Identity (final for a legacy
	// package) and Size.
	dataHash, endIdent string
	size               int64

	// Replay state.
	next     int         // index in files of the entry Next returns next
	cur      *stagedFile // the current entry, nil before the first or after the last
	off      int         // bytes of cur.data read
	consumed bool        // cur's content was read to its end (or taken)
	atEnd    bool        // Next returned io.EOF
}

// stagedFile is one data entry: its header and, for a regular file, its
// content; err is what reading the content to its end gave instead of
// io.EOF (a *apk.ChecksumError, or the error that stopped the reading).
type stagedFile struct {
	f    *apk.File
	data []byte
	err  error
}

func (s *stagedPkg) Info() *apk.PkgInfo    { return s.info }
func (s *stagedPkg) Scripts() []apk.Script { return s.scripts }
func (s *stagedPkg) Size() int64           { return s.size }
func (s *stagedPkg) DataHash() string      { return s.dataHash }
func (s *stagedPkg) Identity() string {
	if s.atEnd {
		return s.endIdent
	}
	return s.ident
}

// Next replays apk.Reader.Next: an entry whose content was not read to
// the end reports its content's error first, without advancing.
func (s *stagedPkg) Next() (*apk.File, error) {
	if c := s.cur; c != nil && !s.consumed {
		s.consumed = true
		if c.err != nil {
			return nil, c.err
		}
	}
	if s.next >= len(s.files) {
		s.cur = nil
		if s.end == io.EOF {
			s.atEnd = true
		}
		return nil, s.end
	}
	s.cur = &s.files[s.next]
	s.next++
	s.off, s.consumed = 0, false
	return s.cur.f, nil
}

// Read replays apk.Reader.Read: the content, then io.EOF or the error
// reading it gave.
func (s *stagedPkg) Read(p []byte) (int, error) {
	c := s.cur
	if c == nil || s.consumed {
		return 0, io.EOF
	}
	if s.off < len(c.data) {
		n := copy(p, c.data[s.off:])
		s.off += n
		return n, nil
	}
	s.consumed = true
	if c.err != nil {
		return 0, c.err
	}
	return 0, io.EOF
}

// takeContent hands over the current regular file's whole content when it
// was read without error and none of it has been read through Read, and
// marks it read; a MemFS keeps the slice instead of copying it.
func (s *stagedPkg) takeContent() ([]byte, bool) {
	c := s.cur
	if c == nil || s.consumed || s.off != 0 || c.err != nil || c.f.Typeflag != tar.TypeReg {
		return nil, false
	}
	s.consumed = true
	data := c.data
	c.data = nil
	return data, true
}

// contentTaker is implemented by readers whose content a MemFS may keep
// without copying it (see stagedPkg.takeContent).
type contentTaker interface {
	takeContent() ([]byte, bool)
}

// stagePackage opens p and reads it to the end, or to its first final
// error, into memory (file content from arena, unless it is nil).
func stagePackage(ctx context.Context, p *Package, lim apk.Limits, arena *contentArena) *stagedPkg {
	s := &stagedPkg{}
	rc, err := p.Open()
	if err != nil {
		s.err = err
		return s
	}
	defer rc.Close()
	ar, err := openPackage(rc, lim)
	if err != nil {
		s.err = err
		return s
	}
	s.info, s.ident, s.scripts = ar.Info(), ar.Identity(), ar.Scripts()
	var scratch [64]byte
	for n := 0; ; n++ {
		if n&63 == 0 {
			if err := ctx.Err(); err != nil {
				s.end = err
				return s
			}
		}
		f, err := ar.Next()
		if err != nil {
			s.end = err
			if err == io.EOF {
				s.dataHash, s.endIdent, s.size = ar.DataHash(), ar.Identity(), ar.Size()
			}
			return s
		}
		// The File is kept: the Reader makes a new one for each entry.
		sf := stagedFile{f: f}
		if f.Typeflag == tar.TypeReg {
			sf.data, sf.err = readContent(ar, f.Size, arena)
		} else {
			// Entries without content: Read reports a symlink's bad
			// checksum, else io.EOF.
			if _, err := ar.Read(scratch[:]); err != io.EOF {
				sf.err = err
			}
		}
		s.files = append(s.files, sf)
	}
}

// readContent reads a regular file's content, of size bytes by its
// header, to io.EOF: into a buffer of exactly that size (up to
// maxPrealloc; from arena unless it is nil), grown only if more comes.
// Unlike io.ReadFull, it returns the error that comes with the last bytes
// (a checksum mismatch).
func readContent(r io.Reader, size int64, arena *contentArena) ([]byte, error) {
	n := int(max(0, min(size, maxPrealloc)))
	var buf []byte
	if arena != nil {
		buf = arena.alloc(n)
	} else {
		buf = make([]byte, 0, n)
	}
	for {
		if len(buf) == cap(buf) {
			// The expected size is reached: look for io.EOF with a small
			// read, growing the buffer only if bytes come.
			var probe [512]byte
			n, err := r.Read(probe[:])
			buf = append(buf, probe[:n]...)
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return buf, err
			}
			continue
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// readAhead reads packages ahead of the install loop (see
// Installer.ReadAhead). A dispatcher goroutine takes the packages (see
// startReadAhead for the order), waits for room in the byte budget for
// each, and starts a worker for it (at most jobs at once); the install
// loop takes the results in the packages' order (get) and gives the room
// back once a package is written (done). A nil *readAhead reads nothing
// ahead.
type readAhead struct {
	cancel context.CancelFunc
	sem    *semaphore.Weighted
	slots  []raSlot
	wg     sync.WaitGroup // the dispatcher
	g      errgroup.Group // the workers
	once   sync.Once
}

type raSlot struct {
	ready  chan struct{} // closed once pkg is set, or the package is not read ahead
	pkg    *stagedPkg    // set by the worker; the budget holds weight until done
	weight int64         // room the package takes in the budget
}

// startReadAhead starts reading pkgs ahead, or returns nil when the
// installer does not read ahead.
//
// The packages are taken in windows of consecutive packages that fit in
// the byte budget together, and within a window the largest first, so
// that a large package near the end of the order does not leave the
// other workers idle while it alone is read. Windows are dispatched in
// order and the install loop frees the budget in order, so that the
// package it waits for always gets its turn.
func (r *run) startReadAhead(ctx context.Context, pkgs []Package) *readAhead {
	jobs := r.in.ReadAhead
	if jobs == 0 {
		if _, ok := r.fs.(*MemFS); ok {
			jobs = runtime.GOMAXPROCS(0)
		}
	}
	if jobs <= 0 || len(pkgs) < 2 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	budget := int64(readAheadBytes)
	if r.in.readAheadBudget > 0 {
		budget = r.in.readAheadBudget
	}
	ra := &readAhead{cancel: cancel, sem: semaphore.NewWeighted(budget), slots: make([]raSlot, len(pkgs))}
	for i := range ra.slots {
		ra.slots[i].ready = make(chan struct{})
	}
	// Skip what the install loop will surely not read: meta packages,
	// names installed already (skipped, or an error before the package is
	// opened), a name given twice (the second is skipped).
	seen := make(map[string]bool, len(r.byName)+len(pkgs))
	for name := range r.byName {
		seen[name] = true
	}
	var todo []int // packages to read, in order
	for i := range pkgs {
		p, s := &pkgs[i], &ra.slots[i]
		s.weight = min(localPackageWeight, budget)
		if ix := p.Index; ix != nil {
			if ix.InstalledSize == 0 || seen[ix.Name] {
				close(s.ready)
				continue
			}
			seen[ix.Name] = true
			s.weight = int64(min(ix.InstalledSize, uint64(budget)))
		}
		if p.Open == nil {
			close(s.ready)
			continue
		}
		s.weight = max(s.weight, 1)
		todo = append(todo, i)
	}
	ra.g.SetLimit(jobs)
	lim := r.in.Limits
	var arena *contentArena
	if m, ok := r.fs.(*MemFS); ok {
		arena = &m.arena // the content stays in the tree
	}
	ra.wg.Add(1)
	go func() {
		defer ra.wg.Done()
		var window []int
		defer func() {
			// Cancelled: the packages not started are not read ahead.
			for _, i := range window {
				close(ra.slots[i].ready)
			}
			for _, i := range todo {
				close(ra.slots[i].ready)
			}
		}()
		for len(todo) > 0 {
			n, sum := 1, ra.slots[todo[0]].weight
			for n < len(todo) && sum+ra.slots[todo[n]].weight <= budget {
				sum += ra.slots[todo[n]].weight
				n++
			}
			window = append(window[:0], todo[:n]...)
			todo = todo[n:]
			slices.SortStableFunc(window, func(a, b int) int { return cmp.Compare(ra.slots[b].weight, ra.slots[a].weight) })
			for len(window) > 0 {
				i := window[0]
				p, s := &pkgs[i], &ra.slots[i]
				if err := ra.sem.Acquire(ctx, s.weight); err != nil {
					return
				}
				window = window[1:]
				ra.g.Go(func() error {
					s.pkg = stagePackage(ctx, p, lim, arena)
					close(s.ready)
					return nil
				})
			}
		}
	}()
	return ra
}

// get waits for package i to be read ahead and returns it; nil when it
// is not read ahead (the install loop then streams it).
func (ra *readAhead) get(i int) *stagedPkg {
	if ra == nil {
		return nil
	}
	<-ra.slots[i].ready
	return ra.slots[i].pkg
}

// done releases package i's memory and, if it was read ahead, its room
// in the budget.
func (ra *readAhead) done(i int) {
	if ra == nil {
		return
	}
	s := &ra.slots[i]
	<-s.ready
	if s.pkg != nil {
		s.pkg = nil
		ra.sem.Release(s.weight)
	}
}

// stop cancels what is still being read and waits for every goroutine,
// so that each package file opened is closed when it returns.
func (ra *readAhead) stop() {
	if ra == nil {
		return
	}
	ra.once.Do(func() {
		ra.cancel()
		ra.wg.Wait()
		ra.g.Wait()
		for i := range ra.slots {
			ra.slots[i].pkg = nil
		}
	})
}

var _ pkgReader = (*stagedPkg)(nil)
