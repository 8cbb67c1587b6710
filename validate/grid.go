package validate

import (
	"fmt"
	"math"
)

const (
	// gridBins bounds how many bins a Grid spans.
	gridBins = 8192
	// gridMinExp is the finest bin width, 2^-32.
	gridMinExp = -32
	// gridWindow0 is the first size of a grid's working window.
	gridWindow0 = 256
)

// Grid is a mergeable fine histogram: bin k holds the values in
// [k·2^Exp, (k+1)·2^Exp). Exp is the smallest power of two (at least
// gridMinExp) at which the values' range spans at most gridBins bins, so
// it is a function of the minimum and maximum alone and two partitions'
// grids, brought to the larger Exp by pairing bins, add up to exactly the
// grid of their union. Each bin also remembers its value while every value
// in it is the same one, so that discrete data (ages, prices) re-bins into
// coarser histograms exactly; only bins of mixed values are spread
// uniformly. Drift's Jensen-Shannon histograms and the equal-width
// histograms of the statistics are re-binned from it.
type Grid struct {
	// Exp is the base-2 logarithm of the bin width.
	Exp int `json:"exp"`
	// Lo is the index of Counts[0].
	Lo int64 `json:"lo"`
	// Counts holds the counts of bins Lo, Lo+1, ...
	Counts []int64 `json:"counts,omitempty"`
	// Values holds each bin's single value (0 where the bin is empty or
	// mixed).
	Values []float64 `json:"values,omitempty"`
	// Mixed lists the offsets into Counts of bins holding several values.
	Mixed []int32 `json:"mixed,omitempty"`

	live  bool
	scale float64 // 2^-Exp
	base  int64   // index of win[0]
	// win holds each bin's count and single value (NaN once mixed) side
	// by side, one cache access per value added.
	win    []gbin
	lo, hi int64
	// anyMixed is set once a bin holds two values; onMix, when set, is
	// called just before that happens, while every bin still holds one.
	anyMixed bool
	onMix    func()
	spare    []gbin
}

// gbin is one bin of a Grid's working window.
type gbin struct {
	c int64
	v float64
}

func (g *Grid) firstMix() {
	if g.onMix != nil {
		g.onMix() // while the grid is still exact
	}
	g.anyMixed = true
}

// eachValue calls fn with each bin's value and count, in increasing
// order, while no bin is mixed (so the grid holds the values exactly).
func (g *Grid) eachValue(fn func(v float64, c int64)) {
	if !g.live || g.anyMixed {
		return
	}
	for j := g.lo; j <= g.hi; j++ {
		if b := g.win[j-g.base]; b.c > 0 {
			fn(b.v, b.c)
		}
	}
}

func (g *Grid) setExp(e int) {
	g.Exp = e
	g.scale = math.Ldexp(1, -e)
}

// Add adds one finite value. It reports whether x repeats its bin's
// single value (the bin held x, and only x, already).
func (g *Grid) Add(x float64) (repeat bool) {
	if g.scale == 0 {
		g.setExp(gridMinExp)
	}
	y := x * g.scale
	if math.Abs(y) >= 1<<62 {
		var s uint
		for math.Abs(y) >= 1<<62 {
			y /= 2
			s++
		}
		g.coarsenBy(s)
		y = x * g.scale
	}
	i := int64(y) // truncates toward zero; |y| < 2^62
	if float64(i) > y {
		i-- // floor for negative non-integers
	}
	if g.live && i >= g.lo && i <= g.hi {
		b := &g.win[i-g.base]
		if b.c == 0 {
			b.v = x
		} else if b.v != x {
			if !g.anyMixed {
				g.firstMix()
			}
			b.v = math.NaN() // mixed; NaN never equals a value
		} else {
			repeat = true
		}
		b.c++
		return repeat
	}
	g.addBin(i, 1, x, false)
	return false
}

