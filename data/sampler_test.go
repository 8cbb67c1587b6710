package data

import (
	"fmt"
	"slices"
	"testing"
)

// TestSamplerTable checks the shards against PyTorch's DistributedSampler
// (shuffle=False): indices padded by wrapping to a multiple of the world
// size, rank r taking indices[r::world].
func TestSamplerTable(t *testing.T) {
	cases := []struct {
		n, world int
		want     []string
	}{
		{10, 1, []string{"[0 1 2 3 4 5 6 7 8 9]"}},
		{10, 3, []string{"[0 3 6 9]", "[1 4 7 0]", "[2 5 8 1]"}},
		{12, 4, []string{"[0 4 8]", "[1 5 9]", "[2 6 10]", "[3 7 11]"}},
		{2, 4, []string{"[0]", "[1]", "[0]", "[1]"}},
		{3, 8, []string{"[0]", "[1]", "[2]", "[0]", "[1]", "[2]", "[0]", "[1]"}},
	}
	for _, c := range cases {
		for r, want := range c.want {
			s := Sampler{N: c.n, Rank: r, WorldSize: c.world}
			if got := fmt.Sprint(s.Order(7)); got != want {
				t.Errorf("N=%d world %d rank %d: %s, want %s", c.n, c.world, r, got, want)
			}
		}
	}
}

func TestSamplerShuffledShards(t *testing.T) {
	for _, n := range []int{1, 7, 10, 64, 101} {
		for world := 1; world <= 5; world++ {
			perm := Sampler{N: n, Shuffle: true, Seed: 9}.Order(3)
			if sorted := slices.Sorted(slices.Values(perm)); fmt.Sprint(sorted) != fmt.Sprint(identity(n)) {
				t.Fatalf("N=%d: %v is not a permutation", n, perm)
			}
			count := make([]int, n)
			per := (n + world - 1) / world
			for r := 0; r < world; r++ {
				s := Sampler{N: n, Shuffle: true, Seed: 9, Rank: r, WorldSize: world}
				order := s.Order(3)
				if len(order) != per || s.Len() != per {
					t.Fatalf("N=%d world %d rank %d: %d samples, want %d", n, world, r, len(order), per)
				}
				for k, i := range order {
					// Rank r's k-th sample is position r + k·world of
					// the wrapped permutation.
					if want := perm[(r+k*world)%n]; i != want {
						t.Fatalf("N=%d world %d rank %d: sample %d is %d, want %d", n, world, r, k, i, want)
					}
					count[i]++
				}
			}
			extra := 0
			for i, c := range count {
				if c == 0 {
					t.Fatalf("N=%d world %d: sample %d in no shard", n, world, i)
				}
				extra += c - 1
			}
			if extra != per*world-n {
				t.Fatalf("N=%d world %d: %d repeats, want the %d of the padding", n, world, extra, per*world-n)
			}
		}
	}
}

func TestSamplerSeedsAndEpochs(t *testing.T) {
	s := Sampler{N: 50, Shuffle: true, Seed: 1}
	if fmt.Sprint(s.Order(0)) != fmt.Sprint(s.Order(0)) {
		t.Fatal("same seed and epoch, another order")
	}
	seen := map[string]bool{}
	for e := 0; e < 20; e++ {
		seen[fmt.Sprint(s.Order(e))] = true
	}
	if len(seen) != 20 {
		t.Fatalf("20 epochs gave %d distinct orders", len(seen))
	}
	if fmt.Sprint(s.Order(0)) == fmt.Sprint(Sampler{N: 50, Shuffle: true, Seed: 2}.Order(0)) {
		t.Fatal("seeds 1 and 2 gave the same order")
	}
	if fmt.Sprint(Sampler{N: 5}.Order(4)) != "[0 1 2 3 4]" {
		t.Fatal("unshuffled order is not the identity")
	}
	if err := (Sampler{N: 5, Rank: 2, WorldSize: 2}).check(); err == nil {
		t.Fatal("rank 2 of 2 accepted")
	}
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
