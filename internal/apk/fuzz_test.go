package apk

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"os"
	"reflect"
	"testing"
)

// fuzzLimits keep each fuzz input cheap.
var fuzzLimits = Limits{MaxControlSize: 1 << 20, MaxDataSize: 8 << 20, MaxEntries: 1000, MaxFileSize: 4 << 20, MaxPathLen: 1024}

// fuzzSigner is a small key: signing must not dominate fuzzing time.
var fuzzSigner = func() *Signer {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return &Signer{Key: k, KeyName: "fuzz.rsa.pub"}
}()

func FuzzReader(f *testing.F) {
	// Small seeds only: the fuzzer minimises every new interesting input,
	// which takes long for large ones.
	for _, p := range fixturePackages(f) {
		if data, err := os.ReadFile(p); err == nil && len(data) < 8<<10 {
			f.Add(data)
		}
	}
	good, _ := writeSample(f, nil)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), fuzzLimits)
		if err != nil {
			if r != nil {
				t.Fatal("non-nil Reader with an error")
			}
			return
		}
		_ = r.Identity()
		for range 2000 {
			f, err := r.Next()
			if err == io.EOF {
				if r.DataHash() == "" || r.Size() != int64(len(data)) {
					t.Fatalf("at EOF: datahash %q, size %d of %d", r.DataHash(), r.Size(), len(data))
				}
				break
			}
			if err != nil {
				if _, ok := err.(*ChecksumError); ok {
					continue
				}
				// Errors other than checksum errors are final.
				if _, err2 := r.Next(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				break
			}
			if f.Header == nil || f.Name == "" {
				t.Fatal("entry without a name")
			}
			io.Copy(io.Discard, r)
		}
		VerifyPackage(bytes.NewReader(data), NewKeyring(), fuzzLimits)
		Resign(bytes.NewReader(data), io.Discard, fuzzSigner)
	})
}

func FuzzParsePkgInfo(f *testing.F) {
	for _, p := range fixturePackages(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if r, err := NewReader(bytes.NewReader(data), Limits{}); err == nil {
			f.Add(r.PkgInfoBytes())
		}
	}
	f.Add([]byte("pkgname = a\npkgver = 1\nbuilddate = 9223372036854775808\n"))
	f.Add([]byte("# c\npkgname = a\npkgver = 1\npkgdesc = x = y\ndepend = a  b\ndatahash = " + string(bytes.Repeat([]byte("a"), 64)) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePkgInfo(bytes.NewReader(data))
		if err != nil {
			return
		}
		text, err := p.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText of a parsed .PKGINFO: %v\n%+v", err, p)
		}
		q, err := ParsePkgInfo(bytes.NewReader(text))
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, text)
		}
		if !reflect.DeepEqual(normInfo(p), normInfo(q)) {
			t.Fatalf("round trip differs:\n%#v\n%#v\n%q", p, q, text)
		}
	})
}

// normInfo treats nil and empty slices alike.
func normInfo(p *PkgInfo) PkgInfo {
	c := *p
	for _, s := range []*[]string{&c.Depends, &c.Provides, &c.InstallIf, &c.Replaces, &c.Triggers, &c.Comments} {
		if len(*s) == 0 {
			*s = nil
		}
	}
	return c
}
