// Package sandbox runs build steps in isolation.
//
// A step is a shell script. It runs in a bubblewrap (bwrap) sandbox whose
// root directory is a guest root file system (the build environment the
// runner installed), with the build workspace bound read-write at
// /home/build, as melange's bubblewrap runner does:
//
//	/bin/sh -c 'set -e; (set -o pipefail) 2>/dev/null && set -o pipefail; <script>'
//
// pipefail is turned on when the guest's shell has it (busybox ash, bash,
// mksh, zsh). Debian 12's /bin/sh, dash 0.5.12, has none: there the script
// runs with set -e alone, where melange's 'set -eo pipefail' prelude would
// make it fail at once.
//
// Isolation: every step gets new PID, IPC, UTS, cgroup and network
// namespaces (the network namespace holds only a loopback device, so
// nothing, not even a listener on the host's 127.0.0.1, is reachable unless
// [Config.Network] is set), a fresh /proc and a minimal /dev, the host's
// /sys read-only, an environment holding exactly [Config.Env] (plus a
// default PATH, and the PWD bwrap sets), and dies with its parent. The guest root is never changed:
// by default, when reef runs as root, it is mounted copy-on-write (an
// overlay whose upper layer lives in a scratch directory owned by the
// [Bwrap] and removed by Close), so a cached guest root can be reused by
// any number of builds; see [RootMode] for the alternatives. The only host
// paths a step can write are the workspace and the read-write [Bind]s.
//
// When reef runs as root and the step runs as root (UID 0, the default, as
// in melange), no user namespace is used, so that steps can chown files to
// any user, and the step keeps only Docker's default capability set
// ([DefaultCapabilities]; no CAP_SYS_ADMIN, so it cannot mount, and every
// mount it sees is nodev and nosuid). Otherwise a user namespace maps the
// step's UID and GID to the caller's.
//
// Foreign architectures run through qemu-user: [PrepareArch] registers
// Debian's qemu-user-static interpreters with binfmt_misc (with the F flag,
// so the sandbox needs no copy of qemu) when they are not registered yet.
//
// A failed step yields a [*StepError] carrying the step's name, script,
// exit code and the last lines of its output; a sandbox that could not be
// set up yields a [*SetupError]. [Bwrap.Shell] opens an interactive shell in
// the same sandbox, for --interactive debugging of a failed step.
package sandbox
