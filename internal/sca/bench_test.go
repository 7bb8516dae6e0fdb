package sca

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// benchTree copies up to n regular files from the host's /usr/bin into
// usr/bin of a new tree, and any shared libraries they name from
// /usr/lib/x86_64-linux-gnu or /usr/lib/aarch64-linux-gnu into usr/lib.
func benchTree(b *testing.B, n int) (root string, files int) {
	b.Helper()
	entries, err := os.ReadDir("/usr/bin")
	if err != nil {
		b.Skipf("no /usr/bin: %v", err)
	}
	root = b.TempDir()
	for _, e := range entries {
		if files >= n {
			break
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Size() > 8<<20 {
			continue
		}
		copyFile(b, filepath.Join("/usr/bin", e.Name()), root, "usr/bin/"+e.Name(), fi.Mode().Perm())
		files++
	}
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"} {
		libs, _ := filepath.Glob(filepath.Join(dir, "lib*.so.*"))
		for i, l := range libs {
			if i >= 100 {
				break
			}
			fi, err := os.Lstat(l)
			if err != nil || !fi.Mode().IsRegular() || fi.Size() > 8<<20 {
				continue
			}
			copyFile(b, l, root, "usr/lib/"+filepath.Base(l), 0o755)
			files++
		}
	}
	if files == 0 {
		b.Skip("no files to scan")
	}
	return root, files
}

// BenchmarkScan scans a tree of a few hundred real programs, scripts and
// libraries.
func BenchmarkScan(b *testing.B) {
	root, files := benchTree(b, 300)
	b.ResetTimer()
	var res *Result
	for b.Loop() {
		var err error
		res, err = Scan(context.Background(), root, Options{Version: "1.0-r0"})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(files), "files/op")
	b.ReportMetric(float64(len(res.Depends)+len(res.Provides)+len(res.Vendored)), "entries/op")
}
