// Package apk reads, writes, signs and verifies APK v2 packages, the
// format of Alpine's apk-tools as produced by abuild and melange.
//
// A package is two or three gzip members concatenated: an optional
// signature member (.SIGN.RSA*.<keyname>), a control member (.PKGINFO and
// install scripts) and a data member (the file tree). Together they
// decompress to one tar stream. See shared/reference/apk-format.md §1–2.
//
// The package identity (the index "C:" field, "Q1" + base64) is the SHA-1 of
// the compressed control member; the datahash in .PKGINFO is the SHA-256 of
// the compressed data member. Reading streams: the data member is never held
// in memory whole.
package apk
