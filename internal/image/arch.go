package image

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// archNames maps apko's accepted architecture spellings (OCI and apk) to
// apk architecture names.
var archNames = map[string]string{
	"386": "x86", "x86": "x86",
	"amd64": "x86_64", "x86_64": "x86_64",
	"arm64": "aarch64", "aarch64": "aarch64", "arm64/v8": "aarch64",
	"arm/v6": "armhf", "armhf": "armhf",
	"arm/v7": "armv7", "armv7": "armv7",
	"loong64": "loongarch64", "loongarch64": "loongarch64",
	"ppc64le": "ppc64le",
	"riscv64": "riscv64",
	"s390x":   "s390x",
}

// AllArchs are the apk architectures apko builds for when neither the
// image file nor the command line names any, in apk names.
var AllArchs = []string{"aarch64", "armhf", "armv7", "loongarch64", "ppc64le", "riscv64", "s390x", "x86", "x86_64"}

// ParseArch returns the apk name of an architecture given by its apk or
// OCI name ("amd64" → "x86_64").
func ParseArch(s string) (string, error) {
	if a, ok := archNames[strings.TrimSpace(s)]; ok {
		return a, nil
	}
	return "", fmt.Errorf("unknown architecture %q (want one of x86_64, aarch64, x86, armhf, armv7, ppc64le, s390x, riscv64, loongarch64, or their OCI names)", s)
}

// HostArch returns the apk name of the architecture reef runs on.
func HostArch() string {
	if runtime.GOARCH == "arm" {
		return "armv7"
	}
	if a, ok := archNames[runtime.GOARCH]; ok {
		return a
	}
	return runtime.GOARCH
}

// ParseArchs turns a list of architecture names, each possibly a
// comma-separated list, "host" or "all", into sorted, distinct apk names.
func ParseArchs(list []string) ([]string, error) {
	var out []string
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			switch s {
			case "":
				continue
			case "all":
				out = append(out, AllArchs...)
				continue
			case "host":
				out = append(out, HostArch())
				continue
			}
			a, err := ParseArch(s)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
