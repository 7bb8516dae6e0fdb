package version

import "testing"

// benchPairs is a mix of version pairs as the resolver sees them.
var benchPairs = [][2]string{
	{"1.2.3-r0", "1.2.3-r1"},
	{"3.0.13-r0", "3.0.12-r4"},
	{"2.38-r10", "2.38-r10"},
	{"1.36.1-r29", "1.36.1-r30"},
	{"6.4_p20231125-r0", "6.4_p20230506-r2"},
	{"2.9.14_rc1-r0", "2.9.14-r0"},
	{"0.20240101.0-r2", "0.20231205.1-r0"},
	{"1.0.2u-r5", "1.0.2t-r3"},
	{"8.2.0015", "8.2.002"},
	{"122.0.6261.94-r0", "122.0.6261.128-r0"},
	{"1.0~a1b2c3d4-r0", "1.0~a1b2c3d5-r0"},
	{"20240207-r1", "20230311-r0"},
}

func BenchmarkCompare(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := &benchPairs[i%len(benchPairs)]
		Compare(p[0], p[1])
	}
}

func BenchmarkMatchVersion(b *testing.B) {
	cases := []struct {
		dep Dep
		v   string
	}{
		{Dep{Name: "a", Op: Greater | Equal, Version: "1.2.3-r0"}, "1.2.3-r2"},
		{Dep{Name: "b", Op: Equal, Version: "3.0.13-r0"}, "3.0.13-r0"},
		{Dep{Name: "c", Op: Equal | Fuzzy, Version: "2.38"}, "2.38.1-r4"},
		{Dep{Name: "d", Op: Less, Version: "6.5"}, "6.4_p20231125-r0"},
		{Dep{Name: "e", Op: Any}, "1.0-r0"},
		{Dep{Name: "f", Op: Greater | Equal | Fuzzy, Version: "122.0"}, "122.0.6261.94-r0"},
		{Dep{Name: "g", Op: Greater, Version: "2.9.14"}, "2.9.14_rc1-r0"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := &cases[i%len(cases)]
		c.dep.MatchVersion(c.v)
	}
}

func BenchmarkParseDep(b *testing.B) {
	in := []string{
		"musl",
		"so:libc.musl-x86_64.so.1",
		"openssl>=3.0.13-r0",
		"!busybox-suid",
		"python-3.12~3.12",
		"ca-certificates-bundle@local=20240226-r0",
		"glibc><Q1SX5rh3XKjSQWFPEuJS7ZImOTaXA=",
		"cmd:sh",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := ParseDep(in[i%len(in)]); err != nil {
			b.Fatal(err)
		}
	}
}
