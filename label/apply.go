package label

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// ApplyStats reports what applying labeling functions did.
type ApplyStats struct {
	Rows int
	// Errors counts, per labeling function, the records on which it failed
	// (and so abstained).
	Errors []int
	// FirstError holds each function's first failure message ("" if none).
	FirstError []string
}

// RecordSource yields records one at a time; Next returns io.EOF after the
// last one.
type RecordSource interface {
	Next() (Record, error)
}

// SliceSource is a RecordSource over records in memory.
type SliceSource struct {
	Records []Record
	i       int
}

// Next returns the next record or io.EOF.
func (s *SliceSource) Next() (Record, error) {
	if s.i >= len(s.Records) {
		return nil, io.EOF
	}
	s.i++
	return s.Records[s.i-1], nil
}

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// Workers is the number of goroutines labeling chunks; 0 means
	// GOMAXPROCS.
	Workers int
	// ChunkRows is the number of records per chunk (default 1024).
	ChunkRows int
}

// ApplyRecords applies the set to records in memory.
func ApplyRecords(set *Set, records []Record, opt ApplyOptions) (*Matrix, *ApplyStats, error) {
	return Apply(set, &SliceSource{Records: records}, opt)
}

type chunk struct {
	idx, first int
	recs       []Record
}

type chunkResult struct {
	m        *Matrix
	errs     []int
	firstErr []string
	err      error
}

// Apply runs every labeling function of set on every record of src, in
// parallel over chunks of records, and returns the label matrix in the
// source's order. A function that fails on a record abstains on it and is
// counted in the stats; a function that returns a label outside the
// declared classes stops the application with a *LabelError.
func Apply(set *Set, src RecordSource, opt ApplyOptions) (*Matrix, *ApplyStats, error) {
	if err := set.Validate(); err != nil {
		return nil, nil, err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	size := opt.ChunkRows
	if size <= 0 {
		size = 1024
	}
	in := make(chan chunk, workers)
	var mu sync.Mutex
	results := map[int]chunkResult{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range in {
				r := applyChunk(set, c)
				mu.Lock()
				results[c.idx] = r
				mu.Unlock()
			}
		}()
	}
	var readErr error
	n, idx := 0, 0
	for readErr == nil {
		recs := make([]Record, 0, size)
		for len(recs) < size {
			r, err := src.Next()
			if err == io.EOF {
				readErr = io.EOF
				break
			}
			if err != nil {
				readErr = fmt.Errorf("apply labeling functions: record %d: %w", n+len(recs), err)
				break
			}
			recs = append(recs, r)
		}
		if len(recs) > 0 {
			in <- chunk{idx: idx, first: n, recs: recs}
			idx++
			n += len(recs)
		}
	}
	close(in)
	wg.Wait()
	if readErr != io.EOF {
		return nil, nil, readErr
	}
	stats := &ApplyStats{Rows: n, Errors: make([]int, len(set.LFs)), FirstError: make([]string, len(set.LFs))}
	parts := make([]*Matrix, 0, idx)
	for i := 0; i < idx; i++ {
		r := results[i]
		if r.err != nil {
			return nil, nil, r.err
		}
		for j := range stats.Errors {
			stats.Errors[j] += r.errs[j]
			if stats.FirstError[j] == "" {
				stats.FirstError[j] = r.firstErr[j]
			}
		}
		parts = append(parts, r.m)
	}
	var m *Matrix
	if len(parts) == 0 {
		m = NewBuilder(set.Names(), len(set.Classes)).Matrix()
	} else {
		var err error
		if m, err = Concat(parts...); err != nil {
			return nil, nil, err
		}
	}
	m.Names = set.Names()
	m.Classes = set.Classes
	if set.MultiLabel {
		m.Tasks = append([]int(nil), set.Tasks...)
	}
	return m, stats, nil
}

// applyChunk labels one chunk of records.
func applyChunk(set *Set, c chunk) chunkResult {
	mlf := len(set.LFs)
	r := chunkResult{errs: make([]int, mlf), firstErr: make([]string, mlf)}
	b := NewBuilder(set.Names(), len(set.Classes))
	maxVote := set.maxVote()
	cols := make([]int32, 0, mlf)
	votes := make([]int16, 0, mlf)
	for i, rec := range c.recs {
		cols, votes = cols[:0], votes[:0]
		for j, f := range set.LFs {
			v, err := safeLabel(f, rec)
			if err != nil {
				if errors.Is(err, ErrOutsideClasses) {
					r.err = fmt.Errorf("labeling function %q on record %d: %w", f.Name(), c.first+i, err)
					return r
				}
				if r.errs[j] == 0 {
					r.firstErr[j] = fmt.Sprintf("record %d: %v", c.first+i, err)
				}
				r.errs[j]++
				continue
			}
			if v == Abstain {
				continue
			}
			if v < 0 || v > maxVote {
				r.err = &LabelError{LF: f.Name(), Row: c.first + i, Value: v, Max: maxVote}
				return r
			}
			cols = append(cols, int32(j))
			votes = append(votes, int16(v))
		}
		b.AddRow(cols, votes)
	}
	r.m = b.Matrix()
	return r
}

// safeLabel calls a labeling function, turning a panic into a failure.
func safeLabel(f LF, r Record) (v int, err error) {
	if _, ok := f.(*celLF); ok {
		return f.Label(r)
	}
	defer func() {
		if p := recover(); p != nil {
			v, err = Abstain, fmt.Errorf("panic: %v", p)
		}
	}()
	return f.Label(r)
}

// Unwrap makes a LabelError match ErrOutsideClasses.
func (e *LabelError) Unwrap() error { return ErrOutsideClasses }
