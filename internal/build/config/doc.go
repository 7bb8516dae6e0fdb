// Package config reads melange build files: the YAML format of a package
// build (package, environment, pipeline, subpackages, data, vars,
// var-transforms, options, test, update) and the format of pipeline
// definition files (name, needs, inputs, pipeline).
//
// Load decodes a build file strictly: an unknown key is an error naming the
// key, its line and the allowed keys that are close to it, and a value of
// the wrong shape is an error naming the field. Scalars keep their exact
// text, whatever YAML would resolve them to: version: 3.10 stays "3.10",
// 00303 stays "00303", yes stays "yes". A null is an empty value.
//
// Load then applies the first, exact-text substitution pass (see package
// expr) with the variables known without an architecture: package.name,
// package.version, package.epoch, package.full-version,
// package.description, vars.* (including the results of var-transforms)
// and, inside subpackages expanded from a range, range.key and
// range.value. References it cannot resolve are kept for the second pass,
// which the compiler (package build) runs per architecture and package.
//
// Subpackages with a range: are expanded here, one per item of the named
// data entry, in the order of the item keys sorted as strings.
package config
