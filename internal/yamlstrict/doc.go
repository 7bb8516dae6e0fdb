// Package yamlstrict decodes YAML documents into Go structs strictly, for
// configuration files whose mistakes should be reported, not ignored.
//
// Decode walks a document parsed by go.yaml.in/yaml/v3 into a yaml.Node
// and decodes it into a struct. Every key of a mapping must name a field
// of the struct (by its yaml tag), no key may appear twice, and every
// value must have the shape of its field. An error is an *Error naming the
// file, the line and the dotted path of the field
// ("subpackages[1].pipeline[0].uses"); an unknown key comes with the keys
// it may be a misspelling of (see Similar).
//
// Aliases and "<<" merge keys are followed; keys written in a mapping win
// over the keys it merges. A null decodes to the zero value. Limits on the
// nodes a document may expand to and on its nesting make hostile input
// (alias bombs, recursive aliases) fail with an error.
//
// A struct field of type Pos receives where the struct's mapping was
// written, and the line of each of its keys, for errors found after
// decoding; Options.Lines records the line of every value by field path
// instead.
//
// By default a scalar keeps its exact text, whatever YAML would resolve it
// to (version: 3.10 is "3.10", 00303 is "00303"), and numbers are decimal;
// Options.ResolveScalars resolves scalars as yaml.v3 does instead.
package yamlstrict
