package image

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Timings records how long each phase of a build took, summed over
// architectures for the phases that run once per architecture.
type Timings struct {
	mu     sync.Mutex
	phases map[string]time.Duration
	order  []string
}

// Phase names used in Timings.
const (
	PhaseResolve  = "resolve"
	PhaseFetch    = "fetch"
	PhaseInstall  = "install"
	PhaseAssemble = "assemble"
	PhaseLayers   = "layers"
	PhaseSBOM     = "sbom"
	PhaseTotal    = "total"
)

func newTimings() *Timings { return &Timings{phases: map[string]time.Duration{}} }

// Add adds d to phase.
func (t *Timings) Add(phase string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.phases[phase]; !ok {
		t.order = append(t.order, phase)
	}
	t.phases[phase] += d
}

func (t *Timings) since(phase string, start time.Time) { t.Add(phase, time.Since(start)) }

// Get returns the time spent in phase.
func (t *Timings) Get(phase string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.phases[phase]
}

// String lists the phases in the order they were first recorded.
func (t *Timings) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for i, p := range t.order {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%s", p, t.phases[p].Round(time.Millisecond))
	}
	return b.String()
}

// LogAttrs returns the timings as slog attributes.
func (t *Timings) LogAttrs() []any {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []any
	for _, p := range t.order {
		out = append(out, slog.Duration(p, t.phases[p].Round(time.Millisecond)))
	}
	return out
}
