package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunOutput(t *testing.T) {
	b, out := newSandbox(t, Config{})
	got := run(t, b, out, "echo hello; echo to-stderr >&2; pwd; uname -n")
	if got != "hello\nto-stderr\n/home/build\nreef\n" {
		t.Errorf("output = %q", got)
	}
}

func TestSeparateStreams(t *testing.T) {
	var stdout, stderr syncBuffer
	b, _ := newSandbox(t, Config{Stdout: &stdout, Stderr: &stderr})
	if err := b.Run(context.Background(), Step{Script: "echo out; echo err >&2"}); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestEnvIsExactlyGiven(t *testing.T) {
	t.Setenv("REEF_HOST_SECRET", "leaked")
	env := DefaultEnv(1700000000)
	delete(env, "PATH")
	env["FOO"] = "bar baz"
	b, out := newSandbox(t, Config{Env: env})
	out.Reset()
	// env's environment: the shell's, which is what bwrap handed over,
	// plus PWD (set by bwrap and the shell) and busybox's SHLVL.
	err := b.Run(context.Background(), Step{
		Script: `env`,
		Env:    map[string]string{"FOO": "step", "EXTRA": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CARGO_HOME=/var/cache/melange/cargo",
		"COMPOSER_CACHE_DIR=/var/cache/melange/composer",
		"EXTRA=1",
		"FOO=step",
		"GOMODCACHE=/var/cache/melange/gomodcache",
		"GOPATH=/home/build/.cache/go",
		"HOME=/home/build",
		"PATH=" + DefaultPath,
		"PIP_CACHE_DIR=/var/cache/melange/pip",
		"PWD=/home/build",
		"SOURCE_DATE_EPOCH=1700000000",
		"UV_CACHE_DIR=/var/cache/melange/uv",
		"npm_config_cache=/var/cache/melange/npm",
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(l, "SHLVL=") {
			got = append(got, l)
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("environment:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := run(t, b, out, `echo "$FOO"`); got != "bar baz\n" {
		t.Errorf("without the step's Env, FOO = %q", got)
	}
}

func TestWorkspaceWritesVisibleOnHost(t *testing.T) {
	ws := t.TempDir()
	b, out := newSandbox(t, Config{Workspace: ws})
	run(t, b, out, "echo data > out.txt; mkdir -p melange-out/pkg/usr/bin; echo bin > melange-out/pkg/usr/bin/tool")
	for name, want := range map[string]string{"out.txt": "data\n", "melange-out/pkg/usr/bin/tool": "bin\n"} {
		data, err := os.ReadFile(filepath.Join(ws, name))
		if err != nil || string(data) != want {
			t.Errorf("%s: %q, %v; want %q", name, data, err, want)
		}
	}
	// A relative working directory is relative to /home/build.
	out.Reset()
	if err := b.Run(context.Background(), Step{Script: "pwd; ls", WorkDir: "melange-out"}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "/home/build/melange-out\npkg\n" {
		t.Errorf("output = %q", out.String())
	}
}

// writeEverywhere tries to write outside the workspace: the guest root's
// files and directories, and host paths.
const writeEverywhere = `
echo foo > /etc/foo
echo x > /usr/bin/x
mkdir -p /opt/new/dir
rm /bin/ls
chmod 700 /bin
echo escaped > /tmp/%[1]s
echo escaped > /root/%[1]s 2>/dev/null || true
`

func TestGuestRootUnchangedOverlay(t *testing.T) {
	root := guestRoot(t, debArch())
	before := snapshot(t, root)
	b, out := newSandbox(t, Config{})
	if b.RootMode() != RootOverlay {
		t.Skipf("root mode is %v: copy-on-write needs root", b.RootMode())
	}
	marker := fmt.Sprintf("reef-escape-%d", time.Now().UnixNano())
	run(t, b, out, fmt.Sprintf(writeEverywhere, marker))
	// A later step of the same sandbox sees the changes, as in melange.
	if got := run(t, b, out, "cat /etc/foo /usr/bin/x; ls -d /opt/new/dir; [ ! -e /bin/ls ] && echo gone"); got != "foo\nx\n/opt/new/dir\ngone\n" {
		t.Errorf("second step: %q", got)
	}
	if after := snapshot(t, root); after != before {
		t.Errorf("guest root changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The overlay lives in a private mount namespace: the host's mount
	// table (seen by a new process) and this process's do not show it.
	for _, cmd := range []*exec.Cmd{exec.Command("cat", "/proc/self/mountinfo"), exec.Command("cat", fmt.Sprintf("/proc/%d/mountinfo", os.Getpid()))} {
		mounts, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(mounts, []byte(b.scratch)) {
			t.Errorf("%s shows the overlay:\n%s", cmd.Args[1], mounts)
		}
	}
	for _, p := range []string{"/tmp/" + marker, "/root/" + marker} {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			t.Errorf("a step wrote the host's %s", p)
		}
	}
	// A new sandbox on the same root starts clean.
	b2, out2 := newSandbox(t, Config{})
	if got := run(t, b2, out2, "[ -e /etc/foo ] && echo present || echo absent"); got != "absent\n" {
		t.Errorf("new sandbox sees the old one's /etc/foo: %q", got)
	}
	scratch := b.scratch
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(scratch); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", scratch, err)
	}
	if err := b.Run(context.Background(), Step{Script: "true"}); err == nil {
		t.Error("Run after Close succeeded")
	}
}

func TestGuestRootReadOnly(t *testing.T) {
	root := guestRoot(t, debArch())
	before := snapshot(t, root)
	b, out := newSandbox(t, Config{RootMode: RootReadOnly})
	for _, script := range []string{"echo foo > /etc/foo", "echo x > /usr/bin/x", "rm /bin/ls", "mkdir /opt"} {
		err := b.Run(context.Background(), Step{Name: "write", Script: script})
		var se *StepError
		if !errors.As(err, &se) {
			t.Errorf("%s: err = %v, want a StepError", script, err)
			continue
		}
		if !strings.Contains(strings.Join(se.Tail, "\n"), "Read-only file system") {
			t.Errorf("%s: tail %q", script, se.Tail)
		}
	}
	// /tmp is a fresh tmpfs.
	run(t, b, out, "echo scratch > /tmp/x && cat /tmp/x")
	if after := snapshot(t, root); after != before {
		t.Errorf("guest root changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestGuestRootWritable(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", guestRoot(t, debArch()), root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	b, out := newSandbox(t, Config{Root: root, RootMode: RootWritable})
	run(t, b, out, "echo foo > /etc/foo")
	if data, err := os.ReadFile(filepath.Join(root, "etc", "foo")); string(data) != "foo\n" {
		t.Errorf("etc/foo in the writable root: %q, %v", data, err)
	}
}

func TestRootCannotMountOrEscalate(t *testing.T) {
	b, out := newSandbox(t, Config{})
	if b.userns {
		t.Skip("the capability set applies when reef runs as root")
	}
	// Docker's default set: 0xa80425fb.
	if got := run(t, b, out, "grep CapEff /proc/self/status"); !strings.Contains(got, "00000000a80425fb") {
		t.Errorf("capabilities: %q", got)
	}
	err := b.Run(context.Background(), Step{Name: "mount", Script: "mount -t tmpfs none /mnt"})
	var se *StepError
	if !errors.As(err, &se) {
		t.Errorf("mount in the sandbox: err = %v, want a StepError", err)
	}
	// chown to any user works (no user namespace), as packages need.
	ws := t.TempDir()
	b2, out2 := newSandbox(t, Config{Workspace: ws})
	run(t, b2, out2, "touch f && chown 1234:5678 f")
	fi, err := os.Stat(filepath.Join(ws, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("owner %d:%d, want 1234:5678", st.Uid, st.Gid)
	}
}

func TestUID(t *testing.T) {
	ws := t.TempDir()
	b, out := newSandbox(t, Config{Workspace: ws, UID: 1000, GID: 1000})
	if got := run(t, b, out, "id -u; id -g; touch mine"); got != "1000\n1000\n" {
		t.Errorf("output = %q", got)
	}
	fi, err := os.Stat(filepath.Join(ws, "mine"))
	if err != nil {
		t.Fatal(err)
	}
	// The user namespace maps the step's user to the caller.
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Geteuid() {
		t.Errorf("host owner %d, want %d", st.Uid, os.Geteuid())
	}
}

// listener serves "reef-ok" over HTTP on addr and returns its port.
func listener(t *testing.T, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "reef-ok")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// hostAddr returns a non-loopback address of the host, or "".
func hostAddr() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && ip.IP.To4() != nil {
			return ip.IP.String()
		}
	}
	return ""
}

func TestNoNetworkByDefault(t *testing.T) {
	port := listener(t, ":0")
	targets := []string{fmt.Sprintf("127.0.0.1:%d", port)}
	if ip := hostAddr(); ip != "" {
		targets = append(targets, fmt.Sprintf("%s:%d", ip, port))
	}
	b, out := newSandbox(t, Config{})
	// Only the loopback device.
	var devs []string
	for _, l := range strings.Split(run(t, b, out, "cat /proc/net/dev"), "\n")[2:] {
		if name, _, ok := strings.Cut(l, ":"); ok {
			devs = append(devs, strings.TrimSpace(name))
		}
	}
	if strings.Join(devs, ",") != "lo" {
		t.Errorf("network devices: %q", devs)
	}
	for _, tgt := range targets {
		// (busybox 1.35's static wget crashes with -T: no timeouts.)
		for _, script := range []string{
			"wget -q -O - http://" + tgt + "/",
			"echo hi | nc " + strings.Replace(tgt, ":", " ", 1),
		} {
			err := b.Run(context.Background(), Step{Name: "net", Script: script})
			var se *StepError
			if !errors.As(err, &se) {
				t.Errorf("%s without network: err = %v, want a StepError", script, err)
				continue
			}
			if tail := strings.Join(se.Tail, "\n"); !strings.Contains(tail, "refused") && !strings.Contains(tail, "unreachable") {
				t.Errorf("%s without network failed for another reason: %v", script, se)
			}
		}
	}
	bn, outn := newSandbox(t, Config{Network: true})
	for _, tgt := range targets {
		if got := run(t, bn, outn, "wget -q -O - http://"+tgt+"/"); got != "reef-ok" {
			t.Errorf("with network, %s: %q", tgt, got)
		}
	}
}

func TestStepError(t *testing.T) {
	b, _ := newSandbox(t, Config{TailLines: 5})
	script := "echo start\nfor i in $(seq 1 20); do echo line $i; done\necho boom >&2\nexit 3\n"
	err := b.Run(context.Background(), Step{Name: "make check", Script: script})
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a StepError", err)
	}
	if se.Step != "make check" || se.Script != script || se.ExitCode != 3 {
		t.Errorf("StepError %+v", se)
	}
	want := []string{"line 17", "line 18", "line 19", "line 20", "boom"}
	if strings.Join(se.Tail, "|") != strings.Join(want, "|") {
		t.Errorf("tail %q, want %q", se.Tail, want)
	}
	msg := se.Error()
	for _, s := range []string{"make check", "exit code 3", "    for i in $(seq 1 20)", "last 5 lines", "    boom"} {
		if !strings.Contains(msg, s) {
			t.Errorf("Error() lacks %q:\n%s", s, msg)
		}
	}
	// A step killed by a signal.
	err = b.Run(context.Background(), Step{Name: "killed", Script: "echo dying; kill -9 $$"})
	if !errors.As(err, &se) || se.ExitCode != 137 || strings.Join(se.Tail, "|") != "dying" {
		t.Errorf("killed step: %v", err)
	}
}

func TestPipefailAndErrexit(t *testing.T) {
	b, out := newSandbox(t, Config{})
	for _, script := range []string{"false | true; echo reached", "false; echo reached", "echo $((1/0)); echo reached"} {
		out.Reset()
		err := b.Run(context.Background(), Step{Script: script})
		var se *StepError
		if !errors.As(err, &se) || strings.Contains(out.String(), "reached") {
			t.Errorf("%q: err = %v, output %q", script, err, out.String())
		}
	}
	// A missing command: 127.
	err := b.Run(context.Background(), Step{Script: "true\ntrue\nno-such-command"})
	var se *StepError
	if !errors.As(err, &se) || se.ExitCode != 127 || !strings.Contains(strings.Join(se.Tail, "\n"), "no-such-command: not found") {
		t.Errorf("err = %v", err)
	}
}

// TestPreludeShells runs the prelude in the host's shells: pipefail where
// the shell has it, plain set -e where it does not (dash 0.5.12).
func TestPreludeShells(t *testing.T) {
	for _, sh := range []string{"dash", "bash", "busybox"} {
		p, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		args := []string{"-c"}
		if sh == "busybox" {
			args = []string{"sh", "-c"}
		}
		hasPipefail := exec.Command(p, append(args, "set -o pipefail")...).Run() == nil
		out, err := exec.Command(p, append(args, prelude+"false | true; echo reached")...).CombinedOutput()
		if hasPipefail && (err == nil || len(out) > 0) {
			t.Errorf("%s: pipefail not in effect: %v %q", sh, err, out)
		}
		if !hasPipefail && (err != nil || string(out) != "reached\n") {
			t.Errorf("%s without pipefail: %v %q", sh, err, out)
		}
		if out, err := exec.Command(p, append(args, prelude+"false; echo reached")...).CombinedOutput(); err == nil || len(out) > 0 {
			t.Errorf("%s: set -e not in effect: %v %q", sh, err, out)
		}
	}
}

func TestBigScript(t *testing.T) {
	b, out := newSandbox(t, Config{})
	var s strings.Builder
	for s.Len() < 3*maxArgScript {
		s.WriteString(": padding padding padding padding padding padding\n")
	}
	s.WriteString("echo \"done $((6*7))\"\n")
	if got := run(t, b, out, s.String()); got != "done 42\n" {
		t.Errorf("output = %q", got)
	}
	err := b.Run(context.Background(), Step{Script: s.String() + "false\necho reached"})
	var se *StepError
	if !errors.As(err, &se) || strings.Contains(out.String(), "reached") {
		t.Errorf("err = %v", err)
	}
}

func TestSetupError(t *testing.T) {
	b, _ := newSandbox(t, Config{})
	err := b.Run(context.Background(), Step{Name: "wd", Script: "true", WorkDir: "/no/such/dir"})
	var se *SetupError
	if !errors.As(err, &se) || se.Step != "wd" || !strings.Contains(se.Reason, "/no/such/dir") {
		t.Errorf("err = %#v (%v)", err, err)
	}
}

func TestCancelKillsStep(t *testing.T) {
	b, _ := newSandbox(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	// A background child and a foreground one.
	err := b.Run(ctx, Step{Name: "sleep", Script: "sleep 1017 & sleep 1017"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run returned after %v", d)
	}
	// An already ended context: the step does not start.
	if err := b.Run(ctx, Step{Script: "echo ran"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a canceled context: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := sleepers()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sleep processes survived", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sleepers counts the processes running "sleep 1017".
func sleepers() int {
	n := 0
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		data, _ := os.ReadFile(d)
		if bytes.HasSuffix(data, []byte("sleep\x001017\x00")) {
			n++
		}
	}
	return n
}

func TestBinds(t *testing.T) {
	cache, ro := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "in"), []byte("input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, out := newSandbox(t, Config{Binds: []Bind{
		{Source: cache, Dest: "/var/cache/melange"},
		{Source: ro, Dest: "/home/build/ro", ReadOnly: true},
	}})
	if got := run(t, b, out, "echo cached > /var/cache/melange/c; cat ro/in"); got != "input\n" {
		t.Errorf("output = %q", got)
	}
	if data, err := os.ReadFile(filepath.Join(cache, "c")); string(data) != "cached\n" {
		t.Errorf("cache file: %q, %v", data, err)
	}
	if err := b.Run(context.Background(), Step{Script: "echo x > ro/out"}); err == nil {
		t.Error("wrote to a read-only bind")
	}
}

func TestShell(t *testing.T) {
	var stdout, stderr syncBuffer
	b, _ := newSandbox(t, Config{
		Stdout: &stdout, Stderr: &stderr,
		Stdin: strings.NewReader("echo in-shell $(id -u) $(pwd) $FOO\nexit 3\n"),
	})
	if err := b.Shell(context.Background(), Step{WorkDir: "/tmp", Env: map[string]string{"FOO": "bar"}}); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "in-shell 0 /tmp bar\n" {
		t.Errorf("stdout %q, stderr %q", got, stderr.String())
	}
}

func TestNewErrors(t *testing.T) {
	needBwrap(t)
	root := guestRoot(t, debArch())
	ws := t.TempDir()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Root: root, Workspace: ws, Bwrap: "/no/such/bwrap"}, "apt-get install bubblewrap"},
		{Config{Root: ws, Workspace: ws}, "no /bin/sh"},
		{Config{Root: root}, "Workspace"},
		{Config{Root: root, Workspace: ws, Arch: "sparc"}, "unknown architecture"},
		{Config{Root: root, Workspace: ws, Binds: []Bind{{Source: ws, Dest: "rel"}}}, "not an absolute path"},
		{Config{Root: root, Workspace: ws, Env: map[string]string{"A=B": "c"}}, "invalid environment variable"},
		{Config{Root: root, Workspace: ws, RootMode: RootReadOnly, Binds: []Bind{{Source: ws, Dest: "/no/mount/point"}}}, "/no/mount/point"},
	} {
		b, err := New(tc.cfg)
		if err == nil {
			b.Close()
			t.Errorf("%+v: no error", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q lacks %q", err, tc.want)
		}
	}
}

// TestForeignArch runs a step in an aarch64 guest on an x86_64 host (or an
// x86_64 guest on an aarch64 host) through qemu-user. It needs Debian's
// qemu-user-static (apt-get install qemu-user-static) and, when the
// qemu binfmt_misc entry is not registered yet, root to register it; the
// foreign busybox-static is downloaded with apt-get (see helpers_test.go).
func TestForeignArch(t *testing.T) {
	needBwrap(t)
	var deb, arch string
	switch runtime.GOARCH {
	case "amd64":
		deb, arch = "arm64", "aarch64"
	case "arm64":
		deb, arch = "amd64", "x86_64"
	default:
		t.Skipf("no foreign architecture to test on %s", runtime.GOARCH)
	}
	if err := PrepareArch(arch); err != nil {
		if _, lerr := exec.LookPath("qemu-" + qemuArch[arch] + "-static"); lerr != nil {
			t.Skipf("qemu-user-static is not installed (apt-get install qemu-user-static): %v", err)
		}
		t.Fatal(err)
	}
	e, err := readBinfmt("qemu-" + qemuArch[arch])
	if err != nil || e == nil {
		t.Fatalf("binfmt entry: %v, %v", e, err)
	}
	b, out := newSandbox(t, Config{Root: guestRoot(t, deb), Arch: arch})
	if got := run(t, b, out, "uname -m"); got != arch+"\n" {
		t.Errorf("uname -m = %q, want %q", got, arch)
	}
	if b.RootMode() == RootOverlay {
		if got := run(t, b, out, "echo ok > /etc/written; cat /etc/written"); got != "ok\n" {
			t.Errorf("copy-on-write root: %q", got)
		}
	}
}

func BenchmarkRunTrivial(b *testing.B) {
	// The floor: bare bwrap with no namespaces or mounts beyond the root.
	b.Run("bare-bwrap", func(b *testing.B) {
		needBwrap(b)
		root := guestRoot(b, debArch())
		for b.Loop() {
			if out, err := exec.Command("bwrap", "--ro-bind", root, "/", "/bin/sh", "-c", "true").CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	})
	for _, mode := range []RootMode{RootOverlay, RootReadOnly} {
		b.Run(mode.String(), func(b *testing.B) {
			if mode == RootOverlay && os.Geteuid() != 0 {
				b.Skip("copy-on-write needs root")
			}
			sb, _ := newSandbox(b, Config{RootMode: mode})
			ctx := context.Background()
			step := Step{Name: "true", Script: "true"}
			for b.Loop() {
				if err := sb.Run(ctx, step); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
		})
	}
}
