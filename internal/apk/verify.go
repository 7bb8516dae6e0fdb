package apk

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Names of the checks in a Report, in the order they are made.
const (
	CheckFormat    = "format"    // signature/control members well formed, .PKGINFO parses
	CheckSignature = "signature" // a signature by a trusted key matches the control member
	CheckDataHash  = "datahash"  // .PKGINFO datahash == SHA-256 of the data member
	CheckChecksums = "checksums" // every file's/symlink's SHA-1 record matches its content
	CheckStream    = "stream"    // the data member is well formed and ends the file cleanly
)

// Check status values.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusSkipped = "skipped" // not made: disabled, or an earlier failure prevents it
)

// Check is the outcome of one verification check.
type Check struct {
	Name    string `json:"name"`              // CheckFormat, CheckSignature, ...
	Status  string `json:"status"`            // StatusOK, StatusFailed or StatusSkipped
	Message string `json:"message,omitempty"` // what was found, or why it failed
	Err     error  `json:"-"`                 // the error, for a failed check
}

// Report is the result of VerifyPackage. It is meant to be printed check
// by check, or marshalled as JSON.
type Report struct {
	Name     string  `json:"name,omitempty"`      // pkgname, when .PKGINFO was read
	Version  string  `json:"version,omitempty"`   // pkgver
	Identity string  `json:"identity,omitempty"`  // Q1… identity
	SignedBy string  `json:"signed_by,omitempty"` // key name whose signature verified
	Files    int     `json:"files"`               // data entries read
	Checks   []Check `json:"checks"`
	// ChecksumErrors lists every entry whose checksum did not match (the
	// checksums check's message names only the first few).
	ChecksumErrors []*ChecksumError `json:"checksum_errors,omitempty"`
}

// OK reports whether no check failed.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == StatusFailed {
			return false
		}
	}
	return true
}

// Err returns the errors of the failed checks joined (errors.Join), nil if
// none failed. errors.Is(err, ErrUnsigned) and errors.As with
// *UnknownKeyError, *BadSignatureError, *DataHashError, *ChecksumError,
// *FormatError and *LimitError work on it.
func (r *Report) Err() error {
	var errs []error
	for _, c := range r.Checks {
		if c.Status == StatusFailed && c.Err != nil {
			errs = append(errs, c.Err)
		}
	}
	return errors.Join(errs...)
}

// Check returns the check named name, or nil.
func (r *Report) Check(name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// DataHashError reports a data member whose SHA-256 differs from the
// datahash in .PKGINFO.
type DataHashError struct {
	Want string // .PKGINFO datahash; "" if .PKGINFO has none
	Got  string // SHA-256 of the data member
}

func (e *DataHashError) Error() string {
	if e.Want == "" {
		return "data member: .PKGINFO has no datahash (legacy package); the data cannot be checked against the signed control member"
	}
	return "data member: SHA-256 " + e.Got + " does not match .PKGINFO datahash " + e.Want + " (data tampered or corrupt)"
}

// VerifyPackage reads a whole package from r and checks it as `apk verify`
// does: the signature against kr (the first signature whose key is in kr
// decides; ErrUnsigned and *UnknownKeyError are distinct failures), the
// datahash, every entry's SHA-1 checksum and a clean end of stream. A nil
// kr skips the signature check (--allow-untrusted).
//
// The Report lists every check made; checks that cannot be made after an
// earlier failure are marked skipped. The error is Report.Err(): nil when
// every check passed. The Report is never nil.
func VerifyPackage(r io.Reader, kr *Keyring, lim Limits) (*Report, error) {
	return verifyPackage(r, kr, lim)
}

func verifyPackage(src io.Reader, kr *Keyring, lim Limits) (*Report, error) {
	rep := &Report{}
	add := func(name, status, msg string, err error) {
		if err != nil && msg == "" {
			msg = err.Error()
		}
		rep.Checks = append(rep.Checks, Check{Name: name, Status: status, Message: msg, Err: err})
	}
	r, err := NewReader(src, lim)
	if err != nil {
		add(CheckFormat, StatusFailed, "", err)
		for _, n := range []string{CheckSignature, CheckDataHash, CheckChecksums, CheckStream} {
			add(n, StatusSkipped, "the signature and control members could not be read", nil)
		}
		return rep, rep.Err()
	}
	info := r.Info()
	rep.Name, rep.Version = info.Name, info.Version
	add(CheckFormat, StatusOK, fmt.Sprintf("%s-%s: %d signature(s), %d script(s)", info.Name, info.Version, len(r.Signatures()), len(r.Scripts())), nil)

	switch {
	case kr == nil:
		add(CheckSignature, StatusSkipped, "not checked (untrusted packages allowed)", nil)
	default:
		key, err := kr.Verify(r.Signatures(), r.ControlMember())
		if err != nil {
			add(CheckSignature, StatusFailed, "", err)
		} else {
			rep.SignedBy = key
			alg := ""
			for _, s := range r.Signatures() {
				if s.KeyName == key {
					alg = s.Alg
					break
				}
			}
			add(CheckSignature, StatusOK, fmt.Sprintf("%s signature by %s", alg, key), nil)
		}
	}

	var streamErr error
	missing := 0
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		var ce *ChecksumError
		if errors.As(err, &ce) {
			rep.ChecksumErrors = append(rep.ChecksumErrors, ce)
			continue
		}
		if err != nil {
			streamErr = err
			break
		}
		rep.Files++
		if f.Checksum == "" && (f.Typeflag == tar.TypeReg || f.Typeflag == tar.TypeSymlink) {
			missing++
		}
	}
	rep.Identity = r.Identity()

	switch {
	case streamErr != nil:
		add(CheckDataHash, StatusSkipped, "the data member could not be read to its end", nil)
	case info.DataHash == "":
		add(CheckDataHash, StatusSkipped, "legacy package without datahash: the data is covered by the identity only, not by the signature", nil)
	case info.DataHash != r.DataHash():
		add(CheckDataHash, StatusFailed, "", &DataHashError{Want: info.DataHash, Got: r.DataHash()})
	default:
		add(CheckDataHash, StatusOK, "sha256 "+r.DataHash(), nil)
	}

	switch {
	case len(rep.ChecksumErrors) > 0:
		errs := make([]error, 0, len(rep.ChecksumErrors))
		names := []string{}
		for i, ce := range rep.ChecksumErrors {
			errs = append(errs, ce)
			if i < 5 {
				names = append(names, ce.Name)
			}
		}
		msg := fmt.Sprintf("%d entr%s with a wrong checksum: %s", len(errs), plural(len(errs), "y", "ies"), strings.Join(names, ", "))
		if len(errs) > len(names) {
			msg += ", ..."
		}
		add(CheckChecksums, StatusFailed, msg, errors.Join(errs...))
	case streamErr != nil:
		add(CheckChecksums, StatusSkipped, "the data member could not be read to its end", nil)
	default:
		msg := fmt.Sprintf("%d entries read, all stored checksums match", rep.Files)
		if missing > 0 {
			msg += fmt.Sprintf("; %d file(s) or symlink(s) have no checksum (apk flags the package broken_files)", missing)
		}
		add(CheckChecksums, StatusOK, msg, nil)
	}

	if streamErr != nil {
		add(CheckStream, StatusFailed, "", streamErr)
	} else {
		add(CheckStream, StatusOK, fmt.Sprintf("%d bytes, data member ends the file", r.Size()), nil)
	}
	return rep, rep.Err()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
