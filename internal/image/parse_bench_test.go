package image

import (
	"os"
	"testing"
)

// BenchmarkParseConfig parses an example image file (strict YAML
// decoding and validation).
func BenchmarkParseConfig(b *testing.B) {
	data, err := os.ReadFile("../../examples/melange-fixture.image.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseConfig(data, "melange-fixture.image.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}
