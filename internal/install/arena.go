package install

import (
	"sync"
	"unsafe"
)

// Regular-file content in a MemFS is allocated from large slabs rather
// than one allocation per file. Touching fresh memory is a large part of
// the cost of holding an image's ~100 MB of content: a page fault per 4
// KiB page, and in a virtual machine an exit to the host as well (13 µs a
// page measured on a 2-vCPU Firecracker VM, against under 1 µs per 4 KiB
// with huge pages). So on Linux every content buffer lies in memory that
// starts on a huge-page boundary and is advised for transparent huge
// pages, which takes that to one fault per 2 MiB.
const (
	slabSize = 32 << 20 // size of a slab
	slabMax  = 8 << 20  // larger files get memory of their own
	hugePage = 2 << 20  // size of a (transparent) huge page
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
		return hugeAlloc(n)[:0:n]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.free) < n {
		// The rest of the old slab is left: its pages that were never
		// touched take no memory.
		a.free = hugeAlloc(slabSize)
	}
	b := a.free[:0:n]
	a.free = a.free[n:]
	return b
}

// hugeAlloc returns n bytes of memory that starts on a huge-page boundary
// and, rounded up to whole huge pages, is advised for huge pages. It
// allocates up to two huge pages more than n: what lies before the start
// is never touched and takes no memory.
func hugeAlloc(n int) []byte {
	size := (n + hugePage - 1) &^ (hugePage - 1)
	b := make([]byte, size+hugePage)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	off := int((p+hugePage-1)&^(hugePage-1) - p)
	b = b[off : off+size : off+size]
	adviseHuge(b)
	return b[:n:n]
}
