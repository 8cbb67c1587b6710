package label

// MajorityVote gives each row the distribution of its votes: P(y) is the
// fraction of the row's votes for y, and a row with no vote is uniform
// (Snorkel's MajorityLabelVoter). It learns nothing; Fit only checks the
// matrix and records its shape.
type MajorityVote struct {
	m, k int
}

// Fit records the matrix's shape.
func (mv *MajorityVote) Fit(L *Matrix) error {
	if err := checkFit(L); err != nil {
		return err
	}
	if L.MultiLabel() {
		return errMultiLabel("majority vote")
	}
	mv.m, mv.k = L.M, L.K
	return nil
}

// PredictProba returns the vote fractions of each row.
func (mv *MajorityVote) PredictProba(L *Matrix) (*Probs, error) {
	if err := checkPredict(L, mv.m, mv.k); err != nil {
		return nil, err
	}
	p := NewProbs(L.N, L.K)
	u := 1 / float64(L.K)
	for i := 0; i < L.N; i++ {
		row := p.Row(i)
		_, votes := L.Row(i)
		if len(votes) == 0 {
			for c := range row {
				row[c] = u
			}
			continue
		}
		for _, v := range votes {
			row[v]++
		}
		for c := range row {
			row[c] /= float64(len(votes))
		}
	}
	return p, nil
}

// ClassBalance is uniform: majority vote has no prior.
func (mv *MajorityVote) ClassBalance() []float64 { return uniform(mv.k) }
