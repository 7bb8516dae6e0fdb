package sandbox

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Sandbox runs the steps of one build, one at a time, in the same isolated
// environment: changes a step makes to the guest root (when it is
// copy-on-write) and to the workspace are seen by the steps after it.
type Sandbox interface {
	// Run runs step and returns nil when it exits with status 0, a
	// *StepError when it fails, a *SetupError when the sandbox could not
	// be set up, and an error wrapping ctx.Err() when ctx ends first (the
	// step's processes are killed).
	Run(ctx context.Context, step Step) error
	// Shell runs an interactive shell in the sandbox, with step's working
	// directory and environment, reading Config.Stdin. Its exit status is
	// not an error.
	Shell(ctx context.Context, step Step) error
	// Close releases the sandbox's scratch space, dropping the changes
	// steps made to the guest root.
	Close() error
}

// Step is one build step.
type Step struct {
	// Name names the step in errors (for example "autoconf/configure").
	Name string
	// Script is the shell script to run.
	Script string
	// WorkDir is the working directory inside the sandbox: absolute, or
	// relative to /home/build (like melange's working-directory). It must
	// exist. Empty means Config.WorkDir.
	WorkDir string
	// Env is added to Config.Env, replacing variables of the same name.
	Env map[string]string
}

// Bind is an extra directory or file made visible in the sandbox.
type Bind struct {
	Source   string // host path
	Dest     string // absolute path inside the sandbox
	ReadOnly bool
}

// RootMode says how the guest root is mounted at /.
type RootMode int

const (
	// RootAuto picks RootOverlay when it is possible (reef runs as root
	// and the kernel can put an overlay's upper layer in the scratch
	// directory) and RootReadOnly otherwise.
	RootAuto RootMode = iota
	// RootOverlay mounts the guest root copy-on-write: steps may write
	// anywhere (as melange's steps may), the writes land in a scratch
	// layer that lives until Close, and Config.Root is never changed.
	// It needs root privileges on the host.
	RootOverlay
	// RootReadOnly binds the guest root read-only and mounts fresh tmpfs
	// file systems at /tmp and /var/tmp (lost after each step). Mount
	// points (/home/build, /proc, /dev, the binds' destinations) must
	// already exist in the guest root.
	RootReadOnly
	// RootWritable binds the guest root read-write, as melange does: steps
	// and mount-point creation change Config.Root. Use it only for a guest
	// root made for this one build.
	RootWritable
)

func (m RootMode) String() string {
	switch m {
	case RootAuto:
		return "auto"
	case RootOverlay:
		return "overlay"
	case RootReadOnly:
		return "read-only"
	case RootWritable:
		return "writable"
	}
	return "RootMode(" + strconv.Itoa(int(m)) + ")"
}

// Config describes a sandbox.
type Config struct {
	// Root is the guest root directory on the host (required). It must
	// hold /bin/sh.
	Root string
	// RootMode says how Root is mounted; the zero value is RootAuto.
	RootMode RootMode
	// Workspace is the host directory bound read-write at /home/build
	// (required).
	Workspace string
	// Binds are extra binds, mounted after the workspace (so a bind may
	// land inside /home/build), for example a cache directory at
	// /var/cache/melange.
	Binds []Bind
	// Env is the steps' whole environment: nothing leaks in from the
	// host. PATH defaults to DefaultPath; bwrap adds PWD. See DefaultEnv.
	Env map[string]string
	// WorkDir is the default working directory (default /home/build).
	WorkDir string
	// Network shares the host's network (and binds the host's
	// /etc/resolv.conf). By default steps have no network at all: sources
	// are fetched on the host side.
	Network bool
	// Arch is the guest's apk architecture (x86_64, aarch64, armv7, ...;
	// the Go and Debian names amd64, arm64, ... are accepted too). Empty
	// means the host's. A foreign architecture runs through qemu-user; see
	// PrepareArch.
	Arch string
	// UID and GID are the user and group the steps run as (default 0,
	// root, as in melange).
	UID, GID int
	// CapAdd and CapDrop adjust DefaultCapabilities ("CAP_SYS_PTRACE" or
	// "SYS_PTRACE"; "ALL" for every capability) for steps that run as
	// root. They are ignored for other users, who have none.
	CapAdd, CapDrop []string
	// Hostname is the sandbox's host name (default "reef").
	Hostname string
	// Stdout and Stderr receive the steps' output as it is produced (nil
	// discards it). When Stderr is nil or the same writer as Stdout, both
	// streams share one pipe, so their lines keep their order.
	Stdout, Stderr io.Writer
	// Stdin is the interactive shell's input (default os.Stdin). Steps run
	// by Run read /dev/null.
	Stdin io.Reader
	// TailLines is how many of the last output lines a StepError keeps
	// (default 50).
	TailLines int
	// ScratchDir is where the copy-on-write layer goes (default: a new
	// directory in os.TempDir()). It must be on a file system that can
	// hold an overlay upper layer (not overlayfs itself).
	ScratchDir string
	// Bwrap is the path of the bwrap program (default: "bwrap" in PATH).
	Bwrap string
}

