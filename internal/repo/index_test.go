package repo

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/version"
)

func TestReadFixtureIndexes(t *testing.T) {
	tests := []struct {
		index    string
		keys     []string // fixture-relative key files for the keyring
		verified string   // expected VerifiedBy; "" when verification must fail
		unknown  []string // expected UnknownKeyError names
		packages int
		desc     string
	}{
		{
			index:    "alpine-3.17-main-aarch64/APKINDEX.tar.gz",
			unknown:  []string{"alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"},
			packages: 5004,
		},
		{
			index:    "alpine-3.16-main-aarch64/APKINDEX.tar.gz",
			keys:     []string{"alpine-3.16-main-aarch64/alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub"},
			unknown:  []string{"alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"},
			packages: 4929,
		},
		{
			index:    "signed-indexes/rsa256-signed/APKINDEX.tar.gz",
			keys:     []string{"signed-indexes/rsa256-signed/test-rsa256.rsa.pub"},
			verified: "test-rsa256.rsa.pub",
			packages: 1,
		},
		{
			index:    "melange-built-repo/packages/x86_64/APKINDEX.tar.gz",
			keys:     []string{"melange-built-repo/melange.rsa.pub"},
			verified: "melange.rsa.pub",
			packages: 4,
		},
		{
			index:    "melange-built-repo/packages/aarch64/APKINDEX.tar.gz",
			keys:     []string{"melange-built-repo/packages/melange.rsa.pub"},
			verified: "melange.rsa.pub",
			packages: 4,
		},
		{
			index:    "melange-built-repo/private_packages/packages/x86_64/APKINDEX.tar.gz",
			keys:     []string{"melange-built-repo/private_packages/private_pkg_key.rsa.pub"},
			verified: "private_pkg_key.rsa.pub",
			packages: 2,
		},
		{
			index:    "melange-built-repo/private_packages/packages/aarch64/APKINDEX.tar.gz",
			keys:     []string{"melange-built-repo/private_packages/private_pkg_key.rsa.pub"},
			verified: "private_pkg_key.rsa.pub",
			packages: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.index, func(t *testing.T) {
			path := fixture(t, tc.index)
			kr := keyringOf(t, tc.keys...)
			idx, err := ReadIndexFile(path, kr, ReadOptions{})
			if tc.verified != "" {
				if err != nil {
					t.Fatal(err)
				}
				if idx.VerifiedBy != tc.verified || idx.Untrusted != nil {
					t.Fatalf("VerifiedBy = %q (untrusted: %v), want %q", idx.VerifiedBy, idx.Untrusted, tc.verified)
				}
			} else {
				var uk *apk.UnknownKeyError
				if !errors.As(err, &uk) {
					t.Fatalf("err = %v, want an unknown key error", err)
				}
				if !slices.Equal(uk.KeyNames, tc.unknown) {
					t.Fatalf("unknown keys %q, want %q", uk.KeyNames, tc.unknown)
				}
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.unknown[0]) {
					t.Errorf("error %q does not name the file and the key", err)
				}
				idx, err = ReadIndexFile(path, kr, ReadOptions{AllowUntrusted: true})
				if err != nil {
					t.Fatal(err)
				}
				if !errors.As(idx.Untrusted, &uk) || idx.VerifiedBy != "" {
					t.Fatalf("untrusted read: Untrusted = %v, VerifiedBy = %q", idx.Untrusted, idx.VerifiedBy)
				}
			}
			if len(idx.Packages) != tc.packages {
				t.Fatalf("%d packages, want %d", len(idx.Packages), tc.packages)
			}
			for _, p := range idx.Packages {
				if p.Checksum == "" || p.Name == "" || p.Version == "" || p.Size == 0 {
					t.Fatalf("incomplete record %+v", p)
				}
			}
			// The lean parser agrees with ParseRecords.
			text := fixtureMember(t, path, "APKINDEX")
			want, err := ParseRecords(bytes.NewReader(text), "APKINDEX")
			if err != nil {
				t.Fatal(err)
			}
			if !samePackages(idx.Packages, want) {
				t.Fatal("ReadIndex records differ from ParseRecords")
			}
			if idx.Description != string(fixtureMember(t, path, "DESCRIPTION")) {
				t.Errorf("Description = %q", idx.Description)
			}
		})
	}
}

