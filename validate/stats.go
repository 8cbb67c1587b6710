package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// StatsFormat marks a statistics file; Load checks it.
const StatsFormat = "kiln.validate.stats/v1"

// maxRaggedExamples bounds how many ragged rows a Stats names.
const maxRaggedExamples = 5

// Stats are the statistics of a data set: row counts and one FeatureStats
// per column, in the order columns were first seen. Statistics of
// partitions merge (Merge) into the statistics of the whole.
type Stats struct {
	Format  string   `json:"format"`
	Sources []string `json:"sources"`
	// Rows counts the records whose fields were added to the features.
	Rows int64 `json:"rows"`
	// RaggedRows counts records with more or fewer fields than the
	// header; they are counted here and not added to any feature.
	RaggedRows     int64    `json:"ragged_rows"`
	RaggedExamples []string `json:"ragged_examples,omitempty"`
	// Features holds each column's statistics.
	Features []*FeatureStats `json:"features"`

	index map[string]int
}

// NewStats returns empty statistics for the given columns.
func NewStats(columns []string) *Stats {
	s := &Stats{Format: StatsFormat}
	for _, c := range columns {
		s.feature(c)
	}
	return s
}

func (s *Stats) buildIndex() {
	if s.index != nil {
		return
	}
	s.index = make(map[string]int, len(s.Features))
	for i, f := range s.Features {
		if _, dup := s.index[f.Name]; !dup {
			s.index[f.Name] = i
		}
	}
}

// feature returns the statistics of column name, adding it when new.
func (s *Stats) feature(name string) *FeatureStats {
	s.buildIndex()
	if i, ok := s.index[name]; ok {
		return s.Features[i]
	}
	f := newFeature(name)
	s.index[name] = len(s.Features)
	s.Features = append(s.Features, f)
	return f
}

// Feature returns the statistics of column name, or nil.
func (s *Stats) Feature(name string) *FeatureStats {
	s.buildIndex()
	if i, ok := s.index[name]; ok {
		return s.Features[i]
	}
	return nil
}

func (s *Stats) addRagged(where string) {
	s.RaggedRows++
	if len(s.RaggedExamples) < maxRaggedExamples {
		s.RaggedExamples = append(s.RaggedExamples, where)
	}
}

// Merge folds o into s (either may be unfinished); s must be finished
// (Finish) afterwards, once after the last of several merges.
func (s *Stats) Merge(o *Stats) error {
	s.Sources = append(s.Sources, o.Sources...)
	s.Rows += o.Rows
	s.RaggedRows += o.RaggedRows
	for _, e := range o.RaggedExamples {
		if len(s.RaggedExamples) < maxRaggedExamples {
			s.RaggedExamples = append(s.RaggedExamples, e)
		}
	}
	for _, of := range o.Features {
		if err := s.feature(of.Name).merge(of); err != nil {
			return fmt.Errorf("merge statistics of %q: %w", of.Name, err)
		}
	}
	return nil
}

// Finish derives every feature's summary (type, missing, quantiles,
// histograms, distinct count, top values) from its state.
func (s *Stats) Finish() {
	s.Format = StatsFormat
	for _, f := range s.Features {
		f.finish(s.Rows)
	}
}

// Encode writes s as indented JSON.
func (s *Stats) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(s)
}

// Save writes s to path atomically.
func (s *Stats) Save(path string) error { return s.save(vfs.OS, path) }

func (s *Stats) save(fs vfs.FS, path string) error {
	var b bytes.Buffer
	if err := s.Encode(&b); err != nil {
		return fmt.Errorf("save statistics %s: %w", path, err)
	}
	if err := vfs.WriteFileAtomic(fs, path, b.Bytes()); err != nil {
		return fmt.Errorf("save statistics %s: %w", path, err)
	}
	return nil
}

