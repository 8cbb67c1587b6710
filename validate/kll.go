package validate

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// kllK is the sketch's accuracy parameter: with k = 200 the rank error of
// a quantile is about 1.65% with high probability (Karnin, Lang, Liberty
// 2016, §4; the constant is Apache DataSketches' for k = 200).
const kllK = 200

// kllMinCap is the smallest capacity of a level (DataSketches uses 8):
// larger low levels compact less often, which costs memory (at most
// kllMinCap items a level) and only improves accuracy.
const kllMinCap = 64

// KLL is the KLL quantile sketch (Karnin, Lang, Liberty, "Optimal Quantile
// Approximation in Streams", FOCS 2016). Level h holds items of weight
// 2^h; when the sketch is full the lowest full level is sorted and every
// other item, starting at a random offset, is promoted to the next level.
// Two sketches merge by concatenating levels and compacting, so the merge
// of partitions' sketches answers within the same error bound as one sketch
// over the whole stream (§3, mergeability). Weights are kept exact: the
// items' weights always sum to N.
type KLL struct {
	// Levels[h] holds the items of weight 2^h.
	Levels [][]float64 `json:"levels,omitempty"`
	// N is the number of values added.
	N int64 `json:"n"`
	// State is the compactor's coin-flip generator (xorshift64).
	State uint64 `json:"state,omitempty"`

	size    int
	budget  int
	scratch []float64
	merged  []float64
	keys    []uint64
}

// kllDepthCap[d] is the capacity of a level d below the top:
// k·(2/3)^d, at least 2; kllBudget[H] is the total capacity of H levels.
var kllDepthCap, kllBudget = func() (caps, budget [65]int) {
	for d := range caps {
		caps[d] = max(int(math.Ceil(kllK*math.Pow(2.0/3.0, float64(d)))), kllMinCap)
		if d > 0 {
			budget[d] = budget[d-1] + caps[d-1]
		}
	}
	return
}()

// kllLevel0Cap is the smallest capacity of level 0, where values arrive
// unsorted: a long level 0 is sorted in few radix passes per value.
const kllLevel0Cap = 4096

// kllCap is the capacity of level h of height levels.
func kllCap(h, height int) int {
	if h == 0 {
		return max(kllDepthCap[height-1], kllLevel0Cap)
	}
	return kllDepthCap[height-1-h]
}

// kllTotal is the capacity of a sketch of height levels.
func kllTotal(height int) int {
	if height == 0 {
		return 0
	}
	return kllBudget[height] - kllDepthCap[height-1] + kllCap(0, height)
}

func (s *KLL) recount() {
	s.size = 0
	for h := range s.Levels {
		s.size += len(s.Levels[h])
	}
	s.budget = kllTotal(len(s.Levels))
}

// mergeSorted merges sorted b into sorted a, reusing a buffer.
func (s *KLL) mergeSorted(a, b []float64) []float64 {
	out := s.merged[:0]
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if b[j] < a[i] {
			out = append(out, b[j])
			j++
		} else {
			out = append(out, a[i])
			i++
		}
	}
	out = append(append(out, a[i:]...), b[j:]...)
	s.merged = a[:0] // a's array becomes the next buffer
	return out
}

// Add adds one value (callers filter NaN).
func (s *KLL) Add(x float64) {
	if s.Levels == nil {
		s.Levels = [][]float64{make([]float64, 0, kllLevel0Cap)}
		s.recount()
	}
	s.Levels[0] = append(s.Levels[0], x)
	s.N++
	s.size++
	if s.size >= s.budget {
		s.compress()
	}
}

func (s *KLL) coin() int {
	if s.State == 0 {
		s.State = 0x9e3779b97f4a7c15
	}
	s.State ^= s.State << 13
	s.State ^= s.State >> 7
	s.State ^= s.State << 17
	return int(s.State >> 63)
}

