package install

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/reef-dev/reef/internal/solve"
)

// TestInstallPlan resolves a world against the melange-built fixture
// repository and installs the plan.
func TestInstallPlan(t *testing.T) {
	dir := filepath.Join(fixtures, "melange-built-repo/packages/x86_64")
	recs := loadRepoIndex(t, dir, filepath.Join(fixtures, "melange-built-repo/melange.rsa.pub"))
	repos := []solve.Repository{{Name: dir, Packages: recs}}
	world := []string{"replayout", "custom-ca-certs-2"}
	plan, err := solve.Solve(context.Background(), solve.Request{World: world, Repos: repos, Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	pkgs := FromPlan(plan, repos, func(sel solve.Selection) (io.ReadCloser, error) {
		return os.Open(filepath.Join(repos[sel.Repo].Name, sel.Package.Filename()))
	})
	fsys := NewMemFS()
	res, err := (&Installer{FS: fsys, Arch: "x86_64"}).Install(context.Background(), pkgs, Options{World: world})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Installed) != 3 {
		t.Fatalf("installed %v", res.Installed)
	}
	db, err := LoadInstalled(fsys)
	if err != nil || len(db) != 3 {
		t.Fatalf("LoadInstalled: %v, %d packages", err, len(db))
	}
	verifyDB(t, fsys, db)
	if none, err := LoadInstalled(NewMemFS()); none != nil || err != nil {
		t.Errorf("empty root: %v %v", none, err)
	}
}
