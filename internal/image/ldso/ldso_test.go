package ldso

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"testing/fstest"
)

func TestLibCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int // sign
	}{
		{"libc.so.6", "libc.so.6", 0},
		{"libc.so.6", "libc.so.10", -1},
		{"libc.so.10", "libc.so.9", 1},
		{"libfoo.so.1", "libfoo.so.1.2", -1},
		{"libfoo.so", "libfoo.so.1", -1},
		{"liba.so", "libb.so", -1},
		{"lib1.so", "liba.so", 1},       // a digit sorts after a letter
		{"liba.so", "lib1.so", -1},      //
		{"libx.so.007", "libx.so.7", 0}, // numbers, not strings
		{"libz.so.1.2.13", "libz.so.1.2.3", 1},
		{"", "a", -1},
		{"a", "", 1},
		{"libfoo.so.99999999999999999999", "libfoo.so.1", 1},
	}
	for _, tt := range tests {
		got := LibCmp(tt.a, tt.b)
		if sign(got) != tt.want {
			t.Errorf("LibCmp(%q, %q) = %d, want sign %d", tt.a, tt.b, got, tt.want)
		}
		if tt.want != 0 && sign(LibCmp(tt.b, tt.a)) != -tt.want {
			t.Errorf("LibCmp(%q, %q) not antisymmetric", tt.b, tt.a)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestMarshalParse(t *testing.T) {
	c := &Cache{Entries: []Entry{
		{Flags: 0x303, Key: "libz.so.1", Value: "/usr/lib/libz.so.1"},
		{Flags: 0x303, Key: "libc.so.6", Value: "/usr/lib/libc.so.6"},
		{Flags: 0x303, Key: "libc.so.6", Value: "/lib/libc.so.6"},
	}}
	data := c.Marshal()
	if string(data[:20]) != "glibc-ld.so.cache1.1" {
		t.Fatalf("magic = %q", data[:20])
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Entries, c.Entries) {
		t.Fatalf("round trip: got %v", got.Entries)
	}
	if v := got.Lookup("libc.so.6", 0x303); v != "/usr/lib/libc.so.6" {
		t.Errorf("Lookup libc.so.6 = %q", v)
	}
	if v := got.Lookup("libz.so.1", 0x303); v != "/usr/lib/libz.so.1" {
		t.Errorf("Lookup libz.so.1 = %q", v)
	}
	if v := got.Lookup("libnope.so", 0x303); v != "" {
		t.Errorf("Lookup libnope.so = %q", v)
	}
	if _, err := Parse(data[:30]); err == nil {
		t.Error("Parse accepted a truncated cache")
	}
}

func TestNoConfNoCache(t *testing.T) {
	if Needed(fstest.MapFS{"usr/lib/libc.so.6": {Data: []byte("x")}}) {
		t.Error("Needed without etc/ld.so.conf")
	}
	if !Needed(fstest.MapFS{"etc/ld.so.conf": {Data: []byte("")}}) {
		t.Error("not Needed with etc/ld.so.conf")
	}
}

// hostLibDir returns the host's multiarch library directory, or skips.
func hostLibDir(t *testing.T) string {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs an x86-64 Linux host for real libraries")
	}
	for _, d := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/lib64"} {
		if _, err := os.Stat(filepath.Join(d, "libc.so.6")); err == nil {
			return d
		}
	}
	t.Skip("no host glibc found (libc.so.6)")
	return ""
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("host library missing: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, root, target, name string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// makeRoot builds a small root from the host's libraries: a usrmerged
// /lib, an include'd conf directory, versioned libraries with soname
// links, a dev link, a linker script and a library present in two
// directories.
func makeRoot(t *testing.T) string {
	lib := hostLibDir(t)
	root := t.TempDir()
	write(t, root, "etc/ld.so.conf", "# test\n/usr/lib\ninclude ld.so.conf.d/*.conf\n")
	write(t, root, "etc/ld.so.conf.d/10-opt.conf", "/opt/lib/\n/does/not/exist\n")
	write(t, root, "etc/ld.so.conf.d/ignored.txt", "/srv/lib\n")
	symlink(t, root, "usr/lib", "lib")
	copyFile(t, filepath.Join(lib, "libc.so.6"), filepath.Join(root, "usr/lib/libc.so.6"))
	copyFile(t, filepath.Join(lib, "libm.so.6"), filepath.Join(root, "usr/lib/libm.so.6"))
	copyFile(t, filepath.Join(lib, "libz.so.1.2.13"), filepath.Join(root, "usr/lib/libz.so.1.2.13"))
	symlink(t, root, "libz.so.1.2.13", "usr/lib/libz.so.1")
	symlink(t, root, "/usr/lib/libz.so.1", "usr/lib/libz.so")
	write(t, root, "usr/lib/libc.so", "/* GNU ld script */\nGROUP ( /lib/libc.so.6 )\n")
	write(t, root, "usr/lib/libbroken.so.1", "not an ELF file")
	copyFile(t, filepath.Join(lib, "libz.so.1.2.13"), filepath.Join(root, "opt/lib/libz.so.1"))
	copyFile(t, filepath.Join(lib, "libm.so.6"), filepath.Join(root, "srv/lib/libm.so.6"))
	return root
}

func TestGenerateHostLibraries(t *testing.T) {
	root := makeRoot(t)
	res, err := Generate(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Cache.Entries {
		got = append(got, e.Key+" => "+e.Value)
		if e.Flags != 0x303 {
			t.Errorf("%s: flags %#x, want 0x303", e.Key, e.Flags)
		}
	}
	want := []string{
		"libz.so.1 => /usr/lib/libz.so.1",
		"libz.so.1 => /opt/lib/libz.so.1",
		"libz.so => /usr/lib/libz.so", // the development link, as ldconfig has it
		"libm.so.6 => /usr/lib/libm.so.6",
		"libc.so.6 => /usr/lib/libc.so.6",
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries:\n got %q\nwant %q", got, want)
	}
	c, err := Parse(res.Cache.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Lookup("libz.so.1", 0x303); v != "/usr/lib/libz.so.1" {
		t.Errorf("Lookup(libz.so.1) = %q", v)
	}
}

// TestMatchesLdconfig compares the cache with the one glibc's own ldconfig
// writes for the same root.
func TestMatchesLdconfig(t *testing.T) {
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		if _, err2 := os.Stat("/sbin/ldconfig"); err2 != nil {
			t.Skip("ldconfig not installed")
		}
		ldconfig = "/sbin/ldconfig"
	}
	root := makeRoot(t)
	res, err := Generate(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ldconfig, "-r", root, "-X", "-C", "/etc/ld.so.cache.glibc").CombinedOutput()
	if err != nil {
		t.Skipf("ldconfig -r failed (needs root?): %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(root, "etc/ld.so.cache.glibc"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Parse(data)
	if err != nil {
		t.Fatalf("parsing glibc's cache: %v", err)
	}
	// ldconfig also scans its own (Debian multiarch) system directories,
	// which this root does not have, so the entries must be the same.
	if !slices.Equal(ref.Entries, res.Cache.Entries) {
		t.Errorf("entries differ from ldconfig's:\n ours  %v\n glibc %v", res.Cache.Entries, ref.Entries)
	}
	// And glibc must read ours: ldconfig -p prints a cache.
	ours := filepath.Join(root, "etc/ld.so.cache")
	if err := os.WriteFile(ours, res.Cache.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(ldconfig, "-p", "-C", ours).CombinedOutput()
	if err != nil {
		t.Fatalf("ldconfig -p rejects our cache: %v\n%s", err, out)
	}
	t.Logf("ldconfig -p:\n%s", out)
}

func TestGenerateMapFS(t *testing.T) {
	// Without libraries, with includes and links: an empty cache, no error.
	fsys := fstest.MapFS{
		"etc/ld.so.conf":          {Data: []byte("include /etc/ld.so.conf.d/*.conf\n")},
		"etc/ld.so.conf.d/a.conf": {Data: []byte("include /etc/ld.so.conf\n/usr/local/lib\n")},
		"usr/local/lib/README":    {Data: []byte("hi")},
		"usr/lib/libnot.so.1":     {Data: []byte("\x7fELF garbage")},
	}
	res, err := Generate(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cache.Entries) != 0 {
		t.Errorf("entries = %v", res.Cache.Entries)
	}
	if len(res.Warnings) == 0 {
		t.Error("no warning for a corrupt ELF file or include loop")
	}
}
