package validate

import "math"

// Moments accumulates count, mean and the sum of squared deviations by
// Welford's method; two accumulators merge by Chan, Golub and LeVeque's
// pairwise update ("Updating formulae and a pairwise algorithm for
// computing sample variances", 1979), which equals one pass over both up
// to rounding.
type Moments struct {
	N    int64   `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// Add adds one finite value.
func (m *Moments) Add(x float64) {
	m.N++
	if m.N == 1 {
		m.Mean, m.Min, m.Max = x, x, x
		return
	}
	d := x - m.Mean
	m.Mean += d / float64(m.N)
	m.M2 += d * (x - m.Mean)
	if x < m.Min {
		m.Min = x
	}
	if x > m.Max {
		m.Max = x
	}
}

// Merge folds o into m.
func (m *Moments) Merge(o Moments) {
	switch {
	case o.N == 0:
		return
	case m.N == 0:
		*m = o
		return
	}
	n := m.N + o.N
	d := o.Mean - m.Mean
	m.Mean += d * float64(o.N) / float64(n)
	m.M2 += o.M2 + d*d*float64(m.N)*float64(o.N)/float64(n)
	m.N = n
	m.Min = math.Min(m.Min, o.Min)
	m.Max = math.Max(m.Max, o.Max)
}

// Std returns the population standard deviation (as TFDV and NumPy's
// default report it).
func (m *Moments) Std() float64 {
	if m.N == 0 {
		return 0
	}
	return math.Sqrt(max(m.M2, 0) / float64(m.N))
}
