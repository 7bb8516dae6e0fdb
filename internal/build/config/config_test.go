package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// minimal is a build file header that every test document extends.
const minimal = "package:\n  name: p\n  version: 1.0.0\n  epoch: 0\n"

func parse(t *testing.T, doc string) *Configuration {
	t.Helper()
	cfg, err := Parse([]byte(doc), "test.yaml", Options{})
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return cfg
}

func parseErr(t *testing.T, doc string) *Error {
	t.Helper()
	_, err := Parse([]byte(doc), "test.yaml", Options{})
	if err == nil {
		t.Fatalf("Parse succeeded, want an error\n%s", doc)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e
}

// TestExactScalars checks that scalars keep their text whatever YAML would
// resolve them to.
func TestExactScalars(t *testing.T) {
	for _, s := range []string{
		"3.10", "00303", "1e3", "yes", "no", "on", "off", "y", "n", "true", "False", "0x1F", "0o17", "017",
		"1_000", ".inf", "-.Inf", ".NaN", "2001-12-14", "12:30:00", "1.0", "-0", "+1", "~x", "1.10",
	} {
		doc := fmt.Sprintf("package:\n  name: p\n  version: 1.0\n  epoch: 0\n  description: %s\nvars:\n  v: %s\ndata:\n  - name: d\n    items:\n      %s: %s\nsubpackages:\n  - range: d\n    name: sub\n    description: ${{range.key}}\n", s, s, s, s)
		cfg, err := Parse([]byte(doc), "t.yaml", Options{})
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if cfg.Package.Description != s || cfg.Vars["v"] != s || cfg.Data[0].Items[s] != s || cfg.Subpackages[0].Description != s {
			t.Errorf("%s: description %q, var %q, items %v, subpackage description %q", s, cfg.Package.Description, cfg.Vars["v"], cfg.Data[0].Items, cfg.Subpackages[0].Description)
		}
		if cfg.Package.Version != "1.0" {
			t.Errorf("version %q", cfg.Package.Version)
		}
	}
}

func TestVersionText(t *testing.T) {
	for _, v := range []string{"3.10", "00303", "1.10", "0.20", "2026c", "1.0_git20240101", "'1.10'", `"6.0_p1"`} {
		cfg := parse(t, "package:\n  name: p\n  version: "+v+"\n  epoch: 3\n")
		want := strings.Trim(v, `'"`)
		if cfg.Package.Version != want || cfg.Package.FullVersion() != want+"-r3" {
			t.Errorf("version %s: got %q / %q", v, cfg.Package.Version, cfg.Package.FullVersion())
		}
	}
}

func TestNonStringsInStringFields(t *testing.T) {
	cfg := parse(t, minimal+`
environment:
  environment:
    CGO_ENABLED: 0
    FLAG: true
    F: 1.50
  accounts:
    run-as: 65532
    users:
      - username: u
        uid: 65532
pipeline:
  - runs: true
  - uses: fetch
    with:
      uri: https://example.com/x.tar.gz
      expected-sha256: 0000000000000000000000000000000000000000000000000000000000000000
      extract: false
      strip-components: 0
  - uses: git-checkout
    with:
      repository: https://example.com/r
      depth: -1
      recurse-submodules: yes
  - uses: x
`)
	env := cfg.Environment.Environment
	if env["CGO_ENABLED"] != "0" || env["FLAG"] != "true" || env["F"] != "1.50" {
		t.Errorf("environment %v", env)
	}
	if cfg.Environment.Accounts.RunAs != "65532" || cfg.Environment.Accounts.Users[0].UID != 65532 {
		t.Errorf("accounts %+v", cfg.Environment.Accounts)
	}
	if cfg.Pipeline[0].Runs != "true" {
		t.Errorf("runs %q", cfg.Pipeline[0].Runs)
	}
	w := cfg.Pipeline[1].With
	if w["extract"] != "false" || w["strip-components"] != "0" {
		t.Errorf("with %v", w)
	}
	w = cfg.Pipeline[2].With
	if w["depth"] != "-1" || w["recurse-submodules"] != "yes" {
		t.Errorf("with %v", w)
	}
}

func TestNulls(t *testing.T) {
	cfg := parse(t, `package:
  name: p
  version: 1.0.0
  epoch: 0
  description:
  dependencies:
  copyright:
    - license: MIT
      attestation: null
environment:
  contents:
    repositories: ~
    packages:
      - busybox
data:
  - name: py
    items:
      3.10:
      3.11: ~
      3.12: "5"
subpackages:
  - range: py
    name: py${{range.key}}-p
    dependencies:
      runtime:
      provider-priority: ${{range.value}}
test:
  pipeline:
    - uses: x
      with:
`)
	if cfg.Package.Description != "" || cfg.Package.Copyright[0].Attestation != "" || cfg.Environment.Contents.Repositories != nil {
		t.Errorf("nulls not empty: %+v", cfg.Package)
	}
	items := cfg.Data[0].Items
	if len(items) != 3 || items["3.10"] != "" || items["3.11"] != "" || items["3.12"] != "5" {
		t.Errorf("items %v", items)
	}
	if len(cfg.Subpackages) != 3 || cfg.Subpackages[0].Dependencies.ProviderPriority != "" {
		t.Errorf("subpackages %+v", cfg.Subpackages)
	}
	if cfg.Test.Pipeline[0].With != nil {
		t.Errorf("with %v", cfg.Test.Pipeline[0].With)
	}
}

func TestMultiLineStrings(t *testing.T) {
	cfg := parse(t, minimal+"pipeline:\n"+
		"  - runs: |\n      a\n        \tb\n      c\n"+
		"  - runs: |-\n      x\n      y\n\n"+
		"  - runs: >\n      folded\n      line\n\n      para\n"+
		"  - runs: >-\n      f\n      g\n"+
		"  - runs: \"q\\tq\\n\"\n"+
		"  - runs: 'it''s'\n"+
		"  - runs: |\n      héllo ünïcode\n")
	want := []string{"a\n  \tb\nc\n", "x\ny", "folded line\npara\n", "f g", "q\tq\n", "it's", "héllo ünïcode\n"}
	for i, w := range want {
		if got := cfg.Pipeline[i].Runs; got != w {
			t.Errorf("runs[%d] = %q, want %q", i, got, w)
		}
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	cfg := parse(t, minimal+`
vars:
  base: &b 1.2
  copy: *b
environment:
  environment: &env
    A: "1"
    B: "2"
test:
  environment:
    environment:
      <<: *env
      B: "3"
`)
	if cfg.Vars["copy"] != "1.2" {
		t.Errorf("alias: %v", cfg.Vars)
	}
	e := cfg.Test.Environment.Environment
	if e["A"] != "1" || e["B"] != "3" {
		t.Errorf("merge: %v", e)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal + "vars:\n  a0: &a0 x\n")
	// Each level doubles the expansion: 2^30 values if fully expanded.
	fmt.Fprintf(&b, "update:\n  version_data:\n")
	b.WriteString("    l0: &l0 [*a0, *a0]\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&b, "    l%d: &l%d [*l%d, *l%d]\n", i, i, i-1, i-1)
	}
	_, err := Parse([]byte(b.String()), "bomb.yaml", Options{})
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v, want a size error", err)
	}
}

// TestStrictErrors checks unknown keys, wrong shapes and other decoding
// errors: each names the file, line and field.
func TestStrictErrors(t *testing.T) {
	for _, tc := range []struct {
		doc   string
		line  int
		field string
		msg   string
	}{
		{"package:\n  name: p\n  verison: 1\n", 3, "package.verison", `did you mean "version"?`},
		{minimal + "pipelines:\n  - runs: x\n", 5, "pipelines", `did you mean "pipeline"?`},
		{minimal + "pipeline:\n  - run: x\n", 6, "pipeline[0].run", `did you mean "runs"?`},
		{minimal + "pipeline:\n  - runs: x\n    workdir: y\n", 7, "pipeline[0].workdir", `allowed keys are assertions, environment, if, inputs, label, name, needs, pipeline, runs, uses, with, working-directory`},
		{minimal + "subpackages:\n  - name: x\n    dependencies:\n      runtimes: [a]\n", 8, "subpackages[0].dependencies.runtimes", `"runtime"`},
		{minimal + "environment:\n  contents:\n    package: [a]\n", 7, "environment.contents.package", `did you mean "packages"?`},
		{minimal + "bogus: 1\n", 5, "bogus", "allowed keys are"},
		{"package:\n  name: p\n  version: 1\n  epoch: -1\n", 4, "package.epoch", "non-negative whole number"},
		{"package:\n  name: p\n  version: 1\n  epoch: one\n", 4, "package.epoch", "non-negative whole number"},
		{minimal + "pipeline:\n  runs: x\n", 6, "pipeline", "want a list"},
		{minimal + "vars: [a, b]\n", 5, "vars", "want a mapping"},
		{minimal + "pipeline:\n  - runs: [a]\n", 6, "pipeline[0].runs", "want text, found a list"},
		{minimal + "package:\n  name: q\n", 5, "package", "appears twice (first on line 1)"},
		{minimal + "vars:\n  a: 1\n  a: 2\n", 7, "vars.a", "appears twice"},
		{minimal + "subpackages:\n  - name: x\n    options:\n      no-provides: maybe\n", 8, "subpackages[0].options.no-provides", "want true or false"},
		{minimal + "pipeline:\n  - runs: x\n   bad indent: y\n", 5, "", "invalid YAML"},
		{minimal + "---\npackage: {}\n", 5, "", "more than one YAML document"},
		{"", 0, "", "empty"},
		{"- a\n- b\n", 1, "", "want a mapping"},
		{"package:\n  version: 1\n", 2, "package.name", "missing"},
		{"package:\n  name: p\n", 2, "package.version", "missing"},
		{"package:\n  name: p q\n  version: 1\n", 2, "package.name", "not a valid package name"},
		{"package:\n  name: p\n  version: 1.0-r1\n", 3, "package.version", "package.epoch"},
		{"package:\n  name: p\n  version: v1\n", 3, "package.version", "not a valid apk version"},
		{minimal + "  target-architecture: [amd64]\n", 5, "package.target-architecture[0]", `write "x86_64"`},
		{minimal + "  copyright:\n    - paths: ['*']\n", 6, "package.copyright[0].license", "missing"},
		{minimal + "  dependencies:\n    provider-priority: high\n", 6, "package.dependencies.provider-priority", "whole number"},
		{minimal + "  timeout: soon\n", 5, "package.timeout", "not a duration"},
		{minimal + "  setcap:\n    - path: /usr/bin/x\n      add: {cap_sys_time: +ep}\n      reason: r\n", 7, "package.setcap[0].add.cap_sys_time", "not allowed"},
		{minimal + "  setcap:\n    - path: /usr/bin/x\n      add: {cap_net_raw: +ep}\n", 6, "package.setcap[0].reason", "missing"},
		{minimal + "  cpe:\n    vendor: gnu\n", 5, "package.cpe", "together"},
		{minimal + "pipeline:\n  - uses: a\n    runs: b\n", 7, "pipeline[0].runs", "not both"},
		{minimal + "pipeline:\n  - runs: b\n    with: {a: b}\n", 7, "pipeline[0].with", "no uses"},
		{minimal + "subpackages:\n  - name: p\n", 6, "subpackages[0].name", "main package"},
		{minimal + "subpackages:\n  - name: x\n  - name: x\n", 7, "subpackages[1].name", "used twice"},
		{minimal + "subpackages:\n  - range: nope\n    name: x-${{range.key}}\n", 6, "subpackages[0].range", "no data entry"},
		{minimal + "data:\n  - name: d\n    items: {a: b}\n  - name: d\n    items: {}\n", 8, "data[1].name", "defined twice"},
		{minimal + "subpackages:\n  - name: x-${{ vars.a }}\n", 6, "subpackages[0].name", "could not resolve"},
		{minimal + "vars:\n  a: ${{vars.b}}\n  b: ${{vars.a}}\n", 6, "vars.a", "cycle"},
		{minimal + "vars:\n  'a b': x\n", 6, "vars.a b", "var name"},
		{minimal + "var-transforms:\n  - from: ${{package.version}}\n    match: '('\n    replace: x\n    to: y\n", 7, "var-transforms[0].match", "regular expression"},
		{minimal + "var-transforms:\n  - from: ${{build.arch}}\n    match: x\n    replace: x\n    to: y\n", 6, "var-transforms[0].from", "undefined variable ${{build.arch}}"},
		{minimal + "var-transforms:\n  - from: x\n    match: x\n    replace: x\n", 6, "var-transforms[0].to", "missing"},
	} {
		e := parseErr(t, tc.doc)
		if e.File != "test.yaml" || e.Line != tc.line || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("doc:\n%s\ngot  %s (line %d, field %q)\nwant line %d, field %q, message containing %q", tc.doc, e, e.Line, e.Field, tc.line, tc.field, tc.msg)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := parseErr(t, "package:\n  name: p\n  verison: 1\n")
	want := `test.yaml:3: field package.verison: unknown key "verison" in package; did you mean "version"?`
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e, want)
	}
}

