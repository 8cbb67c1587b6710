package collective

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// world starts a store and n ranks as goroutines with real TCP sockets on
// loopback, runs f on each and returns their errors.
func world(t *testing.T, n int, timeout time.Duration, f func(g *Group) error) []error {
	return worldOver(t, n, timeout, "tcp", f)
}

func worldOver(t *testing.T, n int, timeout time.Duration, transport string, f func(g *Group) error) []error {
	t.Helper()
	srv, err := ServeStore("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			ctx := context.Background()
			st, err := DialStore(ctx, srv.Addr())
			if err != nil {
				errs[r] = err
				return
			}
			defer st.Close()
			g, err := Join(ctx, Config{Rank: r, Size: n, Store: st, Timeout: timeout, Transport: transport})
			if err != nil {
				errs[r] = err
				return
			}
			defer g.Close()
			errs[r] = f(g)
		}(r)
	}
	wg.Wait()
	return errs
}

func input(r, l int) []float32 {
	rng := rand.New(rand.NewPCG(uint64(r), uint64(l)))
	x := make([]float32, l)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// TestAllReduceSuite is the suite every algorithm must pass: for world
// sizes 1 to 8 and lengths that do not divide evenly, every rank ends with
// the sum computed sequentially (to float32 rounding) and with the same
// bits as every other rank.
func TestAllReduceSuite(t *testing.T) {
	lengths := []int{0, 1, 7, 1000, 65537, 200003}
	for _, alg := range []Algorithm{Ring, RecursiveDoubling, Auto} {
		for n := 1; n <= 8; n++ {
			t.Run(fmt.Sprintf("%v/%d", alg, n), func(t *testing.T) {
				results := make([][][]float32, n)
				errs := world(t, n, 20*time.Second, func(g *Group) error {
					for _, l := range lengths {
						x := input(g.Rank(), l)
						if err := g.AllReduce(x, alg); err != nil {
							return err
						}
						results[g.Rank()] = append(results[g.Rank()], x)
					}
					return nil
				})
				for r, err := range errs {
					if err != nil {
						t.Fatalf("rank %d: %v", r, err)
					}
				}
				for li, l := range lengths {
					want := make([]float64, l)
					for r := 0; r < n; r++ {
						for i, v := range input(r, l) {
							want[i] += float64(v)
						}
					}
					for r := 0; r < n; r++ {
						got := results[r][li]
						for i := range want {
							if math.Abs(float64(got[i])-want[i]) > 1e-5*float64(n)*(1+math.Abs(want[i])) {
								t.Fatalf("length %d rank %d element %d: %v, want %v", l, r, i, got[i], want[i])
							}
							if got[i] != results[0][li][i] {
								t.Fatalf("length %d: ranks 0 and %d differ at %d", l, r, i)
							}
						}
					}
				}
			})
		}
	}
}

func TestBroadcastAllGatherReduceScatter(t *testing.T) {
	for n := 1; n <= 8; n++ {
		errs := world(t, n, 20*time.Second, func(g *Group) error {
			r := g.Rank()
			for root := 0; root < n; root++ {
				x := input(r, 1001)
				if err := g.Broadcast(x, root); err != nil {
					return err
				}
				want := input(root, 1001)
				for i := range x {
					if x[i] != want[i] {
						return fmt.Errorf("broadcast from %d: element %d differs", root, i)
					}
				}
			}
			out := make([]float32, n*13)
			if err := g.AllGather(out, input(r, 13)); err != nil {
				return err
			}
			for p := 0; p < n; p++ {
				want := input(p, 13)
				for i := range want {
					if out[p*13+i] != want[i] {
						return fmt.Errorf("all-gather: rank %d's part differs at %d", p, i)
					}
				}
			}
			l := 1003
			lo, hi := SegmentBounds(l, n, r)
			seg := make([]float32, hi-lo)
			if err := g.ReduceScatter(seg, input(r, l)); err != nil {
				return err
			}
			for i := lo; i < hi; i++ {
				var s float64
				for p := 0; p < n; p++ {
					s += float64(input(p, l)[i])
				}
				if math.Abs(float64(seg[i-lo])-s) > 1e-4*(1+math.Abs(s)) {
					return fmt.Errorf("reduce-scatter element %d: %v, want %v", i, seg[i-lo], s)
				}
			}
			return g.Barrier()
		})
		for r, err := range errs {
			if err != nil {
				t.Fatalf("world %d rank %d: %v", n, r, err)
			}
		}
	}
}

func TestSizeMismatchNamesBothRanks(t *testing.T) {
	errs := world(t, 2, 5*time.Second, func(g *Group) error {
		return g.AllReduce(make([]float32, 100+g.Rank()*50), RecursiveDoubling)
	})
	joined := fmt.Sprint(errs)
	if !strings.Contains(joined, "rank 1 sent 150 values, rank 0 expected 100") {
		t.Fatalf("errors %v do not name both ranks and sizes", errs)
	}
}

// TestDeadPeer closes rank 2 instead of reducing: the others must fail
// within the timeout with an error naming a peer, never hang.
func TestDeadPeer(t *testing.T) {
	start := time.Now()
	errs := world(t, 4, 3*time.Second, func(g *Group) error {
		if g.Rank() == 2 {
			g.Close()
			return nil
		}
		return g.AllReduce(make([]float32, 1<<20), Ring)
	})
	if time.Since(start) > 15*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	for r, err := range errs {
		if r == 2 {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "rank") {
			t.Fatalf("rank %d: error %v, want one naming a peer", r, err)
		}
	}
	if !strings.Contains(fmt.Sprint(errs), "rank 2") {
		t.Fatalf("no error names the dead rank 2: %v", errs)
	}
}

func TestRendezvousRefusals(t *testing.T) {
	srv, err := ServeStore("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	st, _ := DialStore(ctx, srv.Addr())
	defer st.Close()
	// Rank 0 of a world of 2 announces its size, then waits; rank 1 with a
	// different world size is refused.
	done := make(chan error, 1)
	go func() {
		_, err := Join(ctx, Config{Rank: 0, Size: 2, Store: st, Timeout: 2 * time.Second})
		done <- err
	}()
	st2, _ := DialStore(ctx, srv.Addr())
	defer st2.Close()
	_, err = Join(ctx, Config{Rank: 1, Size: 3, Store: st2, Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "world size 3, rank 0 with 2") {
		t.Fatalf("wrong world size: %v", err)
	}
	<-done
	st3, _ := DialStore(ctx, srv.Addr())
	defer st3.Close()
	_, err = Join(ctx, Config{Rank: 0, Size: 2, Store: st3, Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "already joined") {
		t.Fatalf("second rank 0: %v", err)
	}
	if _, err := Join(ctx, Config{Rank: 5, Size: 2, Store: st3}); err == nil {
		t.Fatal("rank outside the world accepted")
	}
}

// TestAutoTransport runs all-reduce with peers on this machine connected
// over Unix sockets, and checks that they are.
func TestAutoTransport(t *testing.T) {
	for _, n := range []int{2, 3, 5} {
		errs := worldOver(t, n, 10*time.Second, "auto", func(g *Group) error {
			for p, c := range g.peers {
				if p != g.Rank() && c.RemoteAddr().Network() != "unix" {
					return fmt.Errorf("peer %d over %s", p, c.RemoteAddr().Network())
				}
			}
			for _, l := range []int{5, 70001} {
				x := input(g.Rank(), l)
				if err := g.AllReduce(x, Auto); err != nil {
					return err
				}
				want := make([]float64, l)
				for r := 0; r < n; r++ {
					for i, v := range input(r, l) {
						want[i] += float64(v)
					}
				}
				for i := range x {
					if math.Abs(float64(x[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
						return fmt.Errorf("length %d element %d: %v, want %v", l, i, x[i], want[i])
					}
				}
			}
			return nil
		})
		for r, err := range errs {
			if err != nil {
				t.Fatalf("world %d rank %d: %v", n, r, err)
			}
		}
	}
}
