package config

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/reef-dev/reef/internal/yamlstrict"
)

// MaxFileSize is the largest build or pipeline file read.
const MaxFileSize = 16 << 20

// Error is a problem with a build or pipeline file, located by file, line
// and dotted field path ("subpackages[1].pipeline[0].with.uri").
type Error = yamlstrict.Error

// Pos is where a mapping of a build or pipeline file was written: its
// file, line and field path, and the line of each of its keys.
type Pos = yamlstrict.Pos

// decodeDocument parses data as a single YAML document and decodes it into
// out, a pointer to a struct. With loose set unknown keys are ignored.
func decodeDocument(data []byte, file string, out any, loose bool) error {
	if len(data) > MaxFileSize {
		return &Error{File: file, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{File: file, Msg: "file is empty"}
		}
		return yamlstrict.SyntaxError(file, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return yamlstrict.SyntaxError(file, err)
	case !isEmptyDocument(&extra):
		return &Error{File: file, Line: extra.Line, Msg: "more than one YAML document; a build file is one document"}
	}
	return yamlstrict.Decode(&doc, out, yamlstrict.Options{File: file, Loose: loose})
}

func isEmptyDocument(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode {
		return len(n.Content) == 0 || len(n.Content) == 1 && n.Content[0].Kind == yaml.ScalarNode && n.Content[0].ShortTag() == "!!null"
	}
	return n.Kind == 0
}

// Similar reports whether a and b are close enough that one is likely a
// misspelling of the other; error messages use it to suggest names.
func Similar(a, b string) bool { return yamlstrict.Similar(a, b) }

// similar is Similar, under the name the tests use.
func similar(a, b string) bool { return yamlstrict.Similar(a, b) }
