package bootstrap

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/apk"
)

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"bin/sh":                             "usr/bin/sh",
		"bin":                                "usr/bin",
		"sbin/ldconfig":                      "usr/sbin/ldconfig",
		"lib/x86_64-linux-gnu/libc.so.6":     "usr/lib/x86_64-linux-gnu/libc.so.6",
		"lib64/ld-linux-x86-64.so.2":         "usr/lib64/ld-linux-x86-64.so.2",
		"usr/bin/gcc":                        "usr/bin/gcc",
		"etc/passwd":                         "etc/passwd",
		"binutils/x":                         "binutils/x",
		"lib32/x":                            "lib32/x",
		"usr/lib/x86_64-linux-gnu/libz.so.1": "usr/lib/x86_64-linux-gnu/libz.so.1",
	} {
		if got := canonical(in); got != want {
			t.Errorf("canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFieldValue(t *testing.T) {
	para := []byte("Package: foo\nArchitecture: amd64\nProvides: a,\n b (= 1.0),\n c\nDepends: libc6 (>= 2.34)\n")
	for name, want := range map[string]string{
		"Package":      "foo",
		"Architecture": "amd64",
		"Provides":     "a, b (= 1.0), c",
		"Depends":      "libc6 (>= 2.34)",
		"Pre-Depends":  "",
		"Pack":         "",
	} {
		if got := string(fieldValue(para, name)); got != want {
			t.Errorf("fieldValue(%s) = %q, want %q", name, got, want)
		}
	}
	// The paragraph must not be modified.
	if !bytes.Equal(para, []byte("Package: foo\nArchitecture: amd64\nProvides: a,\n b (= 1.0),\n c\nDepends: libc6 (>= 2.34)\n")) {
		t.Errorf("fieldValue modified its input: %q", para)
	}
	paras := splitParagraphs([]byte("Package: a\n\nPackage: b\nX: y\n\n\n"))
	if len(paras) != 2 || string(fieldValue(paras[1], "X")) != "y" {
		t.Errorf("splitParagraphs: %q", paras)
	}
}

// fakeAvail is a miniature apt database.
func fakeAvail() map[string][]byte {
	recs := []string{
		"Package: app\nVersion: 1:2.0-1\nArchitecture: amd64\nSize: 10\nSHA256: aa\nPre-Depends: libc6 (>= 2.34)\nDepends: alt-one | alt-two, virt, newer (>= 3.0)\nRecommends: fat\n",
		"Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSize: 20\nSHA256: bb\n",
		"Package: alt-one\nVersion: 1.0-1\nArchitecture: all\nSize: 1\nSHA256: cc\nDepends: libc6\n",
		"Package: alt-two\nVersion: 1.0-1\nArchitecture: amd64\nSize: 1\nSHA256: dd\n",
		"Package: zz-virt-provider\nVersion: 1.0-1\nArchitecture: amd64\nSize: 1\nSHA256: ee\nProvides: virt\n",
		"Package: aa-virt-provider\nVersion: 1.0-1\nArchitecture: amd64\nSize: 1\nSHA256: ff\nProvides: virt\n",
		"Package: newer\nVersion: 2.5-1\nArchitecture: amd64\nSize: 1\nSHA256: 11\n",
		"Package: fat\nVersion: 1-1\nArchitecture: amd64\nSize: 1\nSHA256: 22\n",
		"Package: foreign\nVersion: 1-1\nArchitecture: arm64\nSize: 1\nSHA256: 33\n",
	}
	return parseAvailable([]byte(strings.Join(recs, "\n")), "amd64")
}

func TestClosure(t *testing.T) {
	a := &apt{debArch: "amd64", logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pkgs, warnings, err := a.closure(fakeAvail(), []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	// First alternatives only, the first provider of a virtual name by
	// name, no Recommends.
	want := []string{"aa-virt-provider", "alt-one", "app", "libc6", "newer"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("closure = %v, want %v", names, want)
	}
	if pkgs[2].FileName() != "app_1%3a2.0-1_amd64.deb" {
		t.Errorf("FileName = %q", pkgs[2].FileName())
	}
	if pkgs[1].FileName() != "alt-one_1.0-1_all.deb" || pkgs[1].RequiredBy != "app" {
		t.Errorf("alt-one: %q, required by %q", pkgs[1].FileName(), pkgs[1].RequiredBy)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "newer>=3.0") {
		t.Errorf("warnings = %q, want one about newer>=3.0", warnings)
	}

	// A provider already in the set is preferred.
	pkgs, _, err = a.closure(fakeAvail(), []string{"zz-virt-provider", "app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if p.Name == "aa-virt-provider" {
			t.Errorf("virt: took aa-virt-provider although zz-virt-provider is in the set")
		}
	}

	if _, _, err := a.closure(fakeAvail(), []string{"nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown root: err = %v", err)
	}
	if _, _, err := a.closure(fakeAvail(), []string{"foreign"}); err == nil {
		t.Errorf("a package of another architecture was accepted")
	}
}

func TestCheckDeb(t *testing.T) {
	dir := t.TempDir()
	p := &debPackage{Name: "x", Version: "1", Arch: "all", Size: 5,
		SHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"} // sha256("hello")
	path := filepath.Join(dir, p.FileName())
	if ok, err := checkDeb(path, p); ok || err != nil {
		t.Errorf("missing file: %v %v", ok, err)
	}
	os.WriteFile(path, []byte("hello"), 0o644)
	if ok, err := checkDeb(path, p); !ok || err != nil {
		t.Errorf("good file: %v %v", ok, err)
	}
	os.WriteFile(path, []byte("hellO"), 0o644)
	if ok, err := checkDeb(path, p); ok || err != nil {
		t.Errorf("corrupt file: %v %v", ok, err)
	}
}

func TestBusyboxPackage(t *testing.T) {
	applets := []string{"bin/sh", "usr/bin/awk", "bin/ls", "sbin/ifconfig", "usr/bin/[", "linuxrc", "bin/busybox", "usr/bin/ar"}
	owners := map[string]string{"usr/bin/ls": "coreutils", "usr/bin/[": "coreutils", "usr/bin/ar": "binutils"}
	m, shadowed := busyboxPackage("x86_64", "1.35.0-r4", []byte("ELF"), applets, owners, []string{BaselayoutName})
	got := map[string]string{}
	for _, e := range m.entries {
		got[e.name] = e.link
	}
	want := map[string]string{"usr/bin/busybox": "", "usr/bin/sh": "busybox", "usr/bin/awk": "busybox", "usr/sbin/ifconfig": "../bin/busybox"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(shadowed, []string{"ls (coreutils)", "[ (coreutils)", "ar (binutils)"}) {
		t.Errorf("shadowed = %q", shadowed)
	}
	wantProv := []string{"cmd:awk=1.35.0-r4", "cmd:busybox=1.35.0-r4", "cmd:ifconfig=1.35.0-r4", "cmd:sh=1.35.0-r4"}
	if !reflect.DeepEqual(m.info.Provides, wantProv) {
		t.Errorf("provides = %q, want %q", m.info.Provides, wantProv)
	}
}

func TestBuildBasePackage(t *testing.T) {
	owners := map[string]string{"usr/bin/gcc": "gcc", "usr/bin/c99-gcc": "gcc", "usr/bin/cpp": "cpp"}
	m := buildBasePackage("x86_64", []string{"gcc"}, owners)
	got := map[string]string{}
	for _, e := range m.entries {
		got[e.name] = e.link
	}
	// No g++ and no c89-gcc: no c++ and no c89.
	want := map[string]string{"usr/bin/cc": "gcc", "usr/bin/c99": "c99-gcc", "usr/lib/cpp": "../bin/cpp"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(m.info.Provides, []string{"cmd:c99=" + metaVersion, "cmd:cc=" + metaVersion}) {
		t.Errorf("provides = %q", m.info.Provides)
	}
}

func testCert(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCABundle(t *testing.T) {
	a, b := testCert(t, "A"), testCert(t, "B")
	certs := map[string][]byte{
		"usr/share/ca-certificates/mozilla/B.crt": b,
		"usr/share/ca-certificates/mozilla/A.crt": bytes.TrimSuffix(a, []byte("\n")),
	}
	m, n, err := caBundlePackage("x86_64", "20250419", certs, map[string]string{"usr/lib/ssl/cert.pem": "openssl"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("n = %d", n)
	}
	var bundle []byte
	links := map[string]string{}
	for _, e := range m.entries {
		if e.name == "etc/ssl/certs/ca-certificates.crt" {
			bundle = e.body
		}
		if e.typ == tar.TypeSymlink {
			links[e.name] = e.link
		}
	}
	if !bytes.Equal(bundle, append(a, b...)) {
		t.Errorf("bundle is not A then B, newline-terminated:\n%s", bundle)
	}
	if !reflect.DeepEqual(links, map[string]string{"etc/ssl/cert.pem": "certs/ca-certificates.crt"}) {
		t.Errorf("links = %v (usr/lib/ssl/cert.pem is taken)", links)
	}
	certs["usr/share/ca-certificates/bad.crt"] = []byte("not a certificate")
	if _, _, err := caBundlePackage("x86_64", "1", certs, nil); err == nil || !strings.Contains(err.Error(), "bad.crt") {
		t.Errorf("bad certificate: err = %v", err)
	}
}

// TestMetaWrite writes reef-baselayout and reads it back.
func TestMetaWrite(t *testing.T) {
	priv, pub, err := apk.GenerateKeyPair(filepath.Join(t.TempDir(), "k"), 1024)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := apk.LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	kr := apk.NewKeyring()
	kr.Load(pub)
	dir := t.TempDir()
	m := baselayout("x86_64")
	p, wr, err := m.write(dir, signer, 1234, "")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "reef-baselayout-"+metaVersion+".apk" || wr.Size == 0 {
		t.Errorf("wrote %s (%d bytes)", p, wr.Size)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := apk.NewReader(f, apk.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Info().BuildDate != 1234 || !reflect.DeepEqual(r.Info().Provides, []string{"wolfi-baselayout=" + metaVersion}) {
		t.Errorf("info: %+v", r.Info())
	}
	files := map[string]*apk.File{}
	var order []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name] = e
		order = append(order, e.Name)
	}
	for l, target := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"} {
		if e := files[l]; e == nil || e.Typeflag != tar.TypeSymlink || e.Linkname != target {
			t.Errorf("%s is not a symlink to %s: %+v", l, target, e)
		}
	}
	if e := files["tmp"]; e == nil || e.Mode != 0o1777 {
		t.Errorf("tmp: %+v", e)
	}
	if e := files["etc/passwd"]; e == nil || e.ModTime.Unix() != 1234 {
		t.Errorf("etc/passwd: %+v", e)
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("entries not sorted: %s before %s", order[i-1], order[i])
		}
	}
	f.Seek(0, 0)
	if rep, err := apk.VerifyPackage(f, kr, apk.Limits{}); err != nil {
		t.Errorf("verify: %v %+v", err, rep)
	}
}

// TestAddDepends rewrites a package with an extra dependency and checks
// that only .PKGINFO changed.
func TestAddDepends(t *testing.T) {
	priv, pub, err := apk.GenerateKeyPair(filepath.Join(t.TempDir(), "k"), 1024)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := apk.LoadSigner(priv)
	kr := apk.NewKeyring()
	kr.Load(pub)
	dir := t.TempDir()
	m := &metaPackage{
		info: &apk.PkgInfo{Name: "libfoo", Version: "1.0-r0", Arch: "x86_64", Depends: []string{"libc6"}},
		entries: []entry{
			symlink("lib/libfoo.so", "libfoo.so.1"),
			file("lib/libfoo.so.1", 0o755, "\x7fELF"),
		},
	}
	p, old, err := m.write(dir, signer, 99, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := scanFiles(p, func(n string) bool { return n == "lib/libfoo.so.1" })
	if err != nil {
		t.Fatal(err)
	}
	if !c.Merged || c.Files["usr/lib/libfoo.so"] != tar.TypeSymlink || string(c.Data["lib/libfoo.so.1"]) != "\x7fELF" {
		t.Errorf("scan: %+v", c)
	}
	info, wr, err := addDepends(p, []string{BaselayoutName}, "why", signer, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info.Depends, []string{BaselayoutName, "libc6"}) {
		t.Errorf("depends = %q", info.Depends)
	}
	if wr.DataHash != old.DataHash {
		t.Errorf("the data member changed: %s → %s", old.DataHash, wr.DataHash)
	}
	f, _ := os.Open(p)
	defer f.Close()
	if _, err := apk.VerifyPackage(f, kr, apk.Limits{}); err != nil {
		t.Errorf("verify: %v", err)
	}
}

func TestFetchOffline(t *testing.T) {
	a := &apt{debArch: "amd64", logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	dir := t.TempDir()
	have := &debPackage{Name: "have", Version: "1:1.0-1", Arch: "amd64", Size: 5,
		SHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}
	os.WriteFile(filepath.Join(dir, "have_1%3a1.0-1_amd64.deb"), []byte("hello"), 0o644)
	paths, n, err := a.fetch(t.Context(), dir, []*debPackage{have}, true)
	if err != nil || n != 0 || len(paths) != 1 || filepath.Base(paths[0]) != "have_1%3a1.0-1_amd64.deb" {
		t.Errorf("cached: %v %d %v", paths, n, err)
	}
	missing := &debPackage{Name: "missing", Version: "2.0", Arch: "all", Size: 1, SHA256: "00"}
	_, _, err = a.fetch(t.Context(), dir, []*debPackage{have, missing}, true)
	if err == nil || !strings.Contains(err.Error(), "offline") || !strings.Contains(err.Error(), "missing_2.0_all.deb") {
		t.Errorf("offline with a missing .deb: err = %v", err)
	}
}
