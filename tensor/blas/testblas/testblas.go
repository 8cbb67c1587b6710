// Package testblas holds the tests and benchmarks that every blas.BLAS
// implementation must pass, comparing it with the reference in blas/naive.
// Each backend package calls TestSgemm from a test and BenchmarkSgemm from
// benchmarks named by size (BenchmarkSgemm64, BenchmarkSgemm256,
// BenchmarkSgemm1024).
package testblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/kiln-ml/kiln/tensor/blas"
	"github.com/kiln-ml/kiln/tensor/blas/naive"
)

// Sizes are the values of m, n and k that TestSgemm combines in every way:
// empty, tiny, odd, and just past the 64-wide blocks that fast kernels use.
var Sizes = []int{0, 1, 2, 3, 7, 17, 31, 64, 65, 129}

// scalars are the (alpha, beta) pairs the cases cycle through: beta = 0
// (C filled with NaN, which must be ignored), beta = 1, alpha = 0 (A and B
// must not matter) and general values.
var scalars = [][2]float32{
	{1, 0}, {1, 1}, {-0.5, 0}, {2.5, -1.5}, {0, 0.5}, {0, 0}, {1, 0.25}, {-1, 1},
}

// padSentinel fills the padding of C's rows (columns n..ldc-1), which no
// backend may write.
const padSentinel = float32(-12345.5)

