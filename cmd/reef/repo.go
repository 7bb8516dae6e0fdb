package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/debimport"
	"github.com/reef-dev/reef/internal/repo"
)

// signerFlag is --signing-key: an optional RSA private key.
type signerFlag struct{ path string }

func (s *signerFlag) load() (*apk.Signer, error) {
	if s.path == "" {
		return nil, nil
	}
	return apk.LoadSigner(s.path)
}

// trust returns the keyring for checking packages: the -k keys (or
// /etc/apk/keys), plus the public half of the signing key, since packages
// are normally signed with the key that signs their index.
func trust(kf *keyFlags, signer *apk.Signer) (*apk.Keyring, error) {
	kr, err := kf.keyring()
	if err != nil {
		return nil, err
	}
	if signer != nil {
		kr.Add(signer.KeyName, &signer.Key.PublicKey)
	}
	return kr, nil
}

func newIndexCmd() *cobra.Command {
	var (
		out         string
		sf          signerFlag
		kf          keyFlags
		lf          limitFlags
		merge       bool
		rewriteArch string
		description string
	)
	cmd := &cobra.Command{
		Use:   "index [-o OUT] [--signing-key KEY] PKG.apk...",
		Short: "Write a signed APKINDEX.tar.gz for packages",
		Long: `Index reads each package (checking its signature, datahash and file
checksums, as apk index does) and writes a repository index. With --merge,
the records of the index already at OUT are kept, except those of packages
rebuilt with the same name and version. The write is atomic and locked, so
concurrent runs on one directory do not lose each other's packages.

Packages must be signed by a trusted key: one given with -k, one in
/etc/apk/keys, or the --signing-key's own public key; --allow-untrusted
indexes any.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			signer, err := sf.load()
			if err != nil {
				return err
			}
			kr, err := trust(&kf, signer)
			if err != nil {
				return err
			}
			opts := repo.UpdateOptions{
				BuildOptions: repo.BuildOptions{Keyring: kr, AllowUntrusted: kf.allowUntrusted, RewriteArch: rewriteArch, Limits: lf.lim},
				Signer:       signer,
				Merge:        merge,
				Description:  description,
			}
			if t, ok, err := sourceDateEpoch(); err != nil {
				return err
			} else if ok {
				opts.SourceDateEpoch = t
			}
			idx, err := repo.UpdateIndex(cmd.Context(), out, args, opts)
			if err != nil {
				return err
			}
			signed := "unsigned"
			if signer != nil {
				signed = "signed with " + signer.KeyName
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d packages, %s\n", out, len(idx.Packages), signed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "APKINDEX.tar.gz", "index file to write")
	f.StringVar(&sf.path, "signing-key", "", "RSA private key to sign the index with")
	f.BoolVarP(&merge, "merge", "m", false, "merge into the index already at --output")
	f.StringVar(&rewriteArch, "rewrite-arch", "", "set every record's arch (A:) to this")
	f.StringVar(&description, "description", "", "index DESCRIPTION")
	kf.register(f)
	lf.register(f)
	return cmd
}

func newImportDebCmd() *cobra.Command {
	var (
		out string
		sf  signerFlag
	)
	cmd := &cobra.Command{
		Use:   "import-deb --out DIR [--signing-key KEY] FILE.deb...",
		Short: "Convert Debian binary packages into a signed apk repository (stage 0)",
		Long: `import-deb converts each Debian binary package into an .apk in
DIR/<arch>/ and updates DIR/<arch>/APKINDEX.tar.gz. Names, versions,
architectures, dependencies and provides are mapped as docs/debimport.md
describes; maintainer scripts are left out.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			signer, err := sf.load()
			if err != nil {
				return err
			}
			opts := debimport.Options{OutDir: out, Signer: signer, Logger: slog.Default()}
			if t, ok, err := sourceDateEpoch(); err != nil {
				return err
			} else if ok {
				opts.SourceDateEpoch = t.Unix()
			}
			results, err := debimport.ImportAll(cmd.Context(), args, opts)
			for _, r := range results {
				if r == nil {
					continue
				}
				rel, _ := filepath.Rel(out, r.APKPath)
				fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s (%s-%s)\n", filepath.Base(r.Deb), filepath.Join(out, rel), r.Info.Name, r.Info.Version)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "repository directory to write DIR/<arch>/*.apk and the index into")
	cmd.Flags().StringVar(&sf.path, "signing-key", "", "RSA private key to sign packages and index with")
	return cmd
}
