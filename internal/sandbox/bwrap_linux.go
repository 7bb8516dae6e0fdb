package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/reef-dev/reef/internal/arch"
)

// prelude starts every script: stop at the first failing command, and at
// a failing pipeline when the shell knows pipefail (dash 0.5.12 does not,
// and would exit on 'set -o pipefail'). It shares the script's first line
// so that the shell's line numbers match the script's.
const prelude = "set -e; (set -o pipefail) 2>/dev/null && set -o pipefail; "

// maxArgScript is the largest script passed as an argument (Linux limits
// one argument to 128 KiB); a larger one is read from a pipe.
const maxArgScript = 100 << 10

// scriptFD and statusFD are the descriptors bwrap and the shell find the
// status pipe and the script pipe at (after stdin, stdout and stderr).
const (
	statusFD = 3
	scriptFD = 4
)

// Bwrap is a Sandbox made with bubblewrap. It runs one step at a time;
// use one Bwrap per concurrent build. A Bwrap must be closed.
type Bwrap struct {
	cfg        Config
	bwrap      string
	mode       RootMode
	emu        *emulation // nil for a native architecture
	userns     bool       // steps run in a user namespace
	scratch    string     // overlay scratch directory, removed by Close
	ownScratch bool       // scratch was made by New
	overlay    string     // overlay mount options
	keeper     *keeper    // the thread that starts bwrap

	mu     sync.Mutex
	closed bool
}

var _ Sandbox = (*Bwrap)(nil)

// New checks cfg, prepares the guest's architecture (see PrepareArch) and
// the copy-on-write root, and checks that bubblewrap can make a sandbox
// here.
func New(cfg Config) (*Bwrap, error) {
	b := &Bwrap{cfg: cfg}
	if err := b.init(); err != nil {
		b.stopKeeper()
		if b.ownScratch {
			os.RemoveAll(b.scratch)
		}
		return nil, err
	}
	return b, nil
}

func (b *Bwrap) init() error {
	c := &b.cfg
	c.Binds, c.Env = slices.Clone(c.Binds), maps.Clone(c.Env) // the caller's stay as they are
	var err error
	if c.Bwrap == "" {
		c.Bwrap = "bwrap"
	}
	if b.bwrap, err = exec.LookPath(c.Bwrap); err != nil {
		return fmt.Errorf("sandbox: bubblewrap is not installed (%v): install it (Debian and Ubuntu: apt-get install bubblewrap; Alpine and Wolfi: apk add bubblewrap)", err)
	}
	if c.Root == "" {
		return errors.New("sandbox: Config.Root (the guest root directory) is empty")
	}
	if c.Root, err = existingDir(c.Root, "guest root"); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(c.Root, "bin", "sh")); err != nil {
		return fmt.Errorf("sandbox: guest root %s has no /bin/sh: install a shell (busybox or bash) in the build environment", c.Root)
	}
	if c.Workspace == "" {
		return errors.New("sandbox: Config.Workspace (the host directory for /home/build) is empty")
	}
	if c.Workspace, err = existingDir(c.Workspace, "workspace"); err != nil {
		return err
	}
	for i := range c.Binds {
		bd := &c.Binds[i]
		if !path.IsAbs(bd.Dest) {
			return fmt.Errorf("sandbox: bind %s: the destination %q is not an absolute path", bd.Source, bd.Dest)
		}
		bd.Dest = path.Clean(bd.Dest)
		if bd.Source, err = filepath.Abs(bd.Source); err != nil {
			return fmt.Errorf("sandbox: bind %s: %w", bd.Source, err)
		}
		if _, err := os.Stat(bd.Source); err != nil {
			return fmt.Errorf("sandbox: bind source for %s: %w", bd.Dest, err)
		}
	}
	if _, err := environ(c.Env, nil); err != nil {
		return err
	}
	c.WorkDir = workDir(c.WorkDir, "/home/build")
	if c.UID < 0 || c.GID < 0 {
		return fmt.Errorf("sandbox: negative UID %d or GID %d", c.UID, c.GID)
	}
	if c.Hostname == "" {
		c.Hostname = "reef"
	}
	if c.TailLines <= 0 {
		c.TailLines = 50
	}
	if c.Arch == "" {
		c.Arch = arch.Host()
	}
	if c.Arch, err = NormalizeArch(c.Arch); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if b.emu, err = prepareArch(c.Arch); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}

	root := os.Geteuid() == 0
	b.userns = !root || c.UID != 0 || c.GID != 0
	switch c.RootMode {
	case RootAuto:
		b.mode = RootReadOnly
		if root {
			if err := b.setupOverlay(); err == nil {
				b.mode = RootOverlay
			} else if b.ownScratch {
				os.RemoveAll(b.scratch)
				b.scratch, b.ownScratch = "", false
			}
		}
	case RootOverlay:
		if !root {
			return errors.New("sandbox: a copy-on-write guest root (RootOverlay) needs root privileges; use RootReadOnly")
		}
		if err := b.setupOverlay(); err != nil {
			return err
		}
		b.mode = RootOverlay
	case RootReadOnly, RootWritable:
		b.mode = c.RootMode
	default:
		return fmt.Errorf("sandbox: unknown %v", c.RootMode)
	}
	if b.keeper == nil {
		if err := b.startKeeper(false); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	if b.mode == RootReadOnly {
		if err := b.checkMountPoints(); err != nil {
			return err
		}
	}
	return b.check()
}

