//go:build !linux

package build

import "os"

// isTerminal reports whether f is a terminal; outside Linux reef does
// not build packages, so it never is.
func isTerminal(f *os.File) bool { return false }
