package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/bootstrap"
)

// stage0KeyName is the key pair `reef bootstrap` makes in --out when no
// --signing-key is given: OUT/reef-stage0.rsa and OUT/reef-stage0.rsa.pub.
const stage0KeyName = "reef-stage0"

func newBootstrapCmd() *cobra.Command {
	var (
		out      string
		keyPath  string
		debCache string
		arch     string
		offline  bool
		jsonOut  bool
	)
	cmd := &cobra.Command{
		Use:   "bootstrap [--out DIR] [--signing-key KEY] [--deb-cache DIR] [--offline] [PKG...]",
		Short: "Build the signed stage-0 repository from Debian's binary packages",
		Long: `bootstrap builds stage 0: a signed apk repository made from Debian's
binary packages, from which the first reef builds install their build
environment (as Wolfi was bootstrapped from Alpine's packages).

It computes the Debian dependency closure of the PKG arguments (by default
busybox-static, coreutils, gcc, g++, binutils, make, libc6-dev,
linux-libc-dev, libc-bin, pkgconf and ca-certificates) from apt's package
lists, downloads the missing .debs with apt-get download into --deb-cache,
imports them as reef import-deb does, and adds the meta-packages Wolfi build
files ask for: build-base, busybox, ca-certificates-bundle and
reef-baselayout (which provides wolfi-baselayout). The repository is written
to DIR/<arch>/ with its APKINDEX.tar.gz.

Without --signing-key, the key DIR/reef-stage0.rsa is used, and made if it
does not exist. Its public half, DIR/reef-stage0.rsa.pub, is what builds
trust the repository with:

    reef bootstrap --out out/stage0
    reef build hello.yaml -r out/stage0 -k out/stage0/reef-stage0.rsa.pub

SOURCE_DATE_EPOCH, when set, fixes every timestamp: the same .debs, key and
epoch give the same bytes. See docs/bootstrap.md.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out must not be empty")
			}
			signer, pub, err := stage0Signer(cmd, out, keyPath)
			if err != nil {
				return err
			}
			opts := bootstrap.Options{
				OutDir:     out,
				SigningKey: signer,
				DebCache:   debCache,
				Packages:   args,
				Arch:       arch,
				Offline:    offline,
				Logger:     slog.Default(),
			}
			if t, ok, err := sourceDateEpoch(); err != nil {
				return err
			} else if ok {
				opts.SourceDateEpoch = t.Unix()
			}
			res, err := bootstrap.Stage0(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s: %d packages (%d from Debian, %d meta-packages), %.1f MiB, signed with %s\n",
				res.Index, len(res.Packages), res.Imported, res.Meta, float64(res.TotalSize)/(1<<20), res.KeyName)
			for _, p := range res.Packages {
				if p.Kind == "meta" {
					fmt.Fprintf(w, "  %s-%s\n", p.Name, p.Version)
				}
			}
			for _, s := range res.Skipped {
				fmt.Fprintf(w, "not written: %s\n", s)
			}
			if pub != "" {
				fmt.Fprintf(w, "public key: %s (trust it with -k %s)\n", pub, pub)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "stage0", "repository directory to write DIR/<arch>/*.apk and the index into")
	f.StringVar(&keyPath, "signing-key", "", "RSA private key to sign with (default DIR/"+stage0KeyName+".rsa, made if missing)")
	f.StringVar(&debCache, "deb-cache", "", "where .debs are downloaded to and reused from (default ~/.cache/reef/debs)")
	f.StringVar(&arch, "arch", "", "architecture (only the host's is supported)")
	f.BoolVar(&offline, "offline", false, "use only .debs already in --deb-cache; download nothing")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	return cmd
}

// stage0Signer loads --signing-key, or OUT/reef-stage0.rsa, making that
// key pair when it does not exist. It returns the public key's path when
// it knows it.
func stage0Signer(cmd *cobra.Command, out, keyPath string) (*apk.Signer, string, error) {
	if keyPath != "" {
		s, err := apk.LoadSigner(keyPath)
		if err != nil {
			return nil, "", err
		}
		pub := keyPath + ".pub"
		if _, err := os.Stat(pub); err != nil {
			pub = ""
		}
		return s, pub, nil
	}
	priv := filepath.Join(out, stage0KeyName+".rsa")
	if _, err := os.Stat(priv); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, "", err
		}
		if _, _, err := apk.GenerateKeyPair(strings.TrimSuffix(priv, ".rsa"), 4096); err != nil {
			return nil, "", err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "made the signing key %s\n", priv)
	} else if err != nil {
		return nil, "", err
	}
	s, err := apk.LoadSigner(priv)
	if err != nil {
		return nil, "", err
	}
	return s, priv + ".pub", nil
}
