package debimport

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/version"
)

// FuzzReadDeb feeds arbitrary bytes to the .deb reader (ar, debian-binary,
// control.tar, control file) and, when that succeeds, converts the data
// member into an apk data member in memory. It must never panic, and every
// entry it accepts must have a clean relative path.
func FuzzReadDeb(f *testing.F) {
	f.Add(buildDeb(f, ".gz", goodDataEntries...))
	f.Add(buildDeb(f, "", goodDataEntries...))
	f.Add(buildDeb(f, ".xz", tarEntry{name: "./a/../../b", body: "x"}))
	f.Add(buildDeb(f, ".zst", tarEntry{name: "./x", typ: tar.TypeLink, linkname: "./y"}))
	f.Add(buildAr(arMember{"debian-binary", []byte("2.0\n")}, arMember{"control.tar", buildTar(f, "", tarEntry{name: "./control", body: testControl})}))
	f.Add([]byte(arMagic))
	f.Add([]byte(arMagic + "debian-binary   0           0     0     100644  4         `\n2.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := readDeb(bytes.NewReader(data))
		if err != nil {
			return
		}
		if d.control == nil || d.data == nil {
			t.Fatal("readDeb succeeded without control or data")
		}
		info, err := mapControl(d.control, &Result{})
		if err == nil && !version.Valid(info.Version) {
			t.Fatalf("mapped version %q is not valid", info.Version)
		}
		suffix, _ := tarCompression(d.data.Name, "data.tar")
		zr, release, err := decompressor(d.ar, suffix)
		if err != nil {
			return
		}
		defer release()
		// Bound the work per input: the fuzzer's bytes can describe huge
		// (sparse) files.
		lr := &limitReader{r: zr, n: 1 << 20, err: io.ErrShortBuffer}
		dw := apk.NewDataWriter(io.Discard, apk.WriteOptions{CompressionLevel: 1})
		c := newConverter(t.Context(), dw, "demo", "")
		defer c.close()
		if err := c.convert(tar.NewReader(lr)); err != nil {
			return
		}
		for name := range c.names {
			if p, err := cleanPath(name); err != nil || p != name || strings.HasPrefix(name, "/") {
				t.Fatalf("accepted entry %q", name)
			}
		}
		dw.Close()
	})
}

// FuzzParseControl checks that the control parser never panics and that
// what it accepts has the required fields.
func FuzzParseControl(f *testing.F) {
	f.Add([]byte(testControl))
	f.Add([]byte("Package: a\nVersion: 1\n"))
	f.Add([]byte("Package: a\n Version: 1\n\nX: y\n"))
	f.Add([]byte("\r\n#x\n:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseControl(data)
		if err != nil {
			return
		}
		if p.Get("Package") == "" || p.Get("Version") == "" {
			t.Fatalf("accepted a control file without Package or Version: %q", data)
		}
		seen := map[string]bool{}
		for _, f := range p.Fields {
			k := strings.ToLower(f.Name)
			if seen[k] || !validFieldName(f.Name) {
				t.Fatalf("field %q accepted twice or invalid", f.Name)
			}
			seen[k] = true
		}
		// Relationship fields and the license never panic either.
		MapDepends(p.Get("Depends"), p.Get("Architecture"))
		MapProvides(p.Get("Provides"))
		copyrightLicense(data)
	})
}

// FuzzMapVersion checks that every version MapVersion returns is a valid
// apk version, and that dependencies built from it parse.
func FuzzMapVersion(f *testing.F) {
	for _, v := range []string{"2.36-9+deb12u10", "1:1.36.1-9", "12.2.0-14+deb12u1", "2.40-2", "4.3-4.1",
		"1.2.13.dfsg-1", "3.0.18-1~deb12u1", "0.2.8~rc1-1", "20230311", "7.88.1-10+deb12u14",
		"1:9.2p1-2+deb12u3", "8.3.2+~8.3.3-3", "0.0~git20230101.1a2b3c4-2", "1.0+really0.9-1", "2.0.5~"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, deb string) {
		v, err := MapVersion(deb)
		if err != nil {
			return
		}
		if !version.Valid(v) {
			t.Fatalf("MapVersion(%q) = %q, not a valid apk version", deb, v)
		}
		if _, err := version.ParseDep("a>=" + v); err != nil {
			t.Fatalf("MapVersion(%q) = %q: %v", deb, v, err)
		}
	})
}