func TestVarTransforms(t *testing.T) {
	cfg := parse(t, `package:
  name: ruby3.2-foo
  version: 1.2.3.4
  epoch: 0
vars:
  gem: foo
  full: ${{vars.gem}}-${{package.version}}
var-transforms:
  - from: ${{package.name}}
    match: ^ruby(\d\.\d+)-.*
    replace: $1
    to: rubyMM
  - from: ${{package.version}}
    match: ^(\d+)\.(\d+)\.(\d+)\.(\d+)$
    replace: ${1}.${2}.${3}
    to: mangled
  - from: ${{vars.mangled}}
    match: \.
    replace: _
    to: underscored
  - from: ${{ vars.underscored }}-${{vars.gem}}
    match: (.*)
    replace: ${1}-${{host.triplet.gnu}}
    to: later
  - from: x
    match: x
    replace: y
    to: gem
environment:
  contents:
    packages:
      - ruby-${{vars.rubyMM}}-dev
      - ${{vars.full}}
pipeline:
  - runs: echo ${{vars.underscored}} ${{vars.later}}
`)
	want := map[string]string{
		"rubyMM": "3.2", "mangled": "1.2.3", "underscored": "1_2_3",
		"later": "1_2_3-foo-${{host.triplet.gnu}}", "gem": "y", "full": "foo-1.2.3.4",
	}
	for k, v := range want {
		if cfg.Vars[k] != v {
			t.Errorf("vars.%s = %q, want %q", k, cfg.Vars[k], v)
		}
	}
	if got := cfg.Environment.Contents.Packages; got[0] != "ruby-3.2-dev" || got[1] != "foo-1.2.3.4" {
		t.Errorf("packages %v", got)
	}
	if got := cfg.Pipeline[0].Runs; got != "echo 1_2_3 1_2_3-foo-${{host.triplet.gnu}}" {
		t.Errorf("runs %q", got)
	}
}