// fixtureMember extracts one tar entry of an index with the standard
// library, independently of ReadIndex.
func fixtureMember(t testing.TB, path, name string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s: %v", path, name, err)
		}
		if hdr.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestAlpineIndexContent(t *testing.T) {
	idx, err := ReadIndexFile(fixture(t, "alpine-3.17-main-aarch64/APKINDEX.tar.gz"), nil, ReadOptions{AllowUntrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Signatures) != 1 || idx.Signatures[0].Alg != apk.AlgRSA ||
		idx.Signatures[0].KeyName != "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub" || len(idx.Signatures[0].Value) != 512 {
		t.Fatalf("signatures %+v", idx.Signatures)
	}
	if !strings.HasPrefix(idx.Description, "v3.17") {
		t.Errorf("Description = %q", idx.Description)
	}
	var musl *Package
	for _, p := range idx.Packages {
		if p.Name == "musl" {
			musl = p
		}
	}
	if musl == nil || musl.Arch != "aarch64" || musl.Origin != "musl" || !slices.Contains(musl.Provides, "so:libc.musl-aarch64.so.1=1") {
		t.Fatalf("musl record %+v", musl)
	}
}

func TestSigningFixtureEachKey(t *testing.T) {
	dir := fixture(t, "signed-indexes/signing")
	path := filepath.Join(dir, "APKINDEX.tar.gz")
	ents, err := os.ReadDir(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		kr := keyringOf(t, filepath.Join("signed-indexes/signing/keys", e.Name()))
		idx, err := ReadIndexFile(path, kr, ReadOptions{})
		if err != nil {
			t.Fatalf("with only %s: %v", e.Name(), err)
		}
		if idx.VerifiedBy != e.Name() || len(idx.Signatures) != 3 {
			t.Fatalf("with only %s: VerifiedBy %q, %d signatures", e.Name(), idx.VerifiedBy, len(idx.Signatures))
		}
	}
	if len(names) != 3 {
		t.Fatalf("%d keys in the fixture", len(names))
	}
	_, err = ReadIndexFile(path, apk.NewKeyring(), ReadOptions{})
	var uk *apk.UnknownKeyError
	if !errors.As(err, &uk) {
		t.Fatalf("err = %v, want unknown key", err)
	}
	got := slices.Clone(uk.KeyNames)
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Fatalf("unknown key names %q, want %q", got, names)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error does not list %s: %v", n, err)
		}
	}
}

