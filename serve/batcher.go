package serve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrOverloaded is returned (wrapped in an *OverloadError) when a request
// is refused because the queue is full or its deadline cannot be met.
var ErrOverloaded = errors.New("overloaded")

// ErrDeadline is returned when a queued request's deadline passed before
// its batch could run.
var ErrDeadline = errors.New("deadline exceeded in queue")

// ErrStopped is returned for requests sent to a batcher that was stopped.
var ErrStopped = errors.New("model version unloaded")

// OverloadError tells why a request was refused and when to retry.
type OverloadError struct {
	// Reason is "queue_full" or "deadline" (a batcher's admission), or
	// "in_flight" (the server's Config.MaxInFlight).
	Reason string
	// RetryAfter is a hint for when the queue will have room.
	RetryAfter time.Duration
}

func (e *OverloadError) Error() string {
	return fmt.Sprintf("%v: %s (retry after %v)", ErrOverloaded, e.Reason, e.RetryAfter)
}

// Unwrap returns ErrOverloaded.
func (e *OverloadError) Unwrap() error { return ErrOverloaded }

// BatchConfig sets a batcher's policy.
type BatchConfig struct {
	// Objective is the latency objective of one batch for AIMD.
	Objective time.Duration
	// MaxBatch bounds the batch size (1 turns batching off).
	MaxBatch int
	// Step is AIMD's additive increase.
	Step int
	// Backoff is AIMD's multiplicative decrease.
	Backoff float64
	// MaxDelay is the longest a request waits for a batch to fill.
	MaxDelay time.Duration
	// MaxQueueRows bounds the rows waiting.
	MaxQueueRows int
}

// BatchStats is what a batcher reports after each batch, for metrics.
type BatchStats struct {
	// Rows is the batch's size.
	Rows int
	// Latency is how long the batch ran.
	Latency time.Duration
	// Limit is the AIMD limit after the batch.
	Limit int
	// QueuedRows are the rows still waiting.
	QueuedRows int
}

// Batcher queues the requests of one model version and runs them in
// batches sized by AIMD, from one goroutine (Clipper §4.3). The policy
// lives in the pure functions planBatch and admit and in AIMD; Batcher
// adds the queue, the goroutine and the clock.
type Batcher struct {
	model   *Model
	cfg     BatchConfig
	observe func(BatchStats)

	mu        sync.Mutex
	queue     []*pending
	rows      int
	busy      bool
	stopped   bool
	aimd      *AIMD
	recent    [16]time.Duration // time per row of the last batches, a ring
	nRecent   int
	rowTime   time.Duration // their upper quartile
	batchTime time.Duration // rowTime × the limit: a full batch's time
	meta      []queued      // planBatch's view of the queue, reused
	parts     [][]float32   // a batch's requests' rows, reused by the loop
	parked    int           // what the loop waits for: parkedNot, parkedTimer or parkedIdle
	winStart  time.Time     // the arrival-rate window's start
	winRows   int           // rows arrived since winStart
	rate      float64       // recent arrival rate, rows per second
	wake      chan struct{}
	done      chan struct{}
}

// What the batcher's loop is blocked on, so that a new request wakes it
// only when that changes its plan: an idle loop must wake, one waiting
// out the delay must wake only once the batch is full.
const (
	parkedNot = iota
	parkedTimer
	parkedIdle
)

type pending struct {
	queued
	// idle is set when the request found the batcher idle and empty: it
	// runs next, so no estimate can make it late, and it is only dropped
	// if its deadline has passed.
	idle bool
	// taken is set, under the batcher's lock, when p's batch is formed.
	taken bool
	x     []float32
	ctx   context.Context
	out   chan result
}

type result struct {
	probs []float32
	err   error
}

