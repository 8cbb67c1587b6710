package label

import "fmt"

// TiePolicy says how Predict picks a class when several share the highest
// probability.
type TiePolicy int

const (
	// TieRandom picks uniformly among the tied classes with a generator
	// seeded by the seed and the row index, so that two models tied on the
	// same row between the same classes pick the same class.
	TieRandom TiePolicy = iota
	// TieLowest picks the lowest tied class id.
	TieLowest
	// TieAbstain predicts Abstain on a tie.
	TieAbstain
)

// TieBreak is a tie policy with its seed.
type TieBreak struct {
	Policy TiePolicy
	Seed   uint64
}

// tieTol is the relative gap under which two probabilities count as tied:
// it absorbs the rounding of different summation orders.
const tieTol = 1e-9

// String describes the policy for reports.
func (t TieBreak) String() string {
	switch t.Policy {
	case TieLowest:
		return "ties (probabilities within 1e-9) go to the lowest class id"
	case TieAbstain:
		return "ties (probabilities within 1e-9) abstain"
	}
	return fmt.Sprintf("ties (probabilities within 1e-9) are broken uniformly at random, seeded by seed %d and the row index, the same way for every model", t.Seed)
}

// splitmix64 is a stateless mixing function: the tie-break of row i depends
// on (seed, i) only.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Predict returns the most probable class of each row, breaking ties by t.
func Predict(p *Probs, t TieBreak) []int {
	n := p.N()
	out := make([]int, n)
	tied := make([]int, 0, p.K)
	for i := 0; i < n; i++ {
		row := p.Row(i)
		best := row[0]
		for _, x := range row[1:] {
			if x > best {
				best = x
			}
		}
		tied = tied[:0]
		for c, x := range row {
			if x >= best-tieTol*max(best, 1e-300) {
				tied = append(tied, c)
			}
		}
		switch {
		case len(tied) == 1 || t.Policy == TieLowest:
			out[i] = tied[0]
		case t.Policy == TieAbstain:
			out[i] = Abstain
		default:
			out[i] = tied[splitmix64(t.Seed^splitmix64(uint64(i)))%uint64(len(tied))]
		}
	}
	return out
}

// PredictMultiLabel thresholds presence probabilities at 0.5: row i's
// class c is present when p >= 0.5.
func PredictMultiLabel(p *Probs) [][]bool {
	out := make([][]bool, p.N())
	for i := range out {
		row := p.Row(i)
		out[i] = make([]bool, p.K)
		for c, x := range row {
			out[i][c] = x >= 0.5
		}
	}
	return out
}

// Accuracy returns the fraction of rows where pred equals gold; an
// abstaining prediction counts as wrong.
func Accuracy(pred, gold []int) float64 {
	if len(gold) == 0 {
		return 0
	}
	ok := 0
	for i, y := range gold {
		if pred[i] == y {
			ok++
		}
	}
	return float64(ok) / float64(len(gold))
}

// F1 returns the F1 score of the positive class 1 when k == 2, and the
// unweighted mean of the per-class F1 scores (macro F1) otherwise. A class
// with no prediction and no gold row scores 0.
func F1(pred, gold []int, k int) float64 {
	f1 := func(c int) float64 {
		tp, fp, fn := 0, 0, 0
		for i, y := range gold {
			switch {
			case pred[i] == c && y == c:
				tp++
			case pred[i] == c:
				fp++
			case y == c:
				fn++
			}
		}
		if tp == 0 {
			return 0
		}
		return 2 * float64(tp) / float64(2*tp+fp+fn)
	}
	if k == 2 {
		return f1(1)
	}
	s := 0.0
	for c := 0; c < k; c++ {
		s += f1(c)
	}
	return s / float64(k)
}
