package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/reef-dev/reef/internal/arch"
)

// binfmtDir is where the kernel's binfmt_misc file system is mounted.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// binfmtConfDirs are searched for qemu-<arch>.conf, in systemd-binfmt's
// order of precedence; Debian's qemu-user-static installs them in
// /usr/lib/binfmt.d.
var binfmtConfDirs = []string{"/etc/binfmt.d", "/run/binfmt.d", "/usr/local/lib/binfmt.d", "/usr/lib/binfmt.d", "/lib/binfmt.d"}

// emulation is a binfmt_misc entry that runs a foreign architecture's
// binaries through qemu-user.
type emulation struct {
	Name        string // entry name, "qemu-aarch64"
	Interpreter string // host path of qemu
	Flags       string // binfmt_misc flags, "OCPF"
}

// fixBinary reports whether the kernel opened the interpreter when the
// entry was registered (flag F), so that it works in any mount namespace
// without a copy of qemu there.
func (e *emulation) fixBinary() bool { return strings.Contains(e.Flags, "F") }

// PrepareArch makes sure binaries of the apk architecture arch can run on
// this host. A native architecture needs nothing. A foreign one needs a
// qemu-user binfmt_misc entry named qemu-<arch> ("qemu-aarch64"); when
// there is none, PrepareArch registers the one Debian's qemu-user-static
// package ships in /usr/lib/binfmt.d (adding the F flag, so that it works
// inside sandboxes), mounting binfmt_misc first if needed. Registering
// needs root; the error says what to install or run otherwise.
func PrepareArch(arch string) error {
	_, err := prepareArch(arch)
	return err
}

// prepareArch is PrepareArch returning the entry foreign binaries go
// through (nil for a native architecture).
func prepareArch(archName string) (*emulation, error) {
	a, err := NormalizeArch(archName)
	if err != nil {
		return nil, err
	}
	host := arch.Host()
	if runsNatively(host, a) {
		return nil, nil
	}
	q := qemuArch[a]
	name := "qemu-" + q
	how := fmt.Sprintf("%s binaries on this %s host need qemu-user registered with binfmt_misc", a, host)

	if err := mountBinfmt(); err != nil {
		return nil, fmt.Errorf("%s: %w", how, err)
	}
	e, err := readBinfmt(name)
	if err == nil {
		if e == nil {
			return nil, fmt.Errorf("%s: the binfmt_misc entry %s is disabled; enable it with: echo 1 > %s/%s", how, name, binfmtDir, name)
		}
		return e, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", how, err)
	}

	line, conf, err := findBinfmtConf(name)
	if err != nil {
		return nil, fmt.Errorf("%s: there is no %s entry in %s and no %s.conf in %s: install Debian's qemu-user-static (apt-get install qemu-user-static)",
			how, name, binfmtDir, name, strings.Join(binfmtConfDirs, ", "))
	}
	fields := strings.Split(line, ":")
	if len(fields) != 8 || fields[0] != "" || fields[1] != name {
		return nil, fmt.Errorf("%s: %s: not a binfmt_misc registration line for %s: %q", how, conf, name, line)
	}
	if _, err := os.Stat(fields[6]); err != nil {
		return nil, fmt.Errorf("%s: %s names the interpreter %s: %v; reinstall qemu-user-static", how, conf, fields[6], err)
	}
	if !strings.Contains(fields[7], "F") {
		fields[7] += "F"
	}
	line = strings.Join(fields, ":")
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%s: %s is not registered and registering it needs root: as root, run\n    echo '%s' > %s/register", how, name, line, binfmtDir)
	}
	if err := os.WriteFile(filepath.Join(binfmtDir, "register"), []byte(line+"\n"), 0); err != nil && !errors.Is(err, fs.ErrExist) {
		// EEXIST: registered by someone else meanwhile.
		return nil, fmt.Errorf("%s: registering %s from %s: %w", how, name, conf, err)
	}
	e, err = readBinfmt(name)
	if err != nil {
		return nil, fmt.Errorf("%s: after registering %s: %w", how, name, err)
	}
	if e == nil {
		return nil, fmt.Errorf("%s: the binfmt_misc entry %s is disabled; enable it with: echo 1 > %s/%s", how, name, binfmtDir, name)
	}
	return e, nil
}

// mountBinfmt mounts binfmt_misc when it is not mounted yet.
func mountBinfmt() error {
	reg := filepath.Join(binfmtDir, "register")
	if _, err := os.Stat(reg); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("binfmt_misc is not mounted at %s; as root, run: mount -t binfmt_misc binfmt_misc %s", binfmtDir, binfmtDir)
	}
	err := syscall.Mount("binfmt_misc", binfmtDir, "binfmt_misc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
	if err != nil && err != syscall.EBUSY {
		return fmt.Errorf("binfmt_misc is not mounted at %s and mounting it failed (%v); mount it on the host: mount -t binfmt_misc binfmt_misc %s", binfmtDir, err, binfmtDir)
	}
	if _, err := os.Stat(reg); err != nil {
		return fmt.Errorf("binfmt_misc: %w", err)
	}
	return nil
}

// readBinfmt reads the binfmt_misc entry name. It returns nil and no error
// for a disabled entry, and an error wrapping fs.ErrNotExist for a missing
// one.
func readBinfmt(name string) (*emulation, error) {
	f, err := os.Open(filepath.Join(binfmtDir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e := &emulation{Name: name}
	enabled := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "enabled":
			enabled = true
		case strings.HasPrefix(line, "interpreter "):
			e.Interpreter = strings.TrimPrefix(line, "interpreter ")
		case strings.HasPrefix(line, "flags:"):
			e.Flags = strings.TrimSpace(strings.TrimPrefix(line, "flags:"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	if !enabled {
		return nil, nil
	}
	if e.Interpreter == "" {
		return nil, fmt.Errorf("%s names no interpreter", f.Name())
	}
	return e, nil
}

// findBinfmtConf returns the registration line for name from the first
// <name>.conf in binfmtConfDirs, and the file's path.
func findBinfmtConf(name string) (line, path string, err error) {
	for _, dir := range binfmtConfDirs {
		path = filepath.Join(dir, name+".conf")
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, ":"+name+":") {
				return l, path, nil
			}
		}
	}
	return "", "", fs.ErrNotExist
}
