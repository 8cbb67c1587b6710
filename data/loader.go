package data

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
)

// Transform preprocesses one sample: it writes the transformed src into dst
// (both of the data set's feature length), drawing any randomness from rng.
type Transform func(dst, src []float32, rng *rand.Rand)

// LoaderConfig holds a Loader's settings.
type LoaderConfig struct {
	// BatchSize is the number of samples per batch (at least 1).
	BatchSize int
	// Shuffle draws a new permutation each epoch from (Seed, epoch), so
	// that runs are repeatable and every rank agrees on the order.
	Shuffle bool
	Seed    uint64
	// DropLast drops the final partial batch.
	DropLast bool
	// Workers is the number of goroutines assembling batches; 0 assembles
	// them synchronously in Next.
	Workers int
	// Prefetch is how many finished batches may wait for the consumer
	// (default 2 when Workers > 0).
	Prefetch int
	// Rank and WorldSize shard each epoch's order across data-parallel
	// ranks as PyTorch's DistributedSampler: the order is padded by
	// wrapping around to a multiple of WorldSize, and rank r takes every
	// WorldSize-th index starting at r. WorldSize 0 means 1.
	Rank, WorldSize int
	// Transform, when set, is applied to every sample.
	Transform Transform
}

// Loader cuts a Dataset into batches.
type Loader struct {
	ds   *Dataset
	cfg  LoaderConfig
	feat int
	free chan *Batch
}

// Batch is one mini-batch. X holds N samples row-major, Y their labels and
// Indices their positions in the data set.
type Batch struct {
	X       []float32
	Y       []int32
	N       int
	Indices []int
	owner   *Loader
}

// Release hands the batch's buffers back to the loader for reuse. It is
// optional; a batch must not be used after Release.
func (b *Batch) Release() {
	if b == nil || b.owner == nil {
		return
	}
	select {
	case b.owner.free <- b:
	default: // pool full: let the garbage collector have it
	}
}

// NewLoader returns a loader over ds.
func NewLoader(ds *Dataset, cfg LoaderConfig) (*Loader, error) {
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("loader: batch size %d, want at least 1", cfg.BatchSize)
	}
	if cfg.WorldSize == 0 {
		cfg.WorldSize = 1
	}
	if cfg.Rank < 0 || cfg.Rank >= cfg.WorldSize {
		return nil, fmt.Errorf("loader: rank %d outside a world of %d", cfg.Rank, cfg.WorldSize)
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("loader: %d workers", cfg.Workers)
	}
	if cfg.Workers > 0 && cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	if ds.N == 0 {
		return nil, fmt.Errorf("loader: empty data set %s", ds.Source)
	}
	return &Loader{ds: ds, cfg: cfg, feat: ds.Features(), free: make(chan *Batch, cfg.Prefetch+cfg.Workers+1)}, nil
}

// shardLen is the number of samples each rank sees per epoch.
func (l *Loader) shardLen() int {
	return (l.ds.N + l.cfg.WorldSize - 1) / l.cfg.WorldSize
}

// Len returns the number of batches per epoch.
func (l *Loader) Len() int {
	n := l.shardLen()
	if l.cfg.DropLast {
		return n / l.cfg.BatchSize
	}
	return (n + l.cfg.BatchSize - 1) / l.cfg.BatchSize
}

// Order returns this rank's sample indices for epoch e, in batch order. It
// is a pure function of the configuration and e.
func (l *Loader) Order(e int) []int {
	n := l.ds.N
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	if l.cfg.Shuffle {
		rng := rand.New(rand.NewPCG(l.cfg.Seed, uint64(e)*0x9e3779b97f4a7c15+1))
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	}
	w := l.cfg.WorldSize
	total := l.shardLen() * w
	for i := n; i < total; i++ {
		perm = append(perm, perm[i-n])
	}
	out := make([]int, 0, total/w)
	for i := l.cfg.Rank; i < total; i += w {
		out = append(out, perm[i])
	}
	return out
}

