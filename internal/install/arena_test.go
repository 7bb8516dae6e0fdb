package install

import (
	"testing"
	"unsafe"
)

func TestContentArena(t *testing.T) {
	var a contentArena
	sizes := []int{0, 1, 4095, 4096, 1 << 20, slabMax, slabMax + 1, 3 << 20, 17, slabSize - 5}
	type span struct{ lo, hi uintptr }
	var spans []span
	for _, n := range sizes {
		b := a.alloc(n)
		if len(b) != 0 || cap(b) != n {
			t.Fatalf("alloc(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n == 0 {
			continue
		}
		b = b[:n]
		for i := range b {
			b[i] = byte(n)
		}
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		if n > slabMax && p%hugePage != 0 {
			t.Errorf("alloc(%d) at %#x: not on a huge-page boundary", n, p)
		}
		spans = append(spans, span{p, p + uintptr(n)})
	}
	for i, x := range spans {
		for _, y := range spans[i+1:] {
			if x.lo < y.hi && y.lo < x.hi {
				t.Errorf("buffers [%#x,%#x) and [%#x,%#x) overlap", x.lo, x.hi, y.lo, y.hi)
			}
		}
	}
	// A buffer grown past its capacity moves instead of writing into
	// its neighbour.
	b1 := a.alloc(8)
	b2 := a.alloc(8)
	b2 = append(b2, "neighbor"...)
	b1 = append(b1, "0123456789"...)
	if string(b2) != "neighbor" || string(b1) != "0123456789" {
		t.Errorf("append past capacity: %q %q", b1, b2)
	}
}

func TestHugeAlloc(t *testing.T) {
	for _, n := range []int{1, hugePage - 1, hugePage, hugePage + 1, 5 << 20} {
		b := hugeAlloc(n)
		if len(b) != n || cap(b) != n {
			t.Errorf("hugeAlloc(%d): len %d cap %d", n, len(b), cap(b))
		}
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(b))); p%hugePage != 0 {
			t.Errorf("hugeAlloc(%d) at %#x: not aligned", n, p)
		}
	}
}
