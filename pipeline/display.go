package pipeline

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// FormatTable renders the steps as a table, one line a step after a
// header: name, kind, state, time (running steps count from their start
// to now) and the reason or error. It is pure, for the live display and
// its tests.
func FormatTable(steps []StepResult, now time.Time) []string {
	wName, wKind := len("STEP"), len("KIND")
	for _, s := range steps {
		wName, wKind = max(wName, len(s.Name)), max(wKind, len(s.Kind))
	}
	row := func(name, kind, state, secs, note string) string {
		return strings.TrimRight(fmt.Sprintf("%-*s  %-*s  %-8s %7s  %s", wName, name, wKind, kind, state, secs, note), " ")
	}
	lines := []string{row("STEP", "KIND", "STATE", "TIME", "")}
	for _, s := range steps {
		secs := ""
		switch {
		case (s.State == Running || s.State == Checking) && !s.Started.IsZero():
			secs = fmt.Sprintf("%.1fs", now.Sub(s.Started).Seconds())
		case s.State == Done || s.State == Failed || s.State == Cached:
			secs = fmt.Sprintf("%.1fs", s.Seconds)
		}
		note := s.Reason
		if s.Error != "" {
			note = s.Error
		}
		if len(note) > 100 {
			note = note[:97] + "..."
		}
		lines = append(lines, row(s.Name, s.Kind, s.State.String(), secs, note))
	}
	return lines
}

// Display shows a pipeline run as it goes: on a terminal, a table of the
// steps redrawn in place; elsewhere, one plain line per change of a
// step's state. Update and Redraw may be called from any goroutine.
type Display struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	steps []StepResult
	drawn int
	now   func() time.Time
}

// NewDisplay returns a Display writing to w; tty selects the live table.
func NewDisplay(w io.Writer, tty bool) *Display {
	return &Display{w: w, tty: tty, now: time.Now}
}

// Update takes the steps' latest results (Runner.OnChange).
func (d *Display) Update(steps []StepResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.tty {
		for i, s := range steps {
			if i < len(d.steps) && d.steps[i].State == s.State {
				continue
			}
			if s.State == Pending || s.State == Checking {
				continue
			}
			fmt.Fprintln(d.w, plainLine(s))
		}
		d.steps = append(d.steps[:0], steps...)
		return
	}
	d.steps = append(d.steps[:0], steps...)
	d.redraw()
}

// Redraw refreshes the table's times; it does nothing off a terminal.
func (d *Display) Redraw() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tty {
		d.redraw()
	}
}

func (d *Display) redraw() {
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\033[%dA", d.drawn)
	}
	lines := FormatTable(d.steps, d.now())
	for _, l := range lines {
		b.WriteString("\r\033[K" + l + "\n")
	}
	d.drawn = len(lines)
	io.WriteString(d.w, b.String())
}

func plainLine(s StepResult) string {
	line := fmt.Sprintf("pipeline: %s (%s) %s", s.Name, s.Kind, s.State)
	switch s.State {
	case Done, Failed, Cached:
		line += fmt.Sprintf(" in %.1fs", s.Seconds)
	}
	switch {
	case s.Error != "":
		line += ": " + s.Error
	case s.Reason != "":
		line += ": " + s.Reason
	}
	return line
}
