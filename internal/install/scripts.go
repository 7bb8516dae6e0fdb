package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ScriptPath is the PATH install scripts run with, as in apk-tools.
const ScriptPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// ScriptError reports an install script that failed.
type ScriptError struct {
	Package string // NAME-VERSION
	Script  string // "pre-install", "post-install", "trigger"
	Output  string // the last part of its output
	Err     error
}

func (e *ScriptError) Error() string {
	msg := fmt.Sprintf("%s: %s script failed: %v", e.Package, e.Script, e.Err)
	if e.Output != "" {
		msg += "\n" + e.Output
	}
	return msg
}

func (e *ScriptError) Unwrap() error { return e.Err }

// runScript runs one script chrooted into the root with bubblewrap. The
// script is written to lib/apk/exec (usr/lib/apk/exec in apko's layout),
// run with argv [script, args...], the environment PATH=ScriptPath (and
// PWD=/, which bwrap always sets) and umask 022, then removed. bwrap gives it its own /dev and /proc and
// unshares every namespace, so it has no network.
func (r *run) runScript(ctx context.Context, ip *InstalledPackage, typ string, body []byte, args []string) error {
	d, ok := r.fs.(*DirFS)
	if !ok {
		return errors.New("scripts need a directory root")
	}
	bwrap := r.in.Bwrap
	if bwrap == "" {
		bwrap = "bwrap"
	}
	bwrap, err := exec.LookPath(bwrap)
	if err != nil {
		return fmt.Errorf("running the %s script needs bubblewrap (apt-get install bubblewrap): %w", typ, err)
	}
	rootDir, err := filepath.Abs(d.Dir())
	if err != nil {
		return err
	}
	execDir, err := r.mkdirAll(path.Dir(r.dbDir) + "/exec")
	if err != nil {
		return err
	}
	script := joinReal(execDir, ip.Name+"-"+ip.Version+"."+typ)
	if err := r.fs.Create(&Entry{Name: script, Type: TypeReg, Mode: 0o755, ModTime: r.in.ModTime}, bytes.NewReader(body)); err != nil {
		return err
	}
	defer r.fs.Remove(script)

	argv := []string{
		"--bind", rootDir, "/",
		"--dev", "/dev",
		"--proc", "/proc",
		"--unshare-all",
		"--die-with-parent",
		"--chdir", "/",
		"--clearenv",
		"--setenv", "PATH", ScriptPath,
	}
	// Set the umask through the root's shell when it has one; the
	// script's own interpreter is what runs it either way.
	if sh, err := Resolve(r.fs, "bin/sh"); err == nil {
		if st, err := r.fs.Lstat(sh); err == nil && st.Type == TypeReg {
			argv = append(argv, "/bin/sh", "-c", `umask 022; exec "$0" "$@"`)
		}
	}
	argv = append(argv, "/"+script)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, bwrap, argv...)
	cmd.Env = []string{"PATH=" + ScriptPath}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	r.log.Info("running script", "package", ip.String(), "script", typ)
	err = cmd.Run()
	if out.Len() > 0 {
		r.log.Info("script output", "package", ip.String(), "script", typ, "output", strings.TrimSpace(out.String()))
	}
	if err != nil {
		o := out.String()
		if len(o) > 4096 {
			o = "…" + o[len(o)-4096:]
		}
		return &ScriptError{Package: ip.String(), Script: typ, Output: strings.TrimSpace(o), Err: err}
	}
	return nil
}

// runTriggers runs the .trigger scripts whose globs match a directory:
// for a package installed in this run, any directory of the database;
// for one installed before, a directory that got files in this run. The
// matched directories are the script's arguments, as in apk-tools.
func (r *run) runTriggers(ctx context.Context) []error {
	all := map[string]bool{}
	for _, p := range r.pkgs {
		for _, d := range p.Dirs {
			all[d.Path] = true
		}
	}
	var errs []error
	for _, p := range r.pkgs {
		globs := r.triggers[p.Checksum]
		body := r.scripts[p.Checksum]["trigger"]
		if len(globs) == 0 || body == nil {
			continue
		}
		dirs := r.changed
		if r.isNew[p] {
			dirs = all
		}
		var matched []string
		for d := range dirs {
			abs := "/" + d
			for _, g := range globs {
				if ok, _ := path.Match(g, abs); ok {
					matched = append(matched, abs)
					break
				}
			}
		}
		if len(matched) == 0 {
			continue
		}
		sort.Strings(matched)
		if err := r.runScript(ctx, p, "trigger", body, matched); err != nil {
			p.addFlag('s')
			errs = append(errs, err)
		}
		r.dirReal = map[string]string{}
		r.ids.reset()
	}
	return errs
}
