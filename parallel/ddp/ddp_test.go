package ddp

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/collective"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

const feat, classes = 20, 4

func data(steps, batch int) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, steps*batch*feat)
	y := make([]int32, steps*batch)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = int32(rng.IntN(classes))
	}
	return x, y
}

func model(seed uint64) nn.Module {
	m, _ := nn.Build(nn.ModelConfig{Name: "mlp", Input: []int{feat}, Hidden: []int{32, 16}, Classes: classes}, rand.New(rand.NewPCG(seed, 1)))
	return m
}

// train runs steps of SGD with momentum on batches of size batch, rank r
// of n taking rows [r·batch/n, (r+1)·batch/n) of each (a distributed
// sampler's shard), and returns the final weights.
func train(t *testing.T, g *collective.Group, n, r, steps, batch, bucketBytes int, accumulate int) []float32 {
	m := model(uint64(r + 1)) // different seeds: DDP must broadcast rank 0's
	var d *DDP
	var err error
	if g != nil {
		if d, err = New(m, g, bucketBytes); err != nil {
			t.Error(err)
			return nil
		}
	}
	opt, _ := nn.NewSGD(m.Parameters(), nn.SGDConfig{LR: 0.1, Momentum: 0.9})
	x, y := data(steps, batch)
	per := batch / n
	tp := autograd.NewTape()
	for s := 0; s < steps; s++ {
		opt.ZeroGrad()
		micro := per / accumulate
		for a := 0; a < accumulate; a++ {
			lo := s*batch + r*per + a*micro
			tp.Reset()
			xb := tensor.FromSlice(x[lo*feat:(lo+micro)*feat], micro, feat)
			loss := autograd.CrossEntropy(m.Forward(tp.Const(xb)), y[lo:lo+micro])
			// Micro-batch losses are averaged over the accumulation.
			loss = autograd.Scale(loss, 1/float32(accumulate))
			if d == nil {
				err = tp.Backward(loss)
			} else {
				d.SetNoSync(a < accumulate-1)
				err = d.Backward(tp, loss)
			}
			if err != nil {
				t.Error(err)
				return nil
			}
		}
		opt.Step()
	}
	var w []float32
	for _, p := range m.Parameters() {
		w = append(w, p.Data.Data...)
	}
	return w
}

func runWorld(t *testing.T, n int, f func(g *collective.Group) []float32) [][]float32 {
	srv, err := collective.ServeStore("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	out := make([][]float32, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			st, err := collective.DialStore(context.Background(), srv.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			g, err := collective.Join(context.Background(), collective.Config{Rank: r, Size: n, Store: st, Timeout: 20 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			defer g.Close()
			out[r] = f(g)
		}(r)
	}
	wg.Wait()
	return out
}

// TestEquivalence is DDP's transparency test: N workers with batch B/N
// each end with the same weights as one worker with batch B, to 1e-5 after
// 20 steps (the reference starts from rank 0's initialisation).
func TestEquivalence(t *testing.T) {
	const steps, batch = 20, 64
	ref := train(t, nil, 1, 0, steps, batch, 0, 1)
	for _, n := range []int{2, 4} {
		for _, bucketBytes := range []int{0, 1024} { // one bucket; many small ones
			for _, acc := range []int{1, 2} { // plain; gradient accumulation with NoSync
				t.Run(fmt.Sprintf("n%d/bucket%d/accumulate%d", n, bucketBytes, acc), func(t *testing.T) {
					ws := runWorld(t, n, func(g *collective.Group) []float32 {
						return train(t, g, n, g.Rank(), steps, batch, bucketBytes, acc)
					})
					for r, w := range ws {
						if len(w) != len(ref) {
							t.Fatalf("rank %d: %d weights, want %d", r, len(w), len(ref))
						}
						for i := range w {
							if math.Abs(float64(w[i]-ref[i])) > 1e-5*(1+math.Abs(float64(ref[i]))) {
								t.Fatalf("rank %d weight %d: %v, single worker %v", r, i, w[i], ref[i])
							}
						}
					}
				})
			}
		}
	}
}

func TestBuckets(t *testing.T) {
	runWorld(t, 1, func(g *collective.Group) []float32 {
		m := model(1)
		d, err := New(m, g, 1024)
		if err != nil {
			t.Fatal(err)
		}
		// In reverse order the parameters hold 16, 256, 64, 2048, 128 and
		// 2560 bytes; a bucket closes when the next parameter would take
		// it past 1 KiB: {16, 256, 64}, {2048}, {128}, {2560}.
		if d.Buckets() != 4 {
			t.Fatalf("%d buckets, want 4", d.Buckets())
		}
		return nil
	})
}
