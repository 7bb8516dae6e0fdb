package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/sbom"
)

// gitCheckout runs a git-checkout step on the host with the host's git:
// clone (depth, branch or tag, submodules, sparse paths), check the
// expected commit, apply the cherry-picks (committed at
// SOURCE_DATE_EPOCH), then move the checkout into the destination,
// merging with what is there.
func (r *runner) gitCheckout(ctx context.Context, o *Output, st *Step) error {
	g := st.GitCheckout
	if g == nil {
		return errors.New("git-checkout step without its git-checkout block")
	}
	if _, err := exec.LookPath("git"); err != nil {
		return errors.New("git-checkout needs git on the host: install it (Debian: apt-get install git)")
	}
	destRel, err := hostPath(g.Destination)
	if err != nil {
		return err
	}
	remote := strings.Contains(g.Repository, "://") && !strings.HasPrefix(g.Repository, "file://")
	if !remote && strings.Contains(g.Repository, "@") && strings.Contains(g.Repository, ":") {
		remote = true // scp-like ssh: git@host:path
	}
	if remote && r.opts.Offline {
		return fmt.Errorf("git-checkout of %s: offline (--offline); only local repositories can be cloned", g.Repository)
	}
	tmp, err := os.MkdirTemp(r.ws, ".reef-git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	clone := filepath.Join(tmp, "src")

	args := []string{"clone", "--quiet", "-c", "advice.detachedHead=false"}
	if g.Depth > 0 {
		args = append(args, "--depth", strconv.Itoa(g.Depth))
	}
	if ref := g.Branch + g.Tag; ref != "" {
		args = append(args, "--branch", ref)
	}
	if g.RecurseSubmodules {
		args = append(args, "--recurse-submodules", "--jobs", strconv.Itoa(max(g.SubmoduleJobs, 1)))
		if g.ShallowSubmodules {
			args = append(args, "--shallow-submodules")
		}
	}
	if len(g.SparsePaths) > 0 {
		args = append(args, "--sparse")
	}
	args = append(args, "--", g.Repository, clone)
	backoff := time.Duration(g.InitialBackoff) * time.Second
	for attempt := 0; ; attempt++ {
		_, err = r.git(ctx, "", args...)
		if err == nil {
			break
		}
		if attempt >= g.MaxRetries || ctx.Err() != nil {
			return fmt.Errorf("cloning %s: %w", g.Repository, err)
		}
		os.RemoveAll(clone)
		r.log.Warn("git-checkout: retrying", "repository", g.Repository, "attempt", attempt+2, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(max(2*backoff, time.Second), max(time.Duration(g.MaxBackoff)*time.Second, time.Second))
	}
	if len(g.SparsePaths) > 0 {
		if _, err := r.git(ctx, clone, append([]string{"sparse-checkout", "set", "--"}, g.SparsePaths...)...); err != nil {
			return err
		}
	}
	head, err := r.git(ctx, clone, "rev-parse", "HEAD^{commit}")
	if err != nil {
		return err
	}
	ref := g.Tag
	if ref == "" {
		ref = g.Branch
	}
	if g.ExpectedCommit != "" && head != g.ExpectedCommit {
		if g.Branch == "" || g.ExpectedCommitIsBranchTip {
			what := "the default branch"
			if ref != "" {
				what = ref
			}
			return fmt.Errorf("%s of %s is at commit %s, but expected-commit is %s", what, g.Repository, head, g.ExpectedCommit)
		}
		// expected-commit is in the branch's history.
		if _, err := r.git(ctx, clone, "checkout", "--quiet", g.ExpectedCommit); err != nil {
			return fmt.Errorf("expected-commit %s is not in branch %s of %s (clone depth %d): %w", g.ExpectedCommit, g.Branch, g.Repository, g.Depth, err)
		}
		if g.RecurseSubmodules {
			if _, err := r.git(ctx, clone, "submodule", "update", "--init", "--recursive"); err != nil {
				return err
			}
		}
		head = g.ExpectedCommit
	}
	for _, cp := range g.CherryPicks {
		if err := r.cherryPick(ctx, clone, g, cp); err != nil {
			return err
		}
	}
	if err := r.moveInto(strings.TrimPrefix(clone, r.ws+string(filepath.Separator)), destRel); err != nil {
		return fmt.Errorf("moving the checkout into %s: %w", g.Destination, err)
	}
	r.log.Info("git-checkout", "repository", g.Repository, "ref", ref, "commit", head, "into", g.Destination)
	src := sbom.Source{Repository: g.Repository, Commit: head, Tag: ref}
	r.sources[o.Name] = append(r.sources[o.Name], sourceRecord{src: src})
	return nil
}

// cherryPick applies one cherry-pick, committed at SOURCE_DATE_EPOCH.
func (r *runner) cherryPick(ctx context.Context, clone string, g *GitCheckout, cp CherryPick) error {
	if _, err := r.git(ctx, clone, "cat-file", "-e", cp.Commit+"^{commit}"); err != nil {
		ref := cp.Commit
		if cp.Branch != "" {
			ref = cp.Branch
		}
		fetch := []string{"fetch", "--quiet"}
		if shallow, _ := r.git(ctx, clone, "rev-parse", "--is-shallow-repository"); shallow == "true" && cp.Branch == "" {
			fetch = append(fetch, "--depth", "2")
		}
		fetch = append(fetch, "origin", ref)
		if _, err := r.git(ctx, clone, fetch...); err != nil {
			return fmt.Errorf("cherry-pick %s (%s): fetching %s: %w", cp.Commit, cp.Comment, ref, err)
		}
	}
	if _, err := r.git(ctx, clone, "-c", "user.name=reef", "-c", "user.email=reef@localhost", "cherry-pick", "-x", cp.Commit); err != nil {
		return fmt.Errorf("cherry-pick %s (%s) onto %s: %w", cp.Commit, cp.Comment, g.Repository, err)
	}
	return nil
}

// git runs git in dir and returns its trimmed standard output.
func (r *runner) git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	date := fmt.Sprintf("@%d +0000", r.sde)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_COMMITTER_DATE="+date, "GIT_COMMITTER_NAME=reef", "GIT_COMMITTER_EMAIL=reef@localhost", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// moveInto moves src into dst (both relative to the workspace), merging
// directories; what src has replaces what dst has.
func (r *runner) moveInto(src, dst string) error {
	fi, err := r.wsRoot.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		if d := path.Dir(dst); d != "." {
			if err := r.wsRoot.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		return r.wsRoot.Rename(src, dst)
	}
	if err != nil {
		return err
	}
	sfi, err := r.wsRoot.Lstat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() || !sfi.IsDir() {
		if err := r.wsRoot.RemoveAll(dst); err != nil {
			return err
		}
		return r.wsRoot.Rename(src, dst)
	}
	d, err := r.wsRoot.Open(src)
	if err != nil {
		return err
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := r.moveInto(path.Join(src, e.Name()), path.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
