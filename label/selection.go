package label

import (
	"fmt"
	"math"
)

// Candidate is one label-model configuration to try.
type Candidate struct {
	Name  string
	Model Model
}

// Score is a candidate's result on the validation rows.
type Score struct {
	Name     string  `json:"name"`
	Accuracy float64 `json:"valid_acc"`
	LogLoss  float64 `json:"valid_log_loss"`
}

// LogLoss returns the mean negative log-probability of the gold classes,
// each probability floored at 1e-6.
func LogLoss(p *Probs, gold []int) float64 {
	s := 0.0
	for i, y := range gold {
		s -= math.Log(math.Max(p.Row(i)[y], 1e-6))
	}
	return s / float64(max(len(gold), 1))
}

// Select fits every candidate on train and returns the index of the one
// with the best accuracy on the labeled validation rows (valid, gold),
// ties broken by the lower log loss and then by the order of cands, with
// every candidate's score.
func Select(cands []Candidate, train, valid *Matrix, gold []int, tb TieBreak) (int, []Score, error) {
	if len(cands) == 0 {
		return -1, nil, fmt.Errorf("select label model: no candidates")
	}
	if len(gold) != valid.N {
		return -1, nil, fmt.Errorf("select label model: %d gold labels for %d validation rows", len(gold), valid.N)
	}
	best := -1
	var scores []Score
	for c, cand := range cands {
		if err := cand.Model.Fit(train); err != nil {
			return -1, nil, fmt.Errorf("select label model: %s: %w", cand.Name, err)
		}
		p, err := cand.Model.PredictProba(valid)
		if err != nil {
			return -1, nil, fmt.Errorf("select label model: %s: %w", cand.Name, err)
		}
		s := Score{Name: cand.Name, Accuracy: Accuracy(Predict(p, tb), gold), LogLoss: LogLoss(p, gold)}
		scores = append(scores, s)
		if best < 0 || s.Accuracy > scores[best].Accuracy ||
			(s.Accuracy == scores[best].Accuracy && s.LogLoss < scores[best].LogLoss) {
			best = c
		}
	}
	return best, scores, nil
}

// MatrixCompletionGrid returns the matrix-completion configurations that
// Select chooses among: the class balance estimated, uniform, or counted
// on the labeled validation rows (when gold is non-empty); L2 pull towards
// the initial accuracies of 0, 0.01 or 0.1; abstains as evidence or not.
// A fitted candidate is left fitted.
func MatrixCompletionGrid(gold []int, k int, seed uint64) ([]Candidate, error) {
	type bal struct {
		name string
		b    []float64
	}
	bals := []bal{{"estimated", nil}, {"uniform", uniform(k)}}
	if len(gold) > 0 {
		b, err := ClassBalanceOf(gold, k)
		if err != nil {
			return nil, err
		}
		bals = append(bals, bal{"valid", b})
	}
	var out []Candidate
	for _, b := range bals {
		for _, l2 := range []float64{0, 0.01, 0.1} {
			for _, ae := range []bool{false, true} {
				out = append(out, Candidate{
					Name:  fmt.Sprintf("matrix_completion balance=%s l2=%g abstain_evidence=%v", b.name, l2, ae),
					Model: &MatrixCompletion{Balance: b.b, L2: l2, AbstainEvidence: ae, Seed: seed},
				})
			}
		}
	}
	return out, nil
}
