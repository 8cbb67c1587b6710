package label

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// SynthConfig describes a synthetic label matrix drawn from the model the
// label models assume: Y ~ ClassBalance; each function j votes on a row
// with probability Coverage[j] (independently of Y), and when it votes it
// says Y with probability Accuracies[j] and otherwise one of the other
// classes uniformly.
type SynthConfig struct {
	N            int
	ClassBalance []float64 // K entries summing to 1
	Accuracies   []float64 // M entries
	Coverage     []float64 // M entries
	Seed         uint64
}

// Synthesize draws a label matrix and its ground truth. Functions are drawn
// in parallel, each from its own seeded stream, so the result depends on
// the config only.
func Synthesize(cfg SynthConfig) (*Matrix, []int, error) {
	k, m := len(cfg.ClassBalance), len(cfg.Accuracies)
	if k < 2 || k > MaxClasses {
		return nil, nil, fmt.Errorf("synthesize: %d classes, want 2 to %d", k, MaxClasses)
	}
	if err := checkBalance(cfg.ClassBalance, k); err != nil {
		return nil, nil, fmt.Errorf("synthesize: %w", err)
	}
	if len(cfg.Coverage) != m || cfg.N < 0 {
		return nil, nil, errors.New("synthesize: want N >= 0 and one coverage per accuracy")
	}
	for j := 0; j < m; j++ {
		if !(cfg.Coverage[j] > 0 && cfg.Coverage[j] <= 1 && cfg.Accuracies[j] >= 0 && cfg.Accuracies[j] <= 1) {
			return nil, nil, fmt.Errorf("synthesize: function %d has coverage %g and accuracy %g, want (0,1] and [0,1]", j, cfg.Coverage[j], cfg.Accuracies[j])
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	cum := make([]float64, k)
	s := 0.0
	for y, p := range cfg.ClassBalance {
		s += p
		cum[y] = s
	}
	gold := make([]int, cfg.N)
	for i := range gold {
		u := rng.Float64() * s
		y := 0
		for y < k-1 && u >= cum[y] {
			y++
		}
		gold[i] = y
	}
	// Each function's votes as (row, vote), drawn by geometric skips over
	// the rows it covers.
	rows := make([][]int32, m)
	votes := make([][]int16, m)
	var wg sync.WaitGroup
	for j := 0; j < m; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(j)+1))
			cov, acc := cfg.Coverage[j], cfg.Accuracies[j]
			logq := math.Log1p(-cov)
			i := -1
			for {
				if cov >= 1 {
					i++
				} else {
					i += 1 + int(math.Floor(math.Log(1-r.Float64())/logq))
				}
				if i >= cfg.N || i < 0 {
					break
				}
				v := gold[i]
				if r.Float64() >= acc {
					v = (v + 1 + r.IntN(k-1)) % k
				}
				rows[j] = append(rows[j], int32(i))
				votes[j] = append(votes[j], int16(v))
			}
		}()
	}
	wg.Wait()
	// Counting sort into rows; functions are placed in increasing order,
	// so columns increase within each row.
	L := &Matrix{N: cfg.N, M: m, K: k, Names: DefaultNames(m), RowPtr: make([]int64, cfg.N+1)}
	for j := range rows {
		for _, i := range rows[j] {
			L.RowPtr[i+1]++
		}
	}
	for i := 0; i < cfg.N; i++ {
		L.RowPtr[i+1] += L.RowPtr[i]
	}
	nnz := L.RowPtr[cfg.N]
	L.Cols = make([]int32, nnz)
	L.Votes = make([]int16, nnz)
	next := append([]int64(nil), L.RowPtr[:cfg.N]...)
	for j := range rows {
		for e, i := range rows[j] {
			L.Cols[next[i]] = int32(j)
			L.Votes[next[i]] = votes[j][e]
			next[i]++
		}
	}
	return L, gold, nil
}
