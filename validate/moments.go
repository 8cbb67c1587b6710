package validate

import "math"

// Moments accumulates count, mean and the sum of squared deviations.
// Values are summed shifted by the first value K (Σ(x-K), Σ(x-K)²: two
// adds and a multiply per value, no division) in a block that is folded
// into the running mean and M2 by Chan, Golub and LeVeque's pairwise
// update ("Updating formulae and a pairwise algorithm for computing
// sample variances", 1979) whenever the moments are read or merged; two
// accumulators merge by the same update, which equals one pass over both
// up to rounding.
type Moments struct {
	N    int64   `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`

	folded int64 // values already in Mean and M2
	k      float64
	s1, s2 float64
}

// Add adds one finite value.
func (m *Moments) Add(x float64) {
	if m.N == 0 {
		m.Min, m.Max, m.k = x, x, x
	} else if m.N == m.folded {
		m.k = m.Mean
	}
	m.N++
	d := x - m.k
	m.s1 += d
	m.s2 += d * d
	if x < m.Min {
		m.Min = x
	}
	if x > m.Max {
		m.Max = x
	}
}

// fold moves the current block into Mean and M2.
func (m *Moments) fold() {
	bn := m.N - m.folded
	if bn == 0 {
		return
	}
	n := float64(bn)
	bmean := m.k + m.s1/n
	bm2 := max(m.s2-m.s1*m.s1/n, 0)
	m.combine(m.folded, bn, bmean, bm2)
	m.folded = m.N
	m.s1, m.s2 = 0, 0
}

// combine sets Mean and M2 to those of a (na values, current Mean, M2)
// and b (nb values, mean mb, m2b).
func (m *Moments) combine(na, nb int64, mb, m2b float64) {
	if na == 0 {
		m.Mean, m.M2 = mb, m2b
		return
	}
	n := float64(na + nb)
	d := mb - m.Mean
	m.Mean += d * float64(nb) / n
	m.M2 += m2b + d*d*float64(na)*float64(nb)/n
}

// Merge folds o into m.
func (m *Moments) Merge(o Moments) {
	o.fold()
	m.fold()
	switch {
	case o.N == 0:
		return
	case m.N == 0:
		*m = o
		return
	}
	m.combine(m.N, o.N, o.Mean, o.M2)
	m.N += o.N
	m.folded = m.N
	m.Min = math.Min(m.Min, o.Min)
	m.Max = math.Max(m.Max, o.Max)
}

// Std returns the population standard deviation (as TFDV and NumPy's
// default report it).
func (m *Moments) Std() float64 {
	m.fold()
	if m.N == 0 {
		return 0
	}
	return math.Sqrt(max(m.M2, 0) / float64(m.N))
}
