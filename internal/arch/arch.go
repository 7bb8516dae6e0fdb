// Package arch names CPU architectures the way apk does ("x86_64",
// "aarch64", ...) and translates the other spellings users and tools use:
// Go's GOARCH ("amd64"), OCI platforms ("arm/v7", "linux/arm64") and
// Debian's ("i386").
package arch

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// All lists the apk architectures reef knows, sorted.
var All = []string{"aarch64", "armhf", "armv7", "loongarch64", "ppc64le", "riscv64", "s390x", "x86", "x86_64"}

// alias returns the apk name of an accepted spelling (lower case, without
// "linux/"). A switch rather than a map: nothing to build at start-up.
func alias(s string) (string, bool) {
	switch s {
	case "x86_64", "amd64", "x86-64":
		return "x86_64", true
	case "aarch64", "arm64", "arm64/v8":
		return "aarch64", true
	case "x86", "386", "i386", "i486", "i586", "i686":
		return "x86", true
	case "armv7", "arm", "arm/v7":
		return "armv7", true
	case "armhf", "arm/v6", "armel":
		return "armhf", true
	case "loongarch64", "loong64":
		return "loongarch64", true
	case "ppc64le", "ppc64el":
		return "ppc64le", true
	case "riscv64":
		return "riscv64", true
	case "s390x":
		return "s390x", true
	}
	return "", false
}

// Parse returns the apk name of an architecture given by its apk, Go, OCI
// (optionally "linux/"-prefixed) or Debian name: "amd64" → "x86_64".
func Parse(s string) (string, error) {
	k := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "linux/")
	if a, ok := alias(k); ok {
		return a, nil
	}
	return "", fmt.Errorf("unknown architecture %q (want one of %s, or their Go/OCI names)", s, strings.Join(All, ", "))
}

// Host returns the apk name of the architecture reef runs on.
func Host() string {
	if a, err := Parse(runtime.GOARCH); err == nil {
		return a
	}
	return runtime.GOARCH
}

// ParseList turns architecture names, each possibly a comma-separated
// list, "host" or "all", into sorted, distinct apk names.
func ParseList(list []string) ([]string, error) {
	var out []string
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			switch s = strings.TrimSpace(s); s {
			case "":
			case "all":
				out = append(out, All...)
			case "host":
				out = append(out, Host())
			default:
				a, err := Parse(s)
				if err != nil {
					return nil, err
				}
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
