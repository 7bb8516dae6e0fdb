// Package build turns a melange build file into a build plan and, later,
// runs it.
//
// Compile takes a loaded configuration (package config) and an
// architecture and produces a *Build: the build environment (packages,
// including the needs of every pipeline used, environment variables and
// accounts) and, for the main package and each subpackage, the flat list
// of steps to run in order. Every uses: is expanded (pipelines are looked
// up in the --pipeline-dir directories first, then among the built-ins of
// package pipelines), every if: is evaluated, and every ${{…}} reference
// is substituted in the second, tolerant pass (package expr): a step's
// runs is the final script text.
//
// Steps are shell scripts to run in the sandbox, except fetch and
// git-checkout from the built-ins, which become typed steps (Step.Fetch,
// Step.GitCheckout) for the runner to execute on the host, where the
// network is.
//
// The JSON form of a Build (reef build --dry-run) is documented in
// docs/build.md.
package build
