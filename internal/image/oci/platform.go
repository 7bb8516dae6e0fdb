package oci

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// archMap lists every architecture reef builds for: the apk name, and the
// OCI architecture and variant it maps to. The order is irrelevant.
var archMap = []struct {
	apk, arch, variant string
}{
	{"x86_64", "amd64", ""},
	{"aarch64", "arm64", ""},
	{"armv7", "arm", "v7"},
	{"armhf", "arm", "v6"},
	{"x86", "386", ""},
	{"ppc64le", "ppc64le", ""},
	{"s390x", "s390x", ""},
	{"riscv64", "riscv64", ""},
	{"loongarch64", "loong64", ""},
}

// OCIPlatform returns the OCI platform (os linux) of an apk architecture
// such as "x86_64" or "armv7". For convenience it also accepts the OCI
// spelling ("amd64", "arm/v7", "arm64/v8"), as apko's --arch does.
func OCIPlatform(arch string) (v1.Platform, error) {
	for _, a := range archMap {
		if arch == a.apk {
			return v1.Platform{OS: "linux", Architecture: a.arch, Variant: a.variant}, nil
		}
	}
	// OCI spelling: arch or arch/variant.
	a, variant, _ := strings.Cut(arch, "/")
	if apk, err := APKArch(v1.Platform{OS: "linux", Architecture: a, Variant: variant}); err == nil && !strings.Contains(variant, "/") {
		return OCIPlatform(apk)
	}
	return v1.Platform{}, fmt.Errorf("unknown architecture %q: want one of x86_64, aarch64, armv7, armhf, x86, ppc64le, s390x, riscv64, loongarch64 (or the OCI names amd64, arm64, arm/v7, arm/v6, 386, loong64)", arch)
}

// APKArch returns the apk architecture of an OCI platform, the reverse of
// OCIPlatform. The variant "v8" of arm64 is accepted; "arm" needs a variant
// (v6 or v7). The OS must be linux or empty.
func APKArch(p v1.Platform) (string, error) {
	if p.OS != "" && p.OS != "linux" {
		return "", fmt.Errorf("platform %s: reef images are linux only", p.String())
	}
	variant := p.Variant
	if p.Architecture == "arm64" && variant == "v8" {
		variant = ""
	}
	for _, a := range archMap {
		if p.Architecture == a.arch && variant == a.variant {
			return a.apk, nil
		}
	}
	if p.Architecture == "arm" && variant == "" {
		return "", fmt.Errorf("platform %s: arm needs a variant, v6 (armhf) or v7 (armv7)", p.String())
	}
	return "", fmt.Errorf("platform %s has no apk architecture", p.String())
}

// platformKey orders platforms in an index: by architecture, then variant,
// which sorts like apko's architecture strings (386, amd64, arm/v6, arm/v7,
// arm64, ...).
func platformKey(p v1.Platform) string {
	k := p.Architecture
	if p.Variant != "" {
		k += "/" + p.Variant
	}
	return k + "\x00" + p.OS + "\x00" + p.OSVersion
}

// archTag returns the suffix used for a platform in per-architecture tags:
// the OCI architecture, with "_"+variant when there is one (arm_v7).
func archTag(p v1.Platform) string {
	if p.Variant != "" {
		return p.Architecture + "_" + p.Variant
	}
	return p.Architecture
}