// TestSgemm checks impl.Sgemm against the reference on every combination
// of Sizes for m, n and k with all four transpose combinations, on random
// larger shapes, with padded rows (lda, ldb, ldc above the row length, the
// padding of A and B filled with NaN so that reading it shows, the padding
// of C checked untouched), on beta = 0 with C full of NaN, on alpha = 0
// with NaN in A and B, on calls with different thread counts, on
// concurrent calls, and on malformed calls, which must panic.
func TestSgemm(t *testing.T, impl blas.BLAS) {
	t.Run("Shapes", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var fails int
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				for _, m := range Sizes {
					for _, n := range Sizes {
						for _, k := range Sizes {
							c := randomCase(rng, tA, tB, m, n, k)
							if err := c.run(impl); err != nil {
								t.Error(err)
								if fails++; fails == 10 {
									t.Fatal("stopping after 10 failures")
								}
							}
						}
					}
				}
			}
		}
	})
	t.Run("Random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for range 40 {
			c := randomCase(rng, rng.IntN(2) == 1, rng.IntN(2) == 1, 1+rng.IntN(200), 1+rng.IntN(200), 1+rng.IntN(200))
			if err := c.run(impl); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("Alpha0IgnoresAB", func(t *testing.T) {
		// BLAS does not read A and B when alpha is 0, so their NaNs and
		// infinities must not reach C.
		a := []float32{float32(math.NaN()), float32(math.Inf(1)), 1, 2}
		b := []float32{float32(math.Inf(-1)), float32(math.NaN()), 3, 4}
		c := []float32{1, 2, 3, 4}
		impl.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 2, 0, a, 2, b, 2, 0.5, c, 2)
		if want := []float32{0.5, 1, 1.5, 2}; !equal(c, want) {
			t.Fatalf("%s: alpha=0, beta=0.5: C = %v, want %v", impl.Name(), c, want)
		}
	})
	t.Run("Threads", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, th := range []int{2, 0, -3, 1} {
			impl.SetThreads(th)
			c := randomCase(rng, blas.NoTrans, blas.Trans, 257, 130, 129)
			if err := c.run(impl); err != nil {
				t.Fatalf("after SetThreads(%d): %v", th, err)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(7, uint64(g)))
				for range 10 {
					c := randomCase(rng, rng.IntN(2) == 1, rng.IntN(2) == 1, 1+rng.IntN(100), 1+rng.IntN(100), 1+rng.IntN(100))
					if err := c.run(impl); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("Panics", func(t *testing.T) { testPanics(t, impl) })
}

// testPanics checks that calls whose arguments do not fit together panic
// (in Go, before any C code could read past a slice).
func testPanics(t *testing.T, impl blas.BLAS) {
	s := func(n int) []float32 { return make([]float32, n) }
	bad := []struct {
		name string
		call func()
	}{
		{"negative m", func() { impl.Sgemm(false, false, -1, 2, 2, 1, s(4), 2, s(4), 2, 0, s(4), 2) }},
		{"negative k", func() { impl.Sgemm(false, false, 2, 2, -1, 1, s(4), 2, s(4), 2, 0, s(4), 2) }},
		{"short A", func() { impl.Sgemm(false, false, 2, 2, 2, 1, s(3), 2, s(4), 2, 0, s(4), 2) }},
		{"short A transposed", func() { impl.Sgemm(true, false, 3, 2, 2, 1, s(5), 3, s(4), 2, 0, s(6), 2) }},
		{"short B", func() { impl.Sgemm(false, false, 2, 2, 2, 1, s(4), 2, s(3), 2, 0, s(4), 2) }},
		{"short B transposed", func() { impl.Sgemm(false, true, 2, 3, 2, 1, s(4), 2, s(5), 2, 0, s(6), 3) }},
		{"short C", func() { impl.Sgemm(false, false, 2, 2, 2, 1, s(4), 2, s(4), 2, 0, s(3), 2) }},
		{"short padded C", func() { impl.Sgemm(false, false, 2, 2, 2, 1, s(4), 2, s(4), 2, 0, s(4), 3) }},
		{"short C with k=0", func() { impl.Sgemm(false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0, s(3), 2) }},
		{"lda below row", func() { impl.Sgemm(false, false, 2, 2, 3, 1, s(9), 2, s(6), 2, 0, s(4), 2) }},
		{"ldb below row", func() { impl.Sgemm(false, false, 2, 3, 2, 1, s(4), 2, s(9), 2, 0, s(6), 3) }},
		{"ldc below row", func() { impl.Sgemm(false, false, 2, 3, 2, 1, s(4), 2, s(6), 3, 0, s(9), 2) }},
		{"lda below transposed row", func() { impl.Sgemm(true, false, 3, 2, 2, 1, s(9), 2, s(4), 2, 0, s(6), 2) }},
	}
	for _, bc := range bad {
		if !panics(bc.call) {
			t.Errorf("%s: Sgemm with %s did not panic", impl.Name(), bc.name)
		}
	}
	// Empty products are valid with empty slices and zero strides.
	impl.Sgemm(false, false, 0, 0, 0, 1, nil, 0, nil, 0, 0, nil, 0)
	impl.Sgemm(true, true, 0, 5, 3, 1, nil, 0, make([]float32, 15), 3, 0, nil, 5)
	impl.Sgemm(false, false, 4, 0, 3, 1, make([]float32, 12), 3, nil, 0, 0, nil, 0)
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// gemmCase is one Sgemm call with its operands; run executes it on a
// backend and on the reference and compares.
type gemmCase struct {
	tA, tB        blas.Transpose
	m, n, k       int
	alpha, beta   float32
	a, b, c       []float32
	lda, ldb, ldc int
}

func (g *gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g lda=%d ldb=%d ldc=%d",
		g.tA, g.tB, g.m, g.n, g.k, g.alpha, g.beta, g.lda, g.ldb, g.ldc)
}

// randomCase draws the operands of an m×n×k product with random padding,
// scalars and values in [-1, 1). The padding of A and B holds NaN; C holds
// NaN when beta is 0; the padding of C holds padSentinel.
func randomCase(rng *rand.Rand, tA, tB blas.Transpose, m, n, k int) *gemmCase {
	ab := scalars[rng.IntN(len(scalars))]
	g := &gemmCase{tA: tA, tB: tB, m: m, n: n, k: k, alpha: ab[0], beta: ab[1]}
	rowsA, colsA := m, k
	if tA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if tB {
		rowsB, colsB = n, k
	}
	pads := []int{0, 1, 5}
	g.a, g.lda = operand(rng, rowsA, colsA, pads[rng.IntN(3)], rng.IntN(2) == 0, float32(math.NaN()))
	g.b, g.ldb = operand(rng, rowsB, colsB, pads[rng.IntN(3)], rng.IntN(2) == 0, float32(math.NaN()))
	g.c, g.ldc = operand(rng, m, n, pads[rng.IntN(3)], false, padSentinel)
	if g.beta == 0 {
		for i := range m {
			for j := range n {
				g.c[i*g.ldc+j] = float32(math.NaN())
			}
		}
	}
	return g
}

// operand returns a rows×cols matrix with row stride cols+pad holding
// random values, its padding set to fill. With tight, the slice ends right
// after the last value of the last row, as a backend must accept.
func operand(rng *rand.Rand, rows, cols, pad int, tight bool, fill float32) ([]float32, int) {
	ld := cols + pad
	size := rows * ld
	if tight && rows > 0 {
		size = (rows-1)*ld + cols
	}
	x := make([]float32, size)
	for i := range x {
		if i%ld < cols {
			x[i] = 2*rng.Float32() - 1
		} else {
			x[i] = fill
		}
	}
	return x, ld
}

// run calls impl on a copy of the case and compares with the reference.
// Each element may differ from the reference by at most
// 2(k+2)·eps·(|alpha|·Σ|a||b| + |beta·c|), a bound on float32 rounding of a
// k-term dot product in any order, with or without fused multiply-adds.
func (g *gemmCase) run(impl blas.BLAS) error {
	a, b, got := clone(g.a), clone(g.b), clone(g.c)
	impl.Sgemm(g.tA, g.tB, g.m, g.n, g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, got, g.ldc)
	want := clone(g.c)
	naive.Impl{}.Sgemm(g.tA, g.tB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, want, g.ldc)
	bound := abs(g.c)
	naive.Impl{}.Sgemm(g.tA, g.tB, g.m, g.n, g.k, abs32(g.alpha), abs(g.a), g.lda, abs(g.b), g.ldb, abs32(g.beta), bound, g.ldc)

	if !equal(a, g.a) || !equal(b, g.b) {
		return fmt.Errorf("%s: %v: Sgemm changed A or B", impl.Name(), g)
	}
	const eps = 0x1p-24
	for i := range got {
		r, col := i/max(g.ldc, 1), i%max(g.ldc, 1)
		if col >= g.n || r >= g.m {
			if got[i] != padSentinel {
				return fmt.Errorf("%s: %v: wrote %g into the padding of C at row %d column %d", impl.Name(), g, got[i], r, col)
			}
			continue
		}
		tol := 2 * float64(g.k+2) * eps * float64(bound[i])
		diff := math.Abs(float64(got[i]) - float64(want[i]))
		if !(diff <= tol) { // also catches NaN
			return fmt.Errorf("%s: %v: C[%d,%d] = %g, want %g (tolerance %g)", impl.Name(), g, r, col, got[i], want[i], tol)
		}
	}
	return nil
}

func clone(x []float32) []float32 {
	if x == nil {
		return nil
	}
	return append([]float32{}, x...)
}

// abs returns |x| elementwise in a new slice, keeping NaNs (the reference
// ignores C's NaNs when beta is 0, and padding is never read).
func abs(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = abs32(v)
	}
	return y
}

func abs32(v float32) float32 { return float32(math.Abs(float64(v))) }

// equal reports whether x and y hold the same bits (so NaN equals NaN).
func equal(x, y []float32) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return false
		}
	}
	return true
}

// BenchmarkSgemm times C = A·B for n×n matrices (no transposes, alpha 1,
// beta 0) and reports GFLOP/s (2n³ flops per call). It gives impl
// runtime.GOMAXPROCS(0) threads, so `go test -cpu 1,2` sets the thread
// count of every backend alike.
func BenchmarkSgemm(b *testing.B, impl blas.BLAS, n int) {
	impl.SetThreads(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewPCG(8, 9))
	x, _ := operand(rng, n, n, 0, false, 0)
	y, _ := operand(rng, n, n, 0, false, 0)
	z := make([]float32, n*n)
	for b.Loop() {
		impl.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, x, n, y, n, 0, z, n)
	}
	b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
