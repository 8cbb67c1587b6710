package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Metric is one value of a named metric at a step.
type Metric struct {
	Name  string  `json:"name"`
	Step  int64   `json:"step"`
	Value float64 `json:"value"`
	// At is when the value was logged, in microseconds since the epoch.
	At int64 `json:"at"`
}

// FlushStats count the metric writes of a run.
type FlushStats struct {
	// Flushes is the number of batches written, Values the metric values
	// they held, and Time the wall time spent writing them.
	Flushes int64
	Values  int64
	Time    time.Duration
	// HeartbeatErrors counts heartbeat writes that failed. They lose no
	// data (End writes the final status and heartbeat itself), so they do
	// not make End fail; LastHeartbeatError is the latest one's message.
	HeartbeatErrors    int64
	LastHeartbeatError string
}

// FlushStats returns how many metric batches the run wrote and how long
// writing them took.
func (r *Run) FlushStats() FlushStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// A flushed batch is stored as one row per metric name (table metrics:
// run_id, name, seq, first_step, last_step, n, data), so that recording
// every step costs one small insert per metric and second instead of one
// per value. data holds the n values in logging order, 24 bytes each,
// little-endian:
//
//	+--------------+----------------------+------------------+
//	| step (int64) | value (float64 bits) | at (int64, µs)   |  × n
//	+--------------+----------------------+------------------+
const metricRecord = 24

func encodeMetrics(ms []Metric) []byte {
	b := make([]byte, 0, len(ms)*metricRecord)
	for _, m := range ms {
		b = binary.LittleEndian.AppendUint64(b, uint64(m.Step))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Value))
		b = binary.LittleEndian.AppendUint64(b, uint64(m.At))
	}
	return b
}

// decodeMetrics appends the values in data to out.
func decodeMetrics(out []Metric, name string, data []byte, n int64) ([]Metric, error) {
	if int64(len(data)) != n*metricRecord {
		return out, fmt.Errorf("metric %s: chunk of %d bytes for %d values, want %d", name, len(data), n, n*metricRecord)
	}
	for i := 0; i+metricRecord <= len(data); i += metricRecord {
		out = append(out, Metric{
			Name:  name,
			Step:  int64(binary.LittleEndian.Uint64(data[i:])),
			Value: math.Float64frombits(binary.LittleEndian.Uint64(data[i+8:])),
			At:    int64(binary.LittleEndian.Uint64(data[i+16:])),
		})
	}
	return out, nil
}

// insertMetrics writes batch seq of a run as one multi-row INSERT (atomic
// on its own, one round trip to a server): one row per metric name.
func (s *Store) insertMetrics(ctx context.Context, run, seq int64, ms []Metric) error {
	byName := map[string][]Metric{}
	var names []string
	for _, m := range ms {
		if _, ok := byName[m.Name]; !ok {
			names = append(names, m.Name)
		}
		byName[m.Name] = append(byName[m.Name], m)
	}
	var q strings.Builder
	q.WriteString("INSERT INTO metrics (run_id, name, seq, first_step, last_step, n, data) VALUES ")
	args := make([]any, 0, 7*len(names))
	for i, name := range names {
		vs := byName[name]
		first, last := vs[0].Step, vs[0].Step
		for _, v := range vs {
			first, last = min(first, v.Step), max(last, v.Step)
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
		args = append(args, run, name, seq, first, last, len(vs), encodeMetrics(vs))
	}
	_, err := s.db.ExecContext(ctx, s.q(q.String()), args...)
	return s.wrap(err, "write metrics")
}

// Metrics returns the metrics of run id, by name and then step (values of
// one step in logging order); name "" returns every metric.
func (s *Store) Metrics(ctx context.Context, id int64, name string) ([]Metric, error) {
	q, args := "SELECT name, n, data FROM metrics WHERE run_id = ?", []any{id}
	if name != "" {
		q += " AND name = ?"
		args = append(args, name)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+" ORDER BY name, seq"), args...)
	if err != nil {
		return nil, s.wrap(err, "read metrics")
	}
	defer rows.Close()
	var out []Metric
	for rows.Next() {
		var (
			n    int64
			nm   string
			data []byte
		)
		if err := rows.Scan(&nm, &n, &data); err != nil {
			return nil, s.wrap(err, "read metrics")
		}
		if out, err = decodeMetrics(out, nm, data, n); err != nil {
			return nil, fmt.Errorf("store %s: run %d: %w", s.where, id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "read metrics")
	}
	slices.SortStableFunc(out, func(a, b Metric) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		switch {
		case a.Step < b.Step:
			return -1
		case a.Step > b.Step:
			return 1
		}
		return 0
	})
	return out, nil
}
