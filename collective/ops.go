package collective

import "fmt"

// Algorithm names an all-reduce algorithm.
type Algorithm int

// The all-reduce algorithms.
const (
	// Auto picks RecursiveDoubling below SmallMessage values and Ring
	// above.
	Auto Algorithm = iota
	Ring
	RecursiveDoubling
)

func (a Algorithm) String() string {
	return [...]string{"auto", "ring", "recursive-doubling"}[a]
}

// SmallMessage is the size (in float32 values) below which Auto uses
// recursive doubling: 32 Ki values (128 KiB), where the ring's 2(N−1)
// latency-bound steps cost more than moving whole buffers log₂N times.
const SmallMessage = 32 << 10

// chunk is how many values recvReduce reads before reducing them.
const chunk = 64 << 10

// AllReduce replaces x on every rank with the element-wise sum of x over
// all ranks. Every rank ends with bitwise identical values. Buffers of
// different lengths on different ranks give an error naming both ranks.
func (g *Group) AllReduce(x []float32, alg Algorithm) error {
	if g.size == 1 {
		return nil
	}
	if alg == Auto {
		alg = Ring
		if len(x) < SmallMessage {
			alg = RecursiveDoubling
		}
	}
	switch alg {
	case Ring:
		return g.ringAllReduce(x)
	case RecursiveDoubling:
		return g.recursiveDoubling(x)
	}
	return fmt.Errorf("collective: unknown algorithm %d", alg)
}

// segment returns the bounds of segment i of n over a buffer of length l:
// sizes differ by at most one value, so lengths need not divide evenly.
func segment(l, n, i int) (lo, hi int) {
	return i * l / n, (i + 1) * l / n
}

func mod(a, n int) int { return ((a % n) + n) % n }

// ringAllReduce is a reduce-scatter then an all-gather around the ring
// rank → rank+1. In step s of the reduce-scatter, rank r sends segment
// r−s and receives segment r−s−1, adding it into its own; after N−1 steps
// rank r holds the full sum of segment r+1, which the all-gather passes
// around.
func (g *Group) ringAllReduce(x []float32) error {
	n := g.size
	next, prev := mod(g.rank+1, n), mod(g.rank-1, n)
	scratch := g.scratchBuf(min(chunk, len(x)+1))
	for s := 0; s < n-1; s++ {
		slo, shi := segment(len(x), n, mod(g.rank-s, n))
		rlo, rhi := segment(len(x), n, mod(g.rank-s-1, n))
		if err := g.exchange(next, x[slo:shi], func() error { return g.recvReduce(prev, x[rlo:rhi], scratch) }); err != nil {
			return err
		}
	}
	for s := 0; s < n-1; s++ {
		slo, shi := segment(len(x), n, mod(g.rank+1-s, n))
		rlo, rhi := segment(len(x), n, mod(g.rank-s, n))
		if err := g.exchange(next, x[slo:shi], func() error { return g.recvFloats(prev, x[rlo:rhi]) }); err != nil {
			return err
		}
	}
	return nil
}

// recursiveDoubling exchanges whole buffers with the partner at distance
// 1, 2, 4, ... When N is not a power of two, the ranks from p (the largest
// power of two ≤ N) upward first fold their buffers into rank − p and get
// the result back at the end. Float addition is commutative, so both
// partners of each exchange compute the same bits.
func (g *Group) recursiveDoubling(x []float32) error {
	n := g.size
	p := 1
	for p*2 <= n {
		p *= 2
	}
	tmp := g.scratchBuf(len(x))
	if g.rank >= p {
		if err := g.sendFloats(g.rank-p, x); err != nil {
			return err
		}
		return g.recvFloats(g.rank-p, x)
	}
	if g.rank+p < n {
		if err := g.recvFloats(g.rank+p, tmp); err != nil {
			return err
		}
		addInto(x, tmp)
	}
	for d := 1; d < p; d *= 2 {
		partner := g.rank ^ d
		if err := g.exchange(partner, x, func() error { return g.recvFloats(partner, tmp) }); err != nil {
			return err
		}
		addInto(x, tmp)
	}
	if g.rank+p < n {
		return g.sendFloats(g.rank+p, x)
	}
	return nil
}

