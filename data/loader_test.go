package data

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
)

// toyDataset holds n samples whose values encode their index: sample i
// is (i·feat, i·feat+1, …), label i mod 10.
func toyDataset(n, feat int) *Dataset {
	ds := &Dataset{N: n, SampleShape: []int{feat}, Classes: 10, Source: "toy", X: make([]float32, n*feat), Y: make([]int32, n)}
	for i := range n {
		for j := range feat {
			ds.X[i*feat+j] = float32(i*feat + j)
		}
		ds.Y[i] = int32(i % 10)
	}
	return ds
}

// copied is a batch's content, kept after the batch is released.
type copied struct {
	X       []float32
	Y       []int32
	Indices []int
}

// collect runs epoch e and returns copies of its batches, checking that
// each batch row is the sample its index names (before any transform).
func collect(t *testing.T, l *Loader, e int, transformed bool) []copied {
	t.Helper()
	it := l.Epoch(context.Background(), e)
	defer it.Close()
	var out []copied
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		f := l.feat
		if b.N != len(b.Indices) || len(b.X) != b.N*f || len(b.Y) != b.N {
			t.Fatalf("batch of N=%d with %d indices, %d values, %d labels", b.N, len(b.Indices), len(b.X), len(b.Y))
		}
		for i, idx := range b.Indices {
			if b.Y[i] != int32(idx%10) || (!transformed && b.X[i*f] != float32(idx*f)) {
				t.Fatalf("batch row %d holds sample %v label %d, index says %d", i, b.X[i*f], b.Y[i], idx)
			}
		}
		out = append(out, copied{append([]float32(nil), b.X...), append([]int32(nil), b.Y...), append([]int(nil), b.Indices...)})
		b.Release()
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func indices(bs []copied) []int {
	var out []int
	for _, b := range bs {
		out = append(out, b.Indices...)
	}
	return out
}

func TestLoaderEpochs(t *testing.T) {
	ds := toyDataset(103, 2)
	for _, workers := range []int{0, 1, 3} {
		for _, dropLast := range []bool{false, true} {
			l, err := NewLoader(ds, LoaderConfig{BatchSize: 10, Shuffle: true, Seed: 42, Workers: workers, Prefetch: 2, DropLast: dropLast})
			if err != nil {
				t.Fatal(err)
			}
			e0 := collect(t, l, 0, false)
			wantBatches, wantLast, wantSeen := 11, 3, 103
			if dropLast {
				wantBatches, wantLast, wantSeen = 10, 10, 100
			}
			if len(e0) != wantBatches || len(e0[len(e0)-1].Indices) != wantLast || l.Len() != wantBatches {
				t.Fatalf("workers %d drop %v: %d batches (Len %d), last of %d", workers, dropLast, len(e0), l.Len(), len(e0[len(e0)-1].Indices))
			}
			seen := map[int]bool{}
			for _, i := range indices(e0) {
				if seen[i] {
					t.Fatalf("index %d twice in an epoch", i)
				}
				seen[i] = true
			}
			if len(seen) != wantSeen {
				t.Fatalf("%d distinct indices, want %d", len(seen), wantSeen)
			}
			if fmt.Sprint(indices(e0)) != fmt.Sprint(l.Order(0)[:wantSeen]) {
				t.Fatal("batches do not follow Order")
			}
			if !reflect.DeepEqual(collect(t, l, 0, false), e0) {
				t.Fatal("same seed and epoch gave other batches")
			}
			if fmt.Sprint(indices(collect(t, l, 1, false))) == fmt.Sprint(indices(e0)) {
				t.Fatal("epochs 0 and 1 have the same order")
			}
		}
	}
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 50})
	if fmt.Sprint(indices(collect(t, l, 5, false))) != fmt.Sprint(identity(103)) {
		t.Fatal("unshuffled loader does not visit 0..N-1 in order")
	}
	// A shard smaller than one batch, with DropLast, has no batches.
	l, _ = NewLoader(ds, LoaderConfig{BatchSize: 60, DropLast: true, WorldSize: 2, Workers: 2})
	if got := collect(t, l, 0, false); len(got) != 0 || l.Len() != 0 {
		t.Fatalf("%d batches (Len %d), want none", len(got), l.Len())
	}
	checkNoLoaderGoroutines(t)
}

// noise adds uniform noise from rng to every value.
func noise(dst, src []float32, rng *rand.Rand) {
	for i, v := range src {
		dst[i] = v + rng.Float32()
	}
}

