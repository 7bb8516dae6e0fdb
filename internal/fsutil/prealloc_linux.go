package fsutil

import (
	"os"
	"syscall"
)

// preallocate allocates size bytes for f (a hint: errors are ignored,
// the file system may not support it).
func preallocate(f *os.File, size int64) {
	syscall.Fallocate(int(f.Fd()), 0, 0, size)
}
