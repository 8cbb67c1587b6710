package ps

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

const feat, classes = 20, 4

func data(n int) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, n*feat)
	y := make([]int32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = int32(rng.IntN(classes))
	}
	return x, y
}

func model() nn.Module {
	m, _ := nn.Build(nn.ModelConfig{Name: "mlp", Input: []int{feat}, Hidden: []int{16}, Classes: classes}, rand.New(rand.NewPCG(1, 1)))
	return m
}

// grads computes the gradients of the mean loss over rows [lo, hi).
func grads(m nn.Module, x []float32, y []int32, lo, hi int) float64 {
	nn.ZeroGrad(m.Parameters())
	tp := autograd.NewTape()
	loss := autograd.CrossEntropy(m.Forward(tp.Const(tensor.FromSlice(x[lo*feat:hi*feat], hi-lo, feat))), y[lo:hi])
	tp.Backward(loss)
	return float64(loss.Data.Data[0])
}

// cluster starts S servers on loopback holding shards of a fresh model.
func cluster(t *testing.T, servers int, cfg Config) ([]*Server, []string) {
	shards := Shard(model().Parameters(), servers)
	var ss []*Server
	var addrs []string
	for i := 0; i < servers; i++ {
		s, err := NewServer(Flat(shards[i], false), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(ln)
		t.Cleanup(func() { ln.Close() })
		ss = append(ss, s)
		addrs = append(addrs, ln.Addr().String())
	}
	return ss, addrs
}

// runWorkers trains W workers for steps clocks; worker w takes rows
// [step·B + w·B/W, ...) and sleeps delay(w) after computing.
func runWorkers(t *testing.T, addrs []string, workers, steps, batch int, delay func(w int) time.Duration) []float64 {
	x, y := data(steps * batch)
	losses := make([]float64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			m := model()
			c, err := Dial(w, addrs, m.Parameters(), 20*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			per := batch / workers
			for s := 0; s < steps; s++ {
				if err := c.Pull(); err != nil {
					t.Error(err)
					return
				}
				lo := s*batch + w*per
				losses[w] = grads(m, x, y, lo, lo+per)
				if delay != nil {
					time.Sleep(delay(w))
				}
				if err := c.Push(); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	return losses
}

// TestSyncEqualsSingleWorker: synchronous PS with W workers of batch B/W
// ends with the weights of plain SGD with momentum on batch B.
func TestSyncEqualsSingleWorker(t *testing.T) {
	const steps, batch, lr, mom = 20, 64, 0.1, 0.9
	ref := model()
	opt, _ := nn.NewSGD(ref.Parameters(), nn.SGDConfig{LR: lr, Momentum: mom})
	x, y := data(steps * batch)
	for s := 0; s < steps; s++ {
		grads(ref, x, y, s*batch, (s+1)*batch)
		opt.Step()
	}
	for _, servers := range []int{1, 2} {
		for _, workers := range []int{2, 4} {
			t.Run(fmt.Sprintf("S%d/W%d", servers, workers), func(t *testing.T) {
				ss, addrs := cluster(t, servers, Config{Mode: Sync, Workers: workers, LR: lr, Momentum: mom})
				runWorkers(t, addrs, workers, steps, batch, nil)
				shards := Shard(ref.Parameters(), servers)
				for i, s := range ss {
					want, got := Flat(shards[i], false), s.Weights()
					for j := range want {
						if math.Abs(float64(got[j]-want[j])) > 1e-5*(1+math.Abs(float64(want[j]))) {
							t.Fatalf("server %d value %d: %v, single worker %v", i, j, got[j], want[j])
						}
					}
				}
			})
		}
	}
}

// TestStalenessBound slows worker 0 down 5× against the others: under SSP
// with bound 2 no worker gets more than 2 clocks ahead of it; under Async
// the fast workers run far ahead.
func TestStalenessBound(t *testing.T) {
	delay := func(w int) time.Duration {
		if w == 0 {
			return 10 * time.Millisecond
		}
		return 2 * time.Millisecond
	}
	for _, c := range []struct {
		mode      Mode
		staleness int
	}{{SSP, 2}, {Async, 0}} {
		ss, addrs := cluster(t, 1, Config{Mode: c.mode, Staleness: c.staleness, Workers: 3, LR: 0.05, Momentum: 0.9})
		losses := runWorkers(t, addrs, 3, 30, 48, delay)
		lead := ss[0].MaxLead
		switch c.mode {
		case SSP:
			if lead > 2 {
				t.Fatalf("SSP(2): a worker ran %d clocks ahead of the slowest", lead)
			}
		case Async:
			if lead <= 2 {
				t.Fatalf("async: the largest lead was %d; the straggler should fall well behind", lead)
			}
		}
		for w, l := range losses {
			if math.IsNaN(l) || l > 1.5 {
				t.Fatalf("%v: worker %d ended with loss %v", c.mode, w, l)
			}
		}
	}
}

func TestBadPush(t *testing.T) {
	s, _ := NewServer(make([]float32, 4), Config{Workers: 1, LR: 0.1})
	if err := s.push(0, 0, make([]float32, 3)); err == nil {
		t.Fatal("short push accepted")
	}
	if err := s.push(3, 0, make([]float32, 4)); err == nil {
		t.Fatal("push from an unknown worker accepted")
	}
	if _, err := ParseMode("bsp"); err == nil {
		t.Fatal("unknown mode accepted")
	}
}
