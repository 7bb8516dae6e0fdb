package apk

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"syscall"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// benchFiles is ~10 MB of content, compressible about as well as typical
// binaries (random bytes from a 64-symbol alphabet with repeats).
var benchFiles = sync.OnceValue(func() [][]byte {
	rng := rand.New(rand.NewSource(42))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	files := make([][]byte, 100)
	for i := range files {
		b := make([]byte, 100<<10)
		for j := 0; j < len(b); {
			if j > 1024 && rng.Intn(64) == 0 { // copy an earlier run
				start := rng.Intn(j - 512)
				j += copy(b[j:], b[start:start+16+rng.Intn(112)])
				continue
			}
			b[j] = alphabet[rng.Intn(len(alphabet))]
			j++
		}
		files[i] = b
	}
	return files
})

func fillBench(dw *DataWriter) error {
	if err := dw.Add(&tar.Header{Typeflag: tar.TypeDir, Name: "usr", Mode: 0o755}, nil); err != nil {
		return err
	}
	for i, b := range benchFiles() {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("usr/file%03d", i), Mode: 0o644, Size: int64(len(b))}
		if err := dw.Add(h, bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return nil
}

var benchPackage = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	if _, err := WritePackage(&buf, &PkgInfo{Name: "bench", Version: "1-r0"}, nil, nil, fillBench, WriteOptions{}); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// cpuTimer reports the process CPU time per operation ("cpu-ns/op"),
// which stays meaningful when other jobs share the machine and make
// wall-clock MB/s noisy.
func cpuTimer(b *testing.B) func() {
	start := cpuNow()
	return func() {
		b.ReportMetric(float64(cpuNow()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuNow() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// discard hides io.Discard's ReadFrom, so that io.CopyBuffer uses our
// 64 KiB buffer rather than io.Discard's 8 KiB ones.
var discard = struct{ io.Writer }{io.Discard}

// BenchmarkReadPackage reads the whole package, checking every file's
// checksum and the datahash. MB/s are of the .apk file.
func BenchmarkReadPackage(b *testing.B) {
	data := benchPackage()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	defer cpuTimer(b)()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(discard, r, buf); err != nil {
				b.Fatal(err)
			}
		}
		if r.DataHash() != r.Info().DataHash {
			b.Fatal("datahash")
		}
	}
}

// BenchmarkVerifyPackage is VerifyPackage with the signature check skipped.
func BenchmarkVerifyPackage(b *testing.B) {
	data := benchPackage()
	b.SetBytes(int64(len(data)))
	defer cpuTimer(b)()
	for b.Loop() {
		if _, err := VerifyPackage(bytes.NewReader(data), nil, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGunzipSHA256 is the lower bound for reading: decompress the
// same file (all members) and SHA-256 its compressed bytes, nothing else.
func BenchmarkGunzipSHA256(b *testing.B) {
	data := benchPackage()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(data)))
	defer cpuTimer(b)()
	for b.Loop() {
		h := sha256.New()
		zr, err := kgzip.NewReader(io.TeeReader(bytes.NewReader(data), h))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(discard, zr, buf); err != nil {
			b.Fatal(err)
		}
		h.Sum(nil)
	}
}

// BenchmarkWritePackage writes the package (unsigned) at the default
// level and at level 6. MB/s are of the uncompressed content.
func BenchmarkWritePackage(b *testing.B) {
	var size int64
	for _, f := range benchFiles() {
		size += int64(len(f))
	}
	for _, level := range []int{0, 6, 1} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			b.SetBytes(size)
			defer cpuTimer(b)()
			for b.Loop() {
				if _, err := WritePackage(io.Discard, &PkgInfo{Name: "bench", Version: "1-r0"}, nil, nil, fillBench, WriteOptions{CompressionLevel: level, TempDir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
