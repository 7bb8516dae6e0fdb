// Package image builds OCI images from image files in apko's YAML format:
// the configuration (Config, LoadConfig), the assembly of a root file
// system from packages, its layers, the multi-architecture index, the
// SBOMs, and lock files (Lock).
//
// # Flow
//
// Build resolves the image file's packages for every architecture at once
// (solve.SolveArchs, so that a package has the same version everywhere),
// then for each architecture, in parallel:
//
//  1. installs the packages into an in-memory tree (install.MemFS; nothing
//     is extracted to disk), with the apk database where apko puts it
//     (usr/lib/apk/db, lib/apk a link to it) and /etc/apk/world listing
//     every installed package as name=version;
//  2. adds the accounts to /etc/passwd, /etc/group and /etc/shadow and
//     creates their home directories;
//  3. records the locked configuration in /etc/apko.json;
//  4. applies the paths block, the runtime keyring and, when the image
//     has /etc/ld.so.conf, writes /etc/ld.so.cache (package ldso);
//  5. writes the layers from the tree: entries sorted, parents first,
//     owners and modes as the packages give them (apko forces root; reef
//     does not), user and group names from the image's own passwd and
//     group, xattrs as SCHILY.xattr PAX records, hard links kept; with
//     layering, one layer per origin group within a budget and a top layer
//     for everything else;
//  6. makes the image (package oci), whose configuration holds the
//     entrypoint, command, environment, user, working directory, stop
//     signal, volumes and labels.
//
// The images form an OCI index; Result writes it as an OCI image layout or
// a docker-loadable tarball, or publishes it.
//
// # Reproducibility
//
// The same image file and repositories give the same bytes, wherever and
// whenever they are built: every time in the image is SOURCE_DATE_EPOCH
// or, without it, the newest build date of the packages (apko's rule);
// entries and maps are written sorted; compression is deterministic; and
// the repository lines written into the image are spelled as in the image
// file, not resolved against the directory the build ran in.
//
// # Caching
//
// With Options.CacheDir, packages and indexes are cached by the repository
// fetcher, compressed layers by package oci, and the facts a build learnt
// from its tree by this package, so that rebuilding an unchanged image
// (same configuration, packages, keys, build date and reef executable)
// installs nothing.
package image
