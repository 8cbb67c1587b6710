package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/kiln-ml/kiln/validate"
)

// showReadProgress draws the share of the data files read on a terminal
// (nothing when stderr is not one) until the returned stop is called.
func showReadProgress(stderr io.Writer, files []string, o *validate.Options) (stop func()) {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	var total int64
	for _, p := range files {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	var done atomic.Int64
	o.Progress = func(n int64) { done.Add(n) }
	quit, finished := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		drawn := false
		for {
			select {
			case <-quit:
				if drawn {
					fmt.Fprint(stderr, "\r\033[K")
				}
				return
			case <-t.C:
				if time.Since(start) < time.Second || total == 0 {
					continue
				}
				d := done.Load()
				fmt.Fprintf(stderr, "\rreading %3.0f%%  %d / %d MB  %.0f MB/s", 100*float64(d)/float64(total), d>>20, total>>20, float64(d)/1e6/time.Since(start).Seconds())
				drawn = true
			}
		}
	}()
	return func() { close(quit); <-finished }
}

func printStats(w io.Writer, st *validate.Stats) {
	fmt.Fprintf(w, "%d rows", st.Rows)
	if st.RaggedRows > 0 {
		fmt.Fprintf(w, ", %d ragged rows left out (first: %s)", st.RaggedRows, st.RaggedExamples[0])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tTYPE\tCOUNT\tMISSING\tDISTINCT\tMEAN\tSTD\tMIN\tMEDIAN\tMAX\tTOP")
	for _, f := range st.Features {
		n := f.Numeric
		mean, std, lo, med, hi := "", "", "", "", ""
		if n.N > 0 {
			mean, std, lo, hi = g(n.Mean), g(n.Std), g(n.Min), g(n.Max)
			med = g(n.Quantiles[len(n.Quantiles)/2])
		}
		top := ""
		if len(f.String.Top) > 0 {
			var parts []string
			for _, vc := range f.String.Top[:min(3, len(f.String.Top))] {
				parts = append(parts, fmt.Sprintf("%s (%d)", trunc(vc.Value, 24), vc.Count))
			}
			top = strings.Join(parts, ", ")
		}
		distinct := fmt.Sprint(f.Distinct)
		if !f.DistinctExact {
			distinct = "~" + distinct
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Type, f.Count,
			percent(f.Missing, st.Rows), distinct, mean, std, lo, med, hi, top)
	}
	tw.Flush()
}

func g(x float64) string { return fmt.Sprintf("%.4g", x) }

// percent is a/b as a percentage with one decimal; a share that rounds
// to 0.0% or 100.0% but is not reads "<0.1%" or ">99.9%", so that 2
// missing values in 15,002 do not read as none.
func percent(a, b int64) string {
	if b == 0 {
		return "-"
	}
	p := 100 * float64(a) / float64(b)
	switch {
	case a > 0 && p < 0.05:
		return "<0.1%"
	case a < b && p >= 99.95:
		return ">99.9%"
	}
	return fmt.Sprintf("%.1f%%", p)
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func printAnomalies(w io.Writer, as []validate.Anomaly) {
	if len(as) == 0 {
		fmt.Fprintln(w, "no anomalies")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tFEATURE\tSEVERITY\tDESCRIPTION")
	for _, a := range as {
		d := a.Description
		// Examples the sentence does not quote (where ragged rows are,
		// which values broke a type) follow it.
		if len(a.Examples) > 0 && !strings.Contains(d, a.Examples[0]) {
			d += " Examples: " + strings.Join(a.Examples, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Kind, a.Feature, a.Severity, d)
	}
	tw.Flush()
}
