package solve

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/repo"
)

var benchWorld = []string{"build-base", "python3", "nginx", "openssl-dev"}

// cpuTime returns the CPU time the process has used. Benchmarks report it
// per operation ("cpu-ms/op") because wall time is meaningless on a
// loaded machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkSolveAlpineCold parses the Alpine 3.17 index text and solves
// build-base python3 nginx openssl-dev: what one `reef resolve` does
// after decompressing the index.
func BenchmarkSolveAlpineCold(b *testing.B) {
	text, _ := loadAlpine(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		pkgs, err := repo.ParseRecords(bytes.NewReader(text), "APKINDEX")
		if err != nil {
			b.Fatal(err)
		}
		_, err = Solve(ctx, Request{
			World: benchWorld,
			Repos: []Repository{{Name: "main", Packages: pkgs}},
			Arch:  "aarch64",
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSolveAlpineWarm solves the same world against an Index built
// once.
func BenchmarkSolveAlpineWarm(b *testing.B) {
	_, pkgs := loadAlpine(b)
	ix, err := NewIndex([]Repository{{Name: "main", Packages: pkgs}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := Request{World: benchWorld, Arch: "aarch64"}
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		if _, err := ix.Solve(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewIndexAlpine measures indexing the parsed Alpine packages.
func BenchmarkNewIndexAlpine(b *testing.B) {
	_, pkgs := loadAlpine(b)
	repos := []Repository{{Name: "main", Packages: pkgs}}
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		if _, err := NewIndex(repos); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSolveAlpineUnsatisfiable measures a failing solve with its
// explanation.
func BenchmarkSolveAlpineUnsatisfiable(b *testing.B) {
	_, pkgs := loadAlpine(b)
	ix, err := NewIndex([]Repository{{Name: "main", Packages: pkgs}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := Request{World: []string{"build-base", "python3>=4", "nginx"}, Arch: "aarch64"}
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		if _, err := ix.Solve(ctx, req); err == nil {
			b.Fatal("solved")
		}
	}
}

// BenchmarkParseAlpine measures repo.ParseRecords on the index text alone,
// for comparison with the cold solve.
func BenchmarkParseAlpine(b *testing.B) {
	text, _ := loadAlpine(b)
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		if _, err := repo.ParseRecords(bytes.NewReader(text), "APKINDEX"); err != nil {
			b.Fatal(err)
		}
	}
}

// syntheticRepo builds a Wolfi-like repository: names packages, each in
// versions versions, each version depending on a few lower-numbered names
// through so: provides, like real libraries.
func syntheticRepo(names, versions int) []*repo.Package {
	var pkgs []*repo.Package
	for i := range names {
		for v := 1; v <= versions; v++ {
			p := &repo.Package{
				Name:     fmt.Sprintf("pkg%d", i),
				Version:  fmt.Sprintf("1.%d-r0", v),
				Checksum: fmt.Sprintf("Q1syn%d.%d", i, v),
				Provides: []string{fmt.Sprintf("so:libpkg%d.so.1=1.%d", i, v), fmt.Sprintf("cmd:pkg%d=1.%d-r0", i, v)},
			}
			for k := 1; k <= 4 && i-k*7 >= 0; k++ {
				p.Depends = append(p.Depends, fmt.Sprintf("so:libpkg%d.so.1", i-k*7))
			}
			if i%10 == 0 && i > 0 {
				// a -dev style exact pin on the previous name
				p.Depends = append(p.Depends, fmt.Sprintf("pkg%d>=1.%d-r0", i-1, (v+1)/2))
			}
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

// BenchmarkSolveManyVersions solves against a synthetic index of 2,000
// names in 20 versions each (40,000 packages), the shape of Wolfi's.
func BenchmarkSolveManyVersions(b *testing.B) {
	ix, err := NewIndex([]Repository{{Name: "synthetic", Packages: syntheticRepo(2000, 20)}})
	if err != nil {
		b.Fatal(err)
	}
	var world []string
	for i := 1990; i < 2000; i++ {
		world = append(world, fmt.Sprintf("pkg%d", i))
	}
	ctx := context.Background()
	req := Request{World: world}
	plan, err := ix.Solve(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(plan.Packages)), "pkgs")
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		if _, err := ix.Solve(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSolveAlpineFromFile is the whole cold path of `reef resolve`
// minus signature checking: decompress APKINDEX.tar.gz, parse, index and
// solve.
func BenchmarkSolveAlpineFromFile(b *testing.B) {
	loadAlpine(b) // skips when the fixture is absent
	ctx := context.Background()
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		text, err := readIndexText(alpineIndex)
		if err != nil {
			b.Fatal(err)
		}
		pkgs, err := repo.ParseRecords(bytes.NewReader(text), "APKINDEX")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Solve(ctx, Request{World: benchWorld, Repos: []Repository{{Name: "main", Packages: pkgs}}, Arch: "aarch64"}); err != nil {
			b.Fatal(err)
		}
	}
}