// DefaultPath is the PATH steps get when Config.Env and Step.Env set none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultEnv returns melange's default build environment: HOME, the Go,
// Cargo, pip, uv, npm and Composer cache locations (under
// /var/cache/melange, where the runner binds the cache directory),
// SOURCE_DATE_EPOCH, and PATH. The build file's environment goes on top.
func DefaultEnv(sourceDateEpoch int64) map[string]string {
	return map[string]string{
		"HOME":               "/home/build",
		"GOPATH":             "/home/build/.cache/go",
		"GOMODCACHE":         "/var/cache/melange/gomodcache",
		"CARGO_HOME":         "/var/cache/melange/cargo",
		"PIP_CACHE_DIR":      "/var/cache/melange/pip",
		"UV_CACHE_DIR":       "/var/cache/melange/uv",
		"npm_config_cache":   "/var/cache/melange/npm",
		"COMPOSER_CACHE_DIR": "/var/cache/melange/composer",
		"SOURCE_DATE_EPOCH":  strconv.FormatInt(sourceDateEpoch, 10),
		"PATH":               DefaultPath,
	}
}

// DefaultCapabilities are the capabilities a step running as root keeps
// when reef runs as root: Docker's default set, which melange uses too.
var DefaultCapabilities = []string{
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE",
	"CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// StepError is a step that ran and failed.
type StepError struct {
	Step     string   // the step's name
	Script   string   // the script it ran
	ExitCode int      // its exit status (128+N when killed by signal N)
	Tail     []string // the last lines of its output (stdout and stderr)
}

// maxScriptLines bounds how much of a script Error shows.
const maxScriptLines = 200

func (e *StepError) Error() string {
	var b strings.Builder
	name := e.Step
	if name == "" {
		name = "(unnamed)"
	}
	fmt.Fprintf(&b, "step %s failed with exit code %d", name, e.ExitCode)
	if sig := e.ExitCode - 128; sig > 0 && sig < 65 {
		fmt.Fprintf(&b, " (killed by signal %d?)", sig)
	}
	b.WriteString("\nscript:\n")
	lines := strings.Split(strings.TrimRight(e.Script, "\n"), "\n")
	for i, l := range lines {
		if i == maxScriptLines {
			fmt.Fprintf(&b, "    ... (%d more lines)\n", len(lines)-i)
			break
		}
		b.WriteString("    " + l + "\n")
	}
	if len(e.Tail) == 0 {
		b.WriteString("no output")
	} else {
		fmt.Fprintf(&b, "last %d lines of output:", len(e.Tail))
		for _, l := range e.Tail {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

// SetupError is a sandbox that could not be set up or a script that could
// not be started (a missing working directory, a bind whose mount point
// cannot be made, no /bin/sh): the step did not run.
type SetupError struct {
	Step   string   // the step's name
	Reason string   // bubblewrap's complaint
	Tail   []string // all of the output, which holds bubblewrap's messages
}

func (e *SetupError) Error() string {
	return fmt.Sprintf("step %s: could not start the sandbox: %s", e.Step, e.Reason)
}
