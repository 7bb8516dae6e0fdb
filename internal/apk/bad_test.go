package apk

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
)

// drainErr reads a whole package and returns the first error of any kind
// (checksum errors included), or nil.
func drainErr(data []byte, lim Limits) error {
	r, err := NewReader(bytes.NewReader(data), lim)
	if err != nil {
		return err
	}
	for {
		_, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
}

// patchBlock edits the idx-th header block of an uncompressed tar stream
// and fixes its checksum.
func patchBlock(t testing.TB, tarb []byte, idx int, edit func(blk []byte)) []byte {
	t.Helper()
	out := append([]byte(nil), tarb...)
	hdrs := 0
	for off := 0; off+512 <= len(out); {
		blk := out[off : off+512]
		size, _ := strconv.ParseInt(strings.Trim(string(blk[124:136]), " \x00"), 8, 64)
		if hdrs == idx {
			edit(blk)
			copy(blk[148:156], "        ")
			sum := 0
			for _, c := range blk {
				sum += int(c)
			}
			copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
			return out
		}
		hdrs++
		off += 512 + int(size+511)/512*512
	}
	t.Fatalf("no header block %d", idx)
	return nil
}

func dataMember(t testing.TB, ents ...rawEnt) []byte {
	return gz(t, rawTar(t, true, ents...))
}

func dirEnt(name string) rawEnt {
	return rawEnt{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func fileEnt(name, body string) rawEnt {
	return rawEnt{hdr: tar.Header{Name: name, PAXRecords: map[string]string{ChecksumPAXKey: fileSHA1(body)}}, body: body}
}

func TestBadInput(t *testing.T) {
	good, _ := writeSample(t, testSigner(t))
	ms := splitMembers(t, good)
	sigLen := len(gzMemberBytes(t, good, 0))
	ctlLen := len(gzMemberBytes(t, good, 1))
	dataStart := sigLen + ctlLen
	kr := testKeyring(t)
	small := Limits{MaxDataSize: 1 << 20, MaxEntries: 10, MaxFileSize: 1 << 19, MaxPathLen: 200, MaxControlSize: 1 << 16}
	_ = ms

	flip := func(b []byte, i int) []byte {
		out := append([]byte(nil), b...)
		out[i] ^= 0xff
		return out
	}
	// A data member of 100 entries, and one holding a 64 MiB file of zeros.
	var many []rawEnt
	for i := range 100 {
		many = append(many, fileEnt(fmt.Sprintf("f%03d", i), "x"))
	}
	zeros := strings.Repeat("\x00", 64<<20)
	bomb := dataMember(t, fileEnt("zeros", zeros))
	ctlClose := gz(t, rawTar(t, true, rawEnt{hdr: tar.Header{Name: ".PKGINFO"}, body: testPkgInfo}))
	okData := dataMember(t, dirEnt("usr"), fileEnt("usr/a", "a"))
	okDataTar := rawTar(t, true, dirEnt("usr"), fileEnt("usr/a", "a"))

	tests := []struct {
		name   string
		data   []byte
		lim    Limits
		verify bool   // run VerifyPackage (with kr) instead of reading
		want   string // substring of the error
		as     any    // pointer to an error type the error must match, or nil
	}{
		{name: "empty file", data: nil, want: "empty file"},
		{name: "not gzip", data: []byte("hello, world, this is not gzip"), want: "bad gzip header"},
		{name: "truncated in data", data: good[:dataStart+100], want: "data member: unexpected EOF"},
		{name: "truncated in control", data: good[:sigLen+20], want: "control member: unexpected EOF"},
		{name: "truncated after control", data: good[:dataStart], want: "data member: missing"},
		{name: "truncated gzip trailer", data: good[:len(good)-3], want: "data member: unexpected EOF"},
		{name: "corrupt data deflate", data: flip(good, dataStart+200), want: "data member"},
		{name: "corrupt data crc", data: flip(good, len(good)-6), want: "data member: gzip CRC-32"},
		{name: "corrupt control", data: flip(good, sigLen+30), want: "control member"},
		{name: "dotdot path", data: assemble(t, testPkgInfo, dataMember(t, dirEnt("usr"), fileEnt("usr/../../etc/passwd", "x")), nil), want: `".." path component`},
		{name: "leading dotdot", data: assemble(t, testPkgInfo, dataMember(t, fileEnt("../x", "x")), nil), want: `".." path component`},
		{name: "dot slash prefix", data: assemble(t, testPkgInfo, dataMember(t, fileEnt("./x", "x")), nil), want: `"." path component`},
		{name: "absolute path", data: assemble(t, testPkgInfo, dataMember(t, fileEnt("/etc/passwd", "x")), nil), want: "absolute path"},
		{name: "control char", data: assemble(t, testPkgInfo, dataMember(t, fileEnt("a\x01b", "x")), nil), want: "control character"},
		{name: "hard link outside", data: assemble(t, testPkgInfo, dataMember(t, rawEnt{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "../../etc/shadow"}}), nil), want: `hard link target "../../etc/shadow": ".." path component`},
		{name: "hard link absolute", data: assemble(t, testPkgInfo, dataMember(t, rawEnt{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "/etc/shadow"}}), nil), want: "absolute path"},
		{name: "hard link not earlier", data: assemble(t, testPkgInfo, dataMember(t, rawEnt{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "a"}}, fileEnt("a", "x")), nil), want: `hard link target "a" does not appear earlier`},
		{name: "hard link to dir", data: assemble(t, testPkgInfo, dataMember(t, dirEnt("d"), rawEnt{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "d"}}), nil), want: "is a directory"},
		{name: "typeflag NUL", data: assemble(t, testPkgInfo, gz(t, patchBlock(t, okDataTar, 2, func(b []byte) { b[156] = 0 })), nil), want: "typeflag NUL"},
		{name: "V7 header", data: assemble(t, testPkgInfo, gz(t, patchBlock(t, okDataTar, 0, func(b []byte) { copy(b[257:265], make([]byte, 8)) })), nil), want: "ustar magic"},
		{name: "sparse entry", data: assemble(t, testPkgInfo, gz(t, patchBlock(t, okDataTar, 0, func(b []byte) { b[156] = 'D' })), nil), want: "unsupported tar entry type"},
		{name: "PKGINFO without name", data: assemble(t, "pkgver = 1-r0\n", okData, nil), want: "pkgname: missing"},
		{name: "PKGINFO without version", data: assemble(t, "pkgname = a\n", okData, nil), want: "pkgver: missing"},
		{name: "no PKGINFO", data: append(gz(t, rawTar(t, false, rawEnt{hdr: tar.Header{Name: ".post-install"}, body: "#!/bin/sh\n"})), okData...), want: ".PKGINFO is missing"},
		{name: "control with EOF blocks", data: append(ctlClose, okData...), want: "end-of-archive"},
		{name: "data entry in control", data: append(gz(t, rawTar(t, false, rawEnt{hdr: tar.Header{Name: ".PKGINFO"}, body: testPkgInfo}, fileEnt("usr", "x"))), okData...), want: `entry "usr": not a top-level dot-file`},
		{name: "signature inside control", data: append(gz(t, rawTar(t, false, rawEnt{hdr: tar.Header{Name: ".PKGINFO"}, body: testPkgInfo}, rawEnt{hdr: tar.Header{Name: ".SIGN.RSA.x.rsa.pub"}, body: "sig"})), okData...), want: "signature entry inside the control member"},
		{name: "control entry in signature member", data: append(gz(t, rawTar(t, false, rawEnt{hdr: tar.Header{Name: ".SIGN.RSA.x.rsa.pub"}, body: "sig"}, rawEnt{hdr: tar.Header{Name: ".PKGINFO"}, body: testPkgInfo})), okData...), want: "not a signature entry"},
		{name: "control directory", data: append(gz(t, rawTar(t, false, rawEnt{hdr: tar.Header{Name: ".PKGINFO"}, body: testPkgInfo}, rawEnt{hdr: tar.Header{Typeflag: tar.TypeDir, Name: ".dir"}})), okData...), want: "must be regular files"},
		{name: "trailing garbage", data: append(append([]byte(nil), good...), "garbage"...), want: "more bytes follow the data member"},
		{name: "two data members", data: append(assemble(t, testPkgInfo, gz(t, rawTar(t, false, dirEnt("usr"))), nil), gz(t, rawTar(t, true, fileEnt("usr/a", "a")))...), want: "more bytes follow the data member"},
		{name: "bomb", data: assemble(t, testPkgInfo, bomb, nil), lim: small, want: "exceeds the limit MaxFileSize=524288; raise it with --max-file-size", as: new(*LimitError)},
		{name: "bomb data size", data: assemble(t, testPkgInfo, bomb, nil), lim: Limits{MaxDataSize: 1 << 20}, want: "uncompressed size of the data member exceeds the limit MaxDataSize=1048576; raise it with --max-data-size", as: new(*LimitError)},
		{name: "too many entries", data: assemble(t, testPkgInfo, dataMember(t, many...), nil), lim: small, want: "number of data entries exceeds the limit MaxEntries=10; raise it with --max-entries", as: new(*LimitError)},
		{name: "long path", data: assemble(t, testPkgInfo, dataMember(t, fileEnt(strings.Repeat("a", 300), "x")), nil), lim: small, want: "MaxPathLen=200", as: new(*LimitError)},
		{name: "big control", data: assemble(t, testPkgInfo+"pkgdesc = "+strings.Repeat("x", 70000)+"\n", okData, nil), lim: small, want: "MaxControlSize", as: new(*LimitError)},
		{name: "file checksum", data: assemble(t, testPkgInfo, dataMember(t, rawEnt{hdr: tar.Header{Name: "a", PAXRecords: map[string]string{ChecksumPAXKey: fileSHA1("original")}}, body: "tampered"}), nil), want: `entry "a": SHA-1 checksum mismatch`, as: new(*ChecksumError)},
		{name: "symlink checksum", data: assemble(t, testPkgInfo, dataMember(t, rawEnt{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/evil", PAXRecords: map[string]string{ChecksumPAXKey: fileSHA1("good")}}}), nil), want: `entry "l": SHA-1 checksum mismatch`, as: new(*ChecksumError)},
		// Verification failures.
		{name: "unsigned", data: assemble(t, testPkgInfo, okData, nil), verify: true, want: "not signed"},
		{name: "unknown key", data: assemble(t, testPkgInfo, okData, otherSigner(t, "stranger.rsa.pub")), verify: true, want: "unknown key (stranger.rsa.pub)", as: new(*UnknownKeyError)},
		{name: "signed by another key", data: assemble(t, testPkgInfo, okData, otherSigner(t, "melange.rsa.pub")), verify: true, want: "signature by melange.rsa.pub does not match", as: new(*BadSignatureError)},
		{name: "tampered control", data: func() []byte {
			// Signed control of one package, with another package's
			// control (same length) after it.
			sig := gzMemberBytes(t, good, 0)
			other, _ := writeSampleVariant(t, "sampla")
			return append(append([]byte(nil), sig...), other[len(gzMemberBytes(t, other, 0)):]...)
		}(), verify: true, want: "does not match the signed data", as: new(*BadSignatureError)},
		{name: "tampered data member", data: flip(good, dataStart+4), verify: true, want: "does not match .PKGINFO datahash", as: new(*DataHashError)},
		{name: "tampered file, datahash recomputed", data: assemble(t, testPkgInfo, dataMember(t, dirEnt("usr"), rawEnt{hdr: tar.Header{Name: "usr/a", PAXRecords: map[string]string{ChecksumPAXKey: fileSHA1("original")}}, body: "tampered"}), testSigner(t)), verify: true, want: `entry "usr/a": SHA-1 checksum mismatch`, as: new(*ChecksumError)},
		{name: "verify truncated", data: good[:dataStart+100], verify: true, want: "data member: unexpected EOF", as: new(*FormatError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.verify {
				var rep *Report
				rep, err = VerifyPackage(bytes.NewReader(tt.data), kr, tt.lim)
				if rep == nil {
					t.Fatal("nil report")
				}
				if err != nil && rep.OK() {
					t.Error("report OK with an error")
				}
			} else {
				err = drainErr(tt.data, tt.lim)
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("error %v is not a %T", err, tt.as)
			}
		})
	}
}

// gzMemberBytes returns the raw bytes of the i-th gzip member of data.
func gzMemberBytes(t testing.TB, data []byte, i int) []byte {
	t.Helper()
	tee := newTee(bytes.NewReader(data))
	sp := splitter{t: tee}
	var got []byte
	for n := 0; ; n++ {
		var cur []byte
		m, err := sp.start("member", func(b []byte) error { cur = append(cur, b...); return nil }, 1<<40, nil)
		if err != nil {
			t.Fatalf("member %d: %v", n, err)
		}
		if _, err := io.Copy(io.Discard, m); err != nil {
			t.Fatal(err)
		}
		sp.finish()
		if n == i {
			got = cur
			break
		}
	}
	return got
}

// writeSampleVariant writes the sample package under another name.
func writeSampleVariant(t testing.TB, name string) ([]byte, *WriteResult) {
	t.Helper()
	info := sampleInfo()
	info.Name = name
	var buf bytes.Buffer
	res, err := WritePackage(&buf, info, sampleScripts, sampleExtra, fillSample, WriteOptions{SourceDateEpoch: testEpoch, Signer: testSigner(t)})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), res
}

// TestChecksumErrorNotFinal checks that a checksum mismatch can be skipped.
func TestChecksumErrorNotFinal(t *testing.T) {
	data := assemble(t, testPkgInfo, dataMember(t,
		rawEnt{hdr: tar.Header{Name: "a", PAXRecords: map[string]string{ChecksumPAXKey: fileSHA1("x")}}, body: "y"},
		rawEnt{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "t", PAXRecords: map[string]string{ChecksumPAXKey: fileSHA1("u")}}},
		fileEnt("b", "b"),
	), nil)
	// Skipping content: Next reports the error, then goes on.
	r, err := NewReader(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var errs int
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		var ce *ChecksumError
		if errors.As(err, &ce) {
			errs++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
	}
	if errs != 2 || strings.Join(names, ",") != "a,l,b" {
		t.Errorf("names %v, %d checksum errors", names, errs)
	}
	if r.DataHash() != r.Info().DataHash {
		t.Error("datahash")
	}
	// Reading content: Read reports it at the end.
	r, _ = NewReader(bytes.NewReader(data), Limits{})
	r.Next()
	b, err := io.ReadAll(r)
	var ce *ChecksumError
	if string(b) != "y" || !errors.As(err, &ce) || ce.Want != fileSHA1("x") || ce.Got != fileSHA1("y") {
		t.Errorf("Read: %q %v", b, err)
	}
	if _, err := r.Next(); err != nil {
		t.Errorf("Next after a reported checksum error: %v", err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.As(err, &ce) {
		t.Errorf("symlink Read: %v", err)
	}
	if f, err := r.Next(); err != nil || f.Name != "b" {
		t.Errorf("Next: %v %v", f, err)
	}
	if err := r.Drain(); err != nil {
		t.Error(err)
	}
}

// TestLegacyIdentity: without datahash, the identity covers control and
// data and is known only at the end.
func TestLegacyIdentity(t *testing.T) {
	ctl := gz(t, rawTar(t, false, rawEnt{hdr: tar.Header{Name: ".PKGINFO"}, body: testPkgInfo}))
	dm := dataMember(t, fileEnt("a", "a"))
	data := append(append([]byte(nil), ctl...), dm...)
	r, err := NewReader(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Identity() != "" {
		t.Errorf("legacy identity before the end: %s", r.Identity())
	}
	if err := r.Drain(); err != nil {
		t.Fatal(err)
	}
	if want := identityOf(data); r.Identity() != want {
		t.Errorf("legacy identity %s, want %s", r.Identity(), want)
	}
	rep, err := VerifyPackage(bytes.NewReader(data), nil, Limits{})
	if err != nil || rep.Check(CheckDataHash).Status != StatusSkipped {
		t.Errorf("verify legacy: %v %+v", err, rep.Check(CheckDataHash))
	}
}

// TestTrustDataHash checks that TrustDataHash skips the per-file checks
// of a package with a datahash, and only of such a package.
func TestTrustDataHash(t *testing.T) {
	entries := []rawEnt{
		{hdr: tar.Header{Name: "a", PAXRecords: map[string]string{ChecksumPAXKey: fileSHA1("x")}}, body: "y"},
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "t", PAXRecords: map[string]string{ChecksumPAXKey: fileSHA1("u")}}},
	}
	read := func(data []byte, trust bool) (checksumErrs int, final error) {
		r, err := NewReader(bytes.NewReader(data), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if trust {
			r.TrustDataHash()
		}
		for {
			f, err := r.Next()
			if err == io.EOF {
				return checksumErrs, nil
			}
			var ce *ChecksumError
			if errors.As(err, &ce) {
				checksumErrs++
				continue
			}
			if err != nil {
				return checksumErrs, err
			}
			if f.Checksum == "" {
				t.Errorf("%s: the record is not kept in File.Checksum", f.Name)
			}
			if _, err := io.ReadAll(r); errors.As(err, &ce) {
				checksumErrs++
			}
		}
	}
	withHash := assemble(t, testPkgInfo, dataMember(t, entries...), nil)
	if n, err := read(withHash, false); n != 2 || err != nil {
		t.Errorf("datahash, checked: %d checksum errors, %v; want 2", n, err)
	}
	if n, err := read(withHash, true); n != 0 || err != nil {
		t.Errorf("datahash, trusted: %d checksum errors, %v; want 0", n, err)
	}
	// Without a datahash (a legacy package) the checks stay. (A comment
	// naming datahash keeps assemble from adding one.)
	legacy := assemble(t, "# no datahash\n"+testPkgInfo, dataMember(t, entries...), nil)
	r, err := NewReader(bytes.NewReader(legacy), Limits{})
	if err != nil || r.Info().DataHash != "" {
		t.Fatalf("legacy package: %v, datahash %q", err, r.Info().DataHash)
	}
	if n, err := read(legacy, true); n != 2 || err != nil {
		t.Errorf("legacy package, TrustDataHash: %d checksum errors, %v; want 2", n, err)
	}
}
