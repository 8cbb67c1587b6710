package serve

// ensembleDecided reports whether the answers of the ensemble members that
// have answered already fix the ensemble's prediction, so that the server
// need not wait for the stragglers (Clipper §5.2, where an ensemble answers
// at its deadline with whichever members have answered). The ensemble
// predicts the class with the largest sum of member probabilities; a
// missing member adds at most 1 to any class. So for each row, once the
// leading class's sum exceeds the runner-up's by more than the number of
// missing members, no straggler can change the answer. answered holds one
// probability slice (rows × classes) per answered member.
func ensembleDecided(answered [][]float32, missing, rows, classes int) bool {
	if missing == 0 {
		return len(answered) > 0
	}
	if len(answered) == 0 {
		return false
	}
	sums := make([]float32, classes)
	for r := 0; r < rows; r++ {
		clear(sums)
		for _, p := range answered {
			for c, v := range p[r*classes : (r+1)*classes] {
				sums[c] += v
			}
		}
		first, second := float32(-1), float32(-1)
		for _, s := range sums {
			if s > first {
				first, second = s, first
			} else if s > second {
				second = s
			}
		}
		if classes == 1 {
			second = 0
		}
		if first-second <= float32(missing) {
			return false
		}
	}
	return true
}

// ensembleAverage returns the mean of the answered members' probabilities.
func ensembleAverage(answered [][]float32) []float32 {
	out := make([]float32, len(answered[0]))
	for _, p := range answered {
		for i, v := range p {
			out[i] += v
		}
	}
	inv := 1 / float32(len(answered))
	for i := range out {
		out[i] *= inv
	}
	return out
}
