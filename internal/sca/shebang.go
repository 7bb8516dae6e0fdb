package sca

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
)

// ignoredInterpreters are interpreters that get no cmd: depend, as in
// melange: sh, python and python3 are symlinks that no package provides
// as commands, awk has several providers, and luajit several variants.
var ignoredInterpreters = map[string]bool{
	"sh": true, "python": true, "python3": true, "awk": true, "luajit": true,
}

// shebangCommand returns the base name of the interpreter that the "#!"
// line at the start of head names, or "" if head has no "#!" line or the
// interpreter is ignored. head holds the file's first bytes; like melange,
// only the first 80 are looked at.
//
// "#!/usr/bin/env NAME" names NAME, and so does "#!/usr/bin/env -S NAME
// ARGS..."; "/usr/bin/env" alone, or followed by more than one word
// without -S, is an error.
func shebangCommand(head []byte) (string, error) {
	if len(head) > headSize {
		head = head[:headSize]
	}
	line, ok := bytes.CutPrefix(head, []byte("#!"))
	if !ok {
		return "", nil
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	toks := strings.Fields(string(line))
	if len(toks) == 0 {
		return "", nil
	}
	bin := toks[0]
	if bin == "/usr/bin/env" {
		switch {
		case len(toks) == 1:
			return "", errors.New("#! line is only /usr/bin/env")
		case len(toks) == 2:
			bin = toks[1]
		case toks[1] == "-S" && !strings.HasPrefix(toks[2], "-"):
			bin = toks[2]
		default:
			return "", fmt.Errorf("#! line runs /usr/bin/env with several arguments (%s) and no -S", strings.Join(toks[1:], " "))
		}
	}
	name := path.Base(bin)
	if ignoredInterpreters[name] {
		return "", nil
	}
	return name, nil
}
