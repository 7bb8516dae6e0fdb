package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/repo"
)

// isIndexFile reports whether path names a repository index rather than a
// package: apk names indexes APKINDEX.tar.gz (reef accepts any
// APKINDEX*.tar.gz).
func isIndexFile(path string) bool {
	b := filepath.Base(path)
	return strings.HasPrefix(b, "APKINDEX") && strings.HasSuffix(b, ".tar.gz")
}

func newInspectCmd() *cobra.Command {
	var asJSON bool
	var lf limitFlags
	cmd := &cobra.Command{
		Use:   "inspect FILE.apk",
		Short: "Show a package's metadata, scripts and files with modes, owners and checksums",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := inspectPackage(args[0], lf.lim)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), in)
			}
			printInspect(cmd.OutOrStdout(), in)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	lf.register(cmd.Flags())
	return cmd
}

// inspection is the JSON form of `reef inspect`.
type inspection struct {
	File       string            `json:"file"`
	Identity   string            `json:"identity"`
	DataHash   string            `json:"datahash"`
	Signatures []inspectSig      `json:"signatures"`
	Info       pkgInfoJSON       `json:"info"`
	Scripts    map[string]string `json:"scripts,omitempty"`
	Control    []string          `json:"control_files,omitempty"`
	Files      []inspectFile     `json:"files"`
}

type inspectSig struct {
	Alg string `json:"alg"`
	Key string `json:"key"`
}

type inspectFile struct {
	Name   string            `json:"name"`
	Type   string            `json:"type"`
	Mode   string            `json:"mode"`
	UID    int               `json:"uid"`
	GID    int               `json:"gid"`
	Uname  string            `json:"uname,omitempty"`
	Gname  string            `json:"gname,omitempty"`
	Size   int64             `json:"size"`
	Link   string            `json:"link,omitempty"`
	SHA1   string            `json:"sha1,omitempty"`
	Xattrs map[string]string `json:"xattrs,omitempty"`
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeChar:
		return "char"
	case tar.TypeBlock:
		return "block"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("type%q", t)
}

func inspectPackage(path string, lim apk.Limits) (*inspection, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := apk.NewReader(f, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	in := &inspection{File: path, Info: toPkgInfoJSON(r.Info()), Signatures: []inspectSig{}, Files: []inspectFile{}}
	for _, s := range r.Signatures() {
		in.Signatures = append(in.Signatures, inspectSig{s.Alg, s.KeyName})
	}
	for _, s := range r.Scripts() {
		if in.Scripts == nil {
			in.Scripts = map[string]string{}
		}
		in.Scripts[s.Name] = string(s.Body)
	}
	for _, c := range r.ControlFiles() {
		in.Control = append(in.Control, c.Name)
	}
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		fi := inspectFile{
			Name: hdr.Name, Type: typeName(hdr.Typeflag), Mode: fmt.Sprintf("%04o", hdr.Mode),
			UID: hdr.Uid, GID: hdr.Gid, Uname: hdr.Uname, Gname: hdr.Gname,
			Size: hdr.Size, Link: hdr.Linkname, SHA1: hdr.Checksum,
		}
		for k, v := range hdr.Xattrs {
			if fi.Xattrs == nil {
				fi.Xattrs = map[string]string{}
			}
			fi.Xattrs[k] = string(v)
		}
		in.Files = append(in.Files, fi)
	}
	in.Identity = r.Identity()
	in.DataHash = r.DataHash()
	return in, nil
}

