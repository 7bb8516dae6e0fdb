package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/reef-dev/reef/internal/apk"
)

// limitFlags are the size limits for reading untrusted packages.
type limitFlags struct{ lim apk.Limits }

func (l *limitFlags) register(fs *pflag.FlagSet) {
	fs.Int64Var(&l.lim.MaxControlSize, "max-control-size", apk.DefaultMaxControlSize, "largest signature+control section of a package, bytes")
	fs.Int64Var(&l.lim.MaxDataSize, "max-data-size", apk.DefaultMaxDataSize, "largest uncompressed data section of a package, bytes")
	fs.IntVar(&l.lim.MaxEntries, "max-entries", apk.DefaultMaxEntries, "most files in one package")
	fs.Int64Var(&l.lim.MaxFileSize, "max-file-size", apk.DefaultMaxFileSize, "largest single file in a package, bytes")
	fs.IntVar(&l.lim.MaxPathLen, "max-path-len", apk.DefaultMaxPathLen, "longest path or link target in a package, bytes")
}

// stringsValue is a repeatable string flag with no default, as pflag's
// StringArray: each use adds one value. pflag's own type formats its
// default as CSV when the flag is defined, through a new 4 KiB buffer each
// time; with a few dozen such flags defined on every start, that is about
// 40 page faults of fresh memory for nothing (bench/resolve.sh).
type stringsValue struct{ p *[]string }

// stringArrayVarP defines a repeatable string flag that appends to *p.
func stringArrayVarP(fs *pflag.FlagSet, p *[]string, name, shorthand, usage string) {
	fs.VarP(&stringsValue{p}, name, shorthand, usage)
}

func (v *stringsValue) Set(s string) error {
	*v.p = append(*v.p, s)
	return nil
}

// Type is pflag's name for the type, so that help shows it as before.
func (v *stringsValue) Type() string { return "stringArray" }

// String is empty with no values, so that help shows no default.
func (v *stringsValue) String() string {
	if len(*v.p) == 0 {
		return ""
	}
	return "[" + strings.Join(*v.p, ",") + "]"
}

// GetSlice tells cobra's completion that the flag may be repeated.
func (v *stringsValue) GetSlice() []string { return *v.p }

// keyFlags are the trust options shared by commands that read signed input.
type keyFlags struct {
	keys           []string
	allowUntrusted bool
}

func (k *keyFlags) register(fs *pflag.FlagSet) {
	stringArrayVarP(fs, &k.keys, "keyring-append", "k", "trusted public key file or directory of keys (repeatable)")
	fs.BoolVar(&k.allowUntrusted, "allow-untrusted", false, "accept unsigned input or input signed by an unknown key")
	fs.BoolVar(&k.allowUntrusted, "ignore-signatures", false, "alias of --allow-untrusted (apko's name)")
}

// keyring loads the -k keys; with none given it falls back to /etc/apk/keys
// when that exists, as apk does.
func (k *keyFlags) keyring() (*apk.Keyring, error) {
	kr := apk.NewKeyring()
	paths := k.keys
	if len(paths) == 0 {
		if st, err := os.Stat("/etc/apk/keys"); err == nil && st.IsDir() {
			paths = []string{"/etc/apk/keys"}
		}
	}
	if err := kr.Load(paths...); err != nil {
		return nil, err
	}
	return kr, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// failed returns an error that makes reef exit with status 1 after the
// command already printed what went wrong.
func failed(format string, args ...any) error {
	return &exitError{code: 1, err: fmt.Errorf(format, args...)}
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH; ok is false when it is unset.
func sourceDateEpoch() (t time.Time, ok bool, err error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a non-negative number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), true, nil
}
