package label

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// LFSummary describes one labeling function, as Snorkel's LFAnalysis does.
type LFSummary struct {
	Name string `json:"name"`
	// Polarity is the sorted set of labels it emitted.
	Polarity []int `json:"polarity"`
	// Coverage is the fraction of rows it labels; Overlaps the fraction
	// it labels together with another function; Conflicts the fraction
	// where another function votes differently. In a multi-label matrix
	// "another function" is one speaking about the same class.
	Coverage  float64 `json:"coverage"`
	Overlaps  float64 `json:"overlaps"`
	Conflicts float64 `json:"conflicts"`
	// Correct, Incorrect and EmpAccuracy compare its votes with gold labels
	// when they are given (EmpAccuracy is nil without gold labels or
	// without votes).
	Correct     int      `json:"correct,omitempty"`
	Incorrect   int      `json:"incorrect,omitempty"`
	EmpAccuracy *float64 `json:"emp_accuracy,omitempty"`
	// Errors counts the records it failed on (from the apply stats).
	Errors int `json:"errors"`
	// Class is the class a multi-label function speaks about.
	Class string `json:"class,omitempty"`
}

// Analysis summarises a label matrix.
type Analysis struct {
	Rows int `json:"rows"`
	// Coverage is the fraction of rows with at least one vote; Overlap
	// with at least two; Conflict with two that disagree.
	Coverage float64     `json:"coverage"`
	Overlap  float64     `json:"overlap"`
	Conflict float64     `json:"conflict"`
	LFs      []LFSummary `json:"lfs"`
}

// AnalyzeOptions carries what Analyze may compare with.
type AnalyzeOptions struct {
	// Gold holds the true class of every row of a multi-class matrix
	// (nil: no accuracy).
	Gold []int
	// GoldMulti holds the true class sets of a multi-label matrix.
	GoldMulti [][]bool
	// Stats are the apply statistics, for the error counts.
	Stats *ApplyStats
}

// Analyze computes per-function polarity, coverage, overlaps and conflicts,
// and with gold labels the empirical accuracy.
func Analyze(L *Matrix, opt AnalyzeOptions) (*Analysis, error) {
	if err := L.Validate(); err != nil {
		return nil, err
	}
	if opt.Gold != nil && len(opt.Gold) != L.N {
		return nil, fmt.Errorf("analyze: %d gold labels for %d rows", len(opt.Gold), L.N)
	}
	if opt.GoldMulti != nil && len(opt.GoldMulti) != L.N {
		return nil, fmt.Errorf("analyze: %d gold label sets for %d rows", len(opt.GoldMulti), L.N)
	}
	for i, y := range opt.Gold {
		if y < 0 || y >= L.K {
			return nil, fmt.Errorf("analyze: gold label %d of row %d is outside the classes 0..%d", y, i, L.K-1)
		}
	}
	m := L.M
	pol := make([]map[int]bool, m)
	cover := make([]int, m)
	over := make([]int, m)
	confl := make([]int, m)
	correct := make([]int, m)
	wrong := make([]int, m)
	for j := range pol {
		pol[j] = map[int]bool{}
	}
	task := func(j int32) int {
		if L.Tasks == nil {
			return 0
		}
		return L.Tasks[j]
	}
	a := &Analysis{Rows: L.N}
	var rowsCov, rowsOver, rowsConfl int
	for i := 0; i < L.N; i++ {
		cols, votes := L.Row(i)
		if len(cols) > 0 {
			rowsCov++
		}
		rowOver, rowConfl := false, false
		for e, j := range cols {
			v := int(votes[e])
			pol[j][v] = true
			cover[j]++
			ov, cf := false, false
			for e2, j2 := range cols {
				if e2 == e || task(j2) != task(j) {
					continue
				}
				ov = true
				if int(votes[e2]) != v {
					cf = true
				}
			}
			if ov {
				over[j]++
				rowOver = true
			}
			if cf {
				confl[j]++
				rowConfl = true
			}
			switch {
			case opt.Gold != nil:
				if opt.Gold[i] == v {
					correct[j]++
				} else {
					wrong[j]++
				}
			case opt.GoldMulti != nil:
				if opt.GoldMulti[i][task(j)] == (v == 1) {
					correct[j]++
				} else {
					wrong[j]++
				}
			}
		}
		if rowOver {
			rowsOver++
		}
		if rowConfl {
			rowsConfl++
		}
	}
	n := float64(max(L.N, 1))
	a.Coverage, a.Overlap, a.Conflict = float64(rowsCov)/n, float64(rowsOver)/n, float64(rowsConfl)/n
	for j := 0; j < m; j++ {
		s := LFSummary{Name: L.Names[j], Coverage: float64(cover[j]) / n, Overlaps: float64(over[j]) / n,
			Conflicts: float64(confl[j]) / n, Polarity: []int{}}
		for v := range pol[j] {
			s.Polarity = append(s.Polarity, v)
		}
		sort.Ints(s.Polarity)
		if L.Tasks != nil {
			s.Class = strings.Trim(className(L.Classes, L.Tasks[j]), `"`)
		}
		if opt.Gold != nil || opt.GoldMulti != nil {
			s.Correct, s.Incorrect = correct[j], wrong[j]
			if t := correct[j] + wrong[j]; t > 0 {
				acc := float64(correct[j]) / float64(t)
				s.EmpAccuracy = &acc
			}
		}
		if opt.Stats != nil && j < len(opt.Stats.Errors) {
			s.Errors = opt.Stats.Errors[j]
		}
		a.LFs = append(a.LFs, s)
	}
	return a, nil
}

// WriteTable prints the analysis as an aligned table, one row per
// function, polarity shown with class names when L had them.
func (a *Analysis) WriteTable(w io.Writer, classes []string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "labeling function\tpolarity\tcoverage\toverlaps\tconflicts\tcorrect\tincorrect\temp. acc.\terrors\t")
	for _, s := range a.LFs {
		var pol []string
		for _, v := range s.Polarity {
			if s.Class == "" && v < len(classes) {
				pol = append(pol, classes[v])
			} else {
				pol = append(pol, fmt.Sprint(v))
			}
		}
		name := s.Name
		if s.Class != "" {
			name += " (" + s.Class + ")"
		}
		acc, cor, inc := "-", "-", "-"
		if s.EmpAccuracy != nil {
			acc = fmt.Sprintf("%.3f", *s.EmpAccuracy)
		}
		if s.EmpAccuracy != nil || s.Correct+s.Incorrect > 0 {
			cor, inc = fmt.Sprint(s.Correct), fmt.Sprint(s.Incorrect)
		}
		fmt.Fprintf(tw, "%s\t[%s]\t%.3f\t%.3f\t%.3f\t%s\t%s\t%s\t%d\t\n", name, strings.Join(pol, ","),
			s.Coverage, s.Overlaps, s.Conflicts, cor, inc, acc, s.Errors)
	}
	fmt.Fprintf(tw, "all (%d rows)\t\t%.3f\t%.3f\t%.3f\t\t\t\t\t\n", a.Rows, a.Coverage, a.Overlap, a.Conflict)
	return tw.Flush()
}

// nanToZero keeps NaNs out of reports.
func nanToZero(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
