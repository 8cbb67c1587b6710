// Package ddp is distributed data-parallel training, as PyTorch's
// DistributedDataParallel (Li et al., "PyTorch Distributed: Experiences on
// Accelerating Data Parallel Training", VLDB 2020): every rank holds a full
// replica of the model, trains on its own shard of each batch, and the
// gradients are averaged across ranks before every optimizer step, so that
// all replicas take the same step.
//
// Gradients are grouped into buckets of about BucketBytes, in reverse order
// of the parameters (the order backward produces them). As soon as every
// gradient of a bucket is final (autograd.Tape.OnParamReady), the bucket is
// all-reduced on a background goroutine while backward goes on through the
// earlier layers; Sync waits for the last bucket. NoSync skips the
// exchange, so that gradients of several micro-batches accumulate locally
// (gradient accumulation) and are averaged once.
package ddp

import (
	"fmt"
	"sync"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/collective"
	"github.com/kiln-ml/kiln/nn"
)

// DefaultBucketBytes is PyTorch DDP's default bucket size (25 MiB).
const DefaultBucketBytes = 25 << 20

// DDP wraps a model replica and its process group.
type DDP struct {
	Model nn.Module
	group *collective.Group

	params  []*nn.Param
	buckets []*bucket
	owner   map[*nn.Param]*bucket

	noSync bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

type bucket struct {
	params  []*nn.Param
	flat    []float32
	pending int
}

// New broadcasts rank 0's parameters to every rank, so that all replicas
// start equal, and sets up buckets of about bucketBytes (≤ 0: the default).
func New(model nn.Module, g *collective.Group, bucketBytes int) (*DDP, error) {
	if bucketBytes <= 0 {
		bucketBytes = DefaultBucketBytes
	}
	d := &DDP{Model: model, group: g, params: model.Parameters(), owner: map[*nn.Param]*bucket{}}
	for _, p := range d.params {
		if err := g.Broadcast(p.Data.Data, 0); err != nil {
			return nil, fmt.Errorf("ddp: broadcast of %s from rank 0: %w", p.Name, err)
		}
	}
	var cur *bucket
	size := 0
	for i := len(d.params) - 1; i >= 0; i-- {
		p := d.params[i]
		if cur == nil || size+4*len(p.Data.Data) > bucketBytes && size > 0 {
			cur = &bucket{}
			d.buckets = append(d.buckets, cur)
			size = 0
		}
		cur.params = append(cur.params, p)
		d.owner[p] = cur
		size += 4 * len(p.Data.Data)
	}
	// Each bucket's gradients live in one flat buffer: every parameter's
	// Grad is re-pointed at its slice of it (PyTorch's gradient_as_bucket_
	// view), so that a bucket is all-reduced in place, with no packing.
	for _, b := range d.buckets {
		n := 0
		for _, p := range b.params {
			n += len(p.Data.Data)
		}
		b.flat = make([]float32, n)
		off := 0
		for _, p := range b.params {
			m := len(p.Data.Data)
			copy(b.flat[off:off+m], p.Grad.Data)
			p.Grad.Data = b.flat[off : off+m : off+m]
			off += m
		}
	}
	return d, nil
}

// Buckets returns the number of gradient buckets.
func (d *DDP) Buckets() int { return len(d.buckets) }

// SetNoSync turns gradient synchronisation off (true) or back on: with it
// off, Backward only accumulates local gradients, as PyTorch's no_sync.
func (d *DDP) SetNoSync(off bool) { d.noSync = off }

// Backward runs backward from loss and, unless NoSync is set, averages the
// gradients across ranks, overlapping each bucket's all-reduce with the
// rest of backward. On return every rank holds the same averaged
// gradients.
func (d *DDP) Backward(tp *autograd.Tape, loss *autograd.Value) error {
	if d.noSync || d.group.Size() == 1 {
		return tp.Backward(loss)
	}
	for _, b := range d.buckets {
		b.pending = len(b.params)
	}
	d.err = nil
	// Buckets must be all-reduced in the same order on every rank; they
	// become ready in that order because every rank runs the same
	// backward, and a single launcher goroutine keeps the order.
	ready := make(chan *bucket, len(d.buckets))
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for b := range ready {
			if err := d.reduce(b); err != nil {
				d.mu.Lock()
				if d.err == nil {
					d.err = err
				}
				d.mu.Unlock()
			}
		}
	}()
	tp.OnParamReady(func(p *autograd.Param) {
		b := d.owner[p]
		if b == nil {
			return
		}
		if b.pending--; b.pending == 0 {
			ready <- b
		}
	})
	err := tp.Backward(loss)
	tp.OnParamReady(nil)
	// Parameters that took no part in this step still belong to a bucket:
	// flush any bucket left pending, with zeros for the missing gradients,
	// as PyTorch does with find_unused_parameters.
	for _, b := range d.buckets {
		if b.pending > 0 {
			b.pending = 0
			ready <- b
		}
	}
	close(ready)
	d.wg.Wait()
	if err != nil {
		return err
	}
	return d.err
}

// reduce averages one bucket in place: a parameter that received no
// gradient contributes zeros, then the flat buffer is all-reduced and
// scaled by 1/N.
func (d *DDP) reduce(b *bucket) error {
	off := 0
	for _, p := range b.params {
		n := len(p.Data.Data)
		if !p.HasGrad {
			clear(b.flat[off : off+n])
		}
		off += n
	}
	if err := d.group.AllReduce(b.flat, collective.Auto); err != nil {
		return fmt.Errorf("ddp: all-reduce of gradients: %w", err)
	}
	inv := 1 / float32(d.group.Size())
	for i := range b.flat {
		b.flat[i] *= inv
	}
	for _, p := range b.params {
		p.HasGrad = true
	}
	return nil
}
