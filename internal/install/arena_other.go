//go:build !linux

package install

func adviseHuge([]byte) {}
