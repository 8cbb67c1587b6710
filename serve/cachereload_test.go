package serve

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// A version replaced in place (same number, new files) must never answer
// from the cache with its old files' predictions. Requests that were
// answered by the old load put their rows in the cache after Sync had
// dropped the version's entries (the answer and Sync's drop race), and
// the new load then served those stale rows as cache hits. Each round
// swaps version 1 between a model that answers class 1 and one that
// answers class 2 under concurrent traffic of 16 inputs, then checks
// that every input gets the new class (24 to 34 of 40 rounds failed).
func TestCacheNeverServesAReplacedLoad(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{8}, 1, confident(1))
	// More inputs than the cache holds, so that requests keep missing
	// and putting rows while the version is replaced.
	const inputs = 16
	s, err := NewServer(Config{Repository: repo, CacheRows: inputs / 2, SLO: 2 * time.Second, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reqs := make([]*InferRequest, inputs)
	for i := range reqs {
		reqs[i] = &InferRequest{Model: "m", Version: "1", Inputs: []InputTensor{{Name: InputName, Datatype: "FP32", Shape: []int64{1, 784}, Data: images(1, uint64(i))}}}
	}
	// class returns the class answered for every input, or -1 when they
	// differ.
	class := func() int64 {
		c := int64(-2)
		for _, req := range reqs {
			res, err := s.Infer(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			switch got := res.ClassOf()[0]; {
			case c == -2:
				c = got
			case got != c:
				return -1
			}
		}
		return c
	}
	stale := 0
	const rounds = 40
	for round := 0; round < rounds; round++ {
		want := 1 + round%2
		next := 3 - want
		if c := class(); c != int64(want) {
			t.Fatalf("round %d: class %d before the swap, want %d", round, c, want)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; ; i++ {
					req := reqs[i%inputs]
					select {
					case <-stop:
						return
					default:
					}
					if _, err := s.Infer(context.Background(), req); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		time.Sleep(2 * time.Millisecond) // a new modification time
		saveMLP(t, repo, "m", "1", []int{8}, 1, confident(next))
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if c := class(); c != int64(next) {
			stale++
		}
		// Make the next round start clean, whatever this one left.
		s.cache.DropVersion("m", "1")
	}
	if stale > 0 {
		t.Errorf("in %d of %d rounds, the replaced version answered from its old load's cached rows", stale, rounds)
	}
}

// A cached row holds its own values only. The rows used to be slices of
// the whole batch's answer, so one row kept from a 512-row request
// held the other 511 rows' probabilities too: a cache bounded in rows
// was not bounded in memory. Each request here is two new rows, one of
// them 511 times, so that it adds two entries to the cache; 31 such
// requests cache 62 rows (about 2.5 KB of probabilities) but held 31
// answers of 512 rows (635 KB).
func TestCacheRowsDoNotHoldTheirBatch(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{8}, 1, nil)
	s, err := NewServer(Config{Repository: repo, CacheRows: 64, SLO: 10 * time.Second, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const rows = 512
	send := func(k int) {
		x := make([]float32, 0, rows*784)
		x = append(x, images(1, uint64(k))...)
		dup := images(1, uint64(1000+k))
		for len(x) < cap(x) {
			x = append(x, dup...)
		}
		req := &InferRequest{Model: "m", Inputs: []InputTensor{{Name: InputName, Datatype: "FP32", Shape: []int64{rows, 784}, Data: x}}}
		if _, err := s.Infer(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	send(0) // the first batch's buffers and the metrics' series
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for k := 1; k <= 31; k++ {
		send(k)
	}
	if n := s.cache.Len(); n != 64 {
		t.Fatalf("cache holds %d rows, want 64", n)
	}
	if grew := int64(heap()) - int64(before); grew > 160<<10 {
		t.Errorf("62 more cached rows of 10 probabilities kept %d more bytes on the heap", grew)
	} else {
		t.Logf("heap grew %d bytes", grew)
	}
}
