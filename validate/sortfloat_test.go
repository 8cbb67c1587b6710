package validate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSortBits checks radixSort bit for bit against a comparison
// sort that puts -0 before +0 (the order the KLL's compaction sees), for
// inputs where no digit, one digit, several or all digits differ.
func TestRadixSortBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	gens := map[string]func() float64{
		"same":     func() float64 { return 41.5 },
		"zeros":    func() float64 { return math.Copysign(0, float64(rng.IntN(2)*2-1)) },
		"lowbyte":  func() float64 { return math.Float64frombits(math.Float64bits(41.5) + uint64(rng.IntN(256))) },
		"twobytes": func() float64 { return math.Float64frombits(math.Float64bits(-3.25) + uint64(rng.IntN(1<<16))) },
		"coords":   func() float64 { return 41.6 + rng.Float64()/3 },
		"fares":    func() float64 { return float64(rng.IntN(10000)) / 100 },
		"wide":     func() float64 { return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20)) },
		"special": func() float64 {
			switch rng.IntN(4) {
			case 0:
				return math.Inf(1 - 2*rng.IntN(2))
			case 1:
				return math.Copysign(0, -1)
			}
			return rng.NormFloat64()
		},
	}
	ref := func(x, y float64) int {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		case math.Signbit(x) && !math.Signbit(y):
			return -1
		case !math.Signbit(x) && math.Signbit(y):
			return 1
		}
		return 0
	}
	var keys []uint64
	for name, gen := range gens {
		for _, n := range []int{48, 49, 1000, 4096} {
			a := make([]float64, n)
			for i := range a {
				a[i] = gen()
			}
			want := slices.Clone(a)
			slices.SortStableFunc(want, ref)
			keys = radixSort(a, keys)
			for i := range a {
				if math.Float64bits(a[i]) != math.Float64bits(want[i]) {
					t.Fatalf("%s, n %d: item %d is %v (%016x), want %v (%016x)", name, n, i, a[i], math.Float64bits(a[i]), want[i], math.Float64bits(want[i]))
				}
			}
		}
	}
}