// TestLoaderPrefetchEqualsSync checks that worker goroutines and
// prefetching change nothing: the batches, transformed values included,
// equal those assembled synchronously.
func TestLoaderPrefetchEqualsSync(t *testing.T) {
	ds := toyDataset(257, 3)
	base := LoaderConfig{BatchSize: 16, Shuffle: true, Seed: 7, Transform: noise}
	sync, _ := NewLoader(ds, base)
	want := collect(t, sync, 2, true)
	for i, b := range want {
		for k, idx := range b.Indices {
			for j := range 3 {
				if d := b.X[k*3+j] - ds.X[idx*3+j]; d < 0 || d >= 1 {
					t.Fatalf("batch %d row %d: transform added %v, want noise in [0, 1)", i, k, d)
				}
			}
		}
	}
	// Each batch draws its own randomness: the first rows' noise differs.
	firstNoise := map[float32]bool{}
	for _, b := range want {
		firstNoise[b.X[0]-ds.X[b.Indices[0]*3]] = true
	}
	if len(firstNoise) != len(want) {
		t.Fatalf("%d distinct first-row noises over %d batches", len(firstNoise), len(want))
	}
	for _, workers := range []int{1, 2, 3, 5} {
		for _, prefetch := range []int{1, 4} {
			cfg := base
			cfg.Workers, cfg.Prefetch = workers, prefetch
			l, _ := NewLoader(ds, cfg)
			if got := collect(t, l, 2, true); !reflect.DeepEqual(got, want) {
				t.Fatalf("workers %d prefetch %d: batches differ from the synchronous loader's", workers, prefetch)
			}
		}
	}
	other := base
	other.Seed = 8
	l, _ := NewLoader(ds, other)
	if reflect.DeepEqual(collect(t, l, 2, true), want) {
		t.Fatal("another seed gave the same batches")
	}
}

func TestLoaderShardsCover(t *testing.T) {
	ds := toyDataset(23, 1)
	count := map[int]int{}
	var perRank []int
	for r := range 4 {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 4, Shuffle: true, Seed: 3, Rank: r, WorldSize: 4, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		got := indices(collect(t, l, 1, false))
		perRank = append(perRank, len(got))
		for _, i := range got {
			count[i]++
		}
	}
	// 23 samples over 4 ranks: 6 each, one sample repeated as padding.
	if fmt.Sprint(perRank) != "[6 6 6 6]" || len(count) != 23 {
		t.Fatalf("shard sizes %v, %d distinct samples", perRank, len(count))
	}
	twice := 0
	for _, c := range count {
		twice += c - 1
	}
	if twice != 1 {
		t.Fatalf("%d repeats, want the 1 of the padding", twice)
	}
}

func TestLoaderReusesReleasedBatches(t *testing.T) {
	ds := toyDataset(100, 4)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 8, Shuffle: true})
	it := l.Epoch(context.Background(), 0)
	defer it.Close()
	b1, _ := it.Next()
	p := &b1.X[0]
	b1.Release()
	b1.Release() // a second release must not put the batch in the pool twice
	b2, _ := it.Next()
	if &b2.X[0] != p {
		t.Fatal("released buffers were not reused")
	}
	b3, _ := it.Next()
	if &b3.X[0] == p {
		t.Fatal("two live batches share one buffer after a double release")
	}
	(&Batch{}).Release() // a batch of no loader: nothing happens
	var nilBatch *Batch
	nilBatch.Release()
}

// TestLoaderSteadyStateAllocs checks that a consumer releasing its batches
// makes the loader allocate nothing per batch.
func TestLoaderSteadyStateAllocs(t *testing.T) {
	ds := toyDataset(1<<14, 8)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 16, Shuffle: true, Transform: noise})
	it := l.Epoch(context.Background(), 0)
	defer it.Close()
	allocs := testing.AllocsPerRun(200, func() {
		b, _ := it.Next()
		b.Release()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
	// With workers, the allocations of a whole epoch do not grow with its
	// length: 16× the batches cost no more than a few more objects.
	epochAllocs := func(n int) float64 {
		l, _ := NewLoader(toyDataset(n, 8), LoaderConfig{BatchSize: 16, Shuffle: true, Workers: 2, Prefetch: 4})
		run := func() {
			it := l.Epoch(context.Background(), 0)
			for {
				b, ok := it.Next()
				if !ok {
					break
				}
				b.Release()
			}
			it.Close()
		}
		run() // fill the pool
		return testing.AllocsPerRun(5, run)
	}
	small, large := epochAllocs(16*64), epochAllocs(16*1024)
	t.Logf("allocations per epoch: %v (64 batches), %v (1024 batches)", small, large)
	if large > small+8 {
		t.Fatalf("an epoch of 64 batches allocates %v objects, one of 1024 batches %v", small, large)
	}
}

func TestLoaderStopsGoroutines(t *testing.T) {
	ds := toyDataset(1000, 2)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 4, Workers: 3, Prefetch: 2})

	// Close in the middle of an epoch, with the workers blocked on full
	// channels.
	it := l.Epoch(context.Background(), 0)
	it.Next()
	it.Close()
	it.Close() // idempotent
	if _, ok := it.Next(); ok || it.Err() != nil {
		t.Fatalf("Next after Close returned a batch or error %v", it.Err())
	}
	checkNoLoaderGoroutines(t)

	// Cancel the context without Close: the workers exit by themselves.
	ctx, cancel := context.WithCancel(context.Background())
	it = l.Epoch(ctx, 1)
	it.Next()
	cancel()
	if _, ok := it.Next(); ok {
		t.Fatal("Next returned a batch after cancel")
	}
	if !errors.Is(it.Err(), context.Canceled) {
		t.Fatalf("Err after cancel: %v", it.Err())
	}
	checkNoLoaderGoroutines(t)
	it.Close()

	// A complete epoch without Close leaves nothing running either.
	it = l.Epoch(context.Background(), 2)
	for {
		if _, ok := it.Next(); !ok {
			break
		}
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	checkNoLoaderGoroutines(t)

	// Breaking out of a range over All stops the epoch.
	n := 0
	for b, err := range l.All(context.Background(), 3) {
		if err != nil {
			t.Fatal(err)
		}
		b.Release()
		if n++; n == 3 {
			break
		}
	}
	checkNoLoaderGoroutines(t)
}

