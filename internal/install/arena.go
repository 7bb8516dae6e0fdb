package install

import (
	"sync"
	"unsafe"
)

// Regular-file content in a MemFS is allocated from large slabs rather
// than one allocation per file. Touching fresh memory is a large part of
// the cost of holding an image's ~100 MB of content (a page fault per 4
// KiB page, and in a virtual machine often an exit to the host as well);
// on Linux the slabs are advised for transparent huge pages, which takes
// that to one fault per 2 MiB.
const (
	slabSize = 16 << 20 // size of a slab
	slabMax  = 1 << 20  // larger files get a buffer of their own
	hugeMin  = 4 << 20  // such a buffer is advised for huge pages from this size
)

// contentArena allocates content buffers. It is safe for concurrent use;
// the zero value is ready to use.
type contentArena struct {
	mu   sync.Mutex
	free []byte // the unused rest of the current slab
}

// alloc returns an empty buffer with capacity n. Buffers never overlap:
// appending beyond n reallocates.
func (a *contentArena) alloc(n int) []byte {
	if n <= 0 {
		return nil
	}
	if n > slabMax {
		b := make([]byte, n)
		if n >= hugeMin {
			adviseHuge(b)
		}
		return b[:0]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.free) < n {
		a.free = make([]byte, slabSize)
		adviseHuge(a.free)
	}
	b := a.free[:0:n]
	a.free = a.free[n:]
	return b
}

// hugeAligned returns the part of b that is made of whole, aligned 2 MiB
// pages (nil if none).
func hugeAligned(b []byte) []byte {
	const huge = 2 << 20
	if len(b) < huge {
		return nil
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (p + huge - 1) &^ (huge - 1)
	end := (p + uintptr(len(b))) &^ (huge - 1)
	if end <= start {
		return nil
	}
	return b[start-p : end-p]
}
