package sandbox

import (
	"fmt"
	"runtime"
	"strings"
)

// archAliases maps the Go, Debian and OCI names of architectures to apk's.
var archAliases = map[string]string{
	"amd64": "x86_64", "x86-64": "x86_64",
	"arm64": "aarch64", "arm64/v8": "aarch64",
	"386": "x86", "i386": "x86", "i486": "x86", "i586": "x86", "i686": "x86",
	"arm": "armv7", "arm/v7": "armv7",
	"arm/v6": "armhf", "armel": "armhf",
	"ppc64el": "ppc64le", "loong64": "loongarch64",
}

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
	"mips64el":    "mips64el",
}

// NormalizeArch returns the apk name of an architecture given by its apk,
// Go, Debian or OCI name ("amd64" → "x86_64"), or an error naming the
// architectures it knows.
func NormalizeArch(arch string) (string, error) {
	a := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(arch)), "linux/")
	if apk, ok := archAliases[a]; ok {
		a = apk
	}
	if _, ok := qemuArch[a]; !ok {
		return "", fmt.Errorf("unknown architecture %q (want one of x86_64, aarch64, armv7, armhf, x86, ppc64le, s390x, riscv64, loongarch64)", arch)
	}
	return a, nil
}

// HostArch returns the apk name of the host's architecture.
func HostArch() string {
	if a, err := NormalizeArch(runtime.GOARCH); err == nil {
		return a
	}
	return runtime.GOARCH
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
