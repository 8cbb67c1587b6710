// Package labeltest is the test suite that every label model of package
// label must pass, in the manner of gonum's testblas: the model is built by
// a constructor, and the suite checks the contract of label.Model on
// synthetic matrices drawn from known accuracies and class balance.
package labeltest

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/label"
)

// Options tunes the suite to what a model can promise.
type Options struct {
	// Learns is true for models that learn accuracies (all but majority
	// vote): they must beat majority vote on matrices with unequal
	// accuracies.
	Learns bool
	// AbstainEvidence is true for models that read an abstain as
	// evidence: their uncovered rows all get one distribution, but not
	// necessarily the class balance.
	AbstainEvidence bool
}

// synth draws a matrix with the given class balance and m functions of
// accuracies spread over [0.55, 0.95].
func synth(t *testing.T, n, m int, balance []float64, cov float64, seed uint64) (*label.Matrix, []int, []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	accs := make([]float64, m)
	covs := make([]float64, m)
	for j := range accs {
		accs[j] = 0.55 + 0.4*rng.Float64()
		covs[j] = cov
	}
	L, gold, err := label.Synthesize(label.SynthConfig{N: n, ClassBalance: balance, Accuracies: accs, Coverage: covs, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return L, gold, accs
}

// TestModel runs the suite on models made by newModel.
func TestModel(t *testing.T, newModel func() label.Model, opt Options) {
	t.Run("AllAbstain", func(t *testing.T) {
		L, err := label.FromDense([][]int{{-1, -1, -1}, {-1, -1, -1}}, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = newModel().Fit(L)
		if !errors.Is(err, label.ErrAllAbstain) {
			t.Fatalf("Fit on an all-abstain matrix: %v, want ErrAllAbstain", err)
		}
	})
	t.Run("NotFitted", func(t *testing.T) {
		L, _ := label.FromDense([][]int{{0, 1, -1}}, 2, nil)
		if _, err := newModel().PredictProba(L); err == nil {
			t.Fatal("PredictProba before Fit: no error")
		}
	})
	t.Run("ShapeMismatch", func(t *testing.T) {
		L, _, _ := synth(t, 2000, 5, []float64{0.5, 0.5}, 0.5, 1)
		md := newModel()
		if err := md.Fit(L); err != nil {
			t.Fatal(err)
		}
		other, _ := label.FromDense([][]int{{0, 1, -1}}, 2, nil)
		if _, err := md.PredictProba(other); err == nil {
			t.Fatal("PredictProba on a matrix of another shape: no error")
		}
	})
	for _, tc := range []struct {
		name    string
		balance []float64
		m       int
	}{
		{"Binary", []float64{0.5, 0.5}, 10},
		{"Unbalanced", []float64{0.3, 0.7}, 10},
		{"ThreeClass", []float64{0.2, 0.3, 0.5}, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			L, gold, _ := synth(t, 20000, tc.m, tc.balance, 0.3, 7)
			md := newModel()
			if err := md.Fit(L); err != nil {
				t.Fatal(err)
			}
			p, err := md.PredictProba(L)
			if err != nil {
				t.Fatal(err)
			}
			if p.N() != L.N || p.K != L.K {
				t.Fatalf("probabilities %d×%d for a %d-row, %d-class matrix", p.N(), p.K, L.N, L.K)
			}
			bal := md.ClassBalance()
			var uncovered []float64
			for i := 0; i < L.N; i++ {
				s := 0.0
				for _, x := range p.Row(i) {
					if math.IsNaN(x) || x < 0 || x > 1 {
						t.Fatalf("row %d: probability %g", i, x)
					}
					s += x
				}
				if math.Abs(s-1) > 1e-9 {
					t.Fatalf("row %d sums to %g", i, s)
				}
				if !L.Covered(i) {
					want := bal
					if opt.AbstainEvidence {
						if uncovered == nil {
							uncovered = append([]float64(nil), p.Row(i)...)
						}
						want = uncovered
					}
					for c, x := range p.Row(i) {
						if math.Abs(x-want[c]) > 1e-9 {
							t.Fatalf("uncovered row %d: P(%d) = %g, want %g", i, c, x, want[c])
						}
					}
				}
			}
			tb := label.TieBreak{Policy: label.TieRandom, Seed: 1}
			rows := L.CoveredRows()
			g := make([]int, len(rows))
			for n, i := range rows {
				g[n] = gold[i]
			}
			acc := label.Accuracy(label.Predict(p.SelectRows(rows), tb), g)
			mv := &label.MajorityVote{}
			mv.Fit(L)
			pmv, _ := mv.PredictProba(L)
			accMV := label.Accuracy(label.Predict(pmv.SelectRows(rows), tb), g)
			t.Logf("accuracy on covered rows %.4f, majority vote %.4f, class balance %.3f", acc, accMV, bal)
			if opt.Learns && acc <= accMV {
				t.Errorf("accuracy %.4f does not beat majority vote's %.4f", acc, accMV)
			}
			if acc < accMV-1e-9 {
				t.Errorf("accuracy %.4f below majority vote's %.4f", acc, accMV)
			}
		})
	}
}
