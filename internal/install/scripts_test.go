package install

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/apk"
)

// helperSource is a static program that plays both /bin/sh (only the
// `sh -c CMD ARG0 ARGS...` form the installer uses) and the install
// scripts: run as a script, it writes /marker.<type> with what it saw.
const helperSource = `package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	if filepath.Base(os.Args[0]) == "sh" {
		if len(os.Args) >= 4 && os.Args[1] == "-c" && strings.HasPrefix(os.Args[2], "umask 022;") {
			syscall.Umask(0o22)
			err := syscall.Exec(os.Args[3], os.Args[3:], os.Environ())
			fmt.Fprintln(os.Stderr, "exec:", err)
		}
		os.Exit(127)
	}
	base := filepath.Base(os.Args[0])
	typ := base[strings.LastIndexByte(base, '.')+1:]
	if strings.HasPrefix(base, "failing-") {
		fmt.Println("failing on purpose")
		os.Exit(3)
	}
	um := syscall.Umask(0)
	_, err := os.Stat("/usr/share/app/file")
	out := fmt.Sprintf("script=%s args=%s PATH=%s env=%q umask=%04o uid=%d file-exists=%v\n",
		base, strings.Join(os.Args[1:], ","), os.Getenv("PATH"), os.Environ(), um, os.Getuid(), err == nil)
	if err := os.WriteFile("/marker."+typ, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// buildHelper compiles helperSource as a static binary.
func buildHelper(t *testing.T) []byte {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		var lerr error
		if goTool, lerr = exec.LookPath("go"); lerr != nil {
			t.Skip("no go tool to build the script helper")
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module helper\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(helperSource), 0o644)
	cmd := exec.Command(goTool, "build", "-o", "helper", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "helper"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestScriptsWithBubblewrap(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bwrap (bubblewrap) is not installed")
	}
	helper := string(buildHelper(t))
	shell := buildPkg(t, pkgInfo("shell", "1-r0", ""), nil, append(dirs("bin"),
		tEntry{Name: "bin/sh", Body: helper, Mode: 0o755}))
	appInfo := pkgInfo("app", "1.0-r0", "")
	app := buildPkg(t, appInfo, []apk.Script{
		{Name: ".pre-install", Mode: 0o755, Body: []byte(helper)},
		{Name: ".post-install", Mode: 0o755, Body: []byte(helper)},
	}, append(dirs("usr/share/app"), tEntry{Name: "usr/share/app/file", Body: "x"}))
	trigInfo := pkgInfo("trig", "1-r0", "")
	trigInfo.Triggers = []string{"/usr/share/*", "/nothing/*"}
	trig := buildPkg(t, trigInfo, []apk.Script{{Name: ".trigger", Mode: 0o755, Body: []byte(helper)}},
		append(dirs("usr/share/trig"), tEntry{Name: "usr/share/trig/f", Body: "t"}))
	failing := buildPkg(t, pkgInfo("failing", "1-r0", ""), []apk.Script{{Name: ".post-install", Mode: 0o755, Body: []byte(helper)}},
		append(dirs("usr"), tEntry{Name: "usr/failing", Body: "f"}))

	parent := t.TempDir()
	d, err := OpenDir(filepath.Join(parent, "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := &Installer{FS: d, Arch: "x86_64", RunScripts: true}
	_, err = in.Install(context.Background(), []Package{memPkg(shell), memPkg(trig), memPkg(app), memPkg(failing)}, Options{})
	var se *ScriptError
	if !errors.As(err, &se) || se.Package != "failing-1-r0" || se.Script != "post-install" || !strings.Contains(se.Output, "failing on purpose") {
		t.Fatalf("want the failing package's script error, got %v", err)
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(d.Dir(), name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(data)
	}
	pre := read("marker.pre-install")
	// bwrap always sets PWD; apk-tools passes PATH alone.
	want := "script=app-1.0-r0.pre-install args=1.0-r0 PATH=" + ScriptPath + ` env=["PATH=` + ScriptPath + `" "PWD=/"] umask=0022 uid=0 file-exists=false` + "\n"
	if pre != want {
		t.Errorf("pre-install saw\n%s\nwant\n%s", pre, want)
	}
	post := read("marker.post-install")
	if want := strings.ReplaceAll(strings.ReplaceAll(want, "pre-install", "post-install"), "false", "true"); post != want {
		t.Errorf("post-install saw\n%s\nwant\n%s", post, want)
	}
	// The trigger ran once, with the matching directories of the
	// database (trig was installed in this run).
	if got := read("marker.trigger"); !strings.Contains(got, "args=/usr/share/app,/usr/share/trig ") {
		t.Errorf("trigger saw %s", got)
	}
	// Scripts are removed after running, and kept in scripts.tar.
	if ents, _ := os.ReadDir(filepath.Join(d.Dir(), "lib/apk/exec")); len(ents) != 0 {
		t.Errorf("scripts left in lib/apk/exec: %v", ents)
	}
	db := readDB(t, d, "lib/apk/db")
	for _, p := range db {
		if p.Name == "failing" && p.Flags != "s" {
			t.Errorf("failing: f:%q, want s", p.Flags)
		}
		if p.Name != "failing" && p.Flags != "" {
			t.Errorf("%s: f:%q", p, p.Flags)
		}
	}
	f, err := os.Open(filepath.Join(d.Dir(), "lib/apk/db/scripts.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scripts, err := ReadScriptsTar(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range scripts {
		n += len(s)
	}
	if n != 4 {
		t.Errorf("scripts.tar holds %d scripts, want 4", n)
	}
	trigDB, _ := os.ReadFile(filepath.Join(d.Dir(), "lib/apk/db/triggers"))
	if !strings.HasSuffix(string(trigDB), " /usr/share/* /nothing/*\n") {
		t.Errorf("triggers = %q", trigDB)
	}
}

func TestScriptsNeedDirFS(t *testing.T) {
	in := &Installer{FS: NewMemFS(), RunScripts: true}
	_, err := in.Install(context.Background(), nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "scripts need a directory root") {
		t.Fatalf("got %v", err)
	}
}

// TestScriptsOffByDefault: scripts are stored, never run.
func TestScriptsOffByDefault(t *testing.T) {
	app := buildPkg(t, pkgInfo("app", "1.0-r0", ""), []apk.Script{{Name: ".post-install", Mode: 0o755, Body: []byte("#!/bin/sh\ntouch /marker\n")}},
		append(dirs("usr"), tEntry{Name: "usr/f", Body: "x"}))
	for _, root := range newRoots(t) {
		t.Run(root.name, func(t *testing.T) {
			if _, err := install(t, root.fs, Options{}, memPkg(app)); err != nil {
				t.Fatal(err)
			}
			if _, err := root.fs.Lstat("marker"); !isNotExist(err) {
				t.Errorf("script ran")
			}
			rc, err := root.fs.Open("lib/apk/db/scripts.tar")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			s, err := ReadScriptsTar(rc)
			if err != nil {
				t.Fatal(err)
			}
			db := readDB(t, root.fs, "lib/apk/db")
			name := ScriptsTarName(db[0], "post-install")
			if !strings.HasPrefix(name, "app-1.0-r0.Q1") || !strings.HasSuffix(name, "=.post-install") {
				t.Errorf("scripts.tar entry name %q", name)
			}
			if string(s[db[0].Checksum]["post-install"]) != "#!/bin/sh\ntouch /marker\n" {
				t.Errorf("scripts.tar = %v", s)
			}
		})
	}
}
