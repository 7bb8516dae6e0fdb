package build

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/reef-dev/reef/internal/build/config"
)

// hostStep fills in the typed form of a fetch or git-checkout step from
// its inputs (every declared input is present, defaults applied).
func hostStep(st *Step, in map[string]string, pos config.Pos) error {
	// errAt reports a bad input at its with: line when it was given.
	errAt := func(k, format string, args ...any) error {
		return pos.Errorf("with."+k, format, args...)
	}
	num := func(k string, min int) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(in[k]))
		if err != nil || n < min {
			return 0, errAt(k, "%s %q: want a whole number of at least %d", k, in[k], min)
		}
		return n, nil
	}
	flag := func(k string) (bool, error) {
		switch strings.TrimSpace(in[k]) {
		case "true", "True", "TRUE", "yes", "on", "1":
			return true, nil
		case "false", "False", "FALSE", "no", "off", "0", "":
			return false, nil
		}
		return false, errAt(k, "%s %q: want true or false", k, in[k])
	}
	dir := func(k string) string {
		d := in[k]
		if d == "" {
			d = "."
		}
		if path.IsAbs(d) {
			return path.Clean(d)
		}
		return path.Join(st.WorkDir, d)
	}
	var err error
	switch st.Kind {
	case KindFetch:
		f := &Fetch{
			URI:            in["uri"],
			ExpectedSHA256: strings.ToLower(in["expected-sha256"]),
			ExpectedSHA512: strings.ToLower(in["expected-sha512"]),
			Directory:      dir("directory"),
			PurlName:       in["purl-name"],
			PurlVersion:    in["purl-version"],
			Reason:         in["reason"],
		}
		// Any value other than false means "no checksum", as in melange,
		// where the input only has to be non-empty.
		if v, err := flag("expected-none"); err == nil {
			f.ExpectedNone = v
		} else {
			f.ExpectedNone = true
		}
		if f.ExpectedSHA256 == "" && f.ExpectedSHA512 == "" && !f.ExpectedNone {
			return pos.Errorf("with", "fetch of %s needs expected-sha256 or expected-sha512 (or expected-none: true to accept any content)", f.URI)
		}
		if f.ExpectedSHA256 != "" && f.ExpectedSHA512 != "" {
			return pos.Errorf("with", "fetch of %s: give expected-sha256 or expected-sha512, not both", f.URI)
		}
		if !strings.Contains(f.URI, "://") {
			return errAt("uri", "uri %q: want a URL (https://…)", f.URI)
		}
		if f.StripComponents, err = num("strip-components", 0); err != nil {
			return err
		}
		if f.Extract, err = flag("extract"); err != nil {
			return err
		}
		if f.Delete, err = flag("delete"); err != nil {
			return err
		}
		if f.Timeout, err = num("timeout", 1); err != nil {
			return err
		}
		if f.DNSTimeout, err = num("dns-timeout", 1); err != nil {
			return err
		}
		if f.RetryLimit, err = num("retry-limit", 0); err != nil {
			return err
		}
		st.Fetch = f
	case KindGitCheckout:
		g := &GitCheckout{
			Repository:     in["repository"],
			Destination:    dir("destination"),
			Branch:         in["branch"],
			Tag:            in["tag"],
			ExpectedCommit: strings.ToLower(in["expected-commit"]),
			TypeHint:       in["type-hint"],
			Reason:         in["reason"],
			SparsePaths:    strings.Fields(in["sparse-paths"]),
		}
		if g.Branch != "" && g.Tag != "" {
			return pos.Errorf("with", "git-checkout of %s: give branch or tag, not both", g.Repository)
		}
		for _, b := range []struct {
			k string
			v *bool
		}{{"expected-commit-is-branch-tip", &g.ExpectedCommitIsBranchTip}, {"recurse-submodules", &g.RecurseSubmodules}, {"shallow-submodules", &g.ShallowSubmodules}} {
			if *b.v, err = flag(b.k); err != nil {
				return err
			}
		}
		if g.ExpectedCommitIsBranchTip && (g.Branch == "" || g.ExpectedCommit == "") {
			return errAt("expected-commit-is-branch-tip", "expected-commit-is-branch-tip needs branch and expected-commit")
		}
		switch d := strings.TrimSpace(in["depth"]); d {
		case "", "unset":
			g.Depth = 1
			if g.Branch != "" && g.ExpectedCommit != "" && !g.ExpectedCommitIsBranchTip {
				g.Depth = -1
			}
		default:
			n, err := strconv.Atoi(d)
			if err != nil || n == 0 || n < -1 {
				return errAt("depth", "depth %q: want a positive number, -1 for the full history, or unset", d)
			}
			g.Depth = n
		}
		if g.SubmoduleJobs, err = num("submodule-jobs", 1); err != nil {
			return err
		}
		if g.MaxRetries, err = num("max-retries", 0); err != nil {
			return err
		}
		if g.InitialBackoff, err = num("initial-backoff", 0); err != nil {
			return err
		}
		if g.MaxBackoff, err = num("max-backoff", 0); err != nil {
			return err
		}
		if g.CherryPicks, err = parseCherryPicks(in["cherry-picks"]); err != nil {
			return errAt("cherry-picks", "%v", err)
		}
		st.GitCheckout = g
	default:
		return fmt.Errorf("internal error: %s is not a host-side step", st.Kind)
	}
	return nil
}

// parseCherryPicks parses git-checkout's cherry-picks input: one
// "[branch/]commit: comment" per line; blank lines and text after # are
// ignored.
func parseCherryPicks(s string) ([]CherryPick, error) {
	var out []CherryPick
	for i, line := range strings.Split(s, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		ref, comment, ok := strings.Cut(line, ":")
		comment = strings.TrimSpace(comment)
		if !ok || comment == "" {
			return nil, fmt.Errorf("line %d %q: want \"[branch/]commit: comment\"", i+1, line)
		}
		ref = strings.TrimSpace(ref)
		cp := CherryPick{Commit: ref, Comment: comment}
		if k := strings.LastIndexByte(ref, '/'); k >= 0 {
			cp.Branch, cp.Commit = ref[:k], ref[k+1:]
		}
		if err := checkHexInput("expected-commit", cp.Commit); err != nil || cp.Commit == "" {
			return nil, fmt.Errorf("line %d: commit %q: want 40 hexadecimal digits", i+1, cp.Commit)
		}
		cp.Commit = strings.ToLower(cp.Commit)
		out = append(out, cp)
	}
	return out, nil
}