func TestSingleStreamIndex(t *testing.T) {
	path := fixture(t, "signed-indexes/rsa-sha1-single-stream/APKINDEX.tar.gz")
	_, err := ReadIndexFile(path, nil, ReadOptions{})
	if !errors.Is(err, apk.ErrUnsigned) || !strings.Contains(err.Error(), "inside the index's gzip member") {
		t.Fatalf("err = %v, want unverifiable (unsigned)", err)
	}
	idx, err := ReadIndexFile(path, nil, ReadOptions{AllowUntrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Packages) != 2 || idx.Packages[0].Name != "a-pkg" || idx.Packages[1].Name != "b-pkg" {
		t.Fatalf("packages %v", idx.Packages)
	}
	if idx.Description != "v20210402-2123-gabcdef\n" {
		t.Errorf("Description = %q", idx.Description)
	}
	if len(idx.Signatures) != 1 || idx.Signatures[0].Alg != apk.AlgRSA || idx.Signatures[0].KeyName != "main@tainer.com-abcdef12.rsa.pub" {
		t.Errorf("signatures %+v", idx.Signatures)
	}

	// Re-signing makes it verifiable, keeping the index bytes.
	tmp := filepath.Join(t.TempDir(), "APKINDEX.tar.gz")
	orig := readFixture(t, "signed-indexes/rsa-sha1-single-stream/APKINDEX.tar.gz")
	if err := os.WriteFile(tmp, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	s, kr := testSigner(t, "resign")
	if err := SignIndex(tmp, s); err != nil {
		t.Fatal(err)
	}
	idx2, err := ReadIndexFile(tmp, kr, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if idx2.VerifiedBy != "resign.rsa.pub" || !samePackages(idx2.Packages, idx.Packages) {
		t.Fatalf("re-signed: VerifiedBy %q", idx2.VerifiedBy)
	}
	data, _ := os.ReadFile(tmp)
	if !bytes.HasSuffix(data, orig) {
		t.Error("re-signing changed the index member")
	}
}

// TestPrivateIndexJSON checks the RSA-SHA1 repository's records against
// the APKINDEX.json melange wrote beside it.
func TestPrivateIndexJSON(t *testing.T) {
	for _, arch := range []string{"x86_64", "aarch64"} {
		dir := "melange-built-repo/private_packages/packages/" + arch
		idx, err := ReadIndexFile(fixture(t, dir+"/APKINDEX.tar.gz"), keyringOf(t, "melange-built-repo/private_packages/private_pkg_key.rsa.pub"), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var j struct {
			Packages []struct {
				Name, Version, Arch, Description, License, Origin, Checksum string
				Dependencies                                                []string
				Size, InstalledSize                                         uint64
			}
		}
		if err := json.Unmarshal(readFixture(t, dir+"/APKINDEX.json"), &j); err != nil {
			t.Fatal(err)
		}
		if len(j.Packages) != len(idx.Packages) {
			t.Fatalf("%s: %d records, json has %d", arch, len(idx.Packages), len(j.Packages))
		}
		for i, jp := range j.Packages {
			p := idx.Packages[i]
			if p.Name != jp.Name || p.Version != jp.Version || p.Arch != jp.Arch || p.Description != jp.Description ||
				p.License != jp.License || p.Origin != jp.Origin || p.Checksum != "Q1"+jp.Checksum ||
				p.Size != jp.Size || p.InstalledSize != jp.InstalledSize || !slices.Equal(p.Depends, jp.Dependencies) {
				t.Errorf("%s: record %d %+v differs from json %+v", arch, i, p, jp)
			}
		}
	}
}

func alpineIndex(t testing.TB) *Index {
	t.Helper()
	idx, err := ReadIndexFile(fixture(t, "alpine-3.17-main-aarch64/APKINDEX.tar.gz"), nil, ReadOptions{AllowUntrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestWriteReadRoundTrip(t *testing.T) {
	src := alpineIndex(t)
	s, kr := testSigner(t, "roundtrip")
	epoch := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	if err := WriteIndex(&buf, src, s, epoch); err != nil {
		t.Fatal(err)
	}
	got, err := ReadIndex(bytes.NewReader(buf.Bytes()), kr, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.VerifiedBy != "roundtrip.rsa.pub" || got.Description != src.Description {
		t.Fatalf("VerifiedBy %q, Description %q", got.VerifiedBy, got.Description)
	}
	// Records come back in apk's order (the Alpine index is in hash order).
	want := slices.Clone(src.Packages)
	SortPackages(want, version.Compare)
	if len(got.Packages) != len(want) {
		t.Fatalf("%d records, want %d", len(got.Packages), len(src.Packages))
	}
	for i := range got.Packages {
		if !samePackage(got.Packages[i], want[i]) {
			t.Fatalf("record %d differs after a round trip:\n got %+v\nwant %+v", i, got.Packages[i], want[i])
		}
	}

	// Twice: the same bytes.
	var again bytes.Buffer
	if err := WriteIndex(&again, src, s, epoch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("writing the same index twice gave different bytes")
	}

	// Unsigned: refused, then accepted untrusted.
	var unsigned bytes.Buffer
	if err := WriteIndex(&unsigned, src, nil, epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIndex(bytes.NewReader(unsigned.Bytes()), kr, ReadOptions{}); !errors.Is(err, apk.ErrUnsigned) {
		t.Fatalf("unsigned: err = %v", err)
	}
	if idx, err := ReadIndex(bytes.NewReader(unsigned.Bytes()), kr, ReadOptions{AllowUntrusted: true}); err != nil || !errors.Is(idx.Untrusted, apk.ErrUnsigned) {
		t.Fatalf("unsigned untrusted: %v", err)
	}
	// The signed file is the signature member followed by the unsigned one.
	if !bytes.HasSuffix(buf.Bytes(), unsigned.Bytes()) {
		t.Fatal("signed index does not end with the unsigned index")
	}
}

func TestWriteSorts(t *testing.T) {
	idx := &Index{Packages: []*Package{
		{Name: "b", Version: "1.10-r0"},
		{Name: "B", Version: "1.0-r0"},
		{Name: "a", Version: "1.10-r0"},
		{Name: "a", Version: "1.9-r0"},
		{Name: "a", Version: "1.9_rc1-r0"},
	}}
	var buf bytes.Buffer
	if err := WriteIndex(&buf, idx, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadIndex(&buf, nil, ReadOptions{AllowUntrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, p := range got.Packages {
		order = append(order, p.String())
	}
	want := []string{"a-1.9_rc1-r0", "a-1.9-r0", "a-1.10-r0", "B-1.0-r0", "b-1.10-r0"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %q, want %q", order, want)
	}
	if idx.Packages[0].Name != "b" {
		t.Fatal("WriteIndex reordered the caller's slice")
	}
}

// TestWriteDialect checks the tar headers WriteIndex writes against what
// apk index writes (apk-format.md §3).
func TestWriteDialect(t *testing.T) {
	s, _ := testSigner(t, "dialect")
	var buf bytes.Buffer
	epoch := time.Unix(1234567890, 0)
	if err := WriteIndex(&buf, &Index{Description: "test", Packages: []*Package{{Name: "a", Version: "1-r0"}}}, s, epoch); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if !bytes.Equal(data[:10], []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff}) {
		t.Errorf("gzip header % x, want fixed (no name, mtime 0, level 9, OS unknown)", data[:10])
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for off := 0; off+512 <= len(raw); off += 512 {
		h := raw[off : off+512]
		if bytes.Equal(h, make([]byte, 512)) {
			continue
		}
		name := string(bytes.TrimRight(h[:100], "\x00"))
		names = append(names, name)
		if string(h[257:265]) != "ustar  \x00" || h[156] != '0' || string(h[100:107]) != "0000644" ||
			string(bytes.TrimRight(h[265:297], "\x00")) != "root" || string(bytes.TrimRight(h[297:329], "\x00")) != "root" {
			t.Errorf("%s: header magic %q type %q mode %q", name, h[257:265], h[156], h[100:108])
		}
		var size int64
		fmt.Sscanf(string(bytes.TrimRight(h[124:136], "\x00 ")), "%o", &size)
		off += int((size + 511) / 512 * 512)
	}
	if !slices.Equal(names, []string{".SIGN.RSA256.dialect.rsa.pub", "DESCRIPTION", "APKINDEX"}) {
		t.Fatalf("entries %q", names)
	}
	// No end-of-archive blocks in the signature member: it decompresses
	// to exactly one header and one block of signature.
	zr2, _ := gzip.NewReader(bytes.NewReader(data))
	zr2.Multistream(false)
	sig, _ := io.ReadAll(zr2)
	if len(sig) != 1024 {
		t.Errorf("signature member is %d bytes uncompressed, want 1024", len(sig))
	}
}

func TestTamperedIndex(t *testing.T) {
	s, kr := testSigner(t, "tamper")
	var buf bytes.Buffer
	if err := WriteIndex(&buf, alpineIndex(t), s, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	_, sigEnd, err := splitSignatures(data, new(gzip.Reader), &budget{left: DefaultMaxIndexSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{sigEnd + 20, len(data) / 2, len(data) - 3} {
		bad := bytes.Clone(data)
		bad[off] ^= 0x40
		_, err := ReadIndex(bytes.NewReader(bad), kr, ReadOptions{File: "x86_64/APKINDEX.tar.gz"})
		var bs *apk.BadSignatureError
		if !errors.As(err, &bs) || bs.KeyName != "tamper.rsa.pub" {
			t.Errorf("byte %d flipped: err = %v, want a bad signature", off, err)
		}
	}
	// Fixture: flip a byte of the melange-built index.
	fx := readFixture(t, "melange-built-repo/packages/x86_64/APKINDEX.tar.gz")
	fx[len(fx)-100] ^= 1
	_, err = ReadIndex(bytes.NewReader(fx), keyringOf(t, "melange-built-repo/melange.rsa.pub"), ReadOptions{})
	var bs *apk.BadSignatureError
	if !errors.As(err, &bs) {
		t.Fatalf("fixture tampered: err = %v", err)
	}
}

// rawIndex builds an unsigned index from tar entries given as name/body
// pairs, without the checks WriteIndex makes.
func rawIndex(t testing.TB, entries ...string) []byte {
	t.Helper()
	var files []tarFile
	for i := 0; i+1 < len(entries); i += 2 {
		files = append(files, tarFile{entries[i], []byte(entries[i+1])})
	}
	b, err := gzipTar(time.Unix(0, 0), true, files...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMalformedIndex(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		line  int    // expected RecordError line, 0 for none
		match string // substring of the error
	}{
		{"bad line", rawIndex(t, "APKINDEX", "C:Q1abc=\nP:a\nV:1-r0\n\nP:b\nthis is not a field\n"), 6, "malformed line"},
		{"no name", rawIndex(t, "APKINDEX", "P:a\nV:1\n\nV:2\nA:x86_64\n\n"), 4, "no P:"},
		{"bad number", rawIndex(t, "APKINDEX", "P:a\nV:1\nS:12x\n"), 3, "not a non-negative integer"},
		{"unknown upper", rawIndex(t, "APKINDEX", "P:a\nV:1\nX:1\n"), 3, "unknown field"},
		{"long line", rawIndex(t, "APKINDEX", "P:a\nV:1\nT:"+strings.Repeat("x", 100)+"\n"), 3, "longer than"},
		{"no APKINDEX", rawIndex(t, "DESCRIPTION", "x"), 0, "no APKINDEX entry"},
		{"two APKINDEX", rawIndex(t, "APKINDEX", "P:a\nV:1\n", "APKINDEX", "P:a\nV:1\n"), 0, "more than one"},
		{"not gzip", []byte("P:a\nV:1\n"), 0, "not a gzip stream"},
		{"empty", nil, 0, "empty file"},
		{"truncated", rawIndex(t, "APKINDEX", strings.Repeat("P:a\nV:1\n\n", 1000))[:100], 0, "index tar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIndex(bytes.NewReader(tc.data), nil, ReadOptions{File: "repo/x86_64/APKINDEX.tar.gz", AllowUntrusted: true, MaxLine: 64})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.match) || !strings.HasPrefix(err.Error(), "repo/x86_64/APKINDEX.tar.gz") {
				t.Errorf("error %q: want it to start with the file name and contain %q", err, tc.match)
			}
			var re *RecordError
			if tc.line > 0 {
				if !errors.As(err, &re) || re.Line != tc.line {
					t.Fatalf("err = %v, want a record error at line %d", err, tc.line)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("APKINDEX:%d:", tc.line)) {
					t.Errorf("error %q does not show the line", err)
				}
			}
		})
	}
}

func TestIndexLimits(t *testing.T) {
	// A declared size over the limit fails before anything is inflated.
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "APKINDEX", Size: 1 << 40, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write(make([]byte, 4096))
	tw.Flush()
	zw.Close()
	_, err := ReadIndex(bytes.NewReader(buf.Bytes()), nil, ReadOptions{AllowUntrusted: true})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("declared 1 TiB: err = %v", err)
	}

	// A small bomb against a small limit, in each place data can hide.
	zeros := strings.Repeat("\x00", 1<<20)
	for name, data := range map[string][]byte{
		"APKINDEX":      rawIndex(t, "APKINDEX", "P:a\nV:1\n\n"+zeros),
		"other entry":   rawIndex(t, "junk", zeros, "APKINDEX", "P:a\nV:1\n"),
		"after the tar": append(rawIndex(t, "APKINDEX", "P:a\nV:1\n"), gzipBytes(t, []byte(zeros))...),
		"signature":     append(gzipSig(t, zeros), rawIndex(t, "APKINDEX", "P:a\nV:1\n")...),
	} {
		_, err := ReadIndex(bytes.NewReader(data), nil, ReadOptions{AllowUntrusted: true, MaxSize: 512 << 10})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", name, err)
		}
	}
	// Compressed size over the limit.
	_, err = ReadIndex(bytes.NewReader(make([]byte, 2000)), nil, ReadOptions{AllowUntrusted: true, MaxSize: 1000})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("compressed: err = %v", err)
	}
}

// TestIndexBombDefaultLimit inflates past the default 512 MiB limit.
func TestIndexBombDefaultLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates 512 MiB")
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	const size = 600 << 20
	tw.WriteHeader(&tar.Header{Name: "junk", Size: size, Mode: 0o644, Typeflag: tar.TypeReg})
	chunk := make([]byte, 1<<20)
	for i := 0; i < size>>20; i++ {
		tw.Write(chunk)
	}
	tw.Close()
	zw.Close()
	t.Logf("bomb: %d bytes compressed", buf.Len())
	_, err := ReadIndex(&buf, nil, ReadOptions{AllowUntrusted: true})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func gzipSig(t testing.TB, body string) []byte {
	b, err := gzipTar(time.Unix(0, 0), false, tarFile{".SIGN.RSA256.x.rsa.pub", []byte("sig")}, tarFile{".SIGN.RSA256.y.rsa.pub", []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignIndexReplaces(t *testing.T) {
	orig := readFixture(t, "melange-built-repo/packages/x86_64/APKINDEX.tar.gz")
	path := filepath.Join(t.TempDir(), "APKINDEX.tar.gz")
	if err := os.WriteFile(path, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	s1, kr1 := testSigner(t, "one")
	s2, kr2 := testSigner(t, "two")
	if err := SignIndex(path, s1, s2); err != nil {
		t.Fatal(err)
	}
	melange := keyringOf(t, "melange-built-repo/melange.rsa.pub")
	var uk *apk.UnknownKeyError
	if _, err := ReadIndexFile(path, melange, ReadOptions{}); !errors.As(err, &uk) || !slices.Equal(uk.KeyNames, []string{"one.rsa.pub", "two.rsa.pub"}) {
		t.Fatalf("old key still accepted or wrong names: %v", err)
	}
	for name, kr := range map[string]*apk.Keyring{"one.rsa.pub": kr1, "two.rsa.pub": kr2} {
		idx, err := ReadIndexFile(path, kr, ReadOptions{})
		if err != nil || idx.VerifiedBy != name || len(idx.Signatures) != 2 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasSuffix(data, orig[650:]) {
		t.Error("the index member changed")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", st.Mode())
	}
	// Signing again replaces rather than stacks.
	if err := SignIndex(path, s1); err != nil {
		t.Fatal(err)
	}
	idx, err := ReadIndexFile(path, kr1, ReadOptions{})
	if err != nil || len(idx.Signatures) != 1 {
		t.Fatalf("re-signed: %v, %d signatures", err, len(idx.Signatures))
	}
	// Not an index: refused, file untouched.
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("hello"), 0o644)
	if err := SignIndex(junk, s1); err == nil {
		t.Fatal("signed a non-index")
	}
	if b, _ := os.ReadFile(junk); string(b) != "hello" {
		t.Fatal("non-index modified")
	}
}

// TestMultipleSignatureMembers: signature entries spread over two leading
// members are all found and the signed bytes start after the last.
func TestMultipleSignatureMembers(t *testing.T) {
	s, kr := testSigner(t, "multi")
	body := rawIndex(t, "APKINDEX", "P:a\nV:1-r0\n\n")
	sig, err := signatureMember(body, time.Unix(0, 0), []*apk.Signer{s})
	if err != nil {
		t.Fatal(err)
	}
	other := gzipSig(t, "x")
	data := slices.Concat(other, sig, body)
	idx, err := ReadIndex(bytes.NewReader(data), kr, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if idx.VerifiedBy != "multi.rsa.pub" || len(idx.Signatures) != 3 {
		t.Fatalf("VerifiedBy %q, %d signatures", idx.VerifiedBy, len(idx.Signatures))
	}
}