func TestRanges(t *testing.T) {
	cfg := parse(t, `package:
  name: py3-foo
  version: 1.0.0
  epoch: 0
data:
  - name: py-versions
    items:
      3.13: "313"
      3.10: "310"
      3.9:
      3.11: "311"
      10: "7"
subpackages:
  - range: py-versions
    name: py${{range.key}}-foo
    description: foo for python ${{range.key}}
    dependencies:
      provider-priority: ${{range.value}}
      provides:
        - py3-foo=${{package.full-version}}
    pipeline:
      - runs: echo ${{range.key}} ${{ range.key }} ${{targets.subpkgdir}}
  - range: ""
    name: plain
`)
	var names []string
	for _, sp := range cfg.Subpackages {
		names = append(names, sp.Name)
	}
	want := []string{"py10-foo", "py3.10-foo", "py3.11-foo", "py3.13-foo", "py3.9-foo", "plain"}
	if !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	sp := cfg.Subpackages[1]
	if sp.Description != "foo for python 3.10" || sp.Dependencies.ProviderPriority != "310" || sp.Dependencies.Provides[0] != "py3-foo=1.0.0-r0" {
		t.Errorf("%+v", sp)
	}
	if sp.Pipeline[0].Runs != "echo 3.10 ${{ range.key }} ${{targets.subpkgdir}}" {
		t.Errorf("runs %q", sp.Pipeline[0].Runs)
	}
	if sp.RangeItem == nil || sp.RangeItem.Key != "3.10" || sp.RangeItem.Value != "310" || sp.Range != "" {
		t.Errorf("range item %+v", sp.RangeItem)
	}
	if cfg.Subpackages[4].Dependencies.ProviderPriority != "" || cfg.Subpackages[5].RangeItem != nil {
		t.Error("null value or plain subpackage wrong")
	}
	if sp.Pos.Line != 14 || sp.Pos.Path != "subpackages[0]" {
		t.Errorf("pos %+v", sp.Pos)
	}
}

