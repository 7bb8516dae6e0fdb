//go:build unix

package apk

import (
	"os"
	"syscall"
)

// fileID holds the stat fields AddDir needs beyond os.FileInfo.
type fileID struct {
	dev, ino, nlink, rdev uint64
	uid, gid              uint32
}

func statOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{
		dev: uint64(st.Dev), ino: uint64(st.Ino), nlink: uint64(st.Nlink), rdev: uint64(st.Rdev),
		uid: st.Uid, gid: st.Gid,
	}, true
}
