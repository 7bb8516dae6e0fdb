package pipelines

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.yaml autoconf/*.yaml split/*.yaml
var files embed.FS

// HostSide lists the built-ins that the runner executes on the host, not
// as shell in the sandbox.
var HostSide = []string{"fetch", "git-checkout"}

// Read returns the definition of the built-in pipeline name, for example
// "autoconf/make" (without ".yaml"). ok is false when there is none.
func Read(name string) (data []byte, ok bool) {
	if !fs.ValidPath(name) || strings.HasSuffix(name, ".yaml") {
		return nil, false
	}
	data, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, false
	}
	return data, true
}

// Names returns the names of all built-in pipelines, sorted.
func Names() []string {
	var names []string
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			names = append(names, strings.TrimSuffix(p, ".yaml"))
		}
		return nil
	})
	slices.Sort(names)
	return names
}
