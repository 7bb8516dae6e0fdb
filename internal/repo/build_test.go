package repo

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reef-dev/reef/internal/apk"
)

// TestReindexFixtures re-indexes the packages of real repositories and
// compares each record with the one their own tools wrote, field by field
// (a field the fixture leaves empty is not compared).
func TestReindexFixtures(t *testing.T) {
	tests := []struct {
		dir   string // holds the .apk files
		index string // the index to compare with
		keys  []string
		// untrusted: the package's signing key is not among the fixtures
		untrusted bool
	}{
		{dir: "melange-built-repo/packages/x86_64", index: "melange-built-repo/packages/x86_64/APKINDEX.tar.gz", keys: []string{"melange-built-repo/melange.rsa.pub"}},
		{dir: "melange-built-repo/packages/aarch64", index: "melange-built-repo/packages/aarch64/APKINDEX.tar.gz", keys: []string{"melange-built-repo/melange.rsa.pub"}},
		{dir: "melange-built-repo/private_packages/packages/x86_64", index: "melange-built-repo/private_packages/packages/x86_64/APKINDEX.tar.gz", keys: []string{"melange-built-repo/private_packages/private_pkg_key.rsa.pub"}},
		{dir: "melange-built-repo/private_packages/packages/aarch64", index: "melange-built-repo/private_packages/packages/aarch64/APKINDEX.tar.gz", keys: []string{"melange-built-repo/private_packages/private_pkg_key.rsa.pub"}},
		// A real Alpine package (signed with SHA-1 by Alpine's key) against
		// the index built from it.
		{dir: "signed-indexes/rsa256-signed", index: "signed-indexes/rsa256-signed/APKINDEX.tar.gz", untrusted: true},
		// Not alpine-3.16-main-aarch64: its index is really x86_64 (every
		// record has A:x86_64) while its package is aarch64.
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			paths, err := filepath.Glob(filepath.Join(fixture(t, tc.dir), "*.apk"))
			if err != nil || len(paths) == 0 {
				t.Fatalf("no packages: %v", err)
			}
			fx, err := ReadIndexFile(fixture(t, tc.index), nil, ReadOptions{AllowUntrusted: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := BuildIndex(context.Background(), paths, BuildOptions{Keyring: keyringOf(t, tc.keys...), AllowUntrusted: tc.untrusted})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(paths) {
				t.Fatalf("%d records for %d files", len(got), len(paths))
			}
			for _, p := range got {
				var want *Package
				for _, q := range fx.Packages {
					if q.Name == p.Name && q.Version == p.Version {
						want = q
					}
				}
				if want == nil {
					t.Fatalf("%s is not in the fixture index", p)
				}
				compareRecord(t, p, want)
			}
		})
	}
}

// compareRecord compares every field want has.
func compareRecord(t *testing.T, got, want *Package) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := 0; i < w.NumField(); i++ {
		if w.Field(i).IsZero() {
			continue
		}
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s: %s = %v, fixture has %v", want, w.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
		}
	}
}

