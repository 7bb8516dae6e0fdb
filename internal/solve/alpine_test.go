package solve

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func alpineRequest(tb testing.TB, world ...string) Request {
	_, pkgs := loadAlpine(tb)
	return Request{
		World: world,
		Repos: []Repository{{Name: "alpine-3.17/main", Packages: pkgs}},
		Arch:  "aarch64",
	}
}

func TestAlpine(t *testing.T) {
	tests := []struct {
		world []string
		want  []string // some packages the plan must hold
	}{
		{[]string{"alpine-base"}, []string{"alpine-base", "busybox", "musl", "apk-tools", "alpine-baselayout", "openrc"}},
		{[]string{"build-base"}, []string{"build-base", "gcc", "binutils", "musl-dev", "make", "g++", "libc-dev", "fortify-headers"}},
		{[]string{"python3"}, []string{"python3", "musl", "libffi", "sqlite-libs"}},
		{[]string{"nginx"}, []string{"nginx", "pcre", "zlib", "libssl3"}},
		// install_if on real data: -doc packages, nginx-openrc, ssl_client.
		{[]string{"docs", "bash", "openrc", "nginx"}, []string{"bash-doc", "nginx-doc", "nginx-openrc", "ssl_client", "mandoc", "busybox-binsh"}},
		{[]string{"build-base", "python3", "nginx", "openssl-dev"}, []string{"openssl-dev", "libssl3", "libcrypto3", "pkgconf", "nginx", "python3", "gcc"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.world, "+"), func(t *testing.T) {
			req := alpineRequest(t, tt.world...)
			plan := solveOK(t, req)
			if err := checkPlan(req, plan); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, sel := range plan.Packages {
				names = append(names, sel.Package.Name)
			}
			for _, n := range tt.want {
				if !slices.Contains(names, n) {
					t.Errorf("plan lacks %s: %v", n, names)
				}
			}
			again, err := Solve(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := planLines(req, plan), planLines(req, again); !slices.Equal(a, b) {
				t.Errorf("not deterministic:\n%v\n%v", a, b)
			}
			t.Logf("%d packages", len(plan.Packages))
		})
	}
}
