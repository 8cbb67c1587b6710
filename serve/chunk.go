package serve

import (
	"math/bits"
	"time"
)

// A network call's time is not proportional to its rows: BLAS libraries
// take different paths by matrix size, and OpenBLAS on this machine runs
// the MNIST MLP at 165,000 rows/s in calls of 4 rows but 83,000 in calls of
// 8 (above its small-matrix bound, a call packs the whole weight matrix
// first), climbing back only at 128. Calibrate measures a model's calls at
// every power of two up to a bound, and PredictParts then runs a batch as
// the calls that measured fastest per row: a batch of 8 as two calls of 4.
// Each row's answer is computed from that row alone, so the split changes
// timing, not results (beyond the rounding of a different kernel).

// maxCalibrationRows bounds the largest call the server calibrates.
const maxCalibrationRows = 512

// calibrationCallBound ends a calibration at the first call size that
// takes this long: a call's fixed costs are then a small part of it, and
// the bound keeps loading a large model quick (at most about ten such
// calls in all).
const calibrationCallBound = 5 * time.Millisecond

// calibrationRuns is how many timed calls each size gets after one
// untimed one; the fastest counts, since other work only slows a call.
const calibrationRuns = 3

// Calibrate times the model on batches of 1, 2, 4, ... up to maxRows rows
// (or up to the first that takes calibrationCallBound) and keeps, for each
// size, the call size at or below it with the least time per row. It
// returns the measured time per call of each size.
func (m *Model) Calibrate(maxRows int) []time.Duration {
	maxRows = max(maxRows, 1)
	x := make([]float32, maxRows*m.Features)
	for i := range x {
		x[i] = 0.5
	}
	m.chunks = nil
	var times []time.Duration
	for p := 1; p <= maxRows; p *= 2 {
		best := time.Duration(1<<63 - 1)
		for r := range calibrationRuns + 1 {
			start := time.Now()
			m.Predict(x[:p*m.Features], p)
			if d := time.Since(start); r > 0 {
				best = min(best, d)
			}
		}
		times = append(times, best)
		if best >= calibrationCallBound {
			break // larger calls cannot do better per row by much
		}
	}
	m.chunks = chooseChunks(times)
	return times
}

// chooseChunks returns, for calls of 2^i rows taking times[i], the call
// size at or below each 2^i with the least time per row (the smaller one
// on a tie).
func chooseChunks(times []time.Duration) []int {
	chunks := make([]int, len(times))
	b := 0
	for i := range times {
		// time per row of calls of 2^i rows against 2^b rows
		if times[i]*time.Duration(1<<b) < times[b]*time.Duration(1<<i) {
			b = i
		}
		chunks[i] = 1 << b
	}
	return chunks
}

// Chunks returns, for each power of two up to the calibrated bound, the
// rows per network call used for a batch of that many rows (nil when the
// model was not calibrated).
func (m *Model) Chunks() []int { return append([]int(nil), m.chunks...) }

// chunkFor returns the rows per network call for a batch of n rows, with
// 2^i ≤ n < 2^(i+1): the calibrated choice at 2^i when calls smaller than
// 2^i were faster per row there, or else the choice at 2^(i+1) when calls
// smaller than that were faster there (a slow path begins between the two,
// and a call of n rows would be on it); otherwise n, one call. Past the
// calibrated sizes the last choice counts: split when it was a smaller
// call, one call when it was the largest measured. Uncalibrated: n.
func (m *Model) chunkFor(n int) int {
	if len(m.chunks) == 0 || n < 1 {
		return n
	}
	i := min(bits.Len(uint(n))-1, len(m.chunks)-1)
	if c := m.chunks[i]; c < 1<<i {
		return c
	}
	if j := i + 1; j < len(m.chunks) && m.chunks[j] < 1<<j {
		return m.chunks[j]
	}
	return n
}
