package build

import (
	"os"
	"testing"

	"github.com/reef-dev/reef/internal/build/config"
)

// FuzzCompile feeds build files through Load and Compile: whatever the
// input, compilation ends in a plan or an error, never a panic.
func FuzzCompile(f *testing.F) {
	for _, name := range []string{"../../examples/hello.melange.yaml", "testdata/golden/full.yaml", "testdata/wolfi/libfoo.yaml"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(header + "pipeline:\n  - assertions: {required-steps: 1}\n    pipeline:\n      - if: ${{build.arch}} == 'x86_64'\n        uses: git-checkout\n        with: {repository: r, depth: '-1', cherry-picks: 'a/0123456789abcdef0123456789abcdef01234567: c'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data, "fuzz.yaml", config.Options{})
		if err != nil {
			return
		}
		b, err := Compile(cfg, Options{Arch: "x86_64", PipelineDirs: []string{"testdata/golden/pipelines"}})
		if err != nil {
			return
		}
		if len(b.Packages) == 0 || b.Packages[0].Name != cfg.Package.Name {
			t.Fatalf("main package missing from the plan")
		}
	})
}
