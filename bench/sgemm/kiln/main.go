// Command kiln times a float32 N×N×N GEMM through Kiln's tensor.Backend()
// (OpenBLAS with -tags openblas, pure Go otherwise) and prints the median
// GFLOP/s as one JSON line.
package main

import (
	"encoding/json"
	"flag"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tensor/blas"
)

func main() {
	n := flag.Int("n", 1024, "matrix size")
	threads := flag.Int("threads", 1, "BLAS threads")
	reps := flag.Int("reps", 15, "timed repetitions")
	flag.Parse()
	runtime.GOMAXPROCS(*threads)
	tensor.SetThreads(*threads)
	a, b, c := make([]float32, *n**n), make([]float32, *n**n), make([]float32, *n**n)
	for i := range a {
		a[i] = float32(i%7) * 0.1
		b[i] = float32(i%5) * 0.2
	}
	be := tensor.Backend()
	var ts []float64
	for r := -3; r < *reps; r++ {
		t0 := time.Now()
		be.Sgemm(blas.NoTrans, blas.NoTrans, *n, *n, *n, 1, a, *n, b, *n, 0, c, *n)
		if r >= 0 {
			ts = append(ts, time.Since(t0).Seconds())
		}
	}
	sort.Float64s(ts)
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"impl": "kiln-" + be.Name(), "n": *n, "threads": *threads,
		"gflops": 2 * float64(*n) * float64(*n) * float64(*n) / ts[len(ts)/2] / 1e9,
	})
}