// existingDir returns the absolute path of the directory dir.
func existingDir(dir, what string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("sandbox: %s %s: %w", what, dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("sandbox: %s: %w", what, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("sandbox: %s %s is not a directory", what, abs)
	}
	return abs, nil
}

// workDir resolves a working directory: absolute, or relative to
// /home/build; empty means def.
func workDir(dir, def string) string {
	if dir == "" {
		return def
	}
	if !path.IsAbs(dir) {
		dir = path.Join("/home/build", dir)
	}
	return path.Clean(dir)
}

// environ merges base and over into a sorted environment list with a
// default PATH.
func environ(base, over map[string]string) ([]string, error) {
	env := maps.Clone(base)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, over)
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = DefaultPath
	}
	list := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("sandbox: invalid environment variable %q=%q", k, v)
		}
		list = append(list, k+"="+v)
	}
	return list, nil
}

// checkMountPoints makes sure a read-only guest root has the mount points
// bwrap cannot create in it: those outside the workspace, the tmpfs
// directories and the read-write binds, in which bwrap can make them.
func (b *Bwrap) checkMountPoints() error {
	writable := []string{"/home/build"}
	for _, t := range []string{"/tmp", "/var/tmp"} {
		if b.guestHas(t) {
			writable = append(writable, t)
		}
	}
	var missing []string
	need := func(p string) {
		for _, w := range writable {
			if strings.HasPrefix(p, w+"/") {
				return
			}
		}
		if !b.guestHas(p) {
			missing = append(missing, p)
		}
	}
	need("/proc")
	need("/dev")
	need("/home/build")
	for _, bd := range b.cfg.Binds {
		need(bd.Dest)
		if !bd.ReadOnly {
			writable = append(writable, bd.Dest)
		}
	}
	if b.emu != nil && !b.emu.fixBinary() {
		need(b.emu.Interpreter)
	}
	if len(missing) > 0 {
		return fmt.Errorf("sandbox: the read-only guest root %s lacks the mount points %s: create them in the guest root, or use a copy-on-write root (run as root)",
			b.cfg.Root, strings.Join(missing, ", "))
	}
	return nil
}

// guestHas reports whether the guest root holds p (without following a
// final symlink).
func (b *Bwrap) guestHas(p string) bool {
	_, err := os.Lstat(filepath.Join(b.cfg.Root, filepath.FromSlash(p)))
	return err == nil
}

// RootMode returns how the guest root is mounted: never RootAuto.
func (b *Bwrap) RootMode() RootMode { return b.mode }

// Arch returns the guest's apk architecture.
func (b *Bwrap) Arch() string { return b.cfg.Arch }

// check runs bwrap once with the namespaces steps get, to report a
// sandbox that cannot work here before any step runs.
func (b *Bwrap) check() error {
	args := append(b.namespaceArgs(false), "--ro-bind", "/", "/", "--", b.bwrap, "--version")
	cmd := exec.Command(b.bwrap, args...)
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(out))
	hint := ""
	if strings.Contains(msg, "uid map") || strings.Contains(msg, "Operation not permitted") || strings.Contains(msg, "No permissions") {
		hint = "; user namespaces are restricted here (on Ubuntu 23.10 and later AppArmor restricts them: " +
			"allow them with sysctl kernel.apparmor_restrict_unprivileged_userns=0, or run as root)"
	}
	return fmt.Errorf("sandbox: bubblewrap cannot make a sandbox here: %s: %v%s", msg, err, hint)
}