// addBin adds c values to bin i (at the current Exp), widening bins as
// needed.
func (g *Grid) addBin(i, c int64, v float64, mixed bool) {
	if c == 0 {
		return
	}
	if g.scale == 0 {
		g.setExp(gridMinExp)
	}
	if !g.live {
		g.live = true
		g.win = make([]gbin, gridWindow0)
		g.base = i - gridWindow0/2
		g.lo, g.hi = i, i
	}
	lo, hi := min(g.lo, i), max(g.hi, i)
	if hi-lo+1 > gridBins {
		// Widen by the whole factor at once: shifting by s is the same as
		// pairing bins s times.
		var s uint
		for (hi>>s)-(lo>>s)+1 > gridBins {
			s++
		}
		g.coarsenBy(s)
		i >>= s
		lo, hi = min(g.lo, i), max(g.hi, i)
	}
	if i < g.base || i >= g.base+int64(len(g.win)) {
		g.rebuild(lo, hi, 0)
	}
	g.lo, g.hi = lo, hi
	if mixed {
		v = math.NaN()
	}
	b := &g.win[i-g.base]
	if !g.anyMixed && (mixed || (b.c != 0 && b.v != v)) {
		g.firstMix()
	}
	if b.c == 0 {
		b.v = v
	} else if b.v != v {
		b.v = math.NaN()
	}
	b.c += c
}

// coarsen doubles the bin width, pairing bins.
func (g *Grid) coarsen() { g.coarsenBy(1) }

// coarsenBy multiplies the bin width by 2^s.
func (g *Grid) coarsenBy(s uint) {
	if g.live {
		g.rebuild(g.lo>>s, g.hi>>s, s)
	}
	g.setExp(g.Exp + int(s))
}

// rebuild re-centres the window on [lo, hi] (indices after shifting the
// old ones right by shift).
func (g *Grid) rebuild(lo, hi int64, shift uint) {
	// The window grows with the span it must hold (twice it, so that it
	// is re-centred rarely), up to twice gridBins.
	size := int64(len(g.win))
	for size < 2*(hi-lo+1) && size < 2*gridBins {
		size *= 2
	}
	// Build into the spare pair of buffers (the window before last),
	// sparing an allocation per re-centring.
	var win []gbin
	if int64(cap(g.spare)) >= size {
		win = g.spare[:size]
		clear(win)
	} else {
		win = make([]gbin, size)
	}
	base := lo - (size-(hi-lo+1))/2
	for j := g.lo; j <= g.hi; j++ {
		old := g.win[j-g.base]
		c := old.c
		if c == 0 {
			continue
		}
		k := j>>shift - base
		v := old.v
		if win[k].c == 0 {
			win[k].v = v
		} else if win[k].v != v {
			if !g.anyMixed {
				g.firstMix() // the old window is still whole
			}
			win[k].v = math.NaN()
		}
		win[k].c += c
	}
	g.spare = g.win
	g.win, g.base, g.lo, g.hi = win, base, lo, hi
}

// flush writes the working window into the exported fields.
func (g *Grid) flush() {
	if !g.live {
		return
	}
	n := g.hi - g.lo + 1
	off := g.lo - g.base
	g.Lo = g.lo
	g.Counts = make([]int64, n)
	g.Values = make([]float64, n)
	g.Mixed = nil
	for k := int64(0); k < n; k++ {
		bin := g.win[off+k]
		g.Counts[k] = bin.c
		if bin.c == 0 {
			continue
		}
		if bin.v != bin.v {
			g.Mixed = append(g.Mixed, int32(k))
		} else {
			g.Values[k] = bin.v
		}
	}
}

