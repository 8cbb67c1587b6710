// Command kiln is Kiln's side of bench-allreduce_vs_gloo: one rank of an
// all-reduce benchmark. Rank 0 serves the rendezvous store. For each size
// it runs warm-up rounds and timed repetitions (a barrier before each) and
// prints one JSON line per size with the median latency.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/collective"
)

func main() {
	rank := flag.Int("rank", 0, "this rank")
	world := flag.Int("world", 2, "world size")
	store := flag.String("store", "127.0.0.1:29600", "rendezvous store address (rank 0 serves it)")
	sizes := flag.String("sizes", "4096,65536,1048576,16777216,104857600,268435456", "buffer sizes in bytes")
	reps := flag.Int("reps", 10, "timed repetitions per size (fewer above 64 MB)")
	transport := flag.String("transport", "tcp", "tcp, or auto (Unix sockets between processes on one machine)")
	flag.Parse()
	ctx := context.Background()
	if *rank == 0 {
		srv, err := collective.ServeStore(*store)
		if err != nil {
			fail(err)
		}
		defer srv.Close()
	}
	st, err := collective.DialStore(ctx, *store)
	if err != nil {
		fail(err)
	}
	g, err := collective.Join(ctx, collective.Config{Rank: *rank, Size: *world, Store: st, Timeout: 60 * time.Second, Transport: *transport})
	if err != nil {
		fail(err)
	}
	defer g.Close()
	for _, s := range strings.Split(*sizes, ",") {
		bytes, err := strconv.Atoi(s)
		if err != nil {
			fail(err)
		}
		x := make([]float32, bytes/4)
		for i := range x {
			x[i] = 1
		}
		r := *reps
		if bytes > 64<<20 {
			r = max(3, r/3)
		} else if bytes <= 1<<20 {
			r *= 50
		}
		var ts []float64
		for i := -2; i < r; i++ {
			if err := g.Barrier(); err != nil {
				fail(err)
			}
			t0 := time.Now()
			if err := g.AllReduce(x, collective.Auto); err != nil {
				fail(err)
			}
			if i >= 0 {
				ts = append(ts, time.Since(t0).Seconds())
			}
		}
		sort.Float64s(ts)
		med := ts[len(ts)/2]
		if *rank == 0 {
			json.NewEncoder(os.Stdout).Encode(map[string]any{"impl": "kiln-" + *transport, "bytes": bytes, "latency_s": med, "algbw_gbps": float64(bytes) / med / 1e9})
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "allreduce bench:", err)
	os.Exit(1)
}
