package config

import (
	"os"
	"testing"
)

// BenchmarkParse parses the example build file (strict YAML decoding,
// substitutions, validation).
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../../../examples/hello.melange.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, "hello.melange.yaml", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
