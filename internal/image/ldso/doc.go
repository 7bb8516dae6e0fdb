// Package ldso writes the dynamic linker's cache, /etc/ld.so.cache, for a
// root file system without running ldconfig, so that an image built for
// another architecture gets one too.
//
// The cache is glibc's "new" format ("glibc-ld.so.cache1.1", glibc 2.32 and
// later write only this one): a header, a table of entries and a string
// table. Each entry maps a library's soname to its path and carries flags
// naming the ELF class and ABI; the table is sorted as glibc's
// _dl_cache_libcmp orders names, descending, because the dynamic linker
// finds entries by binary search in that order (see LibCmp).
//
// Libraries are found as ldconfig finds them: in the directories named by
// /etc/ld.so.conf (following "include" globs) and in the trusted
// directories /lib, /usr/lib, /lib64 and /usr/lib64, looking at files whose
// names start with "lib" or "ld-" and contain ".so", and keeping the ELF
// shared objects among them. Unlike ldconfig, Generate creates no soname
// symbolic links: an entry points at the soname when a file of that name
// exists in the directory, else at the library file itself.
package ldso
