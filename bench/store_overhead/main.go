// Command store_overhead measures what recording metrics every step costs
// the training loop: it trains the MNIST MLP (784-256-128-10, batch 32,
// SGD with momentum, one thread, as kiln quickstart does) in alternating
// phases of -steps steps, one without a recorder and one recording the
// loss and learning rate of every step (and the epoch metrics) into a
// store (SQLite in a temporary KILN_HOME, then PostgreSQL started for the
// run; -backend picks one), in the order ABBA so that a slow
// drift of the machine's speed cancels. A recorded phase includes starting
// the run and ending it (its last flush). It reports the median over
// phase pairs of time_with / time_without − 1 as overhead_fraction, and
// the store's own cost measured directly: nanoseconds per LogMetric call
// and the time its background goroutine spent writing batches, as a
// fraction of the recorded phases' time. The headline figures are
// SQLite's (the default backend); PostgreSQL's carry a postgres_ prefix.
// The last line of output is one JSON object.
//
// overhead_fraction compares process CPU time (user + system, the store's
// background writer included), which other processes' load disturbs far
// less than wall time; overhead_fraction_wall is the same from wall time.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/store"
	"github.com/kiln-ml/kiln/store/storetest"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/train"
)

// memBatches serves fixed-size batches of an in-memory data set in order,
// wrapping around, so that both arms see the same kind of input.
type memBatches struct {
	ds    *data.Dataset
	bs    int
	next  int
	feat  int
	steps int
}

func (m *memBatches) Len() int { return m.steps }

func (m *memBatches) Epoch(ctx context.Context, e int) (func() (train.Batch, bool, error), func()) {
	n := 0
	return func() (train.Batch, bool, error) {
		if n == m.steps {
			return train.Batch{}, false, nil
		}
		n++
		if m.next+m.bs > m.ds.N {
			m.next = 0
		}
		i := m.next
		m.next += m.bs
		return train.Batch{X: m.ds.X[i*m.feat : (i+m.bs)*m.feat], Y: m.ds.Y[i : i+m.bs], N: m.bs}, true, nil
	}, func() {}
}

// bench is the model, optimizer and batches both arms train.
type bench struct {
	model   nn.Module
	opt     nn.Optimizer
	feat    int
	steps   int
	pairs   int
	batches *memBatches
}

