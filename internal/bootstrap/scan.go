package bootstrap

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/fsutil"
)

// mergedDirs are the top-level directories that reef-baselayout makes
// symlinks into /usr, as on a merged-/usr Debian 12 system.
var mergedDirs = map[string]string{
	"bin":   "usr/bin",
	"sbin":  "usr/sbin",
	"lib":   "usr/lib",
	"lib64": "usr/lib64",
}

// canonical returns where a path of a package lands in a merged-/usr
// root: "bin/sh" → "usr/bin/sh".
func canonical(name string) string {
	top, rest, _ := strings.Cut(name, "/")
	if to, ok := mergedDirs[top]; ok {
		if rest == "" {
			return to
		}
		return to + "/" + rest
	}
	return name
}

// contents is what Stage0 needs to know about the files of one package.
type contents struct {
	// Files are the non-directory entries, by canonical path (see
	// canonical), with their type.
	Files map[string]byte
	// Merged is set when the package ships entries under one of
	// mergedDirs, which must be symlinks before it is installed.
	Merged bool
	// Data holds the content of the regular files the scan asked for,
	// by the path in the package.
	Data map[string][]byte
}

// maxKeep bounds the content scanFiles keeps of one file.
const maxKeep = 64 << 20

// scanFiles reads the data entries of the package at path and, for
// regular files for which keep returns true, their content.
func scanFiles(path string, keep func(name string) bool) (*contents, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := apk.NewReader(f, apk.Limits{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &contents{Files: map[string]byte{}, Data: map[string][]byte{}}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		top, _, _ := strings.Cut(e.Name, "/")
		if _, ok := mergedDirs[top]; ok {
			c.Merged = true
		}
		if e.Typeflag == tar.TypeDir {
			continue
		}
		c.Files[canonical(e.Name)] = e.Typeflag
		if e.Typeflag == tar.TypeReg && keep != nil && keep(e.Name) {
			if e.Size > maxKeep {
				return nil, fmt.Errorf("%s: %s: %d bytes, more than the %d this bootstrap reads", path, e.Name, e.Size, maxKeep)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, e.Name, err)
			}
			c.Data[e.Name] = b
		}
	}
	return c, nil
}

// addDepends rewrites the package at path in place with deps added in
// front of its dependencies and a comment saying why. Everything else is
// kept: the files (with their modes, owners and times, which debimport set
// to the package's build date), the other .PKGINFO fields, scripts and
// control files. The result is signed with signer.
func addDepends(path string, deps []string, comment string, signer *apk.Signer, tempDir string) (*apk.PkgInfo, *apk.WriteResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r, err := apk.NewReader(f, apk.Limits{})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	info := *r.Info()
	info.Depends = append(append([]string(nil), deps...), info.Depends...)
	info.Comments = append(append([]string(nil), info.Comments...), comment)
	opts := apk.WriteOptions{SourceDateEpoch: info.BuildDate, Signer: signer, TempDir: tempDir}
	fill := func(dw *apk.DataWriter) error {
		for {
			e, err := r.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			hdr := *e.Header
			hdr.PAXRecords = nil
			for k, v := range e.Xattrs {
				if hdr.PAXRecords == nil {
					hdr.PAXRecords = map[string]string{}
				}
				hdr.PAXRecords["SCHILY.xattr."+k] = string(v)
			}
			var body io.Reader
			if hdr.Typeflag == tar.TypeReg {
				body = r
			}
			if err := dw.Add(&hdr, body); err != nil {
				return err
			}
		}
	}
	var wr *apk.WriteResult
	err = fsutil.WriteAtomic(path, 0o644, func(w io.Writer) error {
		var err error
		wr, err = apk.WritePackage(w, &info, r.Scripts(), r.ControlFiles(), fill, opts)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: adding dependencies: %w", path, err)
	}
	return &info, wr, nil
}
