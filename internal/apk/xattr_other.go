//go:build !linux

package apk

// readXattrs is not supported on this system: no attributes are recorded.
func readXattrs(path string) (map[string]string, error) { return nil, nil }