func main() {
	dataDir := flag.String("data-dir", "", "MNIST folder (default KILN_TEST_DATA/mnist, else ../shared/data/mnist)")
	steps := flag.Int("steps", 300, "steps per phase")
	pairs := flag.Int("pairs", 60, "pairs of phases (with and without recording)")
	batch := flag.Int("batch", 32, "batch size")
	backend := flag.String("backend", "both", "store backend to record into: sqlite, postgres (a server started for the run) or both")
	flag.Parse()
	if *dataDir == "" {
		root := os.Getenv("KILN_TEST_DATA")
		if root == "" {
			root = "../shared/data"
		}
		*dataDir = filepath.Join(root, "mnist")
	}
	runtime.GOMAXPROCS(1)
	tensor.SetThreads(1)
	ds, err := data.LoadMNISTLike(*dataDir, "train", data.MNISTNorm)
	if err != nil {
		fail(err)
	}
	feat := len(ds.X) / ds.N
	rng := rand.New(rand.NewPCG(1, 2))
	model, err := nn.Build(nn.ModelConfig{Name: "mlp", Input: []int{feat}, Hidden: []int{256, 128}, Classes: 10}, rng)
	if err != nil {
		fail(err)
	}
	opt, err := nn.NewSGD(model.Parameters(), nn.SGDConfig{LR: 0.04, Momentum: 0.9})
	if err != nil {
		fail(err)
	}
	b := &bench{model: model, opt: opt, feat: feat, steps: *steps, pairs: *pairs,
		batches: &memBatches{ds: ds, bs: *batch, feat: feat, steps: *steps}}
	ctx := context.Background()
	out := map[string]any{"bench": "store_overhead", "steps_per_phase": *steps, "pairs": *pairs, "batch": *batch, "nproc": runtime.NumCPU()}
	if *backend == "sqlite" || *backend == "both" {
		home, err := os.MkdirTemp("", "kiln-store-overhead-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(home)
		fmt.Println("backend sqlite")
		for k, v := range b.measure(ctx, store.Options{Home: home}) {
			out[k] = v // the default backend's figures are the headline
		}
		out["backend"] = "sqlite"
	}
	if *backend == "postgres" || *backend == "both" {
		pg, err := storetest.StartPostgres()
		if err != nil {
			fail(fmt.Errorf("postgres arm: %w (install Debian's postgresql, or pass -backend sqlite)", err))
		}
		defer pg.Stop()
		dsn, err := pg.NewDatabase(ctx)
		if err != nil {
			fail(err)
		}
		home, err := os.MkdirTemp("", "kiln-store-overhead-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(home)
		fmt.Println("backend postgres (PostgreSQL started on loopback for this run)")
		res := b.measure(ctx, store.Options{Home: home, DSN: dsn})
		if _, ok := out["backend"]; !ok {
			for k, v := range res {
				out[k] = v
			}
			out["backend"] = "postgres"
		} else {
			for _, k := range []string{"overhead_fraction", "overhead_fraction_wall", "direct_fraction", "flush_fraction", "step_ms_with", "step_cpu_ms_with", "step_ms_without", "step_cpu_ms_without"} {
				out["postgres_"+k] = res[k]
			}
		}
	}
	j, _ := json.Marshal(out)
	fmt.Println(string(j))
}

// measure trains b.pairs ABBA pairs of phases, recording into a store
// opened with o in the recorded phases, and returns the figures.
func (b *bench) measure(ctx context.Context, o store.Options) map[string]any {
	st, err := store.Open(ctx, o)
	if err != nil {
		fail(err)
	}
	defer st.Close()
	var logged, flushValues int64
	var flushTime time.Duration
	phase := func(record bool) (wall, cpu float64) {
		runtime.GC()
		c0 := cpuSeconds()
		t0 := time.Now()
		tr := &train.Trainer{Model: b.model, Opt: b.opt, Cfg: train.Config{SampleShape: []int{b.feat}, Epochs: 1}}
		var run *store.Run
		if record {
			if run, err = st.StartRun(ctx, store.RunSpec{Kind: "train", Command: os.Args}); err != nil {
				fail(err)
			}
			tr.Metrics = run
		}
		if _, err := tr.Run(ctx, b.batches, nil); err != nil {
			fail(err)
		}
		if record {
			if err := run.End(ctx, nil); err != nil {
				fail(err)
			}
			fs := run.FlushStats()
			flushTime += fs.Time
			flushValues += fs.Values
			logged += int64(2*b.steps + 3)
		}
		return time.Since(t0).Seconds(), cpuSeconds() - c0
	}
	phase(false) // warm up
	phase(true)
	logged, flushValues, flushTime = 0, 0, 0
	var withWall, withoutWall, withCPU, withoutCPU []float64
	for p := 0; p < b.pairs; p++ {
		var aw, ac, bw, bc float64
		if p%2 == 0 {
			bw, bc = phase(false)
			aw, ac = phase(true)
		} else {
			aw, ac = phase(true)
			bw, bc = phase(false)
		}
		withWall, withoutWall = append(withWall, aw), append(withoutWall, bw)
		withCPU, withoutCPU = append(withCPU, ac), append(withoutCPU, bc)
		fmt.Printf("pair %d: without %.3fs (cpu %.3fs), with %.3fs (cpu %.3fs): %+.2f%% cpu, %+.2f%% wall\n",
			p+1, bw, bc, aw, ac, 100*(ac/bc-1), 100*(aw/bw-1))
	}
	// The direct cost of LogMetric, timed alone on a fresh run.
	run, err := st.StartRun(ctx, store.RunSpec{Kind: "bench"})
	if err != nil {
		fail(err)
	}
	const calls = 200000
	t0 := time.Now()
	for i := 0; i < calls; i++ {
		run.LogMetric("loss", int64(i), float64(i))
	}
	logNs := float64(time.Since(t0).Nanoseconds()) / calls
	run.End(ctx, nil)
	if flushValues != logged {
		fail(fmt.Errorf("the store wrote %d metric values, the loop logged %d", flushValues, logged))
	}
	n := float64(b.pairs * b.steps)
	sumWith := sum(withWall)
	return map[string]any{
		"step_ms_without":        round(sum(withoutWall)/n*1e3, 4),
		"step_ms_with":           round(sumWith/n*1e3, 4),
		"step_cpu_ms_without":    round(sum(withoutCPU)/n*1e3, 4),
		"step_cpu_ms_with":       round(sum(withCPU)/n*1e3, 4),
		"overhead_fraction":      round(medianRatio(withCPU, withoutCPU), 5),
		"overhead_fraction_wall": round(medianRatio(withWall, withoutWall), 5),
		"log_metric_ns":          round(logNs, 1),
		"flush_fraction":         round(flushTime.Seconds()/sumWith, 5),
		"direct_fraction":        round((flushTime.Seconds()+float64(logged)*logNs*1e-9)/sumWith, 5),
		"metric_values_written":  flushValues,
	}
}

// cpuSeconds returns the user and system CPU time of this process: other
// processes' load on the machine disturbs it far less than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// medianRatio returns the median over pairs of with/without − 1.
func medianRatio(with, without []float64) float64 {
	r := make([]float64, len(with))
	for i := range with {
		r[i] = with[i]/without[i] - 1
	}
	sort.Float64s(r)
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

func round(x float64, d int) float64 {
	p := 1.0
	for i := 0; i < d; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "store_overhead:", err)
	os.Exit(1)
}