func TestBuildOptionsAndVars(t *testing.T) {
	doc := minimal + `
vars:
  a: from-file
  b: ${{vars.a}}
environment:
  contents:
    packages: [x, y]
options:
  small:
    vars:
      a: from-option
    environment:
      contents:
        packages:
          add: [z]
          remove: [x]
pipeline:
  - runs: ${{vars.b}}
`
	cfg, err := Parse([]byte(doc), "t.yaml", Options{BuildOptions: []string{"small"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Pipeline[0].Runs != "from-option" || !slices.Equal(cfg.Environment.Contents.Packages, []string{"y", "z"}) || !slices.Equal(cfg.EnabledOptions, []string{"small"}) {
		t.Errorf("runs %q, packages %v, options %v", cfg.Pipeline[0].Runs, cfg.Environment.Contents.Packages, cfg.EnabledOptions)
	}
	cfg, err = Parse([]byte(doc), "t.yaml", Options{Vars: map[string]string{"a": "from-cli"}})
	if err != nil || cfg.Pipeline[0].Runs != "from-cli" {
		t.Errorf("vars override: %v %v", err, cfg)
	}
	if _, err := Parse([]byte(doc), "t.yaml", Options{BuildOptions: []string{"big"}}); err == nil || !strings.Contains(err.Error(), "defines small") {
		t.Errorf("unknown option: %v", err)
	}
}

func TestFirstPassLeavesSecondPassNames(t *testing.T) {
	cfg := parse(t, minimal+`
vars:
  v: val
pipeline:
  - name: step ${{vars.v}}
    if: ${{vars.v}} == 'val'
    uses: x
    with:
      a: ${{vars.v}} ${{targets.destdir}} ${{ vars.v }} ${{inputs.x}}
    working-directory: ${{vars.v}}
    environment:
      E: ${{package.name}}
    needs:
      packages: ["${{vars.v}}"]
`)
	p := cfg.Pipeline[0]
	if p.Name != "step val" || p.If != "${{vars.v}} == 'val'" || p.With["a"] != "val ${{targets.destdir}} ${{ vars.v }} ${{inputs.x}}" ||
		p.WorkDir != "val" || p.Environment["E"] != "p" || p.Needs.Packages[0] != "val" {
		t.Errorf("%+v", p)
	}
}

// TestOpenblasDescription checks the one expression-like reference in
// Wolfi: it is not a valid reference, and descriptions only get the first
// pass, so it survives literally (as in melange).
func TestOpenblasDescription(t *testing.T) {
	cfg := parse(t, minimal+`data:
  - name: ilp
    items:
      "64": x
subpackages:
  - range: ilp
    name: p-${{range.key}}
    description: 'BLAS${{range.key == "64" && " (ILP64 interface)" || ""}}'
`)
	if got := cfg.Subpackages[0].Description; got != `BLAS${{range.key == "64" && " (ILP64 interface)" || ""}}` {
		t.Errorf("description %q", got)
	}
}

func TestParsePipelineLoose(t *testing.T) {
	p, err := ParsePipeline([]byte(`name: custom
description: not a pipeline field
needs:
  packages: [a]
inputs:
  x:
    description: an input
    default: 1
    required: true
    extra: ignored
pipeline:
  - runs: echo ${{inputs.x}}
    description: also ignored
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "custom" || p.Inputs["x"].Default != "1" || !p.Inputs["x"].Required || len(p.Pipeline) != 1 || p.Pipeline[0].Pos.Line != 12 {
		t.Errorf("%+v", p)
	}
}

func TestUpdateIsLoose(t *testing.T) {
	cfg := parse(t, minimal+`
update:
  enabled: true
  something-new: 1
  github:
    identifier: org/repo
    use-tag: true
    future-key: x
  release-monitor:
    identifier: 12345
`)
	if !cfg.Update.Enabled || cfg.Update.GitHub.Identifier != "org/repo" || cfg.Update.ReleaseMonitor.Identifier != "12345" {
		t.Errorf("%+v", cfg.Update)
	}
}

func TestLoadFixture(t *testing.T) {
	cfg, err := Load("../../../../shared/fixtures/melange-built-repo/private_packages/package-x.melange.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Package.Name != "package-x" || !slices.Equal(cfg.Package.TargetArchitecture, []string{"aarch64", "x86_64"}) {
		t.Errorf("%+v", cfg.Package)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

func TestSimilar(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"verison", "version", true}, {"run", "runs", true}, {"working_directory", "working-directory", true},
		{"WITH", "with", true}, {"bogus", "epoch", false}, {"x", "if", false},
	} {
		if got := similar(tc.a, tc.b); got != tc.want {
			t.Errorf("similar(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
