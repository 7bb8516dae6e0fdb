package install

import "syscall"

// adviseHuge asks for transparent huge pages for b, which starts and ends
// on huge-page boundaries (a hint: errors are ignored).
func adviseHuge(b []byte) {
	syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