// namespaceArgs are the bwrap options for the namespaces, user and
// capabilities.
func (b *Bwrap) namespaceArgs(interactive bool) []string {
	c := &b.cfg
	a := []string{"--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"}
	if !c.Network {
		a = append(a, "--unshare-net")
	}
	if !interactive {
		a = append(a, "--new-session")
	}
	if b.userns {
		a = append(a, "--unshare-user", "--uid", strconv.Itoa(c.UID), "--gid", strconv.Itoa(c.GID))
	} else {
		a = append(a, "--cap-drop", "ALL")
		for _, cp := range capabilities(c.CapAdd, c.CapDrop) {
			a = append(a, "--cap-add", cp)
		}
	}
	return a
}

// capabilities is DefaultCapabilities with add and drop applied.
func capabilities(add, drop []string) []string {
	norm := func(c string) string {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		return c
	}
	set := map[string]bool{}
	for _, c := range DefaultCapabilities {
		set[c] = true
	}
	for _, c := range add {
		set[norm(c)] = true
	}
	for _, c := range drop {
		if c = norm(c); c == "ALL" {
			clear(set)
		}
		delete(set, c)
	}
	if set["ALL"] {
		return []string{"ALL"}
	}
	return slices.Sorted(maps.Keys(set))
}

// args returns bwrap's arguments for a step.
func (b *Bwrap) args(dir string, interactive bool) []string {
	c := &b.cfg
	a := b.namespaceArgs(interactive)
	a = append(a, "--hostname", c.Hostname)
	switch b.mode {
	case RootOverlay:
		a = append(a, "--bind", filepath.Join(b.scratch, "merged"), "/")
	case RootWritable:
		a = append(a, "--bind", c.Root, "/")
	default:
		a = append(a, "--ro-bind", c.Root, "/")
	}
	a = append(a, "--proc", "/proc", "--dev", "/dev")
	if b.mode != RootReadOnly || b.guestHas("/sys") {
		a = append(a, "--ro-bind", "/sys", "/sys")
	}
	if b.mode == RootReadOnly {
		for _, t := range []string{"/tmp", "/var/tmp"} {
			if b.guestHas(t) {
				a = append(a, "--tmpfs", t)
			}
		}
	}
	a = append(a, "--bind", c.Workspace, "/home/build")
	for _, bd := range c.Binds {
		op := "--bind"
		if bd.ReadOnly {
			op = "--ro-bind"
		}
		a = append(a, op, bd.Source, bd.Dest)
	}
	if c.Network {
		if _, err := os.Stat("/etc/resolv.conf"); err == nil && (b.mode != RootReadOnly || b.guestHas("/etc/resolv.conf")) {
			a = append(a, "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf")
		}
	}
	if b.emu != nil && !b.emu.fixBinary() {
		// The kernel looks the interpreter up in the step's mount
		// namespace: give it the host's.
		a = append(a, "--ro-bind", b.emu.Interpreter, b.emu.Interpreter)
	}
	a = append(a, "--chdir", dir, "--json-status-fd", strconv.Itoa(statusFD))
	return a
}

// Run runs step; see Sandbox.Run. Its output goes to Config.Stdout and
// Config.Stderr as it is produced.
func (b *Bwrap) Run(ctx context.Context, step Step) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("sandbox: Run after Close")
	}
	env, err := environ(b.cfg.Env, step.Env)
	if err != nil {
		return err
	}
	dir := workDir(step.WorkDir, b.cfg.WorkDir)
	args := b.args(dir, false)

	var script *os.File
	if len(step.Script) <= maxArgScript {
		args = append(args, "--", "/bin/sh", "-c", prelude+step.Script)
	} else {
		// Too long for an argument: the shell reads it from a pipe, and
		// closes the pipe before running it.
		args = append(args, "--", "/bin/sh", "-c",
			prelude+"__reef_script=$(cat <&"+strconv.Itoa(scriptFD)+"); exec "+strconv.Itoa(scriptFD)+"<&-; eval \"$__reef_script\"")
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		defer r.Close()
		script = r
		go func() {
			io.WriteString(w, step.Script)
			w.Close()
		}()
	}

	t := newTail(b.cfg.TailLines)
	stdout := tee{b.cfg.Stdout, t}
	var stderr io.Writer = stdout
	if b.cfg.Stderr != nil && !sameWriter(b.cfg.Stdout, b.cfg.Stderr) {
		stderr = tee{b.cfg.Stderr, t}
	}
	cmd := exec.CommandContext(ctx, b.bwrap, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The sandbox gets its own process group, killed whole on
	// cancellation; bwrap's --die-with-parent and PID namespace take
	// care of the rest.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second

	status, err := b.run(cmd, script)
	if err != nil {
		return err
	}
	if ctx.Err() != nil && status.waitErr != nil {
		return fmt.Errorf("step %s: %w", step.Name, ctx.Err())
	}
	if !status.ran {
		return setupError(step.Name, status.waitErr, t.Lines())
	}
	if status.exitCode == 0 {
		return nil
	}
	return &StepError{Step: step.Name, Script: step.Script, ExitCode: status.exitCode, Tail: t.Lines()}
}

