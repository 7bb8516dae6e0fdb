package apk

import (
	"bytes"
	"errors"
	"syscall"
)

// readXattrs returns the extended attributes of the file at path (not
// following a final symlink is not needed: AddDir never asks for symlinks).
func readXattrs(path string) (map[string]string, error) {
	size, err := syscall.Listxattr(path, nil)
	if errors.Is(err, syscall.ENOTSUP) {
		return nil, nil
	}
	if err != nil || size == 0 {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = syscall.Listxattr(path, buf)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range bytes.Split(buf[:size], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		n, err := syscall.Getxattr(path, string(name), nil)
		if err != nil {
			return nil, err
		}
		val := make([]byte, n)
		n, err = syscall.Getxattr(path, string(name), val)
		if err != nil {
			return nil, err
		}
		out[string(name)] = string(val[:n])
	}
	return out, nil
}
