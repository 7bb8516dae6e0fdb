package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/reef-dev/reef/internal/build/config"
	"github.com/reef-dev/reef/internal/build/pipelines"
)

// usesRE is what a uses: name may look like: slash-separated words, no
// "..", no leading slash, no ".yaml".
var usesRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9_+-][A-Za-z0-9_.+-]*(/[A-Za-z0-9_+-][A-Za-z0-9_.+-]*)*$`)
})

// resolve loads the definition of the pipeline uses names: from the first
// pipeline directory that has NAME.yaml, else from the built-ins.
func (c *compiler) resolve(uses string, pos config.Pos) (*definition, error) {
	if d, ok := c.defs[uses]; ok {
		return d, nil
	}
	if !usesRE().MatchString(uses) || strings.HasSuffix(uses, ".yaml") || strings.Contains(uses, "..") {
		return nil, pos.Errorf("uses", "%q is not a pipeline name: write names like autoconf/make, relative, without .yaml or ..", uses)
	}
	var d *definition
	for _, dir := range c.opts.PipelineDirs {
		f := filepath.Join(dir, filepath.FromSlash(uses)+".yaml")
		st, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, pos.Errorf("uses", "pipeline %s: %v", uses, err)
		}
		if !st.Mode().IsRegular() {
			return nil, pos.Errorf("uses", "pipeline %s: %s is not a regular file", uses, f)
		}
		if st.Size() > config.MaxFileSize {
			return nil, pos.Errorf("uses", "pipeline %s: %s is larger than %d bytes", uses, f, config.MaxFileSize)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, pos.Errorf("uses", "pipeline %s: %v", uses, err)
		}
		d = &definition{name: uses, file: f}
		if d.pipe, err = config.ParsePipeline(data, f); err != nil {
			return nil, err
		}
		break
	}
	if d == nil {
		data, ok := pipelines.Read(uses)
		if !ok {
			return nil, pos.Errorf("uses", "%s", c.notFound(uses))
		}
		d = &definition{name: uses, file: "builtin:" + uses + ".yaml", builtin: true}
		var err error
		if d.pipe, err = config.ParsePipeline(data, d.file); err != nil {
			return nil, fmt.Errorf("built-in pipeline %s: %w", uses, err)
		}
	}
	c.defs[uses] = d
	return d, nil
}

// notFound words the error for an unknown pipeline: the search path, and
// built-ins with a close name.
func (c *compiler) notFound(uses string) string {
	var where string
	if len(c.opts.PipelineDirs) == 0 {
		where = "no --pipeline-dir was given"
	} else {
		var tried []string
		for _, dir := range c.opts.PipelineDirs {
			tried = append(tried, filepath.Join(dir, filepath.FromSlash(uses)+".yaml"))
		}
		where = "looked for " + strings.Join(tried, ", ")
	}
	msg := fmt.Sprintf("unknown pipeline %q: %s, and reef has no built-in of that name", uses, where)
	var close []string
	for _, n := range pipelines.Names() {
		if config.Similar(uses, n) {
			close = append(close, n)
		}
	}
	if len(close) > 0 {
		msg += "; did you mean " + strings.Join(close, " or ") + "?"
	} else {
		msg += " (built-ins: " + strings.Join(pipelines.Names(), ", ") + ")"
	}
	return msg
}