// addSorted adds value x with weight c (values in increasing order
// across calls, so that the levels above 0 stay sorted): c's binary
// digits place one item of weight 2^h at each level h. Call settle after
// the last.
func (s *KLL) addSorted(x float64, c int64) {
	s.N += c
	for h := 0; c > 0; h, c = h+1, c>>1 {
		if c&1 == 1 {
			for len(s.Levels) <= h {
				s.Levels = append(s.Levels, nil)
			}
			s.Levels[h] = append(s.Levels[h], x)
		}
	}
}

// settle compacts after addSorted.
func (s *KLL) settle() {
	if len(s.Levels) == 0 {
		return
	}
	s.recount()
	s.compress()
}

// compress compacts the lowest level at or over its capacity until the
// sketch is within its budget.
func (s *KLL) compress() {
	for s.size >= s.budget {
		height := len(s.Levels)
		h := 0
		for h < height && len(s.Levels[h]) < kllCap(h, height) {
			h++
		}
		if h == height {
			return
		}
		if h+1 == height {
			s.Levels = append(s.Levels, nil)
		}
		lv := s.Levels[h]
		if h == 0 {
			s.keys = radixSort(lv, s.keys) // levels above 0 are kept sorted
		}
		odd := len(lv)%2 == 1
		var keep float64
		if odd {
			keep = lv[len(lv)-1]
			lv = lv[:len(lv)-1]
		}
		off := s.coin()
		run := s.scratch[:0]
		for i := off; i < len(lv); i += 2 {
			run = append(run, lv[i])
		}
		s.scratch = run
		s.Levels[h+1] = s.mergeSorted(s.Levels[h+1], run)
		s.size -= len(lv) - len(lv)/2
		s.Levels[h] = s.Levels[h][:0]
		if odd {
			s.Levels[h] = append(s.Levels[h], keep)
		}
		s.budget = kllTotal(len(s.Levels))
	}
}

// Merge folds o into s.
func (s *KLL) Merge(o *KLL) {
	if o.N == 0 {
		return
	}
	for len(s.Levels) < len(o.Levels) {
		s.Levels = append(s.Levels, nil)
	}
	for h, lv := range o.Levels {
		if h == 0 {
			s.Levels[0] = append(s.Levels[0], lv...)
		} else {
			s.Levels[h] = s.mergeSorted(s.Levels[h], lv)
		}
	}
	s.N += o.N
	s.State ^= o.State
	s.recount()
	s.compress()
}

// check verifies that the sketch's weights sum to N (for decoded sketches).
func (s *KLL) check() error {
	var w int64
	if len(s.Levels) > 63 {
		return fmt.Errorf("kll: %d levels", len(s.Levels))
	}
	for h, lv := range s.Levels {
		for _, v := range lv {
			if v != v {
				return fmt.Errorf("kll: NaN item")
			}
		}
		if h > 0 {
			slices.Sort(lv)
		}
		w += int64(len(lv)) << h
		if w < 0 {
			return fmt.Errorf("kll: weights overflow")
		}
	}
	if w != s.N {
		return fmt.Errorf("kll: weights sum to %d, want n = %d", w, s.N)
	}
	s.recount()
	return nil
}

type weighted struct {
	v float64
	w int64
}

func (s *KLL) sorted() []weighted {
	var out []weighted
	for h, lv := range s.Levels {
		for _, v := range lv {
			out = append(out, weighted{v, 1 << h})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].v < out[j].v })
	return out
}

// Quantiles returns the values at the ranks qs (each in [0, 1]); nil when
// the sketch is empty.
func (s *KLL) Quantiles(qs []float64) []float64 {
	if s.N == 0 {
		return nil
	}
	items := s.sorted()
	out := make([]float64, len(qs))
	for i, q := range qs {
		target := q * float64(s.N)
		var cum int64
		out[i] = items[len(items)-1].v
		for _, it := range items {
			cum += it.w
			if float64(cum) >= target {
				out[i] = it.v
				break
			}
		}
	}
	return out
}

// Rank returns the estimated fraction of values ≤ x.
func (s *KLL) Rank(x float64) float64 {
	if s.N == 0 {
		return 0
	}
	var cum int64
	for h, lv := range s.Levels {
		for _, v := range lv {
			if v <= x {
				cum += 1 << h
			}
		}
	}
	return float64(cum) / float64(s.N)
}
