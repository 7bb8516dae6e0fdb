//go:build unix

package build

import (
	"io/fs"
	"syscall"
)

// fileID is what the package writer needs from a file's stat: owners and
// inode identity.
type fileID struct {
	uid, gid int
	dev, ino uint64
	nlink    uint64
}

func statOf(fi fs.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{nlink: 1}
	}
	return fileID{uid: int(st.Uid), gid: int(st.Gid), dev: uint64(st.Dev), ino: uint64(st.Ino), nlink: uint64(st.Nlink)}
}
