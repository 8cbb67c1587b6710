package label

import (
	"math/rand/v2"
)

// Second moments cannot tell the class balance: for any balance p there
// is a μ with μ diag(p) μᵀ equal to the same overlap matrix (a rotation of
// its rank-K factor). Third moments can, so when the balance is to be
// estimated MatrixCompletion also fits
//
//	T[ja, j'b, j''c] = E[ψ_ja ψ_j'b ψ_j''c] = Σ_y p_y μ[ja,y] μ[j'b,y] μ[j''c,y]
//
// over a sample of triples of distinct functions, as MeTaL's class-balance
// model does with its three-way overlaps.

const (
	maxTriples = 2000
	// tripleBudget bounds the vote triples enumerated in the counting
	// pass; rows are subsampled evenly to stay under it.
	tripleBudget = 30_000_000
	// maxTripleLFs bounds the functions triples are drawn from (the
	// lookup table is m³).
	maxTripleLFs = 128
)

// tripleMoments samples up to maxTriples triples (j1 < j2 < j3) of distinct
// functions and returns them with their K³ third moments each, counted over
// an even subsample of the rows.
func tripleMoments(L *Matrix, seed uint64, workers int) ([][3]int, []float64) {
	m, k := L.M, L.K
	if m < 3 {
		return nil, nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x7219))
	pool := make([]int, m)
	for j := range pool {
		pool[j] = j
	}
	if m > maxTripleLFs {
		rng.Shuffle(m, func(a, b int) { pool[a], pool[b] = pool[b], pool[a] })
		pool = pool[:maxTripleLFs]
		sortInts(pool)
	}
	q := len(pool)
	var trip [][3]int
	if total := q * (q - 1) * (q - 2) / 6; total <= maxTriples {
		for a := 0; a < q; a++ {
			for b := a + 1; b < q; b++ {
				for c := b + 1; c < q; c++ {
					trip = append(trip, [3]int{pool[a], pool[b], pool[c]})
				}
			}
		}
	} else {
		seen := map[[3]int]bool{}
		for len(trip) < maxTriples {
			x := [3]int{pool[rng.IntN(q)], pool[rng.IntN(q)], pool[rng.IntN(q)]}
			sortInts(x[:])
			if x[0] == x[1] || x[1] == x[2] || seen[x] {
				continue
			}
			seen[x] = true
			trip = append(trip, x)
		}
	}
	// Local index of each pooled function, and triple index by local
	// (a, b, c).
	local := make([]int32, m)
	for j := range local {
		local[j] = -1
	}
	for n, j := range pool {
		local[j] = int32(n)
	}
	table := make([]int32, q*q*q)
	for i := range table {
		table[i] = -1
	}
	for t, x := range trip {
		table[(int(local[x[0]])*q+int(local[x[1]]))*q+int(local[x[2]])] = int32(t)
	}
	// Subsample rows so that the enumerated triples stay in budget.
	covered := 0
	for i := 0; i < L.N; i++ {
		if L.Covered(i) {
			covered++
		}
	}
	if covered == 0 {
		return nil, nil
	}
	v := float64(L.NNZ()) / float64(covered)
	perRow := max(v*(v-1)*(v-2)/6, 1)
	stride := max(1, int(float64(L.N)*perRow/tripleBudget))
	k3 := k * k * k
	w := workersOr(workers)
	counts := make([][]uint32, w)
	rowsSeen := make([]int, w)
	parallelRows(L.N, w, func(part, lo, hi int) {
		c := make([]uint32, len(trip)*k3)
		var lc []int32
		var lv []int16
		start := (lo + stride - 1) / stride * stride
		for i := start; i < hi; i += stride {
			rowsSeen[part]++
			cols, votes := L.Row(i)
			lc, lv = lc[:0], lv[:0]
			for e, j := range cols {
				if l := local[j]; l >= 0 {
					lc = append(lc, l)
					lv = append(lv, votes[e])
				}
			}
			for a := 0; a < len(lc); a++ {
				for b := a + 1; b < len(lc); b++ {
					base := (int(lc[a])*q + int(lc[b])) * q
					for cc := b + 1; cc < len(lc); cc++ {
						t := table[base+int(lc[cc])]
						if t < 0 {
							continue
						}
						c[int(t)*k3+(int(lv[a])*k+int(lv[b]))*k+int(lv[cc])]++
					}
				}
			}
		}
		counts[part] = c
	})
	n := 0
	for _, r := range rowsSeen {
		n += r
	}
	out := make([]float64, len(trip)*k3)
	for _, c := range counts {
		for i, x := range c {
			out[i] += float64(x)
		}
	}
	for i := range out {
		out[i] /= float64(n)
	}
	return trip, out
}

func sortInts(x []int) {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] < x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}
