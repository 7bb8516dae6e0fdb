// Package repo reads, writes, signs and verifies APK repository indexes
// (APKINDEX.tar.gz), builds them from .apk files, and fetches indexes and
// packages from repositories: local directories and file://, http:// and
// https:// URLs holding <arch>/APKINDEX.tar.gz.
//
// An APKINDEX.tar.gz is an optional signature gzip member (tar entries
// named .SIGN.RSA*.<keyname>, without end-of-archive blocks) followed by
// the unsigned index: one gzip member holding a tar with DESCRIPTION and
// APKINDEX. The signature is RSA PKCS#1 v1.5 over every byte after the
// signature member. The APKINDEX text is a list of records, one
// "X:value" line per field, each record ended by a blank line; see
// shared/reference/apk-format.md §3.
//
// Index trust is explicit: ReadIndex refuses an unsigned index or one
// signed by a key outside the keyring unless AllowUntrusted is set.
// Packages fetched from a repository are checked against their index
// record (identity and datahash) before they are handed out, so the index
// signature is the root of trust for them, as in apk-tools.
package repo
