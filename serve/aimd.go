package serve

import "time"

// AIMD sizes batches as Clipper does (Crankshaw et al., NSDI 2017, §4.3):
// the largest batch a model may run grows by a fixed step while batches
// finish within the latency objective, and shrinks by a fixed fraction as
// soon as one does not. It is pure: the caller measures each batch and
// reports it with Observe.
type AIMD struct {
	// Objective is the latency a batch must finish within.
	Objective time.Duration
	// Step is the additive increase, in rows.
	Step int
	// Backoff is the multiplicative decrease: the limit becomes
	// Backoff × the size of the batch that was too slow (Clipper: 0.9).
	Backoff float64
	// Max bounds the limit from above (Min is 1).
	Max int

	limit int
}

// NewAIMD returns a controller starting at a batch limit of 1.
func NewAIMD(objective time.Duration, step int, backoff float64, max int) *AIMD {
	if step < 1 {
		step = 1
	}
	if backoff <= 0 || backoff >= 1 {
		backoff = 0.9
	}
	if max < 1 {
		max = 1
	}
	return &AIMD{Objective: objective, Step: step, Backoff: backoff, Max: max, limit: 1}
}

// Limit returns the current largest batch, in rows.
func (a *AIMD) Limit() int { return a.limit }

// Observe records that a batch of size rows took latency and returns the
// new limit; full tells whether the limit was what bounded the batch (it
// reached the limit, or requests were left waiting that did not fit). A
// batch over the objective cuts the limit to Backoff × size (at least one
// row less than size, never below 1); a full batch within the objective
// raises it by Step (up to Max); a batch that was not full says nothing
// about larger ones and leaves the limit alone.
func (a *AIMD) Observe(size int, latency time.Duration, full bool) int {
	switch {
	case latency > a.Objective:
		next := int(float64(size) * a.Backoff)
		if next >= size {
			next = size - 1
		}
		if next < a.limit {
			a.limit = max(next, 1)
		}
	case full || size >= a.limit:
		a.limit = min(a.limit+a.Step, a.Max)
	}
	return a.limit
}
