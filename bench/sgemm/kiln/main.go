// Command kiln times a float32 N×N×N GEMM (C = A·B) through Kiln's
// tensor.Backend() — OpenBLAS with -tags openblas, pure-Go gonum otherwise —
// and prints one JSON line with the median GFLOP/s. It is half of the
// bench/sgemm harness (run.sh); bench/sgemm/direct.c is the other half and
// uses the same inputs, warm-up and repetitions.
//
// Usage:
//
//	kiln [-n 1024] [-threads 1] [-reps 15]
//
// -threads sets both the backend's threads (tensor.SetThreads) and
// GOMAXPROCS, which bounds the pure-Go backend.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tensor/blas"
)

func main() {
	n := flag.Int("n", 1024, "matrix size N (C = A·B with N×N matrices)")
	threads := flag.Int("threads", 1, "BLAS threads (and GOMAXPROCS)")
	reps := flag.Int("reps", 15, "timed repetitions after 3 warm-up calls")
	flag.Parse()
	if *n < 1 || *threads < 1 || *reps < 1 {
		fmt.Fprintf(os.Stderr, "kiln: want -n, -threads and -reps >= 1, got %d, %d, %d\n", *n, *threads, *reps)
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*threads)
	tensor.SetThreads(*threads)
	be := tensor.Backend()
	gflops, err := run(be, *n, *reps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kiln:", err)
		os.Exit(1)
	}
	out := map[string]any{"impl": "kiln-" + be.Name(), "n": *n, "threads": *threads, "gflops": math.Round(gflops*1000) / 1000}
	if c, ok := be.(interface{ CoreName() string }); ok {
		out["core"] = c.CoreName()
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

// run times reps products after 3 warm-up calls, checks two elements of the
// result, and returns the median GFLOP/s.
func run(be blas.BLAS, n, reps int) (float64, error) {
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i] = float32(i%7)*0.1 - 0.3
		b[i] = float32(i%5)*0.2 - 0.4
	}
	var ts []float64
	for r := -3; r < reps; r++ {
		t0 := time.Now()
		be.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, a, n, b, n, 0, c, n)
		if r >= 0 {
			ts = append(ts, time.Since(t0).Seconds())
		}
	}
	for _, ij := range [][2]int{{0, 0}, {n - 1, n / 2}} {
		if err := check(n, a, b, c, ij[0], ij[1]); err != nil {
			return 0, err
		}
	}
	slices.Sort(ts)
	return 2 * float64(n) * float64(n) * float64(n) / ts[len(ts)/2] / 1e9, nil
}

// check compares C[i][j] with a float64 dot product to float32 accuracy.
func check(n int, a, b, c []float32, i, j int) error {
	var s, sa float64
	for p := range n {
		x := float64(a[i*n+p]) * float64(b[p*n+j])
		s += x
		sa += math.Abs(x)
	}
	if got := float64(c[i*n+j]); math.Abs(got-s) > 2*float64(n+2)*0x1p-24*sa {
		return fmt.Errorf("C[%d][%d] = %g, want %g", i, j, got, s)
	}
	return nil
}
