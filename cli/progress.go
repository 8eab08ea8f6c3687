package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/buzzmirror/buzzmirror/sync"
)

// progress shows how a long command advances: on a terminal one line that
// redraws itself (done of total, rate, time left); in a pipe or a log a
// line every few seconds instead.
type progress struct {
	w        io.Writer
	name     string
	terminal bool
	start    time.Time
	last     time.Time
	phase    string
	drawn    bool
}

// logEvery is how often progress writes a line when not on a terminal.
const logEvery = 5 * time.Second

func newProgress(env Env, name string) *progress {
	terminal := false
	if f, ok := env.Stderr.(*os.File); ok {
		terminal = isatty.IsTerminal(f.Fd())
	}
	return &progress{w: env.Stderr, name: name, terminal: terminal, start: time.Now()}
}

// rebuild is the rebuild's Progress hook.
func (p *progress) rebuild(r sync.RebuildProgress) {
	now := time.Now()
	newPhase := r.Phase != p.phase
	if !newPhase && now.Sub(p.last) < p.every() {
		return
	}
	p.phase, p.last = r.Phase, now
	var line string
	switch r.Phase {
	case "journal":
		line = fmt.Sprintf("%s: %s of %s events", p.name, count(r.Done), count(r.Total))
		if elapsed := now.Sub(p.start).Seconds(); elapsed > 0 && r.Done > 0 {
			rate := float64(r.Done) / elapsed
			line += fmt.Sprintf(", %s events/s", count(int64(rate)))
			if r.Total > r.Done {
				line += ", about " + (time.Duration(float64(r.Total-r.Done)/rate) * time.Second).Round(time.Second).String() + " left"
			}
		}
	case "summing up":
		line = fmt.Sprintf("%s: summing up conversations, %s done", p.name, count(r.Done))
	case "cleaning up":
		line = fmt.Sprintf("%s: the new mirror is live; removing the old one", p.name)
		if r.Done > 0 {
			line += fmt.Sprintf(" (%s rows left)", count(r.Done))
		}
	case "done":
		return
	default:
		line = fmt.Sprintf("%s: %s", p.name, r.Phase)
	}
	p.print(line)
}

func (p *progress) every() time.Duration {
	if p.terminal {
		return 200 * time.Millisecond
	}
	return logEvery
}

func (p *progress) print(line string) {
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// finish ends the redrawn line, so that what follows starts on its own.
func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
