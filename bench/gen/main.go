// Command gen writes N small signed .apk packages for benchmarking
// `reef index`:
//
//	go run ./bench/gen -n 1000 -o DIR
//
// Each package holds a directory tree and one small text file, with a
// dependency on the previous package, like a typical small library or
// tool package. They are signed with DIR/bench.rsa (RSA-2048, created on
// the first run; trust DIR/bench.rsa.pub). The output depends only on -n
// and the key, so repeated runs give the same packages.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/reef-dev/reef/internal/apk"
)

func main() {
	n := flag.Int("n", 1000, "number of packages")
	out := flag.String("o", "", "output directory (created if missing)")
	flag.Parse()
	if *out == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: gen -n N -o DIR")
		os.Exit(2)
	}
	if err := run(*n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(n int, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	signer, err := signer(filepath.Join(dir, "bench.rsa"))
	if err != nil {
		return err
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range n {
		g.Go(func() error { return writePackage(dir, i, signer) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Printf("wrote %d packages to %s (signed with %s)\n", n, dir, signer.KeyName)
	return nil
}

// signer loads the key at path, creating it first if it does not exist.
func signer(path string) (*apk.Signer, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
			return nil, err
		}
		priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err := os.WriteFile(path, priv, 0o600); err != nil {
			return nil, err
		}
	}
	return apk.LoadSigner(path)
}

func writePackage(dir string, i int, s *apk.Signer) error {
	name := fmt.Sprintf("bench%04d", i)
	info := &apk.PkgInfo{
		Name:        name,
		Version:     "1.0.0-r0",
		Arch:        "x86_64",
		Description: "benchmark package " + name,
		URL:         "https://example.org/" + name,
		License:     "MIT",
		Origin:      name,
		BuildDate:   1700000000,
		Provides:    []string{"cmd:" + name + "=1.0.0-r0"},
	}
	if i > 0 {
		info.Depends = []string{fmt.Sprintf("bench%04d", i-1)}
	}
	body := []byte(strings.Repeat(name+" benchmark file content\n", 40))
	fill := func(dw *apk.DataWriter) error {
		for _, d := range []string{"usr", "usr/bin", "usr/share", "usr/share/" + name} {
			if err := dw.Add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil); err != nil {
				return err
			}
		}
		return dw.Add(&tar.Header{Typeflag: tar.TypeReg, Name: "usr/share/" + name + "/README", Mode: 0o644, Size: int64(len(body))}, bytes.NewReader(body))
	}
	var buf bytes.Buffer
	if _, err := apk.WritePackage(&buf, info, nil, nil, fill, apk.WriteOptions{Signer: s, SourceDateEpoch: 1700000000}); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return os.WriteFile(filepath.Join(dir, name+"-1.0.0-r0.apk"), buf.Bytes(), 0o644)
}
