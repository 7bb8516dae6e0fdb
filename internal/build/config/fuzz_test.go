package config

import (
	"errors"
	"os"
	"testing"
)

func FuzzLoad(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "vars:\n  a: &x 3.10\n  b: *x\ndata:\n  - name: d\n    items: {3.10: ~, 3.9: x}\nsubpackages:\n  - range: d\n    name: p${{range.key}}\n"))
	f.Add([]byte(minimal + "var-transforms:\n  - from: ${{package.version}}\n    match: (\\d+)\n    replace: $1$1\n    to: v\npipeline:\n  - uses: a\n    with: {x: ${{vars.v}}}\n"))
	f.Add([]byte("package: {name: p, version: '1', <<: {epoch: 2}}\n"))
	if data, err := os.ReadFile("../../../examples/hello.melange.yaml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml", Options{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not an *Error", err, err)
			}
			return
		}
		if cfg.Package.Name == "" || cfg.Package.Version == "" {
			t.Fatalf("accepted a file without name or version")
		}
		for _, sp := range cfg.Subpackages {
			if sp.Range != "" {
				t.Fatalf("range %q not expanded", sp.Range)
			}
		}
	})
}
