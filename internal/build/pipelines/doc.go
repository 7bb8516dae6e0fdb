// Package pipelines holds reef's built-in pipeline definitions, embedded
// in the binary: YAML files in melange's pipeline format (name, needs,
// inputs, pipeline), with melange's names and inputs and reef's own shell.
//
// fetch and git-checkout declare inputs only: they are executed by the
// runner on the host (the build sandbox has no network), from the typed
// step the compiler makes of them.
package pipelines
