package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/sandbox"
)

// runSteps runs every package's steps in order, in one sandbox: run
// steps inside it, fetch and git-checkout on the host.
func (r *runner) runSteps(ctx context.Context) error {
	cfg, err := r.sandboxConfig()
	if err != nil {
		return err
	}
	var sb *sandbox.Bwrap
	defer func() {
		if sb != nil {
			sb.Close()
		}
	}()
	for _, o := range r.b.Packages {
		for i := range o.Steps {
			st := &o.Steps[i]
			start := time.Now()
			r.log.Info("step", "package", o.Name, "step", st.Identity(), "kind", st.Kind)
			var err error
			switch st.Kind {
			case KindRun:
				if sb == nil {
					// Made on first use: a build whose steps all run on
					// the host needs no sandbox.
					if sb, err = sandbox.New(cfg); err != nil {
						return err
					}
					r.log.Debug("sandbox", "root", cfg.Root, "mode", sb.RootMode().String())
				}
				err = r.runStep(ctx, sb, st)
			case KindFetch:
				err = r.fetch(ctx, o, st)
			case KindGitCheckout:
				err = r.gitCheckout(ctx, o, st)
			default:
				err = fmt.Errorf("unknown step kind %q", st.Kind)
			}
			if err != nil {
				f := &StepFailure{Package: o.Name, Step: st.Identity(), Where: st.Where(), Kind: st.Kind, Err: err}
				if r.opts.Interactive && st.Kind == KindRun && sb != nil && ctx.Err() == nil {
					r.interactive(ctx, sb, st, f)
				}
				return f
			}
			r.log.Debug("step done", "package", o.Name, "step", st.Identity(), "elapsed", time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runStep runs a run step in the sandbox as plan.go describes: create
// and enter the working directory, run the script, exit 0. The first two
// share the script's first line, so that the shell's line numbers are
// the script's.
func (r *runner) runStep(ctx context.Context, sb *sandbox.Bwrap, st *Step) error {
	wd := st.WorkDir
	if wd == "" {
		wd = WorkDir
	}
	script := "mkdir -p " + shellQuote(wd) + " && cd " + shellQuote(wd) + "; " + st.Runs + "\nexit 0\n"
	err := sb.Run(ctx, sandbox.Step{Name: st.Identity(), Script: script, WorkDir: WorkDir, Env: st.Environment})
	var se *sandbox.StepError
	if errors.As(err, &se) {
		se.Script = st.Runs // what the build file's author wrote
	}
	return err
}

// interactive opens a shell in the sandbox after a failed step, when
// standard input is a terminal.
func (r *runner) interactive(ctx context.Context, sb *sandbox.Bwrap, st *Step, f *StepFailure) {
	in := r.opts.Stdin
	if in == nil {
		in = os.Stdin
	}
	out := r.opts.Stderr
	if out == nil {
		out = os.Stderr
	}
	file, ok := in.(*os.File)
	if !ok || !isTerminal(file) {
		fmt.Fprintf(out, "reef: --interactive: standard input is not a terminal, so no shell is opened after the failed step %q\n", f.Step)
		return
	}
	fmt.Fprintf(out, "%v\n\nreef: step %q failed; opening a shell in the sandbox (its working directory and environment). Exit the shell to end the build.\n", f, f.Step)
	wd := st.WorkDir
	if wd == "" {
		wd = WorkDir
	}
	if err := sb.Shell(ctx, sandbox.Step{Name: st.Identity(), WorkDir: wd, Env: st.Environment}); err != nil {
		// The working directory may not exist if the step failed early.
		if err2 := sb.Shell(ctx, sandbox.Step{Name: st.Identity(), WorkDir: WorkDir, Env: st.Environment}); err2 != nil {
			fmt.Fprintf(out, "reef: cannot open a shell: %v\n", err2)
		}
	}
}
