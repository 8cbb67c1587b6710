package collective

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkAllReduce2 times an all-reduce between two ranks over loopback
// TCP for each algorithm and size.
func BenchmarkAllReduce2(b *testing.B) {
	for _, n := range []int{1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		for _, alg := range []Algorithm{Ring, RecursiveDoubling} {
			b.Run(fmt.Sprintf("%v/%dKiB", alg, n*4>>10), func(b *testing.B) {
				t := &testing.T{}
				var elapsed time.Duration
				world(t, 2, 30*time.Second, func(g *Group) error {
					x := make([]float32, n)
					g.Barrier()
					t0 := time.Now()
					for i := 0; i < b.N; i++ {
						if err := g.AllReduce(x, alg); err != nil {
							return err
						}
					}
					if g.Rank() == 0 {
						elapsed = time.Since(t0)
					}
					return nil
				})
				b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N), "µs/op")
			})
		}
	}
}