// Shell runs an interactive shell in the sandbox (bash when the guest has
// it, else sh) in step's working directory with its environment, reading
// Config.Stdin (default os.Stdin) and writing Config.Stdout and
// Config.Stderr (default os.Stdout and os.Stderr). The shell's exit status
// is not an error: only a sandbox that cannot be set up or the end of ctx
// is.
func (b *Bwrap) Shell(ctx context.Context, step Step) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("sandbox: Shell after Close")
	}
	over := maps.Clone(step.Env)
	if _, ok := b.cfg.Env["PS1"]; !ok && over["PS1"] == "" {
		if over == nil {
			over = map[string]string{}
		}
		over["PS1"] = "[reef sandbox] \\w \\$ "
	}
	env, err := environ(b.cfg.Env, over)
	if err != nil {
		return err
	}
	dir := workDir(step.WorkDir, b.cfg.WorkDir)
	args := append(b.args(dir, true), "--", "/bin/sh", "-c",
		"if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh")
	t := newTail(b.cfg.TailLines)
	cmd := exec.CommandContext(ctx, b.bwrap, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = b.cfg.Stdin, b.cfg.Stdout, b.cfg.Stderr
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if _, isFile := cmd.Stderr.(*os.File); !isFile {
		// Keep bwrap's complaints for the error. A terminal is passed
		// as it is, for the shell's sake; they are on it.
		cmd.Stderr = tee{cmd.Stderr, t}
	}
	// No process group of its own: the shell stays in the terminal's
	// foreground group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	status, err := b.run(cmd, nil)
	if err != nil {
		return err
	}
	if ctx.Err() != nil && status.waitErr != nil {
		return fmt.Errorf("shell: %w", ctx.Err())
	}
	if !status.ran {
		return setupError(step.Name, status.waitErr, t.Lines())
	}
	return nil
}

// Close removes the scratch space; the Bwrap cannot run steps afterwards.
func (b *Bwrap) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.stopKeeper()
	if b.ownScratch {
		return os.RemoveAll(b.scratch)
	}
	if b.scratch != "" {
		for _, d := range []string{"upper", "work", "merged"} {
			if err := os.RemoveAll(filepath.Join(b.scratch, d)); err != nil {
				return err
			}
		}
	}
	return nil
}

// runStatus is how a bwrap run ended.
type runStatus struct {
	ran      bool  // the command ran: exitCode is its status
	exitCode int   // the command's exit status
	waitErr  error // cmd.Wait's error
}

// run starts cmd (with bwrap's status pipe, and the script pipe when not
// nil), waits for it and reads bwrap's status. The returned error is a
// failure to start bwrap at all.
func (b *Bwrap) run(cmd *exec.Cmd, script *os.File) (runStatus, error) {
	sr, sw, err := os.Pipe()
	if err != nil {
		return runStatus{}, fmt.Errorf("sandbox: %w", err)
	}
	defer sr.Close()
	cmd.ExtraFiles = []*os.File{sw} // statusFD
	if script != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, script) // scriptFD
	}
	done, err := b.start(cmd)
	sw.Close()
	if err != nil {
		return runStatus{}, err
	}
	if script != nil {
		script.Close()
	}
	statusData, _ := io.ReadAll(sr)
	st := runStatus{waitErr: <-done}
	st.exitCode, st.ran = exitCode(statusData)
	return st, nil
}

// exitCode finds the command's exit status in bwrap's JSON status
// stream, which holds one only when the command was started.
func exitCode(status []byte) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(status))
	for {
		var m map[string]any
		if dec.Decode(&m) != nil {
			return 0, false
		}
		if v, ok := m["exit-code"].(float64); ok {
			return int(v), true
		}
	}
}

// setupError explains a bwrap run whose command never ran.
func setupError(step string, waitErr error, tail []string) error {
	var msgs []string
	for _, l := range tail {
		if strings.HasPrefix(l, "bwrap: ") {
			msgs = append(msgs, strings.TrimPrefix(l, "bwrap: "))
		}
	}
	reason := strings.Join(msgs, "; ")
	if reason == "" {
		reason = fmt.Sprintf("bwrap failed (%v); its messages went to the terminal", waitErr)
	}
	if step == "" {
		step = "(unnamed)"
	}
	return &SetupError{Step: step, Reason: reason, Tail: tail}
}

// sameWriter reports whether a and b are the same writer.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil { // uncomparable dynamic types
			same = false
		}
	}()
	return a == b
}
