package debimport

import (
	"context"
	"path/filepath"
	"time"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/repo"
)

// updateIndex adds the packages at apkPaths, all in directory dir, to
// dir/APKINDEX.tar.gz, keeping the records already there (but those the
// new packages replace), and signs it with opts.Signer.
//
// Every record's arch (A:) is set to the directory's architecture, as
// `apk index --rewrite-arch` does for abuild: apk-tools 2 fetches a
// package from <repository>/<A:>/, so noarch packages filed under x86_64/
// must say x86_64 there.
func updateIndex(ctx context.Context, dir string, apkPaths []string, opts *Options) error {
	bo := repo.BuildOptions{RewriteArch: filepath.Base(dir), Jobs: opts.Jobs}
	if s := opts.Signer; s != nil {
		// The packages were just signed with this key: check them with it.
		kr := apk.NewKeyring()
		kr.Add(s.KeyName, &s.Key.PublicKey)
		bo.Keyring = kr
	} else {
		bo.AllowUntrusted = true
	}
	uo := repo.UpdateOptions{BuildOptions: bo, Signer: opts.Signer, Merge: true}
	if opts.SourceDateEpoch != 0 {
		uo.SourceDateEpoch = time.Unix(opts.SourceDateEpoch, 0)
	}
	_, err := repo.UpdateIndex(ctx, filepath.Join(dir, "APKINDEX.tar.gz"), apkPaths, uo)
	return err
}