// fill assembles batch j of an epoch's order into b.
func (l *Loader) fill(b *Batch, order []int, e, j int) {
	lo := j * l.cfg.BatchSize
	hi := min(lo+l.cfg.BatchSize, len(order))
	n := hi - lo
	if cap(b.X) < n*l.feat {
		b.X = make([]float32, l.cfg.BatchSize*l.feat)
		b.Y = make([]int32, l.cfg.BatchSize)
		b.Indices = make([]int, l.cfg.BatchSize)
	}
	b.X, b.Y, b.Indices, b.N = b.X[:n*l.feat], b.Y[:n], b.Indices[:n], n
	var rng *rand.Rand
	if l.cfg.Transform != nil {
		rng = rand.New(rand.NewPCG(l.cfg.Seed^uint64(e)<<32, uint64(j)))
	}
	for i, idx := range order[lo:hi] {
		src := l.ds.X[idx*l.feat : (idx+1)*l.feat]
		dst := b.X[i*l.feat : (i+1)*l.feat]
		if l.cfg.Transform != nil {
			l.cfg.Transform(dst, src, rng)
		} else {
			copy(dst, src)
		}
		b.Y[i] = l.ds.Y[idx]
		b.Indices[i] = idx
	}
}

func (l *Loader) newBatch() *Batch {
	select {
	case b := <-l.free:
		return b
	default:
		return &Batch{owner: l}
	}
}

// EpochIter iterates over the batches of one epoch.
type EpochIter struct {
	l      *Loader
	e      int
	order  []int
	next   int
	n      int
	ctx    context.Context
	cancel context.CancelFunc
	out    chan *Batch
	wg     sync.WaitGroup
	err    error
}

// Epoch starts epoch e. With workers, batches are assembled in the
// background, at most Prefetch ahead of the consumer; Close (or cancelling
// ctx) stops every goroutine before it returns.
func (l *Loader) Epoch(ctx context.Context, e int) *EpochIter {
	it := &EpochIter{l: l, e: e, order: l.Order(e), n: l.Len()}
	it.ctx, it.cancel = context.WithCancel(ctx)
	if l.cfg.Workers > 0 {
		it.start()
	}
	return it
}

// start runs the workers. Worker w assembles batches w, w+W, w+2W, ... and
// hands them over through its own channel, so the iterator can take them
// in order by visiting the channels round-robin.
func (it *EpochIter) start() {
	w := it.l.cfg.Workers
	chans := make([]chan *Batch, w)
	depth := max(1, it.l.cfg.Prefetch/w)
	for k := range chans {
		chans[k] = make(chan *Batch, depth)
	}
	it.out = make(chan *Batch)
	for k := 0; k < w; k++ {
		it.wg.Add(1)
		go func(k int) {
			defer it.wg.Done()
			defer close(chans[k])
			for j := k; j < it.n; j += w {
				b := it.l.newBatch()
				it.l.fill(b, it.order, it.e, j)
				select {
				case chans[k] <- b:
				case <-it.ctx.Done():
					return
				}
			}
		}(k)
	}
	it.wg.Add(1)
	go func() {
		defer it.wg.Done()
		defer close(it.out)
		for j := 0; j < it.n; j++ {
			var b *Batch
			var ok bool
			select {
			case b, ok = <-chans[j%w]:
				if !ok {
					return
				}
			case <-it.ctx.Done():
				return
			}
			select {
			case it.out <- b:
			case <-it.ctx.Done():
				return
			}
		}
	}()
}

// Next returns the next batch, or false at the end of the epoch or when the
// context is cancelled (then Err says why).
func (it *EpochIter) Next() (*Batch, bool) {
	if it.next >= it.n {
		return nil, false
	}
	if it.l.cfg.Workers == 0 {
		if err := it.ctx.Err(); err != nil {
			it.err = err
			return nil, false
		}
		b := it.l.newBatch()
		it.l.fill(b, it.order, it.e, it.next)
		it.next++
		return b, true
	}
	select {
	case b, ok := <-it.out:
		if !ok {
			it.err = it.ctx.Err()
			return nil, false
		}
		it.next++
		return b, true
	case <-it.ctx.Done():
		it.err = it.ctx.Err()
		return nil, false
	}
}

// Err returns why the iteration stopped early, or nil.
func (it *EpochIter) Err() error {
	if it.err == context.Canceled && it.next < it.n {
		return it.err
	}
	if it.err == context.Canceled {
		return nil
	}
	return it.err
}

// Close stops the epoch and waits for its goroutines to exit.
func (it *EpochIter) Close() {
	it.cancel()
	if it.out != nil {
		for range it.out { // unblock the orderer
		}
	}
	it.wg.Wait()
}