func TestLoaderAll(t *testing.T) {
	ds := toyDataset(50, 1)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 7, Shuffle: true, Workers: 2})
	var got []int
	for b, err := range l.All(context.Background(), 4) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b.Indices...)
		b.Release()
	}
	if fmt.Sprint(got) != fmt.Sprint(l.Order(4)) {
		t.Fatal("All differs from Order")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var errs []error
	for b, err := range l.All(ctx, 0) {
		if b != nil {
			t.Fatal("a batch after cancel")
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("cancelled All yielded %v", errs)
	}
}

// TestLoaderConcurrentEpochs runs epochs of one loader on several
// goroutines at once (for the race detector) and checks each against a
// sequential run.
func TestLoaderConcurrentEpochs(t *testing.T) {
	ds := toyDataset(300, 2)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 9, Shuffle: true, Workers: 2, Transform: noise})
	want := make([][]copied, 4)
	for e := range want {
		want[e] = collect(t, l, e, true)
	}
	var wg sync.WaitGroup
	got := make([][]copied, 4)
	for e := range got {
		wg.Go(func() { got[e] = collect(t, l, e, true) })
	}
	wg.Wait()
	if !reflect.DeepEqual(got, want) {
		t.Fatal("concurrent epochs differ from sequential ones")
	}
}

func TestNewLoaderErrors(t *testing.T) {
	ds := toyDataset(10, 2)
	bad := *ds
	bad.Y = bad.Y[:9]
	cases := []struct {
		ds   *Dataset
		cfg  LoaderConfig
		want string
	}{
		{nil, LoaderConfig{BatchSize: 1}, "nil data set"},
		{ds, LoaderConfig{}, "batch size 0"},
		{ds, LoaderConfig{BatchSize: 2, Workers: -1}, "-1 workers"},
		{ds, LoaderConfig{BatchSize: 2, Rank: 3, WorldSize: 3}, "rank 3 outside a world of 3"},
		{ds, LoaderConfig{BatchSize: 2, Rank: 1}, "rank 1 outside a world of 1"},
		{&bad, LoaderConfig{BatchSize: 2}, "9 labels for 10 samples"},
		{&Dataset{SampleShape: []int{1}, Source: "e"}, LoaderConfig{BatchSize: 2}, "empty data set e"},
	}
	for _, c := range cases {
		_, err := NewLoader(c.ds, c.cfg)
		wantErr(t, c.want, err, "loader", c.want)
	}
}

// BenchmarkLoaderMNIST128 measures batches of 128 MNIST training images
// per second: copying only, and with a random-shift augmentation on 1 and
// 2 workers. The MLP of bench/RESULTS.md trains at about 950 batches of
// 128 per second on this machine, LeNet-5 at about 160.
func BenchmarkLoaderMNIST128(b *testing.B) {
	ds, err := LoadMNISTLike(testData(b, "mnist"), "train", MNISTNorm)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		workers int
		tf      Transform
	}{
		{"copy/sync", 0, nil},
		{"copy/workers=1", 1, nil},
		{"shift/sync", 0, shift28},
		{"shift/workers=1", 1, shift28},
		{"shift/workers=2", 2, shift28},
	} {
		b.Run(c.name, func(b *testing.B) {
			l, _ := NewLoader(ds, LoaderConfig{BatchSize: 128, Shuffle: true, Workers: c.workers, Prefetch: 4, Transform: c.tf})
			n := 0
			for e := 0; n < b.N; e++ {
				it := l.Epoch(context.Background(), e)
				for n < b.N {
					bt, ok := it.Next()
					if !ok {
						break
					}
					bt.Release()
					n++
				}
				it.Close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

// shift28 moves a 28×28 image by up to 2 pixels each way, filling with
// the background (the image's smallest value).
func shift28(dst, src []float32, rng *rand.Rand) {
	dx, dy := rng.IntN(5)-2, rng.IntN(5)-2
	bg := src[0]
	for y := range 28 {
		sy := y - dy
		for x := range 28 {
			sx := x - dx
			if sy < 0 || sy >= 28 || sx < 0 || sx >= 28 {
				dst[y*28+x] = bg
			} else {
				dst[y*28+x] = src[sy*28+sx]
			}
		}
	}
}
