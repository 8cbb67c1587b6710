package validate

import (
	"fmt"
	"sort"
)

// topKCap is how many distinct values a TopK counts exactly.
const topKCap = 2048

// TopK counts string values: exactly while there are at most topKCap
// distinct values, and as a Misra-Gries summary after that (Misra, Gries
// 1982; merged as in Agarwal et al., "Mergeable Summaries", PODS 2012,
// §3), where every count is a lower bound within Dropped of the truth.
// Exact counts merge exactly: the merge of partitions equals the counts of
// the whole.
type TopK struct {
	// Counts maps each value kept to its count.
	Counts map[string]int64 `json:"counts,omitempty"`
	// Approximate is set once the summary has dropped values.
	Approximate bool `json:"approximate,omitempty"`
	// Dropped bounds how much any count may be below the truth.
	Dropped int64 `json:"dropped,omitempty"`

	index map[string]int32
	keys  []string
	cnts  []int64
}

// Add counts one occurrence of b; b is copied only the first time a value
// is seen.
func (t *TopK) Add(b []byte) {
	if t.index == nil {
		t.index = make(map[string]int32)
	}
	if i, ok := t.index[string(b)]; ok {
		t.cnts[i]++
		return
	}
	if len(t.keys) >= topKCap {
		t.decrement()
		return
	}
	s := string(b)
	t.index[s] = int32(len(t.keys))
	t.keys = append(t.keys, s)
	t.cnts = append(t.cnts, 1)
}

// decrement is the Misra-Gries step for a new value when the summary is
// full: every count drops by one (the new value's one occurrence cancels
// one occurrence of each kept value) and values at zero leave.
func (t *TopK) decrement() {
	t.Approximate = true
	t.Dropped++
	keys, cnts := t.keys[:0], t.cnts[:0]
	clear(t.index)
	for i, k := range t.keys {
		if c := t.cnts[i] - 1; c > 0 {
			t.index[k] = int32(len(keys))
			keys = append(keys, k)
			cnts = append(cnts, c)
		}
	}
	t.keys, t.cnts = keys, cnts
}

// flush moves the working counts into Counts.
func (t *TopK) flush() {
	if t.Counts == nil {
		t.Counts = make(map[string]int64, len(t.keys))
	}
	for i, k := range t.keys {
		t.Counts[k] += t.cnts[i]
	}
	t.index, t.keys, t.cnts = nil, nil, nil
}

// Merge folds o into t; both must be flushed.
func (t *TopK) Merge(o *TopK) {
	if t.Counts == nil {
		t.Counts = make(map[string]int64, len(o.Counts))
	}
	for k, c := range o.Counts {
		t.Counts[k] += c
	}
	t.Approximate = t.Approximate || o.Approximate
	t.Dropped += o.Dropped
	if len(t.Counts) <= topKCap {
		return
	}
	// Subtract the (cap+1)-th largest count from every count and keep the
	// positive ones: the mergeable Misra-Gries rule.
	cs := make([]int64, 0, len(t.Counts))
	for _, c := range t.Counts {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i] > cs[j] })
	cut := cs[topKCap]
	for k, c := range t.Counts {
		if c-cut <= 0 {
			delete(t.Counts, k)
		} else {
			t.Counts[k] = c - cut
		}
	}
	t.Approximate = true
	t.Dropped += cut
}

// ValueCount is one value and its count.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Top returns the n most frequent values, most frequent first, ties by
// value.
func (t *TopK) Top(n int) []ValueCount {
	out := make([]ValueCount, 0, len(t.Counts))
	for k, c := range t.Counts {
		out = append(out, ValueCount{k, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

func (t *TopK) check() error {
	if len(t.Counts) > topKCap {
		return fmt.Errorf("top-k: %d values, at most %d", len(t.Counts), topKCap)
	}
	for k, c := range t.Counts {
		if c <= 0 {
			return fmt.Errorf("top-k: value %q has count %d", k, c)
		}
	}
	return nil
}
