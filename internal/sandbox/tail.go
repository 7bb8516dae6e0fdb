package sandbox

import (
	"bytes"
	"io"
	"sync"
)

// maxLineBytes bounds the length of one kept line; the rest is dropped.
const maxLineBytes = 4096

// tail keeps the last n lines written to it. Several writers may share
// one tail; each write is taken whole.
type tail struct {
	mu      sync.Mutex
	n       int
	lines   [][]byte // ring of complete lines
	next    int      // where the next complete line goes
	full    bool     // the ring has wrapped
	partial []byte   // the line being written
	cut     bool     // partial was truncated
}

func newTail(n int) *tail {
	return &tail{n: n, lines: make([][]byte, n)}
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLineBytes - len(t.partial); len(chunk) > room {
			chunk, t.cut = chunk[:room], true
		}
		t.partial = append(t.partial, chunk...)
		if i < 0 {
			break
		}
		t.push()
		p = p[i+1:]
	}
	return n, nil
}

// push ends the partial line.
func (t *tail) push() {
	line := bytes.TrimSuffix(t.partial, []byte("\r"))
	if t.cut {
		line = append(line, " [...]"...)
	}
	t.lines[t.next] = append(t.lines[t.next][:0], line...)
	t.next++
	if t.next == t.n {
		t.next, t.full = 0, true
	}
	t.partial, t.cut = t.partial[:0], false
}

// Lines returns the kept lines, oldest first, with an unfinished last line.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	if t.full {
		for _, l := range t.lines[t.next:] {
			out = append(out, string(l))
		}
	}
	for _, l := range t.lines[:t.next] {
		out = append(out, string(l))
	}
	if len(t.partial) > 0 {
		out = append(out, string(t.partial))
		if len(out) > t.n {
			out = out[1:]
		}
	}
	return out
}

// tee writes to w (when not nil) and to t. A failing w does not stop the
// step: its output still reaches the tail.
type tee struct {
	w io.Writer
	t *tail
}

func (x tee) Write(p []byte) (int, error) {
	if x.w != nil {
		_, _ = x.w.Write(p)
	}
	return x.t.Write(p)
}