// pkgInfoJSON is .PKGINFO in `inspect --json`, keyed by .PKGINFO's own key
// names; repeatable keys are lists.
type pkgInfoJSON struct {
	info             *apk.PkgInfo
	Name             string   `json:"pkgname"`
	Version          string   `json:"pkgver"`
	Description      string   `json:"pkgdesc,omitempty"`
	URL              string   `json:"url,omitempty"`
	BuildDate        int64    `json:"builddate,omitempty"`
	Packager         string   `json:"packager,omitempty"`
	Size             uint64   `json:"size"`
	Arch             string   `json:"arch,omitempty"`
	Origin           string   `json:"origin,omitempty"`
	Commit           string   `json:"commit,omitempty"`
	Maintainer       string   `json:"maintainer,omitempty"`
	License          string   `json:"license,omitempty"`
	Depends          []string `json:"depend"`
	Provides         []string `json:"provides"`
	InstallIf        []string `json:"install_if,omitempty"`
	Replaces         []string `json:"replaces,omitempty"`
	ProviderPriority uint64   `json:"provider_priority,omitempty"`
	ReplacesPriority uint64   `json:"replaces_priority,omitempty"`
	Triggers         []string `json:"triggers,omitempty"`
	DataHash         string   `json:"datahash,omitempty"`
}

func toPkgInfoJSON(p *apk.PkgInfo) pkgInfoJSON {
	nonNil := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return pkgInfoJSON{
		info: p, Name: p.Name, Version: p.Version, Description: p.Description, URL: p.URL,
		BuildDate: p.BuildDate, Packager: p.Packager, Size: p.Size, Arch: p.Arch, Origin: p.Origin,
		Commit: p.Commit, Maintainer: p.Maintainer, License: p.License,
		Depends: nonNil(p.Depends), Provides: nonNil(p.Provides), InstallIf: p.InstallIf,
		Replaces: p.Replaces, ProviderPriority: p.ProviderPriority, ReplacesPriority: p.ReplacesPriority,
		Triggers: p.Triggers, DataHash: p.DataHash,
	}
}

func printInspect(w io.Writer, in *inspection) {
	fmt.Fprintf(w, "file:     %s\nidentity: %s\ndatahash: %s\n", in.File, in.Identity, in.DataHash)
	for _, s := range in.Signatures {
		fmt.Fprintf(w, "signed:   %s by %s\n", s.Alg, s.Key)
	}
	if len(in.Signatures) == 0 {
		fmt.Fprintln(w, "signed:   no")
	}
	fmt.Fprintln(w, "\n.PKGINFO:")
	text, _ := in.Info.info.MarshalText()
	for _, l := range strings.Split(strings.TrimRight(string(text), "\n"), "\n") {
		fmt.Fprintln(w, "  "+l)
	}
	for _, name := range sortedKeys(in.Scripts) {
		fmt.Fprintf(w, "\nscript %s:\n", name)
		for _, l := range strings.Split(strings.TrimRight(in.Scripts[name], "\n"), "\n") {
			fmt.Fprintln(w, "  "+l)
		}
	}
	if len(in.Control) > 0 {
		fmt.Fprintf(w, "\nother control files: %s\n", strings.Join(in.Control, " "))
	}
	fmt.Fprintf(w, "\nfiles (%d):\n", len(in.Files))
	for _, f := range in.Files {
		name := f.Name
		if f.Link != "" {
			arrow := " -> "
			if f.Type == "hardlink" {
				arrow = " => "
			}
			name += arrow + f.Link
		}
		sum := f.SHA1
		if sum == "" {
			sum = "-"
		}
		fmt.Fprintf(w, "  %-8s %s %5d:%-5d %10d %-40s %s\n", f.Type, f.Mode, f.UID, f.GID, f.Size, sum, name)
	}
}

