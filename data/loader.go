package data

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Transform preprocesses one sample: it writes the transformed src into dst
// (both of the data set's feature length) and draws any randomness from
// rng. It must not keep dst, src or rng, and with Workers > 0 it runs on
// several goroutines at once.
type Transform func(dst, src []float32, rng *rand.Rand)

// LoaderConfig holds a Loader's settings.
type LoaderConfig struct {
	// BatchSize is the number of samples per batch (at least 1).
	BatchSize int
	// Shuffle draws a new permutation each epoch from (Seed, epoch), so
	// that runs are repeatable and every rank agrees on the order.
	Shuffle bool
	Seed    uint64
	// DropLast drops the final partial batch; by default it is delivered.
	DropLast bool
	// Workers is the number of goroutines assembling batches; 0 assembles
	// each batch synchronously inside Next.
	Workers int
	// Prefetch is how many finished batches may wait for the consumer
	// (rounded up to a multiple of Workers; default 2 when Workers > 0;
	// unused without workers).
	Prefetch int
	// Rank and WorldSize shard each epoch's order across data-parallel
	// ranks; see Sampler. WorldSize 0 means 1.
	Rank, WorldSize int
	// Transform, when set, is applied to every sample. Its rng is seeded
	// from (Seed, epoch, batch number), so the batches are the same with
	// any number of workers.
	Transform Transform
}

// Loader cuts a Dataset into batches, epoch after epoch. A Loader may be
// used from several goroutines; each EpochIter belongs to one.
type Loader struct {
	ds      *Dataset
	cfg     LoaderConfig
	sampler Sampler
	feat    int
	depth   int // per-worker channel capacity
	free    chan *Batch
}

// Batch is one mini-batch: N samples in X (row-major, N × features),
// their labels in Y and their positions in the data set in Indices.
type Batch struct {
	X       []float32
	Y       []int32
	N       int
	Indices []int

	owner  *Loader
	pooled atomic.Bool // in the loader's free pool
	pcg    rand.PCG
	rng    *rand.Rand
}

// Release hands the batch's buffers back to the loader, which fills them
// again for a later batch, so that steady-state training allocates nothing
// per batch. It is optional (a batch never released is garbage collected),
// and releasing twice is harmless; but neither the batch nor its slices may
// be used after Release.
func (b *Batch) Release() {
	if b == nil || b.owner == nil || !b.pooled.CompareAndSwap(false, true) {
		return
	}
	select {
	case b.owner.free <- b:
	default: // pool full: the garbage collector takes it
	}
}

// NewLoader returns a loader over ds, which must be consistent (see
// Dataset.Validate) and not empty, and must not change while the loader is
// in use.
func NewLoader(ds *Dataset, cfg LoaderConfig) (*Loader, error) {
	if ds == nil {
		return nil, errors.New("loader: nil data set")
	}
	if err := ds.Validate(); err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	if ds.N == 0 {
		return nil, fmt.Errorf("loader: empty data set %s", ds.Source)
	}
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("loader: batch size %d, want at least 1", cfg.BatchSize)
	}
	if cfg.Workers < 0 || cfg.Prefetch < 0 {
		return nil, fmt.Errorf("loader: %d workers and prefetch %d, want both ≥ 0", cfg.Workers, cfg.Prefetch)
	}
	s := Sampler{N: ds.N, Shuffle: cfg.Shuffle, Seed: cfg.Seed, Rank: cfg.Rank, WorldSize: cfg.WorldSize}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	l := &Loader{ds: ds, cfg: cfg, sampler: s, feat: ds.Features()}
	if cfg.Workers > 0 {
		if cfg.Prefetch == 0 {
			l.cfg.Prefetch = 2
		}
		l.depth = (l.cfg.Prefetch + cfg.Workers - 1) / cfg.Workers
	}
	// Enough for every batch that can be in flight: ready in the channels,
	// being filled by the workers, and held by the consumer.
	l.free = make(chan *Batch, cfg.Workers*(l.depth+1)+2)
	return l, nil
}

// Sampler returns the sampler that orders the loader's epochs.
func (l *Loader) Sampler() Sampler { return l.sampler }

// Len returns the number of batches per epoch.
func (l *Loader) Len() int {
	n := l.sampler.Len()
	if l.cfg.DropLast {
		return n / l.cfg.BatchSize
	}
	return (n + l.cfg.BatchSize - 1) / l.cfg.BatchSize
}

// Order returns this rank's sample indices for epoch e, in batch order
// (before DropLast); see Sampler.Order.
func (l *Loader) Order(e int) []int { return l.sampler.Order(e) }

// newBatch takes a batch from the pool, or makes one.
func (l *Loader) newBatch() *Batch {
	select {
	case b := <-l.free:
		b.pooled.Store(false)
		return b
	default:
		b := &Batch{owner: l}
		b.rng = rand.New(&b.pcg)
		return b
	}
}

