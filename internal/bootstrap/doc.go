// Package bootstrap builds reef's stage 0: the first signed apk repository,
// made from another distribution's binary packages, that the first reef
// builds install their build environment from.
//
// A distribution that builds its packages from source needs packages to
// build with: a shell, core utilities, a compiler, a C library. Wolfi
// started from Alpine's packages and then rebuilt itself with its own
// tools until nothing of Alpine was left. reef starts from Debian's
// instead, because Debian's mirrors are what this project can reach and
// because its packages are glibc-based, as Wolfi's are. Stage 0 is that
// starting point; stage 1 is what reef builds with it, and so on.
//
// Stage0 does four things:
//
//  1. It computes the Debian dependency closure of a few root packages
//     (DefaultPackages: busybox-static, gcc, g++, make, binutils, libc6-dev,
//     coreutils, pkgconf, ca-certificates, …) from apt's package lists,
//     following Pre-Depends and Depends and taking the first alternative of
//     each "a | b", exactly as debimport maps them into apk dependencies, so
//     that the index resolves. It downloads the missing .debs with
//     `apt-get download` into a cache, checked against the archive's
//     SHA-256.
//  2. It imports them with debimport into a signed repository.
//  3. It makes Debian's packages fit a merged-/usr root: a package that
//     ships files under bin, sbin, lib or lib64 gets a dependency on
//     reef-baselayout, so that apk lays out those symlinks before any
//     package puts a file behind them.
//  4. It writes the meta-packages Wolfi build files ask for by name:
//     reef-baselayout (provides wolfi-baselayout: the merged-/usr
//     symlinks, /etc/passwd, /etc/group, /tmp, …), busybox (Debian's static
//     busybox with its applet symlinks), build-base (the toolchain, plus the
//     cc, c++, c89, c99 and /lib/cpp links that Debian's maintainer scripts
//     would have made with update-alternatives) and ca-certificates-bundle
//     (/etc/ssl/certs/ca-certificates.crt, which Debian's postinst would
//     have generated).
//
// The repository is written to Options.OutDir/<arch>/ with an
// APKINDEX.tar.gz that lists exactly the packages of this stage 0, signed
// with Options.SigningKey. The same .debs, key and SourceDateEpoch give the
// same bytes. docs/bootstrap.md describes what is in it and what is lost
// from Debian on the way.
package bootstrap
