// Package debimport turns Debian binary packages (.deb) into apk packages,
// the stage-0 material reef bootstraps its distribution from.
//
// A .deb (deb(5)) is an ar archive of three members: debian-binary
// ("2.0\n"), control.tar (the control file and maintainer scripts) and
// data.tar (the file tree), the tars compressed with gzip, xz or zstd (or
// bzip2 for data.tar), or not at all. Import reads it as a stream and
// writes NAME-VERSION.apk into a repository directory, OutDir/<arch>/,
// with apk.WritePackage; ImportAll does that for many files in parallel
// and then merges them into each directory's APKINDEX.tar.gz.
//
// The mapping, documented with its reasons in docs/debimport.md:
//
//   - name: Package, unchanged (Debian names are valid apk names);
//   - version: MapVersion (epoch dropped, revision → -rN, "~" parts →
//     pre-release suffixes, "+"/"." parts → "_p" and friends);
//   - arch: MapArch (amd64 → x86_64, arm64 → aarch64, all → noarch, …);
//   - description: the synopsis (first line) of Description;
//   - url: Homepage; maintainer: Maintainer; origin: the Source package
//     (or the package name);
//   - depends: Pre-Depends and Depends (MapDepends: first alternative,
//     versions mapped); provides: Provides (MapProvides), plus "so:NAME=V"
//     for every shared library with a SONAME in a library directory and
//     "cmd:NAME=VERSION" for every executable in /bin, /sbin, /usr/bin and
//     /usr/sbin; replaces: Replaces;
//   - license: from a machine-readable (DEP-5) usr/share/doc/PKG/copyright,
//     the License of its "Files: *" paragraph, in SPDX terms where possible;
//     empty otherwise (binary packages have no license field);
//   - size: computed from the files (Installed-Size is ignored);
//   - files: every data.tar entry, under its own path ("./usr/bin/x" →
//     "usr/bin/x"), with its mode and owner; timestamps become
//     Options.SourceDateEpoch.
//
// Left out: maintainer scripts (preinst, postinst, prerm, postrm, config),
// which are written for dpkg and debconf and would not run under apk, and
// the other control files (conffiles, triggers, templates, shlibs,
// symbols); Result.Skipped lists them. Recommends, Suggests, Enhances,
// Breaks, Conflicts, Essential, Priority, Section, Multi-Arch and
// Built-Using have no counterpart and are dropped too. Files stay where the
// .deb puts them, also under /bin, /lib and /sbin, which merged-/usr
// Debian systems make symlinks into /usr; laying out the root is the
// installer's or the image's business.
//
// Untrusted input is bounded (member, file and total sizes, entry counts,
// dictionary sizes) and checked: an entry with an absolute path or a ".."
// component is an error, hard links must point to earlier files, and the
// data is never extracted to disk, so an archive cannot write outside its
// root. Errors name the .deb and the part at fault, as in
//
//	foo.deb: control: Version "x": upstream version "x" does not start with a digit, which apk versions must
//
// and a failed import leaves no output behind.
package debimport
