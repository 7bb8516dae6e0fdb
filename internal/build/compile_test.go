package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/build/pipelines"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// compileDoc loads a build file from text and compiles it for x86_64.
func compileDoc(t *testing.T, doc string, opts Options) (*Build, error) {
	t.Helper()
	cfg, err := config.Parse([]byte(doc), "test.yaml", config.Options{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if opts.Arch == "" {
		opts.Arch = "x86_64"
	}
	return Compile(cfg, opts)
}

func mustCompile(t *testing.T, doc string, opts Options) *Build {
	t.Helper()
	b, err := compileDoc(t, doc, opts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return b
}

const header = "package:\n  name: hello\n  version: 2.10\n  epoch: 3\n  description: says hello\n"

func marshal(t *testing.T, b *Build) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	cfg, err := config.Load("testdata/golden/full.yaml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(cfg, Options{Arch: "x86_64", PipelineDirs: []string{"testdata/golden/pipelines"}, SourceDateEpoch: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	got := marshal(t, b)
	const golden = "testdata/golden/full.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("compiled build differs from %s (run go test -update and review the diff)\n%s", golden, got)
	}
	// Compiling twice gives the same bytes.
	b2, err := Compile(cfg, Options{Arch: "x86_64", PipelineDirs: []string{"testdata/golden/pipelines"}, SourceDateEpoch: 1700000000})
	if err != nil || !bytes.Equal(marshal(t, b2), got) {
		t.Error("compilation is not deterministic")
	}
}

// TestGoldenAarch64 checks what the golden file does differently on
// another architecture.
func TestGoldenAarch64(t *testing.T) {
	cfg, err := config.Load("testdata/golden/full.yaml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(cfg, Options{Arch: "arm64", PipelineDirs: []string{"testdata/golden/pipelines"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Arch != "aarch64" || b.Variables["host.triplet.gnu"] != "aarch64-unknown-linux-gnu" || b.Variables["build.goarch"] != "arm64" {
		t.Errorf("arch variables %v", b.Variables)
	}
	var names []string
	for _, o := range b.Packages {
		names = append(names, o.Name)
	}
	if !slices.Contains(names, "widget-arm-tools") {
		t.Errorf("packages %v: the aarch64-only subpackage is missing", names)
	}
	var runs []string
	for _, s := range b.Packages[0].Steps {
		runs = append(runs, s.Runs)
	}
	if !slices.Contains(runs, "echo never on x86_64") || !slices.Contains(runs, "echo other") || slices.Contains(runs, "echo x86_64") {
		t.Errorf("if: on aarch64 chose %q", runs)
	}
}

func TestExamplesAndFixtures(t *testing.T) {
	for _, f := range []string{
		"../../examples/hello.melange.yaml",
		"../../../shared/fixtures/melange-built-repo/private_packages/package-x.melange.yaml",
		"testdata/wolfi/libfoo.yaml",
		"testdata/wolfi/py3-ranges.yaml",
		"testdata/wolfi/go-app.yaml",
	} {
		cfg, err := config.Load(f, config.Options{})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, arch := range []string{"x86_64", "aarch64"} {
			if _, err := Compile(cfg, Options{Arch: arch, PipelineDirs: []string{"testdata/wolfi/pipelines"}}); err != nil {
				t.Errorf("%s on %s: %v", f, arch, err)
			}
		}
	}
}

func TestHelloExample(t *testing.T) {
	cfg, err := config.Load("../../examples/hello.melange.yaml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(cfg, Options{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	main := b.Packages[0]
	f := main.Steps[0].Fetch
	if main.Steps[0].Kind != KindFetch || f == nil || f.URI != "https://ftp.gnu.org/gnu/hello/hello-2.10.tar.gz" ||
		f.ExpectedSHA256 != "31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b" || f.StripComponents != 1 || !f.Extract || f.Directory != "/home/build" {
		t.Errorf("fetch step %+v %+v", main.Steps[0], f)
	}
	var uses []string
	for _, s := range main.Steps {
		uses = append(uses, s.Uses)
	}
	if want := []string{"fetch", "autoconf/configure", "autoconf/make", "autoconf/make-install", "strip"}; !slices.Equal(uses, want) {
		t.Errorf("steps %v, want %v", uses, want)
	}
	if !strings.Contains(main.Steps[1].Runs, "--host='x86_64-pc-linux-gnu'") || !strings.Contains(main.Steps[1].Runs, "--disable-nls") {
		t.Errorf("configure script:\n%s", main.Steps[1].Runs)
	}
	if !strings.Contains(main.Steps[3].Runs, "DESTDIR='/home/build/melange-out/hello'") {
		t.Errorf("make-install script:\n%s", main.Steps[3].Runs)
	}
	doc := b.Packages[1]
	if doc.Name != "hello-doc" || len(doc.Steps) != 1 || doc.Steps[0].Uses != "split/manpages" ||
		!strings.Contains(doc.Steps[0].Runs, "src='/home/build/melange-out/hello'") || !strings.Contains(doc.Steps[0].Runs, "dst='/home/build/melange-out/hello-doc'") {
		t.Errorf("hello-doc %+v", doc)
	}
	pk := b.Environment.Contents.Packages
	if want := []string{"build-base", "busybox", "autoconf", "automake", "libtool", "make", "binutils"}; !slices.Equal(pk, want) {
		t.Errorf("build packages %v, want %v", pk, want)
	}
	if main.Test == nil || !slices.Equal(main.Test.Environment.Contents.Packages, []string{"hello"}) {
		t.Errorf("test %+v", main.Test)
	}
}

// TestVariables checks every variable melange defines, in the main
// package and in a subpackage.
func TestVariables(t *testing.T) {
	doc := header + `  dependencies:
    provides:
      - greeting=${{ package.full-version }}
vars:
  v: x
options:
  fast: {}
  small: {}
data:
  - name: d
    items:
      k: val
pipeline:
  - runs: ok
subpackages:
  - name: hello-sub
    pipeline:
      - runs: ok
  - name: hello-${{range.key}}
    range: d
    pipeline:
      - runs: ok
`
	cfg, err := config.Parse([]byte(doc), "test.yaml", config.Options{BuildOptions: []string{"fast"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(cfg, Options{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	common := map[string]string{
		"package.name":             "hello",
		"package.version":          "2.10",
		"package.epoch":            "3",
		"package.full-version":     "2.10-r3",
		"package.description":      "says hello",
		"package.srcdir":           "/home/build",
		"targets.outdir":           "/home/build/melange-out",
		"targets.destdir":          "/home/build/melange-out/hello",
		"targets.package.hello":    "/home/build/melange-out/hello",
		"targets.package.hello-k":  "/home/build/melange-out/hello-k",
		"build.arch":               "x86_64",
		"build.goarch":             "amd64",
		"host.triplet.gnu":         "x86_64-pc-linux-gnu",
		"host.triplet.rust":        "x86_64-unknown-linux-gnu",
		"cross.triplet.gnu.glibc":  "x86_64-pc-linux-gnu",
		"cross.triplet.gnu.musl":   "x86_64-pc-linux-musl",
		"cross.triplet.rust.glibc": "x86_64-unknown-linux-gnu",
		"cross.triplet.rust.musl":  "x86_64-unknown-linux-musl",
		"vars.v":                   "x",
		"options.fast.enabled":     "true",
		"options.small.enabled":    "false",
	}
	main := map[string]string{
		"targets.contextdir": "/home/build/melange-out/hello",
		"context.name":       "hello",
	}
	sub := map[string]string{
		"targets.contextdir": "/home/build/melange-out/hello-sub",
		"targets.subpkgdir":  "/home/build/melange-out/hello-sub",
		"subpkg.name":        "hello-sub",
		"context.name":       "hello-sub",
	}
	ranged := map[string]string{"range.key": "k", "range.value": "val", "subpkg.name": "hello-k"}
	c := &compiler{cfg: cfg, arch: "x86_64"}
	c.base = c.baseVars("gnu")
	check := func(what string, s *scope, want ...map[string]string) {
		for _, m := range want {
			for name, v := range m {
				got, err := s.subst("${{" + name + "}}")
				if err != nil || got != v {
					t.Errorf("%s: ${{%s}} = %q, %v; want %q", what, name, got, err, v)
				}
			}
		}
	}
	check("main", c.mainScope(), common, main)
	check("subpackage", c.subScope(&cfg.Subpackages[0]), common, sub)
	check("range subpackage", c.subScope(&cfg.Subpackages[1]), common, ranged)
	for _, name := range []string{"targets.subpkgdir", "subpkg.name", "range.key", "inputs.x", "vars.nope"} {
		if _, err := c.mainScope().subst("${{" + name + "}}"); err == nil {
			t.Errorf("${{%s}} is defined in the main package", name)
		}
	}
	if got := b.Package.Dependencies.Provides[0]; got != "greeting=2.10-r3" {
		t.Errorf("provides %q", got)
	}
	// musl flavour and other architectures.
	for arch, want := range map[string][2]string{
		"aarch64": {"aarch64-unknown-linux-musl", "aarch64-unknown-linux-musl"},
		"armv7":   {"armv7l-unknown-linux-musleabihf", "armv7-unknown-linux-musleabihf"},
		"x86":     {"i486-pc-linux-musl", "i686-unknown-linux-musl"},
		"s390x":   {"s390x-ibm-linux-musl", "s390x-unknown-linux-musl"},
	} {
		b, err := Compile(cfg, Options{Arch: arch, Libc: "musl"})
		if err != nil {
			t.Fatal(err)
		}
		if b.Variables["host.triplet.gnu"] != want[0] || b.Variables["host.triplet.rust"] != want[1] {
			t.Errorf("%s: %s %s", arch, b.Variables["host.triplet.gnu"], b.Variables["host.triplet.rust"])
		}
	}
}

func TestSubstitutionErrors(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		line int
		want []string
	}{
		{header + "pipeline:\n  - runs: |\n      echo ok\n      echo ${{vars.nope}}\n", 7, []string{"test.yaml:7: field pipeline[0].runs: line 2 of the text: undefined variable ${{vars.nope}}", "vars:"}},
		{header + "vars:\n  version: 1\npipeline:\n  - runs: echo ${{vars.verison}}\n", 9, []string{"did you mean ${{vars.version}}?"}},
		{header + "pipeline:\n  - runs: echo ${{targets.subpkgdir}}\n", 7, []string{"only defined in subpackage pipelines"}},
		{header + "pipeline:\n  - runs: echo ${{range.key}}\n", 7, []string{"only defined in subpackages with a range:"}},
		{header + "pipeline:\n  - runs: echo ${{inputs.x}}\n", 7, []string{"only defined inside pipeline definitions"}},
		{header + "pipeline:\n  - runs: echo ${{ package.name\n", 7, []string{"must be closed by }}"}},
		{header + "pipeline:\n  - if: ${{build.arch}} = 'x'\n    runs: x\n", 7, []string{"field pipeline[0].if", "expected == or !="}},
		{header + "pipeline:\n  - if: ${{nope}} == 'x'\n    runs: x\n", 7, []string{"undefined variable ${{nope}}"}},
		{header + "pipeline:\n  - working-directory: ${{nope}}\n    runs: x\n", 7, []string{"field pipeline[0].working-directory"}},
		{header + "pipeline:\n  - environment:\n      A: ${{nope}}\n    runs: x\n", 8, []string{"field pipeline[0].environment.A"}},
		{header + "environment:\n  contents:\n    packages:\n      - a\n      - b-${{nope}}\n", 10, []string{"field environment.contents.packages[1]"}},
		{header + "environment:\n  environment:\n    X: ${{nope}}\n", 8, []string{"field environment.environment.X"}},
		{header + "  dependencies:\n    runtime:\n      - x-${{ nope }}\n", 8, []string{"field package.dependencies.runtime[0]"}},
		{header + "  dependencies:\n    provider-priority: ${{ package.name }}\n", 7, []string{"not a whole number"}},
		{header + "subpackages:\n  - name: s\n    if: ${{nope}} == ''\n", 8, []string{"field subpackages[0].if", "subpackage s"}},
		{header + "vars:\n  a: ${{b.c}}\npipeline:\n  - runs: ${{vars.a}}\n", 9, []string{"field pipeline[0].runs: undefined variable ${{b.c}}"}},
		{header + "vars:\n  a: ${{b.c}}\npipeline:\n  - runs: ${{ vars.a }}\n", 9, []string{"in the value of ${{vars.a}}: undefined variable ${{b.c}}"}},
	} {
		_, err := compileDoc(t, tc.doc, Options{})
		if err == nil {
			t.Errorf("no error for\n%s", tc.doc)
			continue
		}
		var e *config.Error
		if !errors.As(err, &e) || e.Line != tc.line {
			t.Errorf("error %q: want line %d\n%s", err, tc.line, tc.doc)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}
}

// TestConditions checks that steps and subpackages whose if: is false are
// dropped, with their nested steps and needs.
func TestConditions(t *testing.T) {
	doc := header + `vars:
  mode: fast
pipeline:
  - if: ${{build.arch}} == 'x86_64'
    runs: yes-arch
  - if: ${{build.arch}} == 'aarch64'
    needs:
      packages: [arm-only]
    pipeline:
      - runs: no-arch
  - if: ${{vars.mode}} == 'fast' && (${{build.arch}} == 'riscv64' || ${{build.arch}} != 'x86')
    runs: yes-mode
  - if: '"${{vars.mode}}" != "fast"'
    runs: no-mode
  - uses: autoconf/make
    if: ${{vars.mode}} == 'slow'
subpackages:
  - name: kept
    if: ${{subpkg.name}} == 'kept'
  - name: dropped
    if: ${{context.name}} == 'other'
`
	b := mustCompile(t, doc, Options{})
	var runs []string
	for _, s := range b.Packages[0].Steps {
		runs = append(runs, s.Runs)
	}
	if want := []string{"yes-arch", "yes-mode"}; !slices.Equal(runs, want) {
		t.Errorf("steps %q, want %q", runs, want)
	}
	if len(b.Packages) != 2 || b.Packages[1].Name != "kept" {
		t.Errorf("packages %v", b.Packages)
	}
	if slices.Contains(b.Environment.Contents.Packages, "arm-only") || slices.Contains(b.Environment.Contents.Packages, "make") {
		t.Errorf("needs of dropped steps kept: %v", b.Environment.Contents.Packages)
	}
	// The dropped subpackage is still a target others may refer to.
	if b.Variables["targets.package.dropped"] == "" {
		t.Error("targets.package.dropped missing")
	}
}

func TestAssertions(t *testing.T) {
	doc := header + `pipeline:
  - assertions:
      required-steps: 1
    pipeline:
      - if: ${{build.arch}} == 'x86_64'
        runs: a
      - if: ${{build.arch}} == 'aarch64'
        runs: b
`
	mustCompile(t, doc, Options{})
	_, err := compileDoc(t, strings.Replace(doc, "'aarch64'", "'x86_64'", 1), Options{})
	if err == nil || !strings.Contains(err.Error(), "test.yaml:7: field pipeline[0].assertions.required-steps: 2 nested steps run on x86_64, and the assertion requires 1") {
		t.Errorf("err = %v", err)
	}
}

func TestPipelineErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad/syntax.yaml"), "inputs: [\n")
	writeFile(t, filepath.Join(dir, "loop/a.yaml"), "pipeline:\n  - uses: loop/b\n")
	writeFile(t, filepath.Join(dir, "loop/b.yaml"), "pipeline:\n  - uses: loop/a\n")
	writeFile(t, filepath.Join(dir, "defaults.yaml"), "inputs:\n  a:\n    default: ${{inputs.b}}\n  b:\n    default: ${{inputs.a}}\npipeline:\n  - runs: x\n")
	for _, tc := range []struct {
		steps string
		want  []string
	}{
		{"  - uses: autoconf/make\n    with:\n      target: all\n", []string{"test.yaml:9: field pipeline[0].with.target", `pipeline autoconf/make (builtin:autoconf/make.yaml) has no input "target"; did you mean "targets"?; its inputs are dir, opts, targets`}},
		{"  - uses: fetch\n    with:\n      expected-sha256: 0000000000000000000000000000000000000000000000000000000000000000\n", []string{"test.yaml:8: field pipeline[0].with", `pipeline fetch requires input "uri"`}},
		{"  - uses: fetch\n    with:\n      uri: https://x/y.tgz\n", []string{"needs expected-sha256 or expected-sha512"}},
		{"  - uses: fetch\n    with:\n      uri: https://x/y.tgz\n      expected-sha256: abc\n", []string{"test.yaml:10: field pipeline[0].with.expected-sha256", "want 64 hexadecimal digits"}},
		{"  - uses: fetch\n    with:\n      uri: https://x/y.tgz\n      expected-none: true\n      strip-components: two\n", []string{"field pipeline[0].with.strip-components"}},
		{"  - uses: git-checkout\n    with:\n      repository: https://x/y\n      expected-commit: 1234\n", []string{"field pipeline[0].with.expected-commit", "40 hexadecimal digits"}},
		{"  - uses: git-checkout\n    with:\n      repository: https://x/y\n      tag: a\n      branch: b\n", []string{"branch or tag, not both"}},
		{"  - uses: git-checkout\n    with:\n      repository: https://x/y\n      cherry-picks: |\n        abc: nope\n", []string{"field pipeline[0].with.cherry-picks", "line 1: commit \"abc\""}},
		{"  - uses: git-checkout\n    with:\n      repository: https://x/y\n      cherry-picks: 0123456789abcdef0123456789abcdef01234567\n", []string{"want \"[branch/]commit: comment\""}},
		{"  - uses: split/manpagez\n", []string{"test.yaml:7: field pipeline[0].uses", `unknown pipeline "split/manpagez": looked for ` + filepath.Join(dir, "split/manpagez.yaml") + `, and reef has no built-in of that name; did you mean split/manpages?`}},
		{"  - uses: ../etc/passwd\n", []string{"is not a pipeline name"}},
		{"  - uses: /abs\n", []string{"is not a pipeline name"}},
		{"  - uses: strip.yaml\n", []string{"is not a pipeline name"}},
		{"  - uses: bad/syntax\n", []string{filepath.Join(dir, "bad/syntax.yaml") + ":1: invalid YAML"}},
		{"  - uses: loop/a\n", []string{"pipeline loop/a uses itself: loop/a → loop/b → loop/a"}},
		{"  - uses: defaults\n", []string{"refer to each other in a cycle"}},
		{"  - uses: strip\n    with:\n      opts: ${{inputs.opts}}\n", []string{"field pipeline[0].with.opts", "only defined inside pipeline definitions"}},
	} {
		_, err := compileDoc(t, header+"pipeline:\n"+tc.steps, Options{PipelineDirs: []string{dir}})
		if err == nil {
			t.Errorf("no error for\n%s", tc.steps)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}
	_, err := compileDoc(t, header+"pipeline:\n  - uses: nope\n", Options{})
	if err == nil || !strings.Contains(err.Error(), "no --pipeline-dir was given") || !strings.Contains(err.Error(), "built-ins: autoconf/configure,") {
		t.Errorf("err = %v", err)
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInheritance checks that nested steps inherit the with:, working
// directory and environment of the steps around them.
func TestInheritance(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "outer.yaml"), `inputs:
  a:
    default: outer-a
  b:
    required: true
working-directory: from-definition
environment:
  DEF: def
pipeline:
  - runs: outer ${{inputs.a}} ${{inputs.b}}
  - working-directory: /abs
    environment:
      DEF: child
    pipeline:
      - runs: grandchild ${{inputs.a}}
  - uses: inner
    with:
      c: ${{inputs.b}}-for-inner
`)
	writeFile(t, filepath.Join(dir, "inner.yaml"), `inputs:
  c: {}
  a:
    default: inner-a
pipeline:
  - runs: inner ${{inputs.a}} ${{inputs.b}} ${{inputs.c}}
`)
	b := mustCompile(t, header+`pipeline:
  - working-directory: top
    environment:
      TOP: top
      DEF: top
    pipeline:
      - uses: outer
        with:
          b: given
`, Options{PipelineDirs: []string{dir}})
	type want struct{ runs, wd, env string }
	var got []want
	for _, s := range b.Packages[0].Steps {
		var env []string
		for _, k := range []string{"TOP", "DEF"} {
			env = append(env, k+"="+s.Environment[k])
		}
		got = append(got, want{s.Runs, s.WorkDir, strings.Join(env, ",")})
	}
	exp := []want{
		{"outer outer-a given", "/home/build/from-definition", "TOP=top,DEF=def"},
		{"grandchild outer-a", "/abs", "TOP=top,DEF=child"},
		// The inner pipeline declares a, so its default wins over the
		// outer a; b is not declared there, so the outer b shows through.
		{"inner inner-a given given-for-inner", "/home/build/from-definition", "TOP=top,DEF=def"},
	}
	if !slices.Equal(got, exp) {
		t.Errorf("steps\n%v\nwant\n%v", got, exp)
	}
	s := b.Packages[0].Steps[2]
	if s.Uses != "inner" || len(s.Origin) != 4 || s.Origin[0].File != "test.yaml" || s.Origin[3].File != filepath.Join(dir, "inner.yaml") {
		t.Errorf("origin %s", s.Where())
	}
}

// TestPipelineDirOverride checks that --pipeline-dir pipelines win over
// built-ins of the same name, in the order the directories are given.
func TestPipelineDirOverride(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(d1, "split/manpages.yaml"), "needs:\n  packages: [mine]\npipeline:\n  - runs: my manpages for ${{context.name}}\n")
	writeFile(t, filepath.Join(d2, "split/manpages.yaml"), "pipeline:\n  - runs: second\n")
	writeFile(t, filepath.Join(d2, "fetch.yaml"), "inputs:\n  uri: {}\n  expected-none: {}\npipeline:\n  - runs: my fetch ${{inputs.uri}}\n")
	doc := header + "pipeline:\n  - uses: fetch\n    with:\n      uri: https://x\n      expected-none: yes\nsubpackages:\n  - name: hello-doc\n    pipeline:\n      - uses: split/manpages\n"
	b := mustCompile(t, doc, Options{PipelineDirs: []string{d1, d2}})
	st := b.Packages[1].Steps[0]
	if st.Runs != "my manpages for hello-doc" || st.Origin[1].File != filepath.Join(d1, "split/manpages.yaml") {
		t.Errorf("override: %+v", st)
	}
	if f := b.Packages[0].Steps[0]; f.Kind != KindRun || f.Runs != "my fetch https://x" {
		t.Errorf("an overridden fetch is no longer host-side: %+v", f)
	}
	if !slices.Contains(b.Environment.Contents.Packages, "mine") {
		t.Errorf("needs of the override missing: %v", b.Environment.Contents.Packages)
	}
	b = mustCompile(t, doc, Options{})
	if st := b.Packages[1].Steps[0]; !strings.HasPrefix(st.Origin[1].File, "builtin:") || b.Packages[0].Steps[0].Kind != KindFetch {
		t.Errorf("built-in: %+v", st)
	}
}

func TestNeeds(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tool.yaml"), "needs:\n  packages: ['${{inputs.pkg}}', busybox]\ninputs:\n  pkg:\n    default: go\npipeline:\n  - runs: x\n")
	b := mustCompile(t, header+`environment:
  contents:
    packages: [busybox, make]
pipeline:
  - uses: tool
  - uses: tool
    with:
      pkg: go-1.22
  - uses: autoconf/make
subpackages:
  - name: s
    pipeline:
      - uses: strip
test:
  environment:
    contents:
      packages: [bash]
  pipeline:
    - uses: tool
      with:
        pkg: test-only
`, Options{PipelineDirs: []string{dir}})
	if got, want := b.Environment.Contents.Packages, []string{"busybox", "make", "go", "go-1.22", "binutils"}; !slices.Equal(got, want) {
		t.Errorf("build packages %v, want %v", got, want)
	}
	if got, want := b.Packages[0].Test.Environment.Contents.Packages, []string{"bash", "hello", "test-only", "busybox"}; !slices.Equal(got, want) {
		t.Errorf("test packages %v, want %v", got, want)
	}
}

func TestGitCheckout(t *testing.T) {
	b := mustCompile(t, header+`pipeline:
  - uses: git-checkout
    working-directory: src
    with:
      repository: https://example.org/r.git
      branch: main
      expected-commit: 0123456789ABCDEF0123456789abcdef01234567
      recurse-submodules: true
      sparse-paths: |
        a
        b/c
      cherry-picks: |
        # comment

        3.10/89abcdef0123456789abcdef0123456789abcdef: fix # trailing
  - uses: git-checkout
    with:
      repository: https://example.org/r.git
      tag: v1
      depth: 5
      destination: /elsewhere
`, Options{})
	g := b.Packages[0].Steps[0].GitCheckout
	want := GitCheckout{
		Repository: "https://example.org/r.git", Destination: "/home/build/src", Depth: -1, Branch: "main",
		ExpectedCommit: "0123456789abcdef0123456789abcdef01234567", RecurseSubmodules: true, SubmoduleJobs: 1,
		CherryPicks: []CherryPick{{Branch: "3.10", Commit: "89abcdef0123456789abcdef0123456789abcdef", Comment: "fix"}},
		SparsePaths: []string{"a", "b/c"}, MaxRetries: 3, InitialBackoff: 2, MaxBackoff: 60,
	}
	if g == nil || !equalJSON(*g, want) {
		t.Errorf("git-checkout\n%+v\nwant\n%+v", g, want)
	}
	g = b.Packages[0].Steps[1].GitCheckout
	if g.Depth != 5 || g.Destination != "/elsewhere" || g.Tag != "v1" {
		t.Errorf("%+v", g)
	}
	if !slices.Contains(b.Environment.Contents.Packages, "git") {
		t.Errorf("git not in %v", b.Environment.Contents.Packages)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestTargetArchitecture(t *testing.T) {
	doc := header + "  target-architecture: [aarch64]\n"
	if _, err := compileDoc(t, doc, Options{Arch: "x86_64"}); err == nil || !strings.Contains(err.Error(), "does not build for x86_64") {
		t.Errorf("err = %v", err)
	}
	mustCompile(t, doc, Options{Arch: "aarch64"})
	mustCompile(t, header+"  target-architecture: [all]\n", Options{Arch: "s390x"})
	if _, err := compileDoc(t, header, Options{Arch: "mips"}); err == nil {
		t.Error("unknown arch accepted")
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	b := mustCompile(t, header+`environment:
  environment:
    HOME: /root
    GOFLAGS: ""
    SOURCE_DATE_EPOCH: "5"
  accounts:
    users:
      - username: build
        uid: 2000
`, Options{SourceDateEpoch: 42})
	e := b.Environment.Environment
	if e["HOME"] != "/root" || e["GOPATH"] != "/home/build/.cache/go" || e["SOURCE_DATE_EPOCH"] != "5" || e["GOFLAGS"] != "" {
		t.Errorf("environment %v", e)
	}
	if u := b.Environment.Accounts.Users; len(u) != 1 || u[0].UID != 2000 {
		t.Errorf("users %+v", u)
	}
	if g := b.Environment.Accounts.Groups; len(g) != 1 || g[0].GroupName != "build" || g[0].GID != 1000 {
		t.Errorf("groups %+v", g)
	}
	b = mustCompile(t, header, Options{SourceDateEpoch: 42})
	if b.Environment.Environment["SOURCE_DATE_EPOCH"] != "42" {
		t.Errorf("SOURCE_DATE_EPOCH %q", b.Environment.Environment["SOURCE_DATE_EPOCH"])
	}
}

// TestMelangeCompiled checks that a build file melange already compiled
// (as embedded in its packages) compiles: uses: next to nested steps.
func TestMelangeCompiled(t *testing.T) {
	b := mustCompile(t, header+`pipeline:
  - uses: git-checkout
    with:
      repository: https://x/y
      tag: "1"
    pipeline:
      - runs: melange's own clone script
  - uses: autoconf/make
    pipeline:
      - runs: make -j4
`, Options{})
	s := b.Packages[0].Steps
	if len(s) != 2 || s[0].Kind != KindGitCheckout || s[1].Runs != "make -j4" || s[1].Uses != "autoconf/make" {
		t.Errorf("steps %+v", s)
	}
}

// TestBuiltins checks that every built-in parses, that the host-side ones
// have no shell, and that the others compile in a subpackage.
func TestBuiltins(t *testing.T) {
	names := pipelines.Names()
	want := []string{"autoconf/configure", "autoconf/make", "autoconf/make-install", "fetch", "git-checkout", "patch",
		"split/alldocs", "split/bin", "split/debug", "split/dev", "split/infodir", "split/lib", "split/locales",
		"split/manpages", "split/static", "strip"}
	if !slices.Equal(names, want) {
		t.Errorf("built-ins %v, want %v", names, want)
	}
	for _, n := range names {
		data, _ := pipelines.Read(n)
		p, err := config.ParsePipeline(data, n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		host := slices.Contains(pipelines.HostSide, n)
		if host != (len(p.Pipeline) == 0) {
			t.Errorf("%s: %d steps", n, len(p.Pipeline))
		}
		if host {
			continue
		}
		with := ""
		if n == "patch" {
			with = "\n        with:\n          patches: fix.patch"
		}
		b := mustCompile(t, header+"subpackages:\n  - name: hello-x\n    pipeline:\n      - uses: "+n+with+"\n", Options{})
		if s := b.Packages[1].Steps; len(s) == 0 || strings.Contains(s[0].Runs, "${{") {
			t.Errorf("%s: steps %+v", n, s)
		}
	}
	if _, ok := pipelines.Read("../compile"); ok {
		t.Error("Read accepted a path outside the built-ins")
	}
}

// TestSelfReferentialVars checks that values referring to each other many
// times neither hang nor loop.
func TestSelfReferentialVars(t *testing.T) {
	many := strings.Repeat("${{ vars.a }}", 50)
	_, err := compileDoc(t, header+"vars:\n  a: '"+many+"'\npipeline:\n  - runs: ${{ vars.a }}\n", Options{})
	if err == nil || !strings.Contains(err.Error(), "refers to itself") {
		t.Errorf("err = %v", err)
	}
	b := mustCompile(t, header+"vars:\n  b: x\n  a: '"+strings.Repeat("${{ vars.b }}", 50)+"'\n  c: '"+strings.Repeat("${{ vars.a }}", 50)+"'\npipeline:\n  - runs: ${{ vars.c }}\n", Options{})
	if got := b.Packages[0].Steps[0].Runs; len(got) != 2500 {
		t.Errorf("runs has %d bytes", len(got))
	}
}

// TestWolfiEmbeddedConfig loads and compiles the .melange.yaml that
// melange embedded in a real Wolfi package: a file written by melange
// itself, already compiled (uses: next to expanded steps, locked
// packages).
func TestWolfiEmbeddedConfig(t *testing.T) {
	const apkFile = "../../../shared/fixtures/wolfi-packages/x86_64/perl-json-4.11-r0.apk"
	f, err := os.Open(apkFile)
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var data []byte
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no .melange.yaml in %s: %v", apkFile, err)
		}
		if h.Name == ".melange.yaml" {
			if data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	cfg, err := config.Parse(data, "perl-json/.melange.yaml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(cfg, Options{Arch: "x86_64", SkipTests: true})
	if err != nil {
		t.Fatal(err)
	}
	steps := b.Packages[0].Steps
	if len(steps) == 0 || steps[0].Kind != KindGitCheckout || steps[0].GitCheckout.Tag != "4.11" ||
		steps[0].GitCheckout.ExpectedCommit != "2e2812bb38a143ef2e0a553104c0a58a693f8ca7" {
		t.Errorf("first step %+v", steps[0])
	}
	if len(b.Packages) != 2 || b.Packages[1].Name != "perl-json-doc" {
		t.Errorf("packages %d", len(b.Packages))
	}
}

// TestConcurrentCompile compiles one configuration for several
// architectures at once, as a multi-arch build does (run with -race).
func TestConcurrentCompile(t *testing.T) {
	cfg, err := config.Load("testdata/golden/full.yaml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	archs := []string{"x86_64", "aarch64", "armv7", "ppc64le", "riscv64", "s390x"}
	errs := make(chan error, len(archs))
	for _, a := range archs {
		go func() {
			_, err := Compile(cfg, Options{Arch: a, PipelineDirs: []string{"testdata/golden/pipelines"}})
			errs <- err
		}()
	}
	for range archs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