func TestReindexTrust(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(fixture(t, "melange-built-repo/packages/x86_64"), "*.apk"))
	ctx := context.Background()
	// No key: refused, naming the file and the key.
	_, err := BuildIndex(ctx, paths, BuildOptions{Keyring: apk.NewKeyring()})
	var uk *apk.UnknownKeyError
	var pe *PackageError
	if !errors.As(err, &uk) || !errors.As(err, &pe) || !strings.Contains(err.Error(), "melange.rsa.pub") || !strings.HasSuffix(pe.Path, ".apk") {
		t.Fatalf("err = %v, want unknown key melange.rsa.pub for a named file", err)
	}
	// Allowed untrusted: indexed.
	pkgs, err := BuildIndex(ctx, paths, BuildOptions{AllowUntrusted: true, RewriteArch: "noarch"})
	if err != nil || len(pkgs) != 4 {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if p.Arch != "noarch" {
			t.Errorf("%s: arch %q, want rewritten", p, p.Arch)
		}
	}
	// Wolfi packages (no keys here) index with AllowUntrusted, except the
	// two whose data member does not match their datahash (see the apk
	// package's fixture tests).
	wolfi, _ := filepath.Glob(filepath.Join(fixture(t, "wolfi-packages"), "*", "*.apk"))
	if len(wolfi) < 9 {
		t.Fatalf("%d wolfi packages", len(wolfi))
	}
	for _, path := range wolfi {
		p, err := ReadPackageRecord(path, BuildOptions{AllowUntrusted: true})
		if base := filepath.Base(path); base == "neon-4604-r0.apk" || base == "aws-c-s3-0.4.9-r0.apk" {
			var dh *apk.DataHashError
			if !errors.As(err, &dh) || !strings.Contains(err.Error(), base) {
				t.Errorf("%s: err = %v, want a datahash mismatch", base, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(path)
		if p.Size != uint64(st.Size()) || !strings.HasPrefix(p.Checksum, "Q1") || len(p.Checksum) != 30 || p.Name == "" {
			t.Errorf("%s: S:%d C:%s", path, p.Size, p.Checksum)
		}
	}
}

func TestReindexRejectsTampered(t *testing.T) {
	src := readFixture(t, "melange-built-repo/packages/x86_64/replayout-1.0.0-r0.apk")
	dir := t.TempDir()
	// The last bytes are the data member's gzip trailer: corrupt data.
	bad := bytes.Clone(src)
	bad[len(bad)-20] ^= 0xff
	path := filepath.Join(dir, "replayout-1.0.0-r0.apk")
	os.WriteFile(path, bad, 0o644)
	if _, err := BuildIndex(context.Background(), []string{path}, BuildOptions{Keyring: keyringOf(t, "melange-built-repo/melange.rsa.pub")}); err == nil {
		t.Fatal("indexed a corrupt package")
	} else {
		t.Logf("corrupt data: %v", err)
	}
}

// testPackage writes a small package NAME-VER.apk into dir with apk.WritePackage.
func testPackage(t testing.TB, dir, name, ver string, signer *apk.Signer, deps ...string) string {
	t.Helper()
	info := &apk.PkgInfo{
		Name: name, Version: ver, Arch: "x86_64", Description: "test package " + name,
		License: "MIT", Origin: name, BuildDate: 1700000000, Depends: deps,
		Provides: []string{"cmd:" + name + "=" + ver},
	}
	path := filepath.Join(dir, name+"-"+ver+".apk")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	body := []byte(strings.Repeat(name+" "+ver+"\n", 20))
	_, err = apk.WritePackage(f, info, nil, nil, func(dw *apk.DataWriter) error {
		if err := dw.Add(&tar.Header{Typeflag: tar.TypeDir, Name: "usr", Mode: 0o755}, nil); err != nil {
			return err
		}
		if err := dw.Add(&tar.Header{Typeflag: tar.TypeDir, Name: "usr/bin", Mode: 0o755}, nil); err != nil {
			return err
		}
		return dw.Add(&tar.Header{Typeflag: tar.TypeReg, Name: "usr/bin/" + name, Mode: 0o755, Size: int64(len(body))}, bytes.NewReader(body))
	}, apk.WriteOptions{Signer: signer, SourceDateEpoch: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUpdateIndexMerge(t *testing.T) {
	dir := t.TempDir()
	s, kr := testSigner(t, "merge")
	index := filepath.Join(dir, "APKINDEX.tar.gz")
	ctx := context.Background()
	opts := UpdateOptions{BuildOptions: BuildOptions{Keyring: kr}, Signer: s, Merge: true, Description: "test repo"}
	a := testPackage(t, dir, "a", "1.0-r0", s)
	b := testPackage(t, dir, "b", "1.0-r0", s, "a")
	if _, err := UpdateIndex(ctx, index, []string{a, b}, opts); err != nil {
		t.Fatal(err)
	}
	first, err := ReadIndexFile(index, kr, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild a (same version, other content) and add c.
	os.Remove(a)
	a2 := testPackage(t, dir, "a", "1.0-r0", s, "b")
	c := testPackage(t, dir, "c", "2.0-r0", s)
	opts.Description = ""
	idx, err := UpdateIndex(ctx, index, []string{a2, c}, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadIndexFile(index, kr, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !samePackages(got.Packages, idx.Packages) || got.Description != "test repo" {
		t.Fatalf("returned index differs from the file; description %q", got.Description)
	}
	var names []string
	for _, p := range got.Packages {
		names = append(names, p.String())
	}
	if !slices.Equal(names, []string{"a-1.0-r0", "b-1.0-r0", "c-2.0-r0"}) {
		t.Fatalf("records %q", names)
	}
	if got.Packages[0].Checksum == first.Packages[0].Checksum || !slices.Equal(got.Packages[0].Depends, []string{"b"}) {
		t.Error("rebuilt a did not replace its old record")
	}
	if !samePackage(got.Packages[1], first.Packages[1]) {
		t.Error("b changed")
	}
	// Deterministic: the same inputs write the same bytes, with the
	// newest build time as mtime.
	before, _ := os.ReadFile(index)
	if _, err := UpdateIndex(ctx, index, []string{a2, c}, opts); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(index)
	if !bytes.Equal(before, after) {
		t.Error("re-running the same update changed the bytes")
	}
	if _, parts, err := readIndexBytes(after, kr, ReadOptions{}); err != nil || !parts.modTime.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("mtime %v, want the newest build time (%v)", parts.modTime, err)
	}
	// Without Merge: only the given packages.
	opts.Merge = false
	if _, err := UpdateIndex(ctx, index, []string{c}, opts); err != nil {
		t.Fatal(err)
	}
	got, _ = ReadIndexFile(index, kr, ReadOptions{})
	if len(got.Packages) != 1 || got.Packages[0].Name != "c" {
		t.Fatalf("non-merge: %v", got.Packages)
	}
}

func TestBuildIndexDuplicates(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	p1 := testPackage(t, d1, "a", "1.0-r0", nil)
	p2 := testPackage(t, d2, "a", "1.0-r0", nil, "b")
	_, err := BuildIndex(context.Background(), []string{p1, p2}, BuildOptions{AllowUntrusted: true})
	if err == nil || !strings.Contains(err.Error(), "both a-1.0-r0") {
		t.Fatalf("err = %v", err)
	}
	pkgs, err := BuildIndex(context.Background(), []string{p1, p1}, BuildOptions{AllowUntrusted: true})
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("same file twice: %v, %d records", err, len(pkgs))
	}
	// Unsigned without AllowUntrusted: refused.
	if _, err := BuildIndex(context.Background(), []string{p1}, BuildOptions{}); !errors.Is(err, apk.ErrUnsigned) {
		t.Fatalf("unsigned: err = %v", err)
	}
}

// TestConcurrentUpdates runs many merges into one index at once, from
// goroutines and from another process: every package must end up in it.
func TestConcurrentUpdates(t *testing.T) {
	dir := t.TempDir()
	index := filepath.Join(dir, "APKINDEX.tar.gz")
	s, kr := testSigner(t, "concurrent")
	const n = 8
	var paths []string
	for i := 0; i < n; i++ {
		paths = append(paths, testPackage(t, dir, fmt.Sprintf("pkg%d", i), "1.0-r0", s))
	}
	other := testPackage(t, dir, "other-process", "1.0-r0", nil)
	keyFile := filepath.Join(t.TempDir(), "concurrent.rsa")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.Key)}), 0o600)

	// The other process merges an unsigned package with AllowUntrusted,
	// signing with the same key.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperUpdateIndex$")
	cmd.Env = append(os.Environ(), "REEF_REPO_HELPER_INDEX="+index, "REEF_REPO_HELPER_PKG="+other, "REEF_REPO_HELPER_KEY="+keyFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = UpdateIndex(context.Background(), index, []string{paths[i]}, UpdateOptions{
				BuildOptions: BuildOptions{Keyring: kr}, Signer: s, Merge: true,
			})
		}()
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, out.String())
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	idx, err := ReadIndexFile(index, kr, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Packages) != n+1 {
		var names []string
		for _, p := range idx.Packages {
			names = append(names, p.Name)
		}
		t.Fatalf("%d records, want %d: %q", len(idx.Packages), n+1, names)
	}
	if _, err := os.Stat(LockPath(index)); err != nil {
		t.Errorf("lock file: %v", err)
	}
}

// TestHelperUpdateIndex is run by TestConcurrentUpdates in a second process.
func TestHelperUpdateIndex(t *testing.T) {
	index := os.Getenv("REEF_REPO_HELPER_INDEX")
	if index == "" {
		t.Skip("helper process only")
	}
	s, err := apk.LoadSigner(os.Getenv("REEF_REPO_HELPER_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // several times, to interleave with the goroutines
		_, err := UpdateIndex(context.Background(), index, []string{os.Getenv("REEF_REPO_HELPER_PKG")}, UpdateOptions{
			BuildOptions: BuildOptions{AllowUntrusted: true}, Merge: true, Signer: s,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