// NewBatcher starts a batcher for m; observe (may be nil) is called after
// every batch from the batcher's goroutine. Stop ends it.
func NewBatcher(m *Model, cfg BatchConfig, observe func(BatchStats)) *Batcher {
	if cfg.MaxBatch < 1 {
		cfg.MaxBatch = 1
	}
	if cfg.MaxQueueRows < cfg.MaxBatch {
		cfg.MaxQueueRows = cfg.MaxBatch
	}
	if observe == nil {
		observe = func(BatchStats) {}
	}
	b := &Batcher{model: m, cfg: cfg, observe: observe,
		aimd: NewAIMD(cfg.Objective, cfg.Step, cfg.Backoff, cfg.MaxBatch),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go b.loop()
	return b
}

// Predict queues n rows x and waits for their probabilities. It returns an
// *OverloadError at once when admission refuses the request, ErrDeadline
// when the deadline passed while it waited, and ctx's error when the
// caller gave up (once the batch holding x, if it had started, is done).
// When Predict returns, the batcher no longer reads x.
func (b *Batcher) Predict(ctx context.Context, x []float32, n int, deadline time.Time) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		// Queued, it would hold rows that admission counts until its
		// batch came up, only to be skipped.
		return nil, err
	}
	now := time.Now()
	p := &pending{queued: queued{rows: n, arrived: now, deadline: deadline}, x: x, ctx: ctx, out: make(chan result, 1)}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return nil, ErrStopped
	}
	st := admission{queuedRows: b.rows, busy: b.busy, limit: b.aimd.Limit(), batchTime: b.batchTime, maxRows: b.cfg.MaxQueueRows}
	if ok, reason := admit(st, n, now, deadline); !ok {
		retry := time.Duration((b.rows+st.limit-1)/st.limit+1) * b.batchTime
		b.mu.Unlock()
		return nil, &OverloadError{Reason: reason, RetryAfter: retry}
	}
	p.idle = b.rows == 0 && !b.busy
	b.queue = append(b.queue, p)
	b.rows += n
	b.countArrival(n, now)
	signal := b.parked == parkedIdle || (b.parked == parkedTimer && b.rows >= b.fill())
	if signal {
		b.parked = parkedNot
	}
	b.mu.Unlock()
	if signal {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	select {
	case r := <-p.out:
		return r.probs, r.err
	case <-ctx.Done():
		b.mu.Lock()
		taken := p.taken
		b.mu.Unlock()
		if taken {
			// Its batch is running and may be reading x: the caller
			// may reuse x once Predict returns, so wait for the batch.
			<-p.out
		}
		// Still queued, the batcher will see ctx is done and skip p
		// without reading x.
		return nil, ctx.Err()
	}
}

// rateWindow is how often the arrival rate is re-estimated.
const rateWindow = 10 * time.Millisecond

// countArrival adds n rows arrived at now to the arrival-rate estimate:
// the rows of each window of at least rateWindow, averaged with the
// previous estimate. A window that spans an idle gap lowers the estimate
// at the first arrival after the gap. Call with b.mu held.
func (b *Batcher) countArrival(n int, now time.Time) {
	b.winRows += n
	el := now.Sub(b.winStart)
	if el < rateWindow {
		return
	}
	r := float64(b.winRows) / el.Seconds()
	if b.winStart.IsZero() || el > 100*rateWindow {
		b.rate = r
	} else {
		b.rate = (b.rate + r) / 2
	}
	b.winStart, b.winRows = now, 0
}

// fill returns the rows a free model waits for. Call with b.mu held.
func (b *Batcher) fill() int { return fillTarget(b.rate, b.cfg.MaxDelay, b.aimd.Limit()) }

// QueuedRows returns the rows waiting.
func (b *Batcher) QueuedRows() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rows
}

// Stop refuses new requests, runs the ones queued, and returns when the
// batcher's goroutine has ended.
func (b *Batcher) Stop() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	<-b.done
}

