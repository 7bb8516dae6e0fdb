package image

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if debianDir != "" {
		os.RemoveAll(filepath.Dir(debianDir))
	}
	os.Exit(code)
}
