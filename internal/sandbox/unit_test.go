package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	tl := newTail(3)
	if got := tl.Lines(); len(got) != 0 {
		t.Errorf("empty tail: %q", got)
	}
	io.WriteString(tl, "one\ntw")
	io.WriteString(tl, "o\r\nthree\nfour\nfi")
	if got := strings.Join(tl.Lines(), "|"); got != "three|four|fi" {
		t.Errorf("lines = %q", got)
	}
	io.WriteString(tl, "ve\n")
	if got := strings.Join(tl.Lines(), "|"); got != "three|four|five" {
		t.Errorf("lines = %q", got)
	}
	// Long lines are cut.
	tl = newTail(2)
	io.WriteString(tl, strings.Repeat("x", 3*maxLineBytes)+"\nshort\n")
	got := tl.Lines()
	if len(got) != 2 || len(got[0]) != maxLineBytes+len(" [...]") || got[1] != "short" {
		t.Errorf("lines = %d %q", len(got[0]), got[1:])
	}
}

func TestTee(t *testing.T) {
	var b bytes.Buffer
	tl := newTail(5)
	w := tee{&b, tl}
	fmt.Fprintf(w, "a\nb\n")
	if b.String() != "a\nb\n" || strings.Join(tl.Lines(), "|") != "a|b" {
		t.Errorf("%q %q", b.String(), tl.Lines())
	}
	// A failing writer does not stop the tail.
	f, _ := os.Open(os.DevNull) // read-only: writes fail
	defer f.Close()
	w = tee{f, tl}
	if n, err := io.WriteString(w, "c\n"); n != 2 || err != nil {
		t.Errorf("Write = %d, %v", n, err)
	}
}

func TestSameWriter(t *testing.T) {
	var a, b bytes.Buffer
	if !sameWriter(&a, &a) || sameWriter(&a, &b) || sameWriter(nil, &a) {
		t.Error("pointer writers")
	}
	// Uncomparable dynamic types are never the same.
	if sameWriter(uncomparable{}, uncomparable{}) {
		t.Error("uncomparable writers")
	}
}

type uncomparable struct{ _ []byte }

func (uncomparable) Write(p []byte) (int, error) { return len(p), nil }

func TestStepErrorMessage(t *testing.T) {
	e := &StepError{Step: "autoconf/make", Script: "make -j4\nmake check\n", ExitCode: 2, Tail: []string{"cc: error", "make: *** [all] Error 1"}}
	want := `step autoconf/make failed with exit code 2
script:
    make -j4
    make check
last 2 lines of output:
    cc: error
    make: *** [all] Error 1`
	if e.Error() != want {
		t.Errorf("Error():\n%s\nwant:\n%s", e.Error(), want)
	}
	e = &StepError{Script: strings.Repeat("x\n", maxScriptLines+7), ExitCode: 137}
	msg := e.Error()
	for _, s := range []string{"step (unnamed)", "signal 9", "(7 more lines)", "no output"} {
		if !strings.Contains(msg, s) {
			t.Errorf("Error() lacks %q:\n%s", s, msg)
		}
	}
}

func TestExitCode(t *testing.T) {
	for in, want := range map[string]int{
		`{ "child-pid": 5, "mnt-namespace": 1 }` + "\n" + `{ "exit-code": 7 }`: 7,
		`{ "child-pid": 5 }` + "\n" + `{ "exit-code": 0 }` + "\n":              0,
		`{ "child-pid": 5 }`: -1,
		``:                   -1,
		`garbage`:            -1,
	} {
		code, ran := exitCode([]byte(in))
		if (want < 0 && ran) || (want >= 0 && (!ran || code != want)) {
			t.Errorf("%q: %d %v, want %d", in, code, ran, want)
		}
	}
}

func TestCapabilities(t *testing.T) {
	got := capabilities([]string{"sys_ptrace", "CAP_NET_ADMIN"}, []string{"NET_RAW", "CAP_MKNOD"})
	s := strings.Join(got, ",")
	for _, c := range []string{"CAP_SYS_PTRACE", "CAP_NET_ADMIN", "CAP_CHOWN", "CAP_SETFCAP"} {
		if !strings.Contains(s, c) {
			t.Errorf("%s lacks %s", s, c)
		}
	}
	for _, c := range []string{"CAP_NET_RAW", "CAP_MKNOD", "CAP_SYS_ADMIN"} {
		if strings.Contains(s, c) {
			t.Errorf("%s has %s", s, c)
		}
	}
	if got := capabilities(nil, []string{"all"}); len(got) != 0 {
		t.Errorf("drop ALL: %q", got)
	}
	if got := capabilities([]string{"ALL"}, nil); strings.Join(got, ",") != "ALL" {
		t.Errorf("add ALL: %q", got)
	}
	if got := capabilities([]string{"CAP_SYS_PTRACE"}, []string{"ALL"}); len(got) != 0 {
		t.Errorf("add then drop ALL: %q", got)
	}
}

func TestNormalizeArch(t *testing.T) {
	for in, want := range map[string]string{
		"x86_64": "x86_64", "amd64": "x86_64", "linux/amd64": "x86_64",
		"aarch64": "aarch64", "arm64": "aarch64", "ARM64": "aarch64",
		"armv7": "armv7", "arm/v7": "armv7", "armhf": "armhf",
		"386": "x86", "i686": "x86", "ppc64el": "ppc64le", "riscv64": "riscv64",
		"loong64": "loongarch64",
	} {
		if got, err := NormalizeArch(in); got != want || err != nil {
			t.Errorf("NormalizeArch(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeArch("sparc64"); err == nil || !strings.Contains(err.Error(), "aarch64") {
		t.Errorf("sparc64: %v", err)
	}
	if !runsNatively("x86_64", "x86") || runsNatively("x86_64", "aarch64") || !runsNatively("aarch64", "aarch64") {
		t.Error("runsNatively")
	}
}

func TestDefaultEnv(t *testing.T) {
	env := DefaultEnv(0)
	if env["SOURCE_DATE_EPOCH"] != "0" || env["HOME"] != "/home/build" || env["GOMODCACHE"] != "/var/cache/melange/gomodcache" || env["PATH"] != DefaultPath {
		t.Errorf("DefaultEnv = %v", env)
	}
	list, err := environ(map[string]string{"A": "1", "PATH": "/x"}, map[string]string{"A": "2", "B": "3"})
	if err != nil || strings.Join(list, " ") != "A=2 B=3 PATH=/x" {
		t.Errorf("environ = %q, %v", list, err)
	}
	if _, err := environ(map[string]string{"A": "x\x00y"}, nil); err == nil {
		t.Error("NUL in a value accepted")
	}
}

func TestWorkDir(t *testing.T) {
	for in, want := range map[string]string{"": "/def", "src": "/home/build/src", "/opt/x/../y": "/opt/y", "./a/": "/home/build/a"} {
		if got := workDir(in, "/def"); got != want {
			t.Errorf("workDir(%q) = %q, want %q", in, got, want)
		}
	}
}
