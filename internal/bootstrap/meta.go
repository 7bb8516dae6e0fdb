package bootstrap

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/fsutil"
)

// Names of the packages Stage0 writes itself.
const (
	BaselayoutName = "reef-baselayout"
	BusyboxName    = "busybox"
	BuildBaseName  = "build-base"
	CABundleName   = "ca-certificates-bundle"
)

// metaVersion is the version of the meta-packages whose content is fixed
// by this code (reef-baselayout, build-base): bump the revision when it
// changes.
const metaVersion = "1-r0"

// entry is one data entry of a package Stage0 writes.
type entry struct {
	name string
	typ  byte // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	mode int64
	link string
	body []byte
}

func dir(name string, mode int64) entry { return entry{name: name, typ: tar.TypeDir, mode: mode} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func file(name string, mode int64, body string) entry {
	return entry{name: name, typ: tar.TypeReg, mode: mode, body: []byte(body)}
}

// metaPackage is a package Stage0 writes: its .PKGINFO and its entries.
type metaPackage struct {
	info    *apk.PkgInfo
	entries []entry
}

// write writes the package into dir as NAME-VERSION.apk. Entries are
// sorted by name, and missing parent directories are added (0755
// root:root), so that the order never depends on how they were listed.
func (m *metaPackage) write(outDir string, signer *apk.Signer, epoch int64, tempDir string) (string, *apk.WriteResult, error) {
	byName := map[string]entry{}
	for _, e := range m.entries {
		if _, dup := byName[e.name]; dup {
			return "", nil, fmt.Errorf("%s: entry %s listed twice", m.info.Name, e.name)
		}
		byName[e.name] = e
	}
	for _, e := range m.entries {
		for p := path.Dir(e.name); p != "."; p = path.Dir(p) {
			if _, ok := byName[p]; !ok {
				byName[p] = dir(p, 0o755)
			}
		}
	}
	names := sortedKeys(byName)
	fill := func(dw *apk.DataWriter) error {
		for _, n := range names {
			e := byName[n]
			hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Uname: "root", Gname: "root"}
			var body io.Reader
			if e.typ == tar.TypeReg {
				hdr.Size = int64(len(e.body))
				body = bytes.NewReader(e.body)
			}
			if err := dw.Add(hdr, body); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
		}
		return nil
	}
	info := *m.info
	info.BuildDate = epoch
	p := filepath.Join(outDir, info.Name+"-"+info.Version+".apk")
	var wr *apk.WriteResult
	err := fsutil.WriteAtomic(p, 0o644, func(w io.Writer) error {
		var err error
		wr, err = apk.WritePackage(w, &info, nil, nil, fill, apk.WriteOptions{SourceDateEpoch: epoch, Signer: signer, TempDir: tempDir})
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("writing %s: %w", p, err)
	}
	*m.info = info
	return p, wr, nil
}

// baselayout is reef-baselayout: the skeleton of a root, laid out as a
// merged-/usr Debian 12 system (bin, sbin, lib and lib64 are symlinks
// into /usr), with the accounts and configuration files that Debian's
// base-files, base-passwd and netbase would have provided. It provides
// wolfi-baselayout, the name Wolfi's build files use.
func baselayout(arch string) *metaPackage {
	info := &apk.PkgInfo{
		Name:        BaselayoutName,
		Version:     metaVersion,
		Description: "reef stage 0 base layout: merged /usr, accounts, /tmp and basic configuration",
		Arch:        arch,
		Origin:      BaselayoutName,
		License:     "Apache-2.0",
		Provides:    []string{"wolfi-baselayout=" + metaVersion},
		Comments:    []string{"Written by reef bootstrap (stage 0)."},
	}
	e := []entry{
		symlink("bin", "usr/bin"),
		symlink("sbin", "usr/sbin"),
		symlink("lib", "usr/lib"),
		symlink("lib64", "usr/lib64"),
		dir("usr", 0o755), dir("usr/bin", 0o755), dir("usr/sbin", 0o755),
		dir("usr/lib", 0o755), dir("usr/lib64", 0o755), dir("usr/share", 0o755),
		dir("usr/local", 0o755), dir("usr/local/bin", 0o755), dir("usr/local/lib", 0o755),
		dir("usr/local/share", 0o755), dir("usr/local/include", 0o755),
		dir("dev", 0o755), dir("proc", 0o555), dir("sys", 0o555),
		dir("etc", 0o755), dir("home", 0o755), dir("mnt", 0o755), dir("opt", 0o755),
		dir("root", 0o700), dir("run", 0o755), dir("run/lock", 0o1777), dir("srv", 0o755),
		dir("tmp", 0o1777),
		dir("var", 0o755), dir("var/cache", 0o755), dir("var/lib", 0o755),
		dir("var/log", 0o755), dir("var/spool", 0o755), dir("var/tmp", 0o1777),
		dir("var/empty", 0o555),
		symlink("var/run", "../run"),
		symlink("var/lock", "../run/lock"),
		file("etc/passwd", 0o644, ""+
			"root:x:0:0:root:/root:/bin/sh\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
		file("etc/group", 0o644, ""+
			"root:x:0:\n"+
			"tty:x:5:\n"+
			"users:x:100:\n"+
			"nogroup:x:65534:\n"),
		file("etc/shadow", 0o640, ""+
			"root:*::0:::::\n"+
			"nobody:*::0:::::\n"),
		file("etc/shells", 0o644, "/bin/sh\n/usr/bin/sh\n"),
		file("etc/hosts", 0o644, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"),
		file("etc/nsswitch.conf", 0o644, ""+
			"passwd:    files\n"+
			"group:     files\n"+
			"shadow:    files\n"+
			"hosts:     files dns\n"+
			"networks:  files\n"+
			"protocols: files\n"+
			"services:  files\n"+
			"ethers:    files\n"+
			"rpc:       files\n"),
		file("etc/profile", 0o644, ""+
			"# reef stage 0\n"+
			"export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"+
			"export CHARSET=UTF-8\n"+
			"export LANG=C.UTF-8\n"+
			"umask 022\n"),
		file("etc/os-release", 0o644, ""+
			"NAME=\"reef stage 0\"\n"+
			"PRETTY_NAME=\"reef stage 0 (from Debian binary packages)\"\n"+
			"ID=reef\n"+
			"ID_LIKE=debian\n"+
			"VERSION_ID=0\n"+
			"HOME_URL=\"https://github.com/reef-dev/reef\"\n"),
	}
	return &metaPackage{info: info, entries: e}
}

// busyboxApplets runs the busybox binary to list its applets, as paths
// ("bin/sh", "usr/bin/awk", "sbin/ifconfig"). The binary runs on the
// build machine, which is why stage 0 is built for the host's
// architecture.
func busyboxApplets(ctx context.Context, binary []byte, tempDir string) ([]string, error) {
	f, err := os.CreateTemp(tempDir, "busybox-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(binary); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Chmod(0o755); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, f.Name(), "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("running busybox --list-full: %w", err)
	}
	var applets []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			applets = append(applets, l)
		}
	}
	if len(applets) < 10 {
		return nil, fmt.Errorf("busybox --list-full listed %d applets: %q", len(applets), out)
	}
	return applets, nil
}

// busyboxPackage is busybox as Wolfi ships it: /usr/bin/busybox and a
// symlink to it for each applet. The binary is Debian's busybox-static.
// Applets that another stage-0 package ships as a real command (coreutils'
// ls, binutils' ar, …) get no symlink: the two would be a file conflict,
// and the real tool is the better one to have. owners maps the canonical
// paths of the other packages' files to their package names.
func busyboxPackage(arch, ver string, binary []byte, applets []string, owners map[string]string, deps []string) (*metaPackage, []string) {
	info := &apk.PkgInfo{
		Name:        BusyboxName,
		Version:     ver,
		Description: "busybox from Debian's busybox-static, with its applet symlinks (reef stage 0)",
		URL:         "https://busybox.net/",
		Arch:        arch,
		Origin:      "busybox",
		License:     "GPL-2.0-only",
		Depends:     deps,
		Provides:    []string{"cmd:busybox=" + ver},
		Comments:    []string{"Written by reef bootstrap (stage 0) from Debian's busybox-static " + ver + "."},
	}
	e := []entry{{name: "usr/bin/busybox", typ: tar.TypeReg, mode: 0o755, body: binary}}
	seen := map[string]bool{"usr/bin/busybox": true}
	var skipped []string
	for _, a := range applets {
		dirName, base := path.Split(a)
		dirName = strings.TrimSuffix(canonical(strings.TrimSuffix(dirName, "/")), "/")
		if dirName != "usr/bin" && dirName != "usr/sbin" || base == "" || base == "busybox" {
			continue // linuxrc and the like
		}
		p := dirName + "/" + base
		if seen[p] {
			continue
		}
		// A command of the same name in either directory shadows it.
		if o, ok := owners["usr/bin/"+base]; ok {
			skipped = append(skipped, base+" ("+o+")")
			continue
		}
		if o, ok := owners["usr/sbin/"+base]; ok {
			skipped = append(skipped, base+" ("+o+")")
			continue
		}
		seen[p] = true
		target := "busybox"
		if dirName == "usr/sbin" {
			target = "../bin/busybox"
		}
		e = append(e, symlink(p, target))
		if apk.ValidName(base) {
			info.Provides = append(info.Provides, "cmd:"+base+"="+ver)
		}
	}
	sort.Strings(info.Provides)
	return &metaPackage{info: info, entries: e}, skipped
}

// buildBasePackage is build-base, the meta-package most Wolfi build files
// list: the C (and C++) toolchain, make, pkgconf, busybox, and the command
// names Debian's maintainer scripts register with update-alternatives,
// which apk does not run: cc and c89/c99 (gcc's postinst), c++ (g++'s)
// and /lib/cpp (cpp's). owners maps canonical paths to the packages
// shipping them.
func buildBasePackage(arch string, deps []string, owners map[string]string) *metaPackage {
	info := &apk.PkgInfo{
		Name:        BuildBaseName,
		Version:     metaVersion,
		Description: "meta-package for building software: toolchain, make, pkgconf (reef stage 0)",
		Arch:        arch,
		Origin:      BuildBaseName,
		License:     "Apache-2.0",
		Depends:     deps,
		Comments:    []string{"Written by reef bootstrap (stage 0)."},
	}
	var e []entry
	// link adds name → target when target is shipped and name is not.
	link := func(name, target string) {
		abs := path.Join(path.Dir(name), target)
		if _, ok := owners[abs]; !ok {
			return
		}
		if _, taken := owners[name]; taken {
			return
		}
		e = append(e, symlink(name, target))
		if d, base := path.Split(name); d == "usr/bin/" && apk.ValidName(base) {
			info.Provides = append(info.Provides, "cmd:"+base+"="+metaVersion)
		}
	}
	link("usr/bin/cc", "gcc")
	link("usr/bin/c89", "c89-gcc")
	link("usr/bin/c99", "c99-gcc")
	link("usr/bin/c++", "g++")
	link("usr/lib/cpp", "../bin/cpp")
	sort.Strings(info.Provides)
	return &metaPackage{info: info, entries: e}
}

// caBundlePackage is ca-certificates-bundle as Wolfi has it: the trusted
// certificates in one PEM file, /etc/ssl/certs/ca-certificates.crt. Debian's
// ca-certificates ships only the single certificates, and its postinst
// (update-ca-certificates) makes the bundle; here it is made at bootstrap,
// from certs (path in the package → PEM), in byte order of the paths.
// Also /etc/ssl/cert.pem (Alpine's and Wolfi's name) and /usr/lib/ssl/cert.pem
// (Debian OpenSSL's default CA file) link to it, unless another package
// ships them.
func caBundlePackage(arch, ver string, certs map[string][]byte, owners map[string]string) (*metaPackage, int, error) {
	info := &apk.PkgInfo{
		Name:        CABundleName,
		Version:     ver,
		Description: "CA certificate bundle from Debian's ca-certificates (reef stage 0)",
		URL:         "https://tracker.debian.org/pkg/ca-certificates",
		Arch:        arch,
		Origin:      "ca-certificates",
		License:     "MPL-2.0",
		Comments:    []string{"Written by reef bootstrap (stage 0) from Debian's ca-certificates " + ver + "."},
	}
	var bundle bytes.Buffer
	n := 0
	for _, name := range sortedKeys(certs) {
		b := certs[name]
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, 0, fmt.Errorf("ca-certificates: %s is not a PEM certificate", name)
		}
		bundle.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			bundle.WriteByte('\n')
		}
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("ca-certificates: no certificates (*.crt under usr/share/ca-certificates)")
	}
	e := []entry{
		dir("etc/ssl", 0o755), dir("etc/ssl/certs", 0o755),
		{name: "etc/ssl/certs/ca-certificates.crt", typ: tar.TypeReg, mode: 0o644, body: bundle.Bytes()},
	}
	for name, target := range map[string]string{
		"etc/ssl/cert.pem":     "certs/ca-certificates.crt",
		"usr/lib/ssl/cert.pem": "/etc/ssl/certs/ca-certificates.crt",
	} {
		if _, taken := owners[name]; !taken {
			e = append(e, symlink(name, target))
		}
	}
	return &metaPackage{info: info, entries: e}, n, nil
}
