package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
)

// cpuTimer reports the process CPU time (user+system, all threads) per
// operation as "cpu-ns/op", and per package as "cpu-us/pkg" when pkgs > 0.
// CPU time stays meaningful when other jobs share the machine and make
// wall-clock figures noisy.
func cpuTimer(b *testing.B, pkgs int) func() {
	start := cpuNow()
	return func() {
		cpu := float64(cpuNow()-start) / float64(b.N)
		b.ReportMetric(cpu, "cpu-ns/op")
		if pkgs > 0 {
			b.ReportMetric(cpu/1e3/float64(pkgs), "cpu-us/pkg")
		}
	}
}

func cpuNow() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkReadAlpineIndex reads Alpine 3.17's main index (5,004
// records, 645 KiB compressed, 1.9 MiB of text) without verification.
func BenchmarkReadAlpineIndex(b *testing.B) {
	data := readFixture(b, "alpine-3.17-main-aarch64/APKINDEX.tar.gz")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	defer cpuTimer(b, 0)()
	for b.Loop() {
		idx, err := ReadIndex(bytes.NewReader(data), nil, ReadOptions{AllowUntrusted: true})
		if err != nil || len(idx.Packages) != 5004 {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRecordsAlpine parses the same text with the streaming
// ParseRecords, for comparison with the in-memory parser ReadIndex uses.
func BenchmarkParseRecordsAlpine(b *testing.B) {
	text := fixtureMember(b, fixture(b, "alpine-3.17-main-aarch64/APKINDEX.tar.gz"), "APKINDEX")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRecords(bytes.NewReader(text), "APKINDEX"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseIndexTextAlpine is the parsing part of ReadIndex alone.
func BenchmarkParseIndexTextAlpine(b *testing.B) {
	text := fixtureMember(b, fixture(b, "alpine-3.17-main-aarch64/APKINDEX.tar.gz"), "APKINDEX")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseIndexText(string(text), "APKINDEX", maxRecordLine); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPackages writes n small signed packages once per benchmark run and
// returns their paths and total size.
func benchPackages(b *testing.B, n int) (paths []string, total int64, kr *apk.Keyring) {
	b.Helper()
	s, kr := testSigner(b, "bench")
	dir := b.TempDir()
	for i := 0; i < n; i++ {
		p := testPackage(b, dir, fmt.Sprintf("pkg%04d", i), "1.0-r0", s)
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		total += st.Size()
		paths = append(paths, p)
	}
	return paths, total, kr
}

// BenchmarkBuildIndex1000 indexes 1,000 small signed packages (signature,
// datahash and checksums verified) and writes the signed index.
func BenchmarkBuildIndex1000(b *testing.B) {
	paths, total, kr := benchPackages(b, 1000)
	s, _ := testSigner(b, "bench")
	out := filepath.Join(b.TempDir(), "APKINDEX.tar.gz")
	b.SetBytes(total)
	b.ReportAllocs()
	defer cpuTimer(b, len(paths))()
	for b.Loop() {
		os.Remove(out)
		idx, err := UpdateIndex(context.Background(), out, paths, UpdateOptions{BuildOptions: BuildOptions{Keyring: kr}, Signer: s})
		if err != nil || len(idx.Packages) != len(paths) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(paths))*float64(b.N)/b.Elapsed().Seconds(), "pkgs/s")
}

// BenchmarkGunzipSHA256 is the floor for BenchmarkBuildIndex1000: reading
// the same files, inflating every gzip member and hashing the bytes, on
// the same number of goroutines.
func BenchmarkGunzipSHA256(b *testing.B) {
	paths, total, _ := benchPackages(b, 1000)
	b.SetBytes(total)
	b.ReportAllocs()
	defer cpuTimer(b, len(paths))()
	for b.Loop() {
		g := new(errgroup.Group)
		g.SetLimit(runtime.GOMAXPROCS(0))
		for _, p := range paths {
			g.Go(func() error {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				h := sha256.New()
				h.Write(data)
				h.Sum(nil)
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, zr)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(paths))*float64(b.N)/b.Elapsed().Seconds(), "pkgs/s")
}

// BenchmarkWriteAlpineIndex writes Alpine 3.17's 5,004 records as a
// signed index (sorting, gzip level 9, RSA-2048 signature).
func BenchmarkWriteAlpineIndex(b *testing.B) {
	idx := alpineIndex(b)
	s, _ := testSigner(b, "bench")
	b.ReportAllocs()
	defer cpuTimer(b, 0)()
	for b.Loop() {
		if err := WriteIndex(io.Discard, idx, s, time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}
