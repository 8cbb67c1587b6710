package label

import (
	"fmt"
)

// MultiLabel is a label model for multi-label matrices, where each row may
// have any set of the K classes and each labeling function says whether
// its one class is present. Snorkel does not support such tasks. The model
// treats them as K binary tasks: for class c it fits a binary model (from
// New, by default MatrixCompletion) on the functions that speak about c,
// and PredictProba gives P(c present) in column c.
type MultiLabel struct {
	// New makes the binary model of one class; nil uses
	// MatrixCompletion.
	New func() Model

	m, k   int
	lfs    [][]int
	models []Model
}

// Fit fits one binary model per class. Every class needs at least one
// vote: a class no function ever voted on is an error that names it.
func (ml *MultiLabel) Fit(L *Matrix) error {
	if err := checkFit(L); err != nil {
		return err
	}
	if !L.MultiLabel() {
		return fmt.Errorf("multi-label model: the matrix is multi-class; use a multi-class model")
	}
	newModel := ml.New
	if newModel == nil {
		newModel = func() Model { return &MatrixCompletion{} }
	}
	ml.m, ml.k = L.M, L.K
	ml.lfs = make([][]int, L.K)
	for j, c := range L.Tasks {
		ml.lfs[c] = append(ml.lfs[c], j)
	}
	ml.models = make([]Model, L.K)
	for c := 0; c < L.K; c++ {
		sub := binarySub(L, ml.lfs[c])
		if sub.NNZ() == 0 {
			return fmt.Errorf("multi-label model: class %s: %w", className(L.Classes, c), ErrAllAbstain)
		}
		md := newModel()
		if err := md.Fit(sub); err != nil {
			return fmt.Errorf("multi-label model: class %s: %w", className(L.Classes, c), err)
		}
		ml.models[c] = md
	}
	return nil
}

func className(classes []string, c int) string {
	if c < len(classes) {
		return fmt.Sprintf("%q", classes[c])
	}
	return fmt.Sprint(c)
}

// binarySub is the binary matrix of the given functions (votes 0 absent, 1
// present).
func binarySub(L *Matrix, lfs []int) *Matrix {
	sub := L.SelectLFs(lfs)
	sub.Tasks, sub.K, sub.Classes = nil, 2, nil
	return sub
}

// PredictProba returns P(class c present) in column c of each row.
func (ml *MultiLabel) PredictProba(L *Matrix) (*Probs, error) {
	if ml.models == nil {
		return nil, ErrNotFitted
	}
	if !L.MultiLabel() || L.M != ml.m || L.K != ml.k {
		return nil, fmt.Errorf("multi-label predict: matrix has %d functions × %d classes, model was fitted on a multi-label %d × %d", L.M, L.K, ml.m, ml.k)
	}
	out := NewProbs(L.N, L.K)
	for c, md := range ml.models {
		p, err := md.PredictProba(binarySub(L, ml.lfs[c]))
		if err != nil {
			return nil, fmt.Errorf("multi-label predict: class %s: %w", className(L.Classes, c), err)
		}
		for i := 0; i < L.N; i++ {
			out.P[i*L.K+c] = p.P[i*2+1]
		}
	}
	return out, nil
}

// ClassBalance returns each class's estimated probability of being
// present.
func (ml *MultiLabel) ClassBalance() []float64 {
	out := make([]float64, ml.k)
	for c, md := range ml.models {
		out[c] = md.ClassBalance()[1]
	}
	return out
}

// Models returns the per-class binary models.
func (ml *MultiLabel) Models() []Model { return ml.models }