func (b *Batcher) loop() {
	defer close(b.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		b.mu.Lock()
		b.parked = parkedNot
		meta := b.meta[:0]
		for _, p := range b.queue {
			meta = append(meta, p.queued)
		}
		b.meta = meta
		take, wait := planBatch(meta, b.aimd.Limit(), b.fill(), b.cfg.MaxDelay, time.Now())
		if b.stopped && take == 0 && len(b.queue) > 0 {
			// Draining: run what is queued without waiting for more.
			take = min(len(b.queue), max(1, b.fitting(meta)))
		}
		if take == 0 {
			stopped := b.stopped
			if wait > 0 {
				b.parked = parkedTimer
			} else {
				b.parked = parkedIdle
			}
			b.mu.Unlock()
			if stopped {
				return
			}
			if wait > 0 {
				timer.Reset(wait)
				select {
				case <-b.wake:
				case <-timer.C:
				}
				timer.Stop()
			} else {
				<-b.wake
			}
			continue
		}
		full := take < len(b.queue)
		batch := append([]*pending(nil), b.queue[:take]...)
		for _, p := range batch {
			p.taken = true
		}
		// Shifted in place, with the slots past the new end cleared: they
		// would keep answered requests (their inputs and contexts) alive.
		rest := copy(b.queue, b.queue[take:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		batchRows := 0
		for _, p := range batch {
			batchRows += p.rows
		}
		b.rows -= batchRows
		b.busy = true
		est := b.rowTime * time.Duration(batchRows)
		b.mu.Unlock()
		b.run(batch, est, full)
	}
}

// fitting returns how many requests from the front of q fit in one batch.
func (b *Batcher) fitting(q []queued) int {
	rows, n := 0, 0
	for _, m := range q {
		if n > 0 && rows+m.rows > b.aimd.Limit() {
			break
		}
		rows += m.rows
		n++
	}
	return n
}

// run executes one batch: requests whose caller left or whose deadline
// cannot be met any more are answered without running them.
func (b *Batcher) run(batch []*pending, est time.Duration, full bool) {
	now := time.Now()
	live := batch[:0]
	rows := 0
	for _, p := range batch {
		switch {
		case p.ctx.Err() != nil:
			p.out <- result{err: p.ctx.Err()}
		case now.After(p.deadline), !p.idle && now.Add(est).After(p.deadline):
			p.out <- result{err: ErrDeadline}
		default:
			live = append(live, p)
			rows += p.rows
		}
	}
	if len(live) > 0 {
		start := time.Now()
		var probs []float32
		if len(live) == 1 {
			probs = b.predict(live[0].x, rows)
		} else {
			// Several requests make at most a batch of the limit (and
			// so of MaxBatch) rows: the model reads each one's rows
			// where they are.
			parts := b.parts[:0]
			for _, p := range live {
				parts = append(parts, p.x)
			}
			probs = b.model.PredictParts(parts, rows)
			clear(parts)
			b.parts = parts[:0]
		}
		lat := time.Since(start)
		// Update the state before answering, so that a client that sends
		// its next request the moment it has this answer finds the
		// batcher idle.
		b.mu.Lock()
		b.aimd.Observe(rows, lat, full)
		// The estimate is the upper quartile of the last 16 batches'
		// times per row, times the limit for a full batch: per row,
		// because batches differ in size, and a request larger than the
		// limit runs alone as one batch (timing it as one batch of the
		// limit's rows made admission count a 16-row request to a batch-1
		// server as 16 such batches, and refuse what it could serve); a
		// small batch costs more per row, so the estimate errs towards
		// refusing. A quantile ignores the odd batch that a descheduled
		// thread or a cold cache made slow (a mean would refuse requests
		// for many batches after), and the upper quartile rather than the
		// median keeps admitted requests from turning late when batches
		// vary.
		b.recent[b.nRecent%len(b.recent)] = lat / time.Duration(rows)
		b.nRecent++
		b.rowTime = upperQuartile(b.recent, min(b.nRecent, len(b.recent)))
		b.batchTime = b.rowTime * time.Duration(b.aimd.Limit())
		st := BatchStats{Rows: rows, Latency: lat, Limit: b.aimd.Limit(), QueuedRows: b.rows}
		b.busy = false
		b.mu.Unlock()
		c := b.model.Classes
		off := 0
		for _, p := range live {
			p.out <- result{probs: probs[off*c : (off+p.rows)*c : (off+p.rows)*c]}
			off += p.rows
		}
		b.observe(st)
		return
	}
	b.mu.Lock()
	b.busy = false
	b.mu.Unlock()
}

// predict runs the model on rows rows of x, in calls of at most MaxBatch
// rows: a request larger than MaxBatch is split, so that MaxBatch bounds
// every call of the model (MaxBatch 1 runs one row at a time).
func (b *Batcher) predict(x []float32, rows int) []float32 {
	if rows <= b.cfg.MaxBatch {
		return b.model.Predict(x, rows)
	}
	f := b.model.Features
	out := make([]float32, 0, rows*b.model.Classes)
	for off := 0; off < rows; off += b.cfg.MaxBatch {
		n := min(b.cfg.MaxBatch, rows-off)
		out = append(out, b.model.Predict(x[off*f:(off+n)*f], n)...)
	}
	return out
}

// upperQuartile returns the 75th percentile of the first n of ds (which
// it does not change). It sorts a copy on the stack: it runs after every
// batch.
func upperQuartile(ds [16]time.Duration, n int) time.Duration {
	c := ds[:n]
	slices.Sort(c)
	return c[n*3/4]
}
