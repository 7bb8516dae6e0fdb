package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/reef-dev/reef/internal/build/config"
)

// BenchmarkTrivialBuild measures a whole warm build of a file with one
// run step writing one file: load and compile, resolve the build
// environment (its root cached), run the step in the sandbox, write and
// sign the package, update and sign the index. melange takes about 0.21 s
// (busybox-only environment) and 1.8 s (a ~50-package one) for this.
func BenchmarkTrivialBuild(b *testing.B) {
	for _, env := range []struct{ name, packages string }{
		{"busybox", "[busybox]"},
		{"build-base", "[build-base, busybox]"},
	} {
		b.Run(env.name, func(b *testing.B) {
			e := newRTEnv(b, "")
			doc := fmt.Sprintf(`package:
  name: trivial
  version: 1.0
  epoch: 0
  copyright:
    - license: MIT
environment:
  contents:
    packages: %s
pipeline:
  - runs: |
      mkdir -p ${{targets.destdir}}/usr/share/trivial
      echo hello > ${{targets.destdir}}/usr/share/trivial/hello.txt
`, env.packages)
			file := filepath.Join(b.TempDir(), "trivial.yaml")
			if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
				b.Fatal(err)
			}
			opts := e.options()
			opts.Logger = nil
			build := func() *Result {
				cfg, err := config.Load(file, config.Options{})
				if err != nil {
					b.Fatal(err)
				}
				plan, err := Compile(cfg, Options{SourceDateEpoch: rtEpoch})
				if err != nil {
					b.Fatal(err)
				}
				res, err := Run(context.Background(), plan, opts)
				if err != nil {
					b.Fatalf("%v\n%s", err, e.output.String())
				}
				return res
			}
			res := build() // makes the cached build environment
			b.ResetTimer()
			for b.Loop() {
				build()
			}
			b.ReportMetric(float64(len(res.Guest.Packages)), "guest-pkgs")
		})
	}
}
