package sbom

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const fixtures = "../../../shared/fixtures"

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// The official SPDX 2.3 JSON schema, spdx/spdx-spec
// schemas/spdx-schema-2-3.json (a specification artifact of the SPDX
// project; see testdata/README.md).
var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

func spdxSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open("testdata/spdx-schema-2.3.json")
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("spdx-schema-2.3.json", doc); err != nil {
			schemaErr = err
			return
		}
		schema, schemaErr = c.Compile("spdx-schema-2.3.json")
	})
	if schemaErr != nil {
		t.Fatalf("SPDX schema: %v", schemaErr)
	}
	return schema
}

// schemaCheck validates JSON bytes against the SPDX 2.3 schema.
func schemaCheck(t testing.TB, data []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("unmarshal for schema: %v", err)
	}
	return spdxSchema(t).Validate(v)
}

// mustValid writes d and checks it against the schema and Validate.
func mustValid(t *testing.T, d *Document) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := schemaCheck(t, buf.Bytes()); err != nil {
		t.Fatalf("not valid against the SPDX 2.3 schema: %v", err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// Reading it back gives the same bytes.
	back, err := Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, buf.Bytes()) {
		t.Fatal("Parse + Write does not round-trip")
	}
	return buf.Bytes()
}

// golden compares data with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("%s differs from the golden file; if intended, run go test ./internal/sbom -update and review the diff", name)
	}
}

// fixtureAPK is what the tests take from a real .apk.
type fixtureAPK struct {
	pkg  Package
	sbom []byte // /var/lib/db/sbom/*.spdx.json, or nil
}

// readAPK reads .PKGINFO and the embedded SBOM of a real package. The
// package's gzip members concatenate to one tar stream.
func readAPK(t testing.TB, path string) fixtureAPK {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out fixtureAPK
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch {
		case h.Name == ".PKGINFO":
			out.pkg = parsePkgInfo(t, tr)
		case strings.HasPrefix(h.Name, "var/lib/db/sbom/") && strings.HasSuffix(h.Name, ".spdx.json"):
			out.sbom, err = io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if out.pkg.Name == "" {
		t.Fatalf("%s: no .PKGINFO", path)
	}
	return out
}

func parsePkgInfo(t testing.TB, r io.Reader) Package {
	var p Package
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			continue
		}
		switch k {
		case "pkgname":
			p.Name = v
		case "pkgver":
			p.Version = v
		case "arch":
			p.Arch = v
		case "origin":
			p.Origin = v
		case "license":
			p.License = v
		case "pkgdesc":
			p.Description = v
		case "url":
			p.URL = v
		case "datahash":
			p.DataHash = v
		case "builddate":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			p.BuildDate = time.Unix(n, 0)
		}
	}
	return p
}

func parseDoc(t testing.TB, data []byte) *Document {
	t.Helper()
	d, err := Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// decode returns the generic JSON form of d, for assertions on the output.
func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
