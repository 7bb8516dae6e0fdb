package solve

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/reef-dev/reef/internal/repo"
)

func TestIndexConcurrent(t *testing.T) {
	_, pkgs := loadAlpine(t)
	ix, err := NewIndex([]Repository{{Name: "main", Packages: pkgs}})
	if err != nil {
		t.Fatal(err)
	}
	worlds := [][]string{{"build-base"}, {"python3"}, {"nginx", "openssl-dev"}, {"alpine-base"}}
	var wg sync.WaitGroup
	results := make([]string, 8)
	for i := range results {
		wg.Go(func() {
			plan, err := ix.Solve(context.Background(), Request{World: worlds[i%len(worlds)], Arch: "aarch64"})
			if err != nil {
				t.Error(err)
				return
			}
			var names []string
			for _, sel := range plan.Packages {
				names = append(names, sel.Package.String())
			}
			results[i] = strings.Join(names, " ")
		})
	}
	wg.Wait()
	for i := range results[len(worlds):] {
		if results[i] != results[i+len(worlds)] {
			t.Errorf("concurrent solves of %v differ", worlds[i])
		}
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Solve(ctx, alpineRequest(t, "build-base"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestErrorJSON(t *testing.T) {
	pkgs, err := repo.ParseRecords(strings.NewReader("P:foo\nV:2.0-r0\nD:bar>=2\n\nP:foo\nV:1.0-r0\nD:baz\n\nP:bar\nV:1.4-r0\n\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Solve(context.Background(), Request{World: []string{"foo"}, Repos: []Repository{{Name: "main", Packages: pkgs}}})
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *Error", err)
	}
	data, err := json.Marshal(se)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Problems []struct {
			Chain []Link
			Kind  string
			Tried []struct {
				Package string
				Problem struct {
					Chain  []Link
					Kind   string
					Detail []string
				}
			}
		}
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	p := back.Problems[0]
	if p.Kind != "exhausted" || len(p.Tried) != 2 || p.Chain[0].Dep != "foo" {
		t.Fatalf("unexpected JSON: %s", data)
	}
	sub := p.Tried[0].Problem
	if p.Tried[0].Package != "foo-2.0-r0" || sub.Kind != "version" || sub.Chain[1].Dep != "bar>=2" {
		t.Fatalf("unexpected first attempt: %s", data)
	}
	if p.Tried[1].Problem.Kind != "missing" {
		t.Fatalf("unexpected second attempt: %s", data)
	}
}

func TestInputErrors(t *testing.T) {
	for _, tt := range []struct {
		req  Request
		want string
	}{
		{Request{World: []string{"foo>>1"}}, `world entry "foo>>1"`},
		{Request{World: []string{"foo@edge"}}, "no repository has the tag @edge"},
		{Request{World: []string{"foo"}, Repos: []Repository{{Name: "r", Packages: []*repo.Package{nil}}}}, "package 0 is nil"},
		{Request{World: []string{"foo"}, Installed: []*repo.Package{nil}}, "installed package 0 is nil"},
	} {
		_, err := Solve(context.Background(), tt.req)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Solve(%v) = %v, want an error containing %q", tt.req.World, err, tt.want)
		}
		var se *Error
		if errors.As(err, &se) {
			t.Errorf("input error %v is an *Error", err)
		}
	}
}

func TestEmptyWorld(t *testing.T) {
	plan, err := Solve(context.Background(), Request{})
	if err != nil || len(plan.Packages) != 0 {
		t.Fatalf("Solve(empty) = %v, %v", plan, err)
	}
}

// TestAlpineUnsatisfiable checks the explanation on the real index.
func TestAlpineUnsatisfiable(t *testing.T) {
	_, err := Solve(context.Background(), alpineRequest(t, "build-base", "python3>=4", "nginx", "pyhton3"))
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *Error", err)
	}
	want := `solve: cannot satisfy the world for aarch64:
  world requires pyhton3
  but no package provides pyhton3 (did you mean python3?)
  world requires python3>=4
  but the repositories have only python3-3.10.11-r0 (in alpine-3.17/main)`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}
