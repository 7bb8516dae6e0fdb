// Package install applies an install plan to a root: a directory (DirFS)
// or an in-memory tree (MemFS) that the image builder turns into layers
// without touching the disk.
//
// An Installer streams each package (apk.Reader), checks it against its
// index record (identity C: and datahash), and writes its entries with the
// owners, modes, xattrs and modification times the package gives (apko
// forces root ownership; reef does not). Nothing is ever written outside
// the root: entry names with absolute or ".." paths are refused, hard
// links must point at an earlier file of the same package, and symlinks
// already in the root are followed the way a chrooted process would follow
// them (absolute targets start at the root, ".." stops at it), so that a
// usrmerged root (bin -> usr/bin) receives packages that still ship bin/.
//
// File conflicts follow apk-tools (shared/reference/apk-format.md §6): a
// package may overwrite a file of a package with the same name or origin,
// or one it replaces; the replaces_priority decides when both replace each
// other; anything else is a *ConflictError.
//
// The installed state is written as apk-tools writes it (§4):
// lib/apk/db/installed (or usr/lib/apk/db with a lib/apk symlink, as apko
// lays it out), scripts.tar, triggers, etc/apk/world, etc/apk/repositories,
// etc/apk/keys and etc/apk/arch. ParseInstalled and WriteInstalled read and
// write the installed database on their own.
//
// Packages are written one at a time, in the order given, but into a
// MemFS they are read ahead (Installer.ReadAhead): several goroutines
// open, decompress and check the next packages into memory while the
// current one is written, which changes nothing in the outcome, errors
// included.
//
// Installing into a root that already has packages adds to it; upgrading
// and removing packages are not supported yet. Install scripts are not run
// unless Installer.RunScripts is set; they then run chrooted into a DirFS
// root with bubblewrap.
package install
