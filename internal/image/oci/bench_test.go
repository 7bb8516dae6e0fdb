package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// benchTar returns a ~100 MB tar of realistic image content: shared
// libraries, executables and data files of the host (the mix of an
// image of ~50 packages), falling back to generated data when the host
// has too little. It is built once per process.
var benchTar = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	tw := NewTarWriter(&buf)
	budget := map[string]int64{
		"/usr/lib/x86_64-linux-gnu": 60 << 20,
		"/usr/bin":                  20 << 20,
		"/usr/share":                20 << 20,
	}
	for _, root := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/share"} {
		left := budget[root]
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || left <= 0 {
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil || int64(len(b)) > left {
				return nil
			}
			left -= int64(len(b))
			tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(b))})
			tw.Write(b)
			return nil
		})
	}
	if buf.Len() < 90<<20 {
		tw.WriteHeader(&tar.Header{Name: "generated", Typeflag: tar.TypeReg, Mode: 0o644, Size: 100<<20 - int64(buf.Len())})
		tw.Write(pseudoData(100<<20-buf.Len(), 7))
	}
	tw.Close()
	return buf.Bytes()
})

// cpuTime returns the process's user+system CPU time. Benchmarks report
// CPU seconds per operation next to wall time: on a shared 2-core machine
// wall time swings with the neighbours' load, CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU seconds per op since start.
func reportCPU(b *testing.B, start time.Duration, ops int) {
	b.ReportMetric((cpuTime()-start).Seconds()/float64(ops), "cpu-s/op")
}

func benchWrite(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		// Write in tar-sized pieces, as an assembler would.
		for p := data; len(p) > 0; {
			n := min(64<<10, len(p))
			if _, err := w.Write(p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		return nil
	}
}

// BenchmarkLayer100MB compresses the 100 MB tar with NewLayer at several
// levels (DefaultLevel is "default"; apko uses pgzip's default, level 5)
// and reports throughput of the uncompressed stream and the ratio.
func BenchmarkLayer100MB(b *testing.B) {
	data := benchTar()
	for _, bc := range []struct {
		name  string
		level int
	}{{"default", 0}, {"level3", 3}, {"level5-apko", 5}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var size int64
			start, ops := cpuTime(), 0
			for b.Loop() {
				l, err := NewLayer(benchWrite(data), LayerOptions{Level: bc.level})
				if err != nil {
					b.Fatal(err)
				}
				size, _ = l.Size()
				ops++
			}
			reportCPU(b, start, ops)
			b.ReportMetric(float64(size)/float64(len(data)), "ratio")
		})
	}
}

// BenchmarkGzipBaseline100MB is the single-threaded baseline: the standard
// library's gzip at its default level, with the two sha256 hashes a layer
// needs.
func BenchmarkGzipBaseline100MB(b *testing.B) {
	data := benchTar()
	b.SetBytes(int64(len(data)))
	var size int
	start, ops := cpuTime(), 0
	for b.Loop() {
		ops++
		var out bytes.Buffer
		dh := sha256.New()
		zw := gzip.NewWriter(io.MultiWriter(&out, dh))
		uh := sha256.New()
		benchWrite(data)(io.MultiWriter(uh, zw))
		zw.Close()
		dh.Sum(nil)
		uh.Sum(nil)
		size = out.Len()
	}
	reportCPU(b, start, ops)
	b.ReportMetric(float64(size)/float64(len(data)), "ratio")
}

// BenchmarkBuild100MB is the whole output side of a one-layer, ~100 MB
// image: compress, config, manifest, index, OCI layout on disk. "warm-key"
// and "warm-diffid" reuse a layer cache (see LayerOptions.CacheKey).
func BenchmarkBuild100MB(b *testing.B) {
	data := benchTar()
	p, _ := OCIPlatform("x86_64")
	build := func(b *testing.B, opts LayerOptions) {
		l, err := NewLayer(benchWrite(data), opts)
		if err != nil {
			b.Fatal(err)
		}
		img, err := NewImage([]v1.Layer{l}, ImageConfig{}, p, nil)
		if err != nil {
			b.Fatal(err)
		}
		idx, err := NewIndex([]v1.Image{img}, nil)
		if err != nil {
			b.Fatal(err)
		}
		out := b.TempDir()
		if err := WriteLayout(out, idx, LayoutOptions{Tag: "latest"}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		start, ops := cpuTime(), 0
		for b.Loop() {
			build(b, LayerOptions{})
			ops++
		}
		reportCPU(b, start, ops)
	})
	for _, key := range []string{"key", "diffid"} {
		b.Run("warm-"+key, func(b *testing.B) {
			cache, err := NewCache(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			opts := LayerOptions{Cache: cache}
			if key == "key" {
				opts.CacheKey = "bench"
			}
			build(b, opts) // fill the cache
			b.SetBytes(int64(len(data)))
			start, ops := cpuTime(), 0
			for b.Loop() {
				build(b, opts)
				ops++
			}
			reportCPU(b, start, ops)
		})
	}
}
