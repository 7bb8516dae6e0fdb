package version_test

import (
	"fmt"

	"github.com/reef-dev/reef/internal/version"
)

func ExampleCompare() {
	fmt.Println(version.Compare("1.0_rc1", "1.0"))
	fmt.Println(version.Compare("1.0-r1", "1.0_p1"))
	fmt.Println(version.Compare("1.05", "1.5"))
	fmt.Println(version.Compare("2.10", "2.9"))
	// Output:
	// -1
	// -1
	// -1
	// 1
}

func ExampleParseDep() {
	d, err := version.ParseDep("!openssl@edge>=3.0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q %q %q %q %v\n", d.Name, d.Tag, d.Op, d.Version, d.Conflict)
	fmt.Println(d.MatchVersion("3.0.13-r0"), d.MatchVersion("1.1.1w-r0"))
	fmt.Println(d)
	// Output:
	// "openssl" "edge" ">=" "3.0" true
	// true false
	// !openssl@edge>=3.0
}

func ExampleDep_MatchVersion() {
	d, _ := version.ParseDep("python3~3.12")
	for _, v := range []string{"3.12", "3.12.2-r1", "3.12_rc1", "3.13.0", "3.1"} {
		fmt.Println(v, d.MatchVersion(v))
	}
	// Output:
	// 3.12 true
	// 3.12.2-r1 true
	// 3.12_rc1 true
	// 3.13.0 false
	// 3.1 false
}