// thaw rebuilds the working window from the exported fields.
func (g *Grid) thaw() error {
	if g.live || len(g.Counts) == 0 {
		return nil
	}
	if len(g.Counts) > gridBins || len(g.Values) != len(g.Counts) {
		return fmt.Errorf("grid: %d counts and %d values, want equal and at most %d", len(g.Counts), len(g.Values), gridBins)
	}
	if g.Exp < gridMinExp || g.Exp > 1000 || g.Lo <= -(1<<62) || g.Lo+int64(len(g.Counts)) >= 1<<62 {
		return fmt.Errorf("grid: bin width 2^%d or first bin %d out of range", g.Exp, g.Lo)
	}
	mixed := map[int32]bool{}
	for _, m := range g.Mixed {
		mixed[m] = true
	}
	exp, lo, counts, values := g.Exp, g.Lo, g.Counts, g.Values
	*g = Grid{}
	g.setExp(exp)
	for k, c := range counts {
		if c < 0 {
			return fmt.Errorf("grid: negative count %d", c)
		}
		g.addBin(lo+int64(k), c, values[k], mixed[int32(k)])
	}
	return nil
}

// Merge folds o (flushed) into g (working).
func (g *Grid) Merge(o *Grid) {
	if len(o.Counts) == 0 {
		return
	}
	if g.scale == 0 {
		g.setExp(gridMinExp)
	}
	for g.Exp < o.Exp {
		if !g.live {
			g.setExp(o.Exp)
			break
		}
		g.coarsen()
	}
	mixed := map[int32]bool{}
	for _, m := range o.Mixed {
		mixed[m] = true
	}
	for k, c := range o.Counts {
		i := o.Lo + int64(k)
		g.addBin(i>>(g.Exp-o.Exp), c, o.Values[k], mixed[int32(k)])
	}
	// addBin may have widened bins mid-way; the shift above uses the Exp
	// current at each bin, and pairing is associative, so the result is
	// the same as adding at the final width.
}

// binMass is one grid bin read back: count c of values in [a, b], or all
// at point a when point is set.
type binMass struct {
	a, b  float64
	c     float64
	point bool
}

// masses returns the bins of the flushed grid, clipped to the data's
// [min, max].
func (g *Grid) masses(dmin, dmax float64) []binMass {
	w := math.Ldexp(1, g.Exp)
	mixed := map[int32]bool{}
	for _, m := range g.Mixed {
		mixed[m] = true
	}
	var out []binMass
	for k, c := range g.Counts {
		if c == 0 {
			continue
		}
		if !mixed[int32(k)] {
			out = append(out, binMass{a: g.Values[k], c: float64(c), point: true})
			continue
		}
		a := float64(g.Lo+int64(k)) * w
		b := a + w
		a, b = max(a, dmin), min(b, dmax)
		out = append(out, binMass{a: a, b: b, c: float64(c), point: b <= a})
	}
	return out
}

// EqualWidthBin is the bin of x among n equal-width bins over [lo, hi]:
// floor((x-lo)/((hi-lo)/n)), clamped to [0, n-1]; all values fall in bin 0
// when hi == lo. Drift's Jensen-Shannon histograms use exactly this rule.
func EqualWidthBin(x, lo, hi float64, n int) int {
	if !(hi > lo) {
		return 0
	}
	j := int(math.Floor((x - lo) / ((hi - lo) / float64(n))))
	return min(max(j, 0), n-1)
}

// rebin spreads the grid's masses over n equal-width bins on [lo, hi]:
// single-valued bins exactly by EqualWidthBin, mixed bins in proportion to
// their overlap with each bin.
func rebin(ms []binMass, lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	width := (hi - lo) / float64(n)
	for _, m := range ms {
		if m.point || !(hi > lo) {
			out[EqualWidthBin(m.a, lo, hi, n)] += m.c
			continue
		}
		ja, jb := EqualWidthBin(m.a, lo, hi, n), EqualWidthBin(m.b, lo, hi, n)
		span := m.b - m.a
		for j := ja; j <= jb; j++ {
			l, r := lo+float64(j)*width, lo+float64(j+1)*width
			if j == 0 {
				l = math.Inf(-1)
			}
			if j == n-1 {
				r = math.Inf(1)
			}
			ov := min(r, m.b) - max(l, m.a)
			if ov > 0 {
				out[j] += m.c * ov / span
			}
		}
	}
	return out
}
