package install

import "syscall"

// adviseHuge asks for transparent huge pages for the whole 2 MiB pages of
// b (a hint: errors are ignored).
func adviseHuge(b []byte) {
	if h := hugeAligned(b); h != nil {
		syscall.Madvise(h, syscall.MADV_HUGEPAGE)
	}
}