// DecodeStats reads statistics written by Encode, checking the format
// mark and every sketch.
func DecodeStats(r io.Reader, name string) (*Stats, error) {
	var s Stats
	dec := json.NewDecoder(r)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("read statistics %s: %w", name, err)
	}
	if s.Format != StatsFormat {
		return nil, fmt.Errorf("read statistics %s: format %q, want %q", name, s.Format, StatsFormat)
	}
	if s.Rows < 0 || s.RaggedRows < 0 {
		return nil, fmt.Errorf("read statistics %s: negative row count", name)
	}
	for i, f := range s.Features {
		if f == nil || f.Name == "" {
			return nil, fmt.Errorf("read statistics %s: feature %d has no name", name, i)
		}
		if s.Feature(f.Name) != f {
			return nil, fmt.Errorf("read statistics %s: feature %q twice", name, f.Name)
		}
		if f.Numeric == nil {
			f.Numeric = &NumericStats{}
		}
		if f.String == nil {
			f.String = &StringStats{}
		}
		if f.Count < 0 || f.Count > s.Rows {
			return nil, fmt.Errorf("read statistics %s: feature %q: count %d of %d rows", name, f.Name, f.Count, s.Rows)
		}
		if len(f.HLL.Registers) != 0 && len(f.HLL.Registers) != 1<<hllPrecision {
			return nil, fmt.Errorf("read statistics %s: feature %q: %d HyperLogLog registers", name, f.Name, len(f.HLL.Registers))
		}
		if err := f.consistent(); err != nil {
			return nil, fmt.Errorf("read statistics %s: feature %q: %w", name, f.Name, err)
		}
		f.Numeric.Moments.folded = f.Numeric.Moments.N // decoded moments are already folded
		var grid int64
		for _, c := range f.Numeric.Grid.Counts {
			grid += c
		}
		if grid != f.Numeric.Moments.N || f.Numeric.Sketch.N != f.Numeric.Moments.N {
			return nil, fmt.Errorf("read statistics %s: feature %q: %d finite numbers, %d in the histogram, %d in the sketch", name, f.Name, f.Numeric.Moments.N, grid, f.Numeric.Sketch.N)
		}
		f.Numeric.sketchLive = true
		if err := f.Numeric.Sketch.check(); err != nil {
			return nil, fmt.Errorf("read statistics %s: feature %q: %w", name, f.Name, err)
		}
		if err := f.Numeric.Grid.thaw(); err != nil {
			return nil, fmt.Errorf("read statistics %s: feature %q: %w", name, f.Name, err)
		}
		if err := f.String.Values.check(); err != nil {
			return nil, fmt.Errorf("read statistics %s: feature %q: %w", name, f.Name, err)
		}
		if vs := sumCounts(f.String.Values.Counts); vs > f.Strings {
			return nil, fmt.Errorf("read statistics %s: feature %q: value counts add to %d of %d strings", name, f.Name, vs, f.Strings)
		}
	}
	s.Finish()
	return &s, nil
}

// LoadStats reads a statistics file.
func LoadStats(path string) (*Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read statistics: %w", err)
	}
	defer f.Close()
	return DecodeStats(f, path)
}

// IsStatsFile reports whether path holds statistics (it begins with the
// format mark) rather than data.
func IsStatsFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 256)
	n, _ := io.ReadFull(f, b)
	b = bytes.TrimLeft(b[:n], " \t\r\n")
	return bytes.HasPrefix(b, []byte("{")) && bytes.Contains(b, []byte(`"format"`)) && bytes.Contains(b, []byte(StatsFormat))
}

// consistent checks that a decoded feature's counts agree with each other.
func (f *FeatureStats) consistent() error {
	n := f.Numeric
	special := n.NaN + n.PosInf + n.NegInf
	switch {
	case f.Numbers < 0 || f.Strings < 0 || f.Integers < 0 || f.Bools < 0 || f.InvalidUTF8 < 0 ||
		n.N < 0 || n.NaN < 0 || n.PosInf < 0 || n.NegInf < 0 || n.Zeros < 0 || f.String.TotalLength < 0:
		return fmt.Errorf("negative count")
	case f.Numbers+f.Strings != f.Count:
		return fmt.Errorf("%d numbers and %d strings, want %d values", f.Numbers, f.Strings, f.Count)
	case n.N+special != f.Numbers || f.Integers > f.Numbers || n.Zeros > n.N:
		return fmt.Errorf("%d finite numbers, %d NaN or infinite, %d integers, %d zeros of %d numbers", n.N, special, f.Integers, n.Zeros, f.Numbers)
	case f.Bools > f.Strings || f.InvalidUTF8 > f.Strings:
		return fmt.Errorf("%d booleans and %d invalid UTF-8 of %d strings", f.Bools, f.InvalidUTF8, f.Strings)
	case n.N > 0 && !(n.Min <= n.Max):
		return fmt.Errorf("min %v above max %v", n.Min, n.Max)
	}
	return nil
}
