package data

import (
	"fmt"
	"math/rand/v2"
)

// Sampler decides which samples one data-parallel rank visits in each
// epoch, and in what order. It is pure: Order(e) depends only on the fields
// and e, so every rank of a job, and every rerun, agrees on it.
//
// The scheme is PyTorch's DistributedSampler: the epoch's permutation of
// 0..N-1 (the identity when Shuffle is off) is padded by wrapping around
// to a multiple of WorldSize, and rank r takes positions r, r+W, r+2W, ….
// For N = 10, W = 3 and no shuffle:
//
//	padded order   0 1 2 3 4 5 6 7 8 9 0 1
//	rank 0         0     3     6     9
//	rank 1           1     4     7     0
//	rank 2             2     5     8     1
//
// Every rank gets ceil(N/W) samples; the shards are disjoint but for the
// N mod W padding positions, and together they cover every sample.
type Sampler struct {
	// N is the number of samples in the data set.
	N int
	// Shuffle draws a new permutation for each epoch from (Seed, epoch).
	Shuffle bool
	Seed    uint64
	// Rank and WorldSize select the shard; WorldSize 0 means 1.
	Rank, WorldSize int
}

func (s Sampler) world() int { return max(1, s.WorldSize) }

// check reports a sampler whose fields are out of range.
func (s Sampler) check() error {
	if s.N < 0 || s.WorldSize < 0 {
		return fmt.Errorf("sampler: %d samples, world of %d", s.N, s.WorldSize)
	}
	if s.Rank < 0 || s.Rank >= s.world() {
		return fmt.Errorf("sampler: rank %d outside a world of %d", s.Rank, s.world())
	}
	return nil
}

// Len returns how many samples each rank visits per epoch: ceil(N/WorldSize).
func (s Sampler) Len() int {
	w := s.world()
	return (s.N + w - 1) / w
}

// Order returns this rank's sample indices for epoch e, in visiting order.
func (s Sampler) Order(e int) []int {
	perm := s.Permutation(e)
	w := s.world()
	out := make([]int, 0, s.Len())
	for i := s.Rank; i < s.Len()*w; i += w {
		out = append(out, perm[i%s.N])
	}
	return out
}

// Permutation returns epoch e's permutation of 0..N-1 before sharding:
// the identity without Shuffle, else a Fisher–Yates shuffle driven by a PCG
// seeded from (Seed, e).
func (s Sampler) Permutation(e int) []int {
	perm := make([]int, s.N)
	for i := range perm {
		perm[i] = i
	}
	if s.Shuffle {
		// The second PCG word is an odd-multiplier bijection of e, so
		// that distinct epochs draw from distinct streams.
		rng := rand.New(rand.NewPCG(s.Seed, uint64(e)*0x9e3779b97f4a7c15+1))
		rng.Shuffle(s.N, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	}
	return perm
}