// Broadcast copies root's x into x on every rank, along a binomial tree
// (⌈log₂N⌉ rounds).
func (g *Group) Broadcast(x []float32, root int) error {
	if root < 0 || root >= g.size {
		return fmt.Errorf("collective: broadcast root %d outside a world of %d", root, g.size)
	}
	n := g.size
	vr := mod(g.rank-root, n) // rank relative to the root
	mask := 1
	for mask < n {
		if vr < mask {
			if dst := vr + mask; dst < n {
				if err := g.sendFloats(mod(dst+root, n), x); err != nil {
					return err
				}
			}
		} else if vr < 2*mask {
			if err := g.recvFloats(mod(vr-mask+root, n), x); err != nil {
				return err
			}
		}
		mask *= 2
	}
	return nil
}

// AllGather concatenates every rank's in (all of the same length) into out
// (length N·len(in)) in rank order, around the ring.
func (g *Group) AllGather(out, in []float32) error {
	m := len(in)
	if len(out) != g.size*m {
		return fmt.Errorf("collective: all-gather of %d values per rank into %d values, want %d", m, len(out), g.size*m)
	}
	copy(out[g.rank*m:], in)
	n := g.size
	next, prev := mod(g.rank+1, n), mod(g.rank-1, n)
	for s := 0; s < n-1; s++ {
		si, ri := mod(g.rank-s, n), mod(g.rank-s-1, n)
		if err := g.exchange(next, out[si*m:(si+1)*m], func() error { return g.recvFloats(prev, out[ri*m:(ri+1)*m]) }); err != nil {
			return err
		}
	}
	return nil
}

// ReduceScatter sums in over all ranks and leaves in out the rank's
// segment of the sum: segment r of N of len(in) (see SegmentBounds). in is
// used as scratch.
func (g *Group) ReduceScatter(out, in []float32) error {
	lo, hi := segment(len(in), g.size, g.rank)
	if len(out) != hi-lo {
		return fmt.Errorf("collective: reduce-scatter: rank %d's segment holds %d values, out has %d", g.rank, hi-lo, len(out))
	}
	n := g.size
	next, prev := mod(g.rank+1, n), mod(g.rank-1, n)
	scratch := g.scratchBuf(min(chunk, len(in)+1))
	// Shifted by one against ringAllReduce so that rank r ends holding
	// segment r.
	for s := 0; s < n-1; s++ {
		slo, shi := segment(len(in), n, mod(g.rank-s-1, n))
		rlo, rhi := segment(len(in), n, mod(g.rank-s-2, n))
		if err := g.exchange(next, in[slo:shi], func() error { return g.recvReduce(prev, in[rlo:rhi], scratch) }); err != nil {
			return err
		}
	}
	copy(out, in[lo:hi])
	return nil
}

// SegmentBounds returns the [lo, hi) range of a buffer of length l that
// ReduceScatter leaves on rank r of n.
func SegmentBounds(l, n, r int) (lo, hi int) { return segment(l, n, r) }

// Barrier returns once every rank has entered it.
func (g *Group) Barrier() error {
	var x [1]float32
	return g.recursiveDoubling(x[:])
}

// scratchBuf returns the group's scratch buffer with at least n values,
// reused across collectives: a fresh buffer per call would be fresh pages
// from the kernel (page faults and zeroing) whenever the heap is large
// enough that the garbage collector rarely runs, as in a training process.
// Collectives on one group run one at a time, so one buffer suffices.
func (g *Group) scratchBuf(n int) []float32 {
	if cap(g.scratch) < n {
		g.scratch = make([]float32, n)
	}
	return g.scratch[:n]
}