// fill assembles batch j of epoch e's order into b.
func (l *Loader) fill(b *Batch, order []int, e, j int) {
	bs, f := l.cfg.BatchSize, l.feat
	lo := j * bs
	hi := min(lo+bs, len(order))
	n := hi - lo
	if cap(b.X) < bs*f {
		b.X = make([]float32, bs*f)
		b.Y = make([]int32, bs)
		b.Indices = make([]int, bs)
	}
	b.X, b.Y, b.Indices, b.N = b.X[:n*f], b.Y[:n], b.Indices[:n], n
	tf := l.cfg.Transform
	if tf != nil {
		b.pcg.Seed(transformSeed(l.cfg.Seed, e, j))
	}
	for i, idx := range order[lo:hi] {
		src := l.ds.X[idx*f : (idx+1)*f]
		dst := b.X[i*f : (i+1)*f]
		if tf != nil {
			tf(dst, src, b.rng)
		} else {
			copy(dst, src)
		}
		b.Y[i] = l.ds.Y[idx]
		b.Indices[i] = idx
	}
}

// transformSeed derives the PCG seed of batch j of epoch e: a bijection of
// (e, j) below 2³² each, and a seed word mixed away from the shuffle's.
func transformSeed(seed uint64, e, j int) (uint64, uint64) {
	return splitmix64(seed ^ 0xd1b54a32d192ed03), uint64(uint32(e))<<32 | uint64(uint32(j))
}

// splitmix64 is the finaliser of Steele et al.'s SplitMix64, a bijection
// that scatters nearby inputs.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// EpochIter iterates over the batches of one epoch. Next and Close are
// called from one goroutine; Close must be called (defer it).
type EpochIter struct {
	l      *Loader
	e      int
	order  []int
	n      int // batches in the epoch
	next   int
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc
	chans  []chan *Batch
	wg     sync.WaitGroup
	err    error
}

// Epoch starts epoch e. With Workers > 0, batches are assembled in the
// background, at most Prefetch ahead of the consumer; Close, or cancelling
// ctx, stops every goroutine of the epoch (Close waits for them to exit).
func (l *Loader) Epoch(ctx context.Context, e int) *EpochIter {
	it := &EpochIter{l: l, e: e, order: l.sampler.Order(e), n: l.Len(), parent: ctx}
	it.ctx, it.cancel = context.WithCancel(ctx)
	if w := l.cfg.Workers; w > 0 {
		it.chans = make([]chan *Batch, w)
		for k := range it.chans {
			it.chans[k] = make(chan *Batch, l.depth)
		}
		it.wg.Add(w)
		for k := range w {
			go it.work(k)
		}
	}
	return it
}

// work is worker k: it assembles batches k, k+W, k+2W, … and hands them
// over in order through its own channel, so that Next can take the batches
// in epoch order by visiting the channels round-robin.
func (it *EpochIter) work(k int) {
	defer it.wg.Done()
	ch := it.chans[k]
	defer close(ch)
	w := len(it.chans)
	for j := k; j < it.n; j += w {
		if it.ctx.Err() != nil {
			return
		}
		b := it.l.newBatch()
		it.l.fill(b, it.order, it.e, j)
		select {
		case ch <- b:
		case <-it.ctx.Done():
			b.Release()
			return
		}
	}
}

// Next returns the next batch, or false at the end of the epoch, after
// Close, or once ctx is cancelled (then Err says why).
func (it *EpochIter) Next() (*Batch, bool) {
	if it.next >= it.n {
		it.cancel() // the workers are done; free the context
		return nil, false
	}
	if err := it.ctx.Err(); err != nil {
		it.err = it.parent.Err() // nil when Close stopped the epoch
		return nil, false
	}
	if it.chans == nil {
		b := it.l.newBatch()
		it.l.fill(b, it.order, it.e, it.next)
		it.next++
		return b, true
	}
	select {
	case b, ok := <-it.chans[it.next%len(it.chans)]:
		if ok {
			it.next++
			return b, true
		}
	case <-it.ctx.Done():
	}
	it.err = it.parent.Err()
	return nil, false
}

// Err returns why the epoch stopped before its end, or nil: the context's
// error when ctx was cancelled, nil after a full epoch or Close.
func (it *EpochIter) Err() error { return it.err }

// Close stops the epoch and waits for its goroutines to exit. Batches
// already handed out stay valid until released. Close may be called more
// than once.
func (it *EpochIter) Close() {
	it.cancel()
	it.wg.Wait()
	for _, ch := range it.chans {
		for b := range ch { // closed by its worker on exit
			b.Release()
		}
	}
}

// All returns epoch e for a range-over-func loop: it yields each batch with
// a nil error, and stops after yielding (nil, err) if ctx is cancelled
// first. Breaking out of the loop stops the epoch's goroutines.
func (l *Loader) All(ctx context.Context, e int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		it := l.Epoch(ctx, e)
		defer it.Close()
		for {
			b, ok := it.Next()
			if !ok {
				if err := it.Err(); err != nil {
					yield(nil, err)
				}
				return
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}
