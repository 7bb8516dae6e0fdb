package sandbox

import (
	"fmt"

	"github.com/reef-dev/reef/internal/arch"
)

// qemuArch is qemu-user's name of each apk architecture
// (qemu-<name>-static, /proc/sys/fs/binfmt_misc/qemu-<name>).
var qemuArch = map[string]string{
	"x86_64":      "x86_64",
	"aarch64":     "aarch64",
	"x86":         "i386",
	"armv7":       "arm",
	"armhf":       "arm",
	"ppc64le":     "ppc64le",
	"s390x":       "s390x",
	"riscv64":     "riscv64",
	"loongarch64": "loongarch64",
}

// NormalizeArch returns the apk name of an architecture (see arch.Parse)
// that the sandbox can run, natively or through qemu-user.
func NormalizeArch(name string) (string, error) {
	a, err := arch.Parse(name)
	if err != nil {
		return "", err
	}
	if _, ok := qemuArch[a]; !ok {
		return "", fmt.Errorf("architecture %s cannot be run here: no qemu-user emulator is known for it", a)
	}
	return a, nil
}

// runsNatively reports whether the host's kernel runs arch's binaries
// itself: its own architecture, and the 32-bit one it can run in
// compatibility mode (x86 on x86_64, 32-bit ARM on aarch64; the latter
// needs a CPU with AArch32, which most have).
func runsNatively(host, arch string) bool {
	switch {
	case arch == host:
		return true
	case host == "x86_64" && arch == "x86":
		return true
	case host == "aarch64" && (arch == "armv7" || arch == "armhf"):
		return true
	}
	return false
}
