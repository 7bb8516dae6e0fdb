package apk

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fixtures is the shared fixture directory (CI clones shared/ beside the
// repository).
const fixtures = "../../../shared/fixtures"

// fixturePackages returns every .apk under the fixtures, sorted.
func fixturePackages(t testing.TB) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(fixtures, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".apk") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Skipf("fixtures not available: %v", err)
	}
	if len(out) == 0 {
		t.Skip("no fixture packages")
	}
	sort.Strings(out)
	return out
}

// indexRecord holds the index fields the tests compare.
type indexRecord struct{ C, S, I string }

// indexIdentities reads the APKINDEX.tar.gz in dir, if any, and returns
// "name-version-arch" → record. It is a deliberately small parser: the repo
// package imports apk, so apk's tests cannot use it.
func indexIdentities(t testing.TB, dir string) map[string]indexRecord {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "APKINDEX.tar.gz"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f) // multistream: signature + index members
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]indexRecord{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if hdr.Name != "APKINDEX" {
			continue
		}
		var p, v, a string
		var rec indexRecord
		sc := bufio.NewScanner(tr)
		sc.Buffer(nil, 1<<20)
		flush := func() {
			if p != "" {
				out[p+"-"+v+"-"+a] = rec
			}
			p, v, a, rec = "", "", "", indexRecord{}
		}
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				flush()
			case strings.HasPrefix(line, "C:"):
				rec.C = line[2:]
			case strings.HasPrefix(line, "S:"):
				rec.S = line[2:]
			case strings.HasPrefix(line, "I:"):
				rec.I = line[2:]
			case strings.HasPrefix(line, "A:"):
				a = line[2:]
			case strings.HasPrefix(line, "P:"):
				p = line[2:]
			case strings.HasPrefix(line, "V:"):
				v = line[2:]
			}
		}
		flush()
	}
	return out
}

// entry is a data entry with its content, as read back from a package.
type entry struct {
	hdr  tar.Header
	file File
	body []byte
}

// readAll reads a whole package, failing the test on any error.
func readAll(t testing.TB, data []byte) (*Reader, []entry) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var ents []entry
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		ents = append(ents, entry{hdr: *f.Header, file: *f, body: body})
	}
	return r, ents
}

// gz compresses b as one gzip member.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawEnt is an entry for rawTar.
type rawEnt struct {
	hdr  tar.Header
	body string
}

// rawTar writes entries with archive/tar as given (no validation), with
// end-of-archive blocks if eof.
func rawTar(t testing.TB, eof bool, ents ...rawEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	var err error
	if eof {
		err = tw.Close()
	} else {
		err = tw.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// assemble builds a package from a compressed data member: .PKGINFO (with
// datahash appended unless pkginfo already has one or legacy is set),
// optional signature by s.
func assemble(t testing.TB, pkginfo string, dataMember []byte, s *Signer) []byte {
	t.Helper()
	if !strings.Contains(pkginfo, "datahash") {
		sum := sha256.Sum256(dataMember)
		pkginfo += "datahash = " + hex.EncodeToString(sum[:]) + "\n"
	}
	control := gz(t, rawTar(t, false, rawEnt{hdr: tar.Header{Name: ".PKGINFO"}, body: pkginfo}))
	var out []byte
	if s != nil {
		sig, err := s.Sign(control)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, gz(t, rawTar(t, false, rawEnt{hdr: tar.Header{Name: sig.EntryName()}, body: string(sig.Value)}))...)
	}
	out = append(out, control...)
	return append(out, dataMember...)
}

const testPkgInfo = "pkgname = test\npkgver = 1.0-r0\narch = x86_64\nsize = 1\n"

// fileSHA1 returns the hex SHA-1 of s.
func fileSHA1(s string) string {
	return sha1hex([]byte(s))
}

var otherKey *rsa.PrivateKey

// otherSigner returns a signer with a freshly generated key (once per
// test binary) recorded under keyName.
func otherSigner(t testing.TB, keyName string) *Signer {
	t.Helper()
	if otherKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		otherKey = k
	}
	return &Signer{Key: otherKey, KeyName: keyName, Alg: AlgRSA256}
}
