package install

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/reef-dev/reef/internal/apk"
)

// benchData is a generated package of about 50 MB of file content: 800
// files from 1 KiB to 128 KiB of text-like (compressible) bytes in 40
// directories, some symlinks and hard links.
var benchData = sync.OnceValues(func() ([]byte, int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"install", "root", "package", "the", "of", "apk", "file", "\n", "reef", "symlink", "0x7f", "directory", "{", "}", "return", "err", "nil"}
	var entries []tEntry
	var total int64
	for d := 0; d < 40; d++ {
		dir := fmt.Sprintf("usr/share/bench/d%02d", d)
		if d == 0 {
			entries = append(entries, dirs(dir)...)
		} else {
			entries = append(entries, tEntry{Name: dir, Type: tar.TypeDir})
		}
		for f := 0; f < 20; f++ {
			size := 1024 + rng.IntN(127*1024)
			if (d*20+f)%7 == 0 {
				size = 1024 + rng.IntN(4096)
			}
			var b bytes.Buffer
			for b.Len() < size {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			body := b.String()[:size]
			total += int64(size)
			entries = append(entries, tEntry{Name: fmt.Sprintf("%s/f%02d", dir, f), Body: body})
		}
		entries = append(entries,
			tEntry{Name: dir + "/link", Type: tar.TypeSymlink, Linkname: "f00"},
			tEntry{Name: dir + "/hard", Type: tar.TypeLink, Linkname: dir + "/f01"})
	}
	var out bytes.Buffer
	info := apk.PkgInfo{Name: "bench", Version: "1-r0", Arch: "x86_64"}
	_, err := apk.WritePackage(&out, &info, nil, nil, func(dw *apk.DataWriter) error {
		for _, e := range entries {
			var body io.Reader
			if e.Type == 0 {
				body = bytes.NewReader([]byte(e.Body))
			}
			if err := dw.Add(e.header(), body); err != nil {
				return err
			}
		}
		return nil
	}, apk.WriteOptions{CompressionLevel: 6})
	if err != nil {
		panic(err)
	}
	return out.Bytes(), total
})

// cpuRate reports, besides the wall-clock MB/s, the MB processed per
// second of CPU time (user + system) of the whole process: on a shared,
// loaded machine it is the steadier figure. Call the returned function
// after the loop.
func cpuRate(b *testing.B, bytesPerOp int64) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		used := cpu() - start
		if used > 0 && b.N > 0 {
			b.ReportMetric(float64(bytesPerOp)*float64(b.N)/used.Seconds()/1e6, "cpu-MB/s")
		}
	}
}

func BenchmarkInstallDir(b *testing.B) {
	data, total := benchData()
	b.SetBytes(total)
	b.ReportAllocs()
	parent := b.TempDir()
	done := cpuRate(b, total)
	defer done()
	for i := 0; b.Loop(); i++ {
		d, err := OpenDir(filepath.Join(parent, fmt.Sprint(i)))
		if err != nil {
			b.Fatal(err)
		}
		in := &Installer{FS: d}
		if _, err := in.Install(context.Background(), []Package{memPkg(data)}, Options{}); err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

func BenchmarkInstallMem(b *testing.B) {
	data, total := benchData()
	b.SetBytes(total)
	b.ReportAllocs()
	done := cpuRate(b, total)
	defer done()
	for b.Loop() {
		in := &Installer{FS: NewMemFS()}
		if _, err := in.Install(context.Background(), []Package{memPkg(data)}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGunzipOnly decompresses the same package and discards the
// bytes: the limit an installer streaming it can reach on one core.
func BenchmarkGunzipOnly(b *testing.B) {
	data, total := benchData()
	b.SetBytes(total)
	done := cpuRate(b, total)
	defer done()
	for b.Loop() {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadOnly reads the package with apk.Reader (decompression,
// tar parsing, per-file SHA-1 checks, identity and datahash) without
// installing anything.
func BenchmarkReadOnly(b *testing.B) {
	data, total := benchData()
	b.SetBytes(total)
	done := cpuRate(b, total)
	defer done()
	for b.Loop() {
		r, err := apk.NewReader(bytes.NewReader(data), apk.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Drain(); err != nil {
			b.Fatal(err)
		}
	}
}
