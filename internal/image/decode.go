package image

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/reef-dev/reef/internal/yamlstrict"
)

// decodeYAML decodes the first YAML document of data into out (a pointer
// to a struct) strictly, with package yamlstrict: every mapping key must
// name a field (by its yaml tag), no key may repeat, and every value must
// have the field's type, scalars resolved as YAML resolves them (0755 is
// octal). Errors are *ConfigError values with the line and the dotted
// field path. pos receives where each field's value is written.
func decodeYAML(data []byte, file string, out any, pos map[string]Pos) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return configError(yamlstrict.SyntaxError(file, err))
	}
	if doc.Kind == 0 {
		return nil // empty file
	}
	lines := map[string]int{}
	err := yamlstrict.Decode(&doc, out, yamlstrict.Options{
		File:           file,
		ResolveScalars: true,
		Lines:          lines,
		UnknownKey:     unknownField,
		DuplicateKey:   func(string, int) string { return "defined twice in the same mapping" },
	})
	for field, line := range lines {
		pos[field] = Pos{file, line}
	}
	return configError(err)
}

// configError turns a *yamlstrict.Error into a *ConfigError.
func configError(err error) error {
	var e *yamlstrict.Error
	if errors.As(err, &e) {
		return &ConfigError{File: e.File, Line: e.Line, Field: e.Field, Msg: e.Msg}
	}
	return err
}

// unknownField words the error for key, which is not one of the known
// fields of its mapping.
func unknownField(key, _ string, known []string) string {
	names := slices.Sorted(slices.Values(known))
	list := strings.Join(names, ", ")
	for _, n := range names {
		if yamlstrict.Similar(key, n) {
			return fmt.Sprintf("unknown field; did you mean %q? (known fields here: %s)", n, list)
		}
	}
	return fmt.Sprintf("unknown field (known fields here: %s)", list)
}
