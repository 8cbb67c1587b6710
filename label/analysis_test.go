package label

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestAnalyzeLiteral checks every figure of a small matrix by hand, as
// Snorkel's LFAnalysis defines them.
func TestAnalyzeLiteral(t *testing.T) {
	L, err := FromDense([][]int{
		{0, 0, -1},  // overlap, no conflict
		{0, 1, -1},  // conflict between a and b
		{-1, 1, 1},  // overlap b, c
		{-1, -1, 0}, // c alone
		{-1, -1, -1},
	}, 2, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	gold := []int{0, 1, 1, 1, 0}
	an, err := Analyze(L, AnalyzeOptions{Gold: gold, Stats: &ApplyStats{Errors: []int{0, 3, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		pol                 []int
		cov, over, conflict float64
		correct, incorrect  int
		acc                 float64
		errs                int
	}
	want := []row{
		{[]int{0}, 0.4, 0.4, 0.2, 1, 1, 0.5, 0},
		{[]int{0, 1}, 0.6, 0.6, 0.2, 3, 0, 1, 3},
		{[]int{0, 1}, 0.4, 0.2, 0, 1, 1, 0.5, 0},
	}
	for j, w := range want {
		s := an.LFs[j]
		if !reflect.DeepEqual(s.Polarity, w.pol) || s.Coverage != w.cov || s.Overlaps != w.over || s.Conflicts != w.conflict ||
			s.Correct != w.correct || s.Incorrect != w.incorrect || math.Abs(*s.EmpAccuracy-w.acc) > 1e-12 || s.Errors != w.errs {
			t.Errorf("%s: %+v (accuracy %v), want %+v", s.Name, s, *s.EmpAccuracy, w)
		}
	}
	if an.Coverage != 0.8 || an.Overlap != 0.6 || an.Conflict != 0.2 {
		t.Errorf("totals %g %g %g, want 0.8 0.6 0.2", an.Coverage, an.Overlap, an.Conflict)
	}
	var buf bytes.Buffer
	if err := an.WriteTable(&buf, []string{"HAM", "SPAM"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "[HAM,SPAM]") || !strings.Contains(buf.String(), "1.000") {
		t.Errorf("table:\n%s", buf.String())
	}
	if _, err := Analyze(L, AnalyzeOptions{Gold: []int{0, 1}}); err == nil {
		t.Error("2 gold labels for 5 rows accepted")
	}
	if _, err := Analyze(L, AnalyzeOptions{Gold: []int{0, 1, 2, 0, 0}}); err == nil {
		t.Error("gold label 2 of 2 classes accepted")
	}
}

// TestTieBreakSameForEveryModel: a tie is broken by the row and the seed
// only, so two models tied between the same classes agree.
func TestTieBreakSameForEveryModel(t *testing.T) {
	a := &Probs{K: 3, P: []float64{0.5, 0.5, 0, 0.2, 0.4, 0.4, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0.1, 0.8, 0.1}}
	b := &Probs{K: 3, P: []float64{0.4, 0.4, 0.2, 0.3, 0.35, 0.35, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 1, 0}}
	for seed := uint64(0); seed < 20; seed++ {
		tb := TieBreak{Policy: TieRandom, Seed: seed}
		pa, pb := Predict(a, tb), Predict(b, tb)
		if !reflect.DeepEqual(pa, pb) {
			t.Fatalf("seed %d: %v vs %v", seed, pa, pb)
		}
		if pa[3] != 1 || (pa[0] != 0 && pa[0] != 1) || (pa[1] != 1 && pa[1] != 2) {
			t.Fatalf("seed %d: %v picks outside the tied classes", seed, pa)
		}
	}
	// Over many seeds both tied classes come up.
	seen := map[int]bool{}
	for seed := uint64(0); seed < 64; seed++ {
		seen[Predict(a, TieBreak{Seed: seed})[0]] = true
	}
	if len(seen) != 2 {
		t.Fatalf("random ties picked %v only", seen)
	}
	if got := Predict(a, TieBreak{Policy: TieLowest}); !reflect.DeepEqual(got, []int{0, 1, 0, 1}) {
		t.Fatalf("lowest: %v", got)
	}
	if got := Predict(a, TieBreak{Policy: TieAbstain}); !reflect.DeepEqual(got, []int{-1, -1, -1, 1}) {
		t.Fatalf("abstain: %v", got)
	}
}

func TestMetrics(t *testing.T) {
	pred, gold := []int{1, 1, 0, 0, 1}, []int{1, 0, 0, 1, 1}
	if got := Accuracy(pred, gold); got != 0.6 {
		t.Errorf("accuracy %g", got)
	}
	// Class 1: tp 2, fp 1, fn 1: F1 = 4/6.
	if got := F1(pred, gold, 2); math.Abs(got-2.0/3) > 1e-12 {
		t.Errorf("F1 %g", got)
	}
	// Macro over 3 classes: class 0 (tp 1, fp 1, fn 1: 1/2), class 1
	// (2/3), class 2 (0).
	if got := F1(pred, gold, 3); math.Abs(got-7.0/18) > 1e-12 {
		t.Errorf("macro F1 %g", got)
	}
	b, err := ClassBalanceOf([]int{0, 0, 1}, 2)
	if err != nil || math.Abs(b[0]-0.6) > 1e-12 {
		t.Errorf("balance %v %v", b, err)
	}
}
