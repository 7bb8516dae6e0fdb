package repo

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/reef-dev/reef/internal/apk"
	"github.com/reef-dev/reef/internal/fsutil"
	"github.com/reef-dev/reef/internal/version"
)

// WriteIndex writes idx as an APKINDEX.tar.gz: a tar of DESCRIPTION and
// APKINDEX in apk index's dialect (GNU magic, typeflag '0', mode 0644,
// owned by root, mtime sourceDateEpoch) in one gzip member, preceded by a
// signature member when signer is not nil. The records are written sorted
// as apk sorts them (idx.Packages itself is not reordered); idx.Signatures
// and idx.VerifiedBy are ignored.
//
// The output depends only on the arguments: the same index, key and time
// give the same bytes (RSA PKCS#1 v1.5 signatures are deterministic). A
// zero sourceDateEpoch means the Unix epoch.
func WriteIndex(w io.Writer, idx *Index, signer *apk.Signer, sourceDateEpoch time.Time) error {
	var signers []*apk.Signer
	if signer != nil {
		signers = append(signers, signer)
	}
	b, err := EncodeIndex(idx, sourceDateEpoch, signers...)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// EncodeIndex returns idx as APKINDEX.tar.gz bytes, as WriteIndex writes
// them, signed by each of signers in turn (all signatures in one leading
// member, in that order, as multi-key repositories have them).
func EncodeIndex(idx *Index, sourceDateEpoch time.Time, signers ...*apk.Signer) ([]byte, error) {
	mtime := normTime(sourceDateEpoch)
	pkgs := append([]*Package(nil), idx.Packages...)
	SortPackages(pkgs, version.Compare)
	text := make([]byte, 0, 512*len(pkgs)) // a typical record is 300-500 bytes
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("index record %q-%q: a record needs a name and a version", p.Name, p.Version)
		}
		text = p.AppendRecord(text)
	}
	unsigned, err := gzipTar(mtime, true,
		tarFile{"DESCRIPTION", []byte(idx.Description)},
		tarFile{"APKINDEX", text})
	if err != nil {
		return nil, err
	}
	if len(signers) == 0 {
		return unsigned, nil
	}
	sig, err := signatureMember(unsigned, mtime, signers)
	if err != nil {
		return nil, err
	}
	return append(sig, unsigned...), nil
}

// normTime maps the zero time to the Unix epoch, whole seconds.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.Truncate(time.Second).UTC()
}

type tarFile struct {
	name string
	data []byte
}

// gzipTar returns one gzip member holding a tar of files in apk index's
// dialect; close adds the end-of-archive blocks, which signature members
// must not have.
func gzipTar(mtime time.Time, close bool, files ...tarFile) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	zw.ModTime = time.Unix(0, 0) // a fixed header: mtime 0, no name
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.name,
			Size:     int64(len(f.data)),
			Mode:     0o644,
			Uname:    "root",
			Gname:    "root",
			ModTime:  mtime,
			Format:   tar.FormatGNU,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if close {
		err = tw.Close()
	} else {
		err = tw.Flush()
	}
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// signatureMember signs data with each signer and returns the gzip member
// holding the signature entries, without end-of-archive blocks.
func signatureMember(data []byte, mtime time.Time, signers []*apk.Signer) ([]byte, error) {
	files := make([]tarFile, 0, len(signers))
	for _, s := range signers {
		sig, err := s.Sign(data)
		if err != nil {
			return nil, fmt.Errorf("signing the index with %s: %w", s.KeyName, err)
		}
		files = append(files, tarFile{sig.EntryName(), sig.Value})
	}
	return gzipTar(mtime, false, files...)
}

// SignIndex signs the index file at path in place with signers (at least
// one): any signature member(s) it had are replaced by one member holding
// the new signatures; the index member itself is kept byte for byte. The
// file is checked to be a readable index first, and replaced atomically.
func SignIndex(path string, signers ...*apk.Signer) error {
	if len(signers) == 0 {
		return errors.New("sign index: no signing key given")
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() > DefaultMaxIndexSize {
		return &IndexError{path, fmt.Errorf("%w: the file is larger than %d bytes", ErrTooLarge, DefaultMaxIndexSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	signed, err := resign(data, path, signers)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, signed, st.Mode().Perm())
}

// resign returns data (an index file) with its signatures replaced.
func resign(data []byte, file string, signers []*apk.Signer) ([]byte, error) {
	_, parts, err := readIndexBytes(data, nil, ReadOptions{File: file, AllowUntrusted: true})
	if err != nil {
		return nil, err
	}
	body := data[parts.sigEnd:]
	sig, err := signatureMember(body, normTime(parts.modTime), signers)
	if err != nil {
		return nil, err
	}
	return append(sig, body...), nil
}
