// Package sca scans a package's output tree and generates the dependencies
// and provides that melange adds to .PKGINFO automatically ("software
// composition analysis", shared/reference/melange.md §5).
//
// Scan walks the tree (a build's melange-out/<pkg> directory) once and
// derives:
//
//   - from ELF files: depend so:<interpreter> (PT_INTERP; musl's ld-musl-*
//     becomes libc.musl-*), depend so:<lib> for each DT_NEEDED name
//     containing ".so.", and, for shared objects, provides
//     so:<soname>=<sover> and so-ver:<soname>=<pkgver> for each DT_SONAME
//     when the file is directly in lib/, usr/lib/, lib64/, usr/lib64/ or a
//     directory named in the package's etc/ld.so.conf.d/*.conf (a SONAME
//     elsewhere is reported as vendored);
//   - from symlinks whose path contains ".so": depend so:<soname> of the
//     library the link names, looked up in the library directories of the
//     package and of its siblings (a -dev package's libfoo.so link);
//   - from executables directly in bin/, sbin/, usr/bin/ or usr/sbin/:
//     provides cmd:<name>=<pkgver>;
//   - from "#!" lines of files under usr/bin/, usr/local/bin/ and
//     usr/local/sbin/: depend cmd:<interpreter> ("/usr/bin/env X" and
//     "/usr/bin/env -S X" understood; sh, python, python3, awk and luajit
//     ignored);
//   - from pkg-config files in usr/{,local/}{lib,lib64,share}/pkgconfig:
//     provides pc:<name>=<pkgver> and depend pc:<module> for each module in
//     Requires, Requires.private and Requires.internal (a .pc file elsewhere
//     is reported as vendored);
//   - language runtimes and documentation: python-X.Y-base for a
//     pythonX.Y/site-packages directory, ruby-X.Y for
//     lib/ruby/gems/X.Y.Z/gems, perl~N for lib/perlN/*_perl, and man-db /
//     texinfo for a "-doc" package with man or info pages.
//
// Depends that the package satisfies itself (its own provides or vendored
// names) are dropped, then the package options no-commands, no-depends and
// no-provides are applied. Output is sorted and deduplicated; every entry
// is a valid apk dependency string.
//
// Differences from melange (chainguard-dev/melange pkg/sca, 2026):
//
//   - Self-satisfied depends are dropped by what the package ships, even
//     under no-provides; melange drops them by the provides it writes, so
//     with no-provides a package depends on its own libraries.
//   - A regular file directly in a library directory is read as ELF
//     whatever its mode; melange reads only files with r-x for all, so a
//     0644 library is not provided while its symlink still gives a depend
//     on it (which is why some Wolfi recipes chmod their libraries).
//   - Symlinks are resolved inside the tree only, absolute targets from
//     the tree's root.
//   - pkg-config files are parsed as pkg-config does (variables in
//     Requires, "+" in module names); melange's parser rejects such files
//     and then generates nothing for them.
//   - A SONAME whose version part is not a valid apk version gets "=0".
//   - Not done here: versioned so-ver:/pc: depends on the build
//     environment's packages (they need the resolved build environment),
//     kernel module and image provides, and the Go FIPS depends.
//
// The tree is treated as untrusted: malformed ELF files, unreadable files
// and odd names become notes in the Result, never errors or panics, and
// symlinks are resolved inside the tree only.
package sca
