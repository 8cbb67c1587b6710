package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/kiln-ml/kiln/train"
)

// progress draws a one-line progress bar on a terminal and stays silent
// otherwise (logs and pipes get the per-epoch lines only).
type progress struct {
	w      io.Writer
	on     bool
	last   time.Time
	drawn  bool
	start  time.Time
	window int
}

func newProgress(w io.Writer) *progress {
	on := false
	if f, ok := w.(*os.File); ok {
		on = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, on: on, start: time.Now()}
}

func (p *progress) step(s train.StepInfo) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	frac := 0.0
	if s.StepsPerEpoch > 0 {
		frac = float64(s.StepInEpoch) / float64(s.StepsPerEpoch)
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.w, "\repoch %d [%s%s] %3.0f%% step %d loss %.4f lr %.3g",
		s.Epoch, strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*frac, s.Step, s.Loss, s.LR)
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
