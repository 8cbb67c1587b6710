package label

// Overlap returns the overlap matrix of L, O = (1/N) Σ_i ψ_i ψ_iᵀ, where
// ψ_i is row i's one-hot vote vector of length D = M*K (entry j*K+a is 1
// when function j voted a; an abstain is all zeros). O is D×D, row-major
// and symmetric: O[u][v] is the fraction of rows on which both votes u and
// v were cast, and its diagonal holds each vote's frequency.
//
// It makes one pass over the sparse matrix, split across workers (0:
// GOMAXPROCS) that each count the upper triangle into their own integer
// table; the tables are then summed.
func Overlap(L *Matrix, workers int) []float64 {
	k := L.K
	d := L.M * k
	w := workersOr(workers)
	if w > L.N {
		w = max(L.N, 1)
	}
	counts := make([][]uint32, w)
	parallelRows(L.N, w, func(part, lo, hi int) {
		c := make([]uint32, d*d)
		idx := make([]int, 0, L.M)
		for i := lo; i < hi; i++ {
			cols, votes := L.Row(i)
			idx = idx[:0]
			for e, j := range cols {
				idx = append(idx, int(j)*k+int(votes[e]))
			}
			// Columns increase within a row, so idx increases: only the
			// upper triangle (u <= v) is counted.
			for a, u := range idx {
				row := c[u*d : (u+1)*d]
				for _, v := range idx[a:] {
					row[v]++
				}
			}
		}
		counts[part] = c
	})
	o := make([]float64, d*d)
	inv := 1 / float64(max(L.N, 1))
	for u := 0; u < d; u++ {
		for v := u; v < d; v++ {
			var s uint64
			for _, c := range counts {
				s += uint64(c[u*d+v])
			}
			x := float64(s) * inv
			o[u*d+v], o[v*d+u] = x, x
		}
	}
	return o
}

// overlapNaive builds every one-hot row densely and sums outer products:
// the reference that Overlap is tested against.
func overlapNaive(L *Matrix) []float64 {
	k := L.K
	d := L.M * k
	o := make([]float64, d*d)
	psi := make([]float64, d)
	for i := 0; i < L.N; i++ {
		clear(psi)
		cols, votes := L.Row(i)
		for e, j := range cols {
			psi[int(j)*k+int(votes[e])] = 1
		}
		for u := 0; u < d; u++ {
			for v := 0; v < d; v++ {
				o[u*d+v] += psi[u] * psi[v]
			}
		}
	}
	for u := range o {
		o[u] /= float64(L.N)
	}
	return o
}
