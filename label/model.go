package label

import (
	"errors"
	"fmt"
	"math"
)

// Model is a label model: fitted to a label matrix without ground truth,
// it gives every row a probability distribution over the classes.
//
// Implementations: MajorityVote, DawidSkene, MatrixCompletion, and
// MultiLabel for multi-label matrices. All of them pass the shared suite in
// package label/labeltest.
type Model interface {
	// Fit learns the model from L. It returns an error wrapping
	// ErrAllAbstain when L has no vote at all.
	Fit(L *Matrix) error
	// PredictProba returns one distribution per row of L (for a
	// multi-label model: one probability of presence per class). Every
	// row with no vote gets the same distribution: the class balance,
	// unless the model reads abstains as evidence.
	PredictProba(L *Matrix) (*Probs, error)
	// ClassBalance returns the class balance the model uses: given,
	// estimated, or uniform.
	ClassBalance() []float64
}

// Probs holds per-row class probabilities, row-major: row i is
// P[i*K : (i+1)*K].
type Probs struct {
	K int
	P []float64
}

// NewProbs returns n rows of k zeros.
func NewProbs(n, k int) *Probs { return &Probs{K: k, P: make([]float64, n*k)} }

// N returns the number of rows.
func (p *Probs) N() int {
	if p.K == 0 {
		return 0
	}
	return len(p.P) / p.K
}

// Row returns row i (aliasing p).
func (p *Probs) Row(i int) []float64 { return p.P[i*p.K : (i+1)*p.K] }

// SelectRows returns the given rows, in that order.
func (p *Probs) SelectRows(rows []int) *Probs {
	out := NewProbs(len(rows), p.K)
	for n, i := range rows {
		copy(out.Row(n), p.Row(i))
	}
	return out
}

// FilterUncovered drops the rows of L on which every labeling function
// abstained, as Snorkel's filter_unlabeled_dataframe does: a label model
// knows nothing of them beyond the class balance, and training an end
// model on them only teaches it the prior. It returns the kept row indices
// and their probabilities.
func FilterUncovered(L *Matrix, p *Probs) ([]int, *Probs) {
	rows := L.CoveredRows()
	return rows, p.SelectRows(rows)
}

// checkFit returns an error for matrices no label model can be fitted to.
func checkFit(L *Matrix) error {
	if err := L.Validate(); err != nil {
		return err
	}
	if L.N == 0 || L.NNZ() == 0 {
		return fmt.Errorf("fit label model on %d×%d matrix: %w", L.N, L.M, ErrAllAbstain)
	}
	return nil
}

func uniform(k int) []float64 {
	p := make([]float64, k)
	for i := range p {
		p[i] = 1 / float64(k)
	}
	return p
}

// checkBalance validates a given class balance against k classes.
func checkBalance(b []float64, k int) error {
	if len(b) != k {
		return fmt.Errorf("class balance has %d entries for %d classes", len(b), k)
	}
	s := 0.0
	for c, x := range b {
		if !(x > 0) || x > 1 {
			return fmt.Errorf("class balance: class %d has probability %g, want in (0, 1]", c, x)
		}
		s += x
	}
	if math.Abs(s-1) > 1e-6 {
		return fmt.Errorf("class balance sums to %g, want 1", s)
	}
	return nil
}

// ClassBalanceOf returns the class frequencies of gold labels (for example
// a small labeled dev set), smoothed by one count per class so that no
// class gets probability 0.
func ClassBalanceOf(gold []int, k int) ([]float64, error) {
	cnt := make([]float64, k)
	for i, y := range gold {
		if y < 0 || y >= k {
			return nil, fmt.Errorf("gold label %d of row %d is outside the classes 0..%d", y, i, k-1)
		}
		cnt[y]++
	}
	for c := range cnt {
		cnt[c] = (cnt[c] + 1) / float64(len(gold)+k)
	}
	return cnt, nil
}

// ErrNotFitted is returned by PredictProba before Fit.
var ErrNotFitted = errors.New("label model is not fitted")

// checkPredict checks that L matches the matrix the model was fitted on.
func checkPredict(L *Matrix, m, k int) error {
	if m == 0 && k == 0 {
		return ErrNotFitted
	}
	if L.M != m || L.K != k {
		return fmt.Errorf("predict: matrix has %d functions × %d classes, model was fitted on %d × %d", L.M, L.K, m, k)
	}
	if L.MultiLabel() {
		return errors.New("predict: multi-label matrix; use the MultiLabel model")
	}
	return nil
}
