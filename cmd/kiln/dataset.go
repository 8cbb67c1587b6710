package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/train"
)

// imageData is a classification data set opened for training: its test
// split in memory and its train split ready to batch.
type imageData struct {
	dir         string
	trainSet    *data.Dataset
	test        *train.EvalSet
	sampleShape []int
	features    int
	classes     int
	norm        data.Normalize
}

// openDataset loads the train and test splits of an IDX image data set
// from dir, or from KILN_HOME/datasets/NAME when dir is empty.
func openDataset(name, dir string, stderr io.Writer) (*imageData, error) {
	var norm data.Normalize
	switch name {
	case "mnist":
		norm = data.MNISTNorm
	case "fashion-mnist":
		norm = data.FashionMNISTNorm
	default:
		return nil, fmt.Errorf("unknown data set %q (mnist, fashion-mnist)", name)
	}
	if dir == "" {
		dir = filepath.Join(kilnHome(), "datasets", name)
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("data set %s not found in %s: run `kiln data pull %s` or pass --data-dir", name, dir, name)
		}
	}
	tr, err := data.LoadMNISTLike(dir, "train", norm)
	if err != nil {
		return nil, err
	}
	te, err := data.LoadMNISTLike(dir, "test", norm)
	if err != nil {
		return nil, err
	}
	feat := len(tr.X) / max(tr.N, 1)
	return &imageData{
		dir: dir, trainSet: tr, sampleShape: tr.SampleShape, features: feat, classes: tr.Classes, norm: norm,
		test: &train.EvalSet{X: te.X, Y: te.Y, N: te.N},
	}, nil
}

// trainBatches returns the shuffled, prefetched training batches.
// With world > 1 each rank gets its own shard of every epoch (a
// distributed sampler).
func (d *imageData) trainBatches(batch int, seed uint64, workers, rank, world int) (train.Batches, error) {
	l, err := data.NewLoader(d.trainSet, data.LoaderConfig{BatchSize: batch, Shuffle: true, Seed: seed, Workers: workers, Prefetch: 4, Rank: rank, WorldSize: world})
	if err != nil {
		return nil, err
	}
	return loaderBatches{l}, nil
}

// loaderBatches adapts a data.Loader to train.Batches.
type loaderBatches struct{ l *data.Loader }

func (b loaderBatches) Len() int { return b.l.Len() }

func (b loaderBatches) Epoch(ctx context.Context, e int) (func() (train.Batch, bool, error), func()) {
	it := b.l.Epoch(ctx, e)
	var prev *data.Batch
	next := func() (train.Batch, bool, error) {
		if prev != nil {
			prev.Release()
			prev = nil
		}
		bt, ok := it.Next()
		if !ok {
			return train.Batch{}, false, it.Err()
		}
		prev = bt
		return train.Batch{X: bt.X, Y: bt.Y, N: bt.N}, true, nil
	}
	return next, it.Close
}
