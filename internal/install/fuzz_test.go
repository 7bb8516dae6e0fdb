package install

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParseInstalled: ParseInstalled never panics, and what it accepts
// is written and parsed back to the same packages, byte-stably.
func FuzzParseInstalled(f *testing.F) {
	for _, name := range []string{"wolfi-base", "redis-operator-compat", "bad-top-level-perms"} {
		f.Add(readFixture(f, "installed-db/"+name))
	}
	f.Add([]byte("P:a\nV:1\nF:\nM:1:2:4755:Q1x=\nR:f\na:0:0:0644\nZ:Q1y=\nr:b<2 c\nq:5\ns:tag\nf:fs\n\n"))
	f.Add([]byte("P:a\nV:1\nD: []\ni:[]\nF:usr\nF:usr\nR:x\nR:x\n\n\n\nP:b\nV:2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParseInstalled(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteInstalled(&out, pkgs); err != nil {
			t.Fatal(err)
		}
		again, err := ParseInstalled(bytes.NewReader(out.Bytes()), "rewritten")
		if err != nil {
			t.Fatalf("rewritten database does not parse: %v\n%q", err, out.Bytes())
		}
		if !reflect.DeepEqual(pkgs, again) {
			t.Fatalf("parse(write(p)) != p\ninput %q\nwritten %q", data, out.Bytes())
		}
		var out2 bytes.Buffer
		WriteInstalled(&out2, again)
		if !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("writing is not stable")
		}
	})
}
