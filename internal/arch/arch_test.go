package arch

import (
	"reflect"
	"runtime"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"x86_64": "x86_64", "amd64": "x86_64", "linux/amd64": "x86_64", " AMD64 ": "x86_64",
		"arm64": "aarch64", "arm64/v8": "aarch64", "aarch64": "aarch64",
		"386": "x86", "i386": "x86", "arm/v7": "armv7", "arm": "armv7", "arm/v6": "armhf",
		"loong64": "loongarch64", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "sparc", "x86_32", "arm/v5"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", bad, got)
		}
	}
}

func TestEveryNameParsesToItself(t *testing.T) {
	for _, a := range All {
		if got, err := Parse(a); err != nil || got != a {
			t.Errorf("Parse(%q) = %q, %v", a, got, err)
		}
	}
}

func TestHost(t *testing.T) {
	want := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if want != "" && Host() != want {
		t.Errorf("Host() = %q, want %q", Host(), want)
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList([]string{"amd64,aarch64", "x86_64", " arm/v7 "})
	if err != nil || !reflect.DeepEqual(got, []string{"aarch64", "armv7", "x86_64"}) {
		t.Errorf("ParseList = %v, %v", got, err)
	}
	if got, _ := ParseList([]string{"all"}); !reflect.DeepEqual(got, All) {
		t.Errorf("ParseList(all) = %v", got)
	}
	if got, _ := ParseList([]string{"host"}); !reflect.DeepEqual(got, []string{Host()}) {
		t.Errorf("ParseList(host) = %v", got)
	}
	if _, err := ParseList([]string{"x86_64,nope"}); err == nil {
		t.Error("ParseList accepted an unknown arch")
	}
}
