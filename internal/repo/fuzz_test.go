package repo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseRecords checks that ParseRecords never panics, that what it
// accepts survives WriteRecords unchanged, and that the lean parser
// ReadIndex uses agrees with it.
func FuzzParseRecords(f *testing.F) {
	f.Add([]byte("C:Q1abc=\nP:a\nV:1.0-r0\nA:x86_64\nS:1\nI:2\nT:t\nU:\nL:MIT\nD:b c>1 !d\np:so:libx.so.1=1\ni:e f\n\n"))
	f.Add([]byte("P:a\nV:1\nt:18446744073709551615\n"))
	f.Add([]byte("P:a\r\nV:1\r\n\r\n"))
	f.Add([]byte("P:a\nV:1\nD:[]\ni:\u00a0x\u2003y\n\n\n\nP:b\nV:2\n"))
	if idx, err := os.ReadFile(filepath.Join(fixtures, "signed-indexes/rsa256-signed/APKINDEX.tar.gz")); err == nil {
		if i, err := ReadIndex(bytes.NewReader(idx), nil, ReadOptions{AllowUntrusted: true}); err == nil {
			var b bytes.Buffer
			WriteRecords(&b, i.Packages)
			f.Add(b.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParseRecords(bytes.NewReader(data), "fuzz")
		lean, leanErr := parseIndexText(string(data), "fuzz", maxRecordLine)
		if (err == nil) != (leanErr == nil) {
			t.Fatalf("ParseRecords err %v, lean parser err %v", err, leanErr)
		}
		// The concurrent parser ReadIndex uses for large indexes, handed
		// the text in uneven pieces, agrees with the lean parser.
		chunked, chunkedErr := parseChunked(string(data), "fuzz", 1+len(data)%7)
		if (chunkedErr == nil) != (leanErr == nil) || (leanErr != nil && chunkedErr.Error() != leanErr.Error()) {
			t.Fatalf("chunked parser err %v, lean parser err %v", chunkedErr, leanErr)
		}
		if leanErr == nil && !samePackages(chunked, lean) {
			t.Fatal("chunked parser differs from the lean parser")
		}
		if err != nil {
			if err.Error() != leanErr.Error() {
				t.Fatalf("errors differ: %q vs %q", err, leanErr)
			}
			return
		}
		if !samePackages(pkgs, lean) {
			t.Fatal("lean parser differs from ParseRecords")
		}
		var buf bytes.Buffer
		if err := WriteRecords(&buf, pkgs); err != nil {
			t.Fatal(err)
		}
		again, err := ParseRecords(bytes.NewReader(buf.Bytes()), "fuzz")
		if err != nil {
			t.Fatalf("re-parsing written records: %v\n%q", err, buf.Bytes())
		}
		if !samePackages(pkgs, again) {
			t.Fatalf("records changed by a write/parse round trip:\n%q", buf.Bytes())
		}
	})
}

// FuzzReadIndex feeds arbitrary bytes to ReadIndex (untrusted allowed):
// it must not panic, and an accepted index must say why it is untrusted.
func FuzzReadIndex(f *testing.F) {
	for _, p := range []string{
		"signed-indexes/rsa256-signed/APKINDEX.tar.gz",
		"signed-indexes/rsa-sha1-single-stream/APKINDEX.tar.gz",
		"signed-indexes/signing/APKINDEX.tar.gz",
		"melange-built-repo/private_packages/packages/x86_64/APKINDEX.tar.gz",
	} {
		if b, err := os.ReadFile(filepath.Join(fixtures, p)); err == nil {
			f.Add(b)
		}
	}
	if b, err := EncodeIndex(&Index{Description: "d", Packages: []*Package{{Name: "a", Version: "1-r0", Depends: []string{"b"}}}}, time.Unix(0, 0)); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ReadIndex(bytes.NewReader(data), nil, ReadOptions{AllowUntrusted: true, MaxSize: 16 << 20})
		if err != nil {
			return
		}
		if idx.VerifiedBy != "" || idx.Untrusted == nil {
			t.Fatalf("verified by %q with an empty keyring (untrusted: %v)", idx.VerifiedBy, idx.Untrusted)
		}
		for _, p := range idx.Packages {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("record without name or version: %+v", p)
			}
		}
	})
}

// parseChunked parses text with a textParser, reporting it available
// step bytes (then 2*step, 3*step, ...) at a time, as readText reports
// inflated chunks.
func parseChunked(text, file string, step int) ([]*Package, error) {
	tp := &textParser{ip: indexParser{file: file, maxLine: maxRecordLine}}
	tp.start(text)
	for n := step; n < len(text); n += step + n%3 {
		tp.ready <- n
	}
	tp.ready <- len(text)
	close(tp.ready)
	<-tp.done
	return tp.pkgs, tp.err
}
