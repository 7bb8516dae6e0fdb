package debimport

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/reef-dev/reef/internal/apk"
)

// realDebs are the Debian packages the end-to-end tests import.
var realDebs = []string{"busybox-static", "libc6", "hello", "zlib1g", "tzdata"}

var (
	debsOnce sync.Once
	debsDir  string
	debsErr  error
)

// debCacheDir is where downloaded .debs are kept between runs:
// $REEF_TESTDATA/debs, or <user cache dir>/reef-test/debs.
func debCacheDir() (string, error) {
	if d := os.Getenv("REEF_TESTDATA"); d != "" {
		return filepath.Join(d, "debs"), nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "reef-test", "debs"), nil
}

// fetchDebs returns the paths of the real test packages, by name,
// downloading the missing ones with `apt-get download` (which needs the
// package lists: CI runs apt-get update first). The test is skipped only
// when apt-get is not installed.
func fetchDebs(t *testing.T) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get not found: the end-to-end tests import real Debian packages fetched with `apt-get download`")
	}
	debsOnce.Do(func() {
		debsDir, debsErr = debCacheDir()
		if debsErr != nil {
			return
		}
		if debsErr = os.MkdirAll(debsDir, 0o755); debsErr != nil {
			return
		}
		var missing []string
		for _, name := range realDebs {
			if m, _ := filepath.Glob(filepath.Join(debsDir, name+"_*.deb")); len(m) == 0 {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			return
		}
		cmd := exec.Command("apt-get", append([]string{"download", "-q"}, missing...)...)
		cmd.Dir = debsDir
		if out, err := cmd.CombinedOutput(); err != nil {
			debsErr = fmt.Errorf("apt-get download %s (run `apt-get update` first?): %v\n%s", strings.Join(missing, " "), err, out)
		}
	})
	if debsErr != nil {
		t.Fatal(debsErr)
	}
	paths := map[string]string{}
	for _, name := range realDebs {
		m, _ := filepath.Glob(filepath.Join(debsDir, name+"_*.deb"))
		if len(m) == 0 {
			t.Fatalf("%s: no %s_*.deb after apt-get download", debsDir, name)
		}
		sort.Strings(m)
		paths[name] = m[len(m)-1]
	}
	return paths
}

// testSigner makes a key pair in a temporary directory and returns a
// signer and a keyring trusting it.
func testSigner(t *testing.T) (*apk.Signer, *apk.Keyring) {
	t.Helper()
	priv, pub, err := apk.GenerateKeyPair(filepath.Join(t.TempDir(), "reef-test"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := apk.LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	kr := apk.NewKeyring()
	if err := kr.Load(pub); err != nil {
		t.Fatal(err)
	}
	return s, kr
}

// arMember is one member of a synthetic ar archive.
type arMember struct {
	name string
	data []byte
}

// buildAr writes an ar archive as dpkg-deb does.
func buildAr(members ...arMember) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 1700000000, 0, 0, "100644", len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// tarEntry is one entry of a synthetic tar.
type tarEntry struct {
	name     string
	typ      byte
	mode     int64
	body     string
	linkname string
}

// buildTar writes a tar and compresses it as suffix says ("", ".gz",
// ".xz", ".zst").
func buildTar(t testing.TB, suffix string, entries ...tarEntry) []byte {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		if typ == tar.TypeXGlobalHeader {
			h := &tar.Header{Typeflag: typ, Name: e.name, PAXRecords: map[string]string{"comment": "global"}}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Linkname: e.linkname,
			Uname: "root", Gname: "root", ModTime: time.Unix(1700000000, 0), Format: tar.FormatGNU}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	switch suffix {
	case "":
		return raw.Bytes()
	case ".gz":
		zw := gzip.NewWriter(&out)
		zw.Write(raw.Bytes())
		zw.Close()
	case ".xz":
		zw, err := xz.NewWriter(&out)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(raw.Bytes())
		zw.Close()
	case ".zst":
		zw, err := zstd.NewWriter(&out)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(raw.Bytes())
		zw.Close()
	default:
		t.Fatalf("buildTar: unknown suffix %q", suffix)
	}
	return out.Bytes()
}

const testControl = `Package: demo
Source: demo-src (1.0-1)
Version: 1:1.0~rc1-2+deb12u3
Architecture: amd64
Maintainer: Demo Maintainer <demo@example.org>
Installed-Size: 12
Depends: libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any
Pre-Depends: init-system-helpers (>= 1.54~)
Provides: demo-virtual, demo-api (= 2)
Homepage: https://example.org/demo
Description: demo package for tests
 A longer description
 .
 over several lines.
`

// goodControlTar is a control.tar.gz with testControl and a postinst.
func goodControlTar(t testing.TB) []byte {
	return buildTar(t, ".gz",
		tarEntry{name: "./", typ: tar.TypeDir},
		tarEntry{name: "./control", body: testControl},
		tarEntry{name: "./md5sums", body: "d41d8cd98f00b204e9800998ecf8427e  usr/bin/demo\n"},
		tarEntry{name: "./postinst", body: "#!/bin/sh\nexit 0\n", mode: 0o755},
	)
}

// goodDataEntries is the file tree of the synthetic demo package.
var goodDataEntries = []tarEntry{
	{name: "./", typ: tar.TypeDir},
	{name: "./usr/", typ: tar.TypeDir},
	{name: "./usr/bin/", typ: tar.TypeDir},
	{name: "./usr/bin/demo", body: "#!/bin/sh\necho demo\n", mode: 0o755},
	{name: "./usr/bin/demo-link", typ: tar.TypeSymlink, linkname: "demo"},
	{name: "./usr/bin/demo-hard", typ: tar.TypeLink, linkname: "./usr/bin/demo", mode: 0o755},
	{name: "./usr/share/", typ: tar.TypeDir},
	{name: "./usr/share/doc/", typ: tar.TypeDir},
	{name: "./usr/share/doc/demo/", typ: tar.TypeDir},
	{name: "./usr/share/doc/demo/copyright", body: "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: demo\n\nFiles: *\nCopyright: 2024 Someone\nLicense: GPL-2+\n The text.\n\nFiles: debian/*\nLicense: Expat\n"},
}

// buildDeb assembles a .deb from a data.tar (compressed as suffix says).
func buildDeb(t testing.TB, suffix string, data ...tarEntry) []byte {
	return buildAr(
		arMember{"debian-binary", []byte("2.0\n")},
		arMember{"control.tar.gz", goodControlTar(t)},
		arMember{"data.tar" + suffix, buildTar(t, suffix, data...)},
	)
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// regularFiles lists the regular files under dir (relative paths).
func regularFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}