func newVerifyCmd() *cobra.Command {
	var kf keyFlags
	var lf limitFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [-k KEY]... FILE...",
		Short: "Verify packages (signature, datahash, file checksums) and indexes (signature, records)",
		Long: `Verify checks each FILE as apk verify does. For a package: its signature
against the keyring, its datahash, every file's checksum and a clean end of
stream. For an index (a file named APKINDEX*.tar.gz): its signature and
every record. The exit status is 1 if any check of any file failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := kf.keyring()
			if err != nil {
				return err
			}
			if kf.allowUntrusted {
				kr = nil
			}
			out := cmd.OutOrStdout()
			var reports []*verifyReport
			bad := 0
			for _, path := range args {
				rep := verifyFile(path, kr, lf.lim)
				reports = append(reports, rep)
				if !rep.OK {
					bad++
				}
				if !asJSON {
					printVerify(out, rep)
				}
			}
			if asJSON {
				if err := writeJSON(out, reports); err != nil {
					return err
				}
			}
			if bad > 0 {
				return failed("%d of %d files failed verification", bad, len(args))
			}
			return nil
		},
	}
	kf.register(cmd.Flags())
	lf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON reports")
	return cmd
}

// verifyReport is one file's verification result.
type verifyReport struct {
	File    string      `json:"file"`
	Kind    string      `json:"kind"` // "package" or "index"
	OK      bool        `json:"ok"`
	Package *apk.Report `json:"package,omitempty"`
	Index   *indexCheck `json:"index,omitempty"`
}

type indexCheck struct {
	Packages   int    `json:"packages"`
	VerifiedBy string `json:"verified_by,omitempty"`
	Error      string `json:"error,omitempty"`
}

func verifyFile(path string, kr *apk.Keyring, lim apk.Limits) *verifyReport {
	if isIndexFile(path) {
		rep := &verifyReport{File: path, Kind: "index", Index: &indexCheck{}}
		idx, err := repo.ReadIndexFile(path, kr, repo.ReadOptions{AllowUntrusted: kr == nil})
		if err != nil {
			rep.Index.Error = err.Error()
			return rep
		}
		rep.OK = true
		rep.Index.Packages = len(idx.Packages)
		rep.Index.VerifiedBy = idx.VerifiedBy
		return rep
	}
	rep := &verifyReport{File: path, Kind: "package"}
	f, err := os.Open(path)
	if err != nil {
		rep.Package = &apk.Report{Checks: []apk.Check{{Name: apk.CheckFormat, Status: apk.StatusFailed, Message: err.Error(), Err: err}}}
		return rep
	}
	defer f.Close()
	r, _ := apk.VerifyPackage(f, kr, lim)
	rep.Package = r
	rep.OK = r.OK()
	return rep
}

func printVerify(w io.Writer, rep *verifyReport) {
	status := "OK"
	if !rep.OK {
		status = "FAILED"
	}
	if rep.Index != nil {
		if rep.OK {
			by := "untrusted (not checked)"
			if rep.Index.VerifiedBy != "" {
				by = "signed by " + rep.Index.VerifiedBy
			}
			fmt.Fprintf(w, "%s: %s (index, %d packages, %s)\n", rep.File, status, rep.Index.Packages, by)
		} else {
			fmt.Fprintf(w, "%s: %s: %s\n", rep.File, status, rep.Index.Error)
		}
		return
	}
	p := rep.Package
	fmt.Fprintf(w, "%s: %s", rep.File, status)
	if p.Name != "" {
		fmt.Fprintf(w, " (%s-%s, %d files", p.Name, p.Version, p.Files)
		if p.SignedBy != "" {
			fmt.Fprintf(w, ", signed by %s", p.SignedBy)
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
	for _, c := range p.Checks {
		if c.Status != apk.StatusOK {
			fmt.Fprintf(w, "  %-9s %s: %s\n", c.Name, c.Status, c.Message)
		}
	}
}

func newSignCmd() *cobra.Command {
	var keyPath string
	cmd := &cobra.Command{
		Use:   "sign --signing-key KEY FILE...",
		Short: "Re-sign packages or an APKINDEX.tar.gz in place (RSA-SHA256)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return errors.New("--signing-key is required")
			}
			signer, err := apk.LoadSigner(keyPath)
			if err != nil {
				return err
			}
			for _, path := range args {
				if isIndexFile(path) {
					err = repo.SignIndex(path, signer)
				} else {
					err = resignPackage(path, signer)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "signed %s with %s\n", path, signer.KeyName)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "signing-key", "", "RSA private key (PEM); signatures name KEY's base name + .pub")
	return cmd
}

func resignPackage(path string, signer *apk.Signer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(path, st.Mode().Perm(), func(w io.Writer) error {
		return apk.Resign(bytes.NewReader(data), w, signer)
	})
}
