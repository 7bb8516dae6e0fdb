package solve_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/solve"
)

func ExampleSolve() {
	index := `P:foo
V:2.0-r0
D:bar>=2

P:foo
V:1.0-r0
D:bar

P:bar
V:1.4-r0
p:so:libbar.so.1=1.4

`
	pkgs, err := repo.ParseRecords(strings.NewReader(index), "APKINDEX")
	if err != nil {
		panic(err)
	}
	plan, err := solve.Solve(context.Background(), solve.Request{
		World: []string{"foo"},
		Repos: []solve.Repository{{Name: "main", Packages: pkgs}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, sel := range plan.Packages {
		fmt.Println(sel.Package, sel.Reasons)
	}
	// Output:
	// bar-1.4-r0 [foo-1.0-r0 depends on bar]
	// foo-1.0-r0 [world: foo]
}

func ExampleError() {
	index := `P:foo
V:1.0-r0
D:bar>=2

P:bar
V:1.4-r0

`
	pkgs, _ := repo.ParseRecords(strings.NewReader(index), "APKINDEX")
	_, err := solve.Solve(context.Background(), solve.Request{
		World: []string{"foo"},
		Repos: []solve.Repository{{Name: "main", Packages: pkgs}},
	})
	fmt.Println(err)
	// Output:
	// solve: cannot satisfy the world:
	//   world requires foo
	//   foo-1.0-r0 (in main) depends on bar>=2
	//   but the repositories have only bar-1.4-r0 (in main)
}
