//go:build !unix

package apk

import "os"

type fileID struct {
	dev, ino, nlink, rdev uint64
	uid, gid              uint32
}

func statOf(fi os.FileInfo) (fileID, bool) { return fileID{}, false }
