package validate

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"
)

// Type is a feature's value type, as a schema names it.
type Type string

// The feature types. A feature is INT when every value is an integer,
// FLOAT when every value is a number, BOOL when every value is true or
// false, STRING otherwise; UNKNOWN when it has no values.
const (
	TypeInt     Type = "INT"
	TypeFloat   Type = "FLOAT"
	TypeBool    Type = "BOOL"
	TypeString  Type = "STRING"
	TypeUnknown Type = "UNKNOWN"
)

// Numbers of summary buckets and top values that statistics report.
const (
	histogramBuckets = 10
	topValues        = 20
)

// FeatureStats holds one feature's statistics: the mergeable state
// (moments, sketches, counts) and, after Finish, the summary derived from
// it (type, missing, quantiles, histograms, distinct count, top values).
type FeatureStats struct {
	Name string `json:"name"`
	// Type is the type the values show.
	Type Type `json:"type"`
	// Count is the number of present (non-missing) values.
	Count int64 `json:"count"`
	// Missing is the number of rows without a value.
	Missing int64 `json:"missing"`
	// Numbers counts values that parse as numbers (NaN and infinities
	// included), Integers those written as integers (not "180.0" or
	// "1e3"), Strings the others,
	// Bools the strings true and false.
	Numbers  int64 `json:"numbers"`
	Integers int64 `json:"integers"`
	Strings  int64 `json:"strings"`
	Bools    int64 `json:"bools"`
	// InvalidUTF8 counts string values that are not valid UTF-8, with an
	// example (quoted).
	InvalidUTF8        int64  `json:"invalid_utf8,omitempty"`
	InvalidUTF8Example string `json:"invalid_utf8_example,omitempty"`
	// Distinct is the number of distinct values: exact when DistinctExact,
	// otherwise HyperLogLog's estimate.
	Distinct      int64 `json:"distinct"`
	DistinctExact bool  `json:"distinct_exact"`

	Numeric *NumericStats `json:"numeric,omitempty"`
	String  *StringStats  `json:"string,omitempty"`
	HLL     HLL           `json:"hll"`
}

// NumericStats summarises the numeric values of a feature.
type NumericStats struct {
	// Moments covers the finite values.
	Moments
	Std    float64 `json:"std"`
	Zeros  int64   `json:"zeros"`
	NaN    int64   `json:"nan"`
	PosInf int64   `json:"pos_inf"`
	NegInf int64   `json:"neg_inf"`
	// Quantiles are the deciles 0, 0.1, ..., 1 from the KLL sketch.
	Quantiles []float64 `json:"quantiles,omitempty"`
	// Histogram has equal-width buckets over [Min, Max].
	Histogram []Bucket `json:"histogram,omitempty"`
	// QuantileHistogram has buckets of equal count between deciles.
	QuantileHistogram []Bucket `json:"quantile_histogram,omitempty"`
	Sketch            KLL      `json:"sketch"`
	Grid              Grid     `json:"grid"`

	// While every grid bin holds one value the grid has the finite values
	// exactly, and the sketch and the HyperLogLog are left without them
	// (sparing the sorting and the hashing); they are filled from the grid,
	// the sketch with each value's count as its weight, just before a bin
	// first mixes, or at finish. The registers end up the same either way:
	// they depend on the set of values only.
	sketchLive bool
}

// fillFromGrid gives the sketch and the HyperLogLog the grid's exact
// values, once.
func (f *FeatureStats) fillFromGrid() {
	n := f.Numeric
	if n.sketchLive {
		return
	}
	n.sketchLive = true
	n.Grid.eachValue(func(v float64, c int64) {
		n.Sketch.addSorted(v, c)
		f.HLL.AddHash(hashFloat(v))
	})
	n.Sketch.settle()
}

// Bucket is one histogram bucket: values in [Low, High) (the last bucket
// includes High) and how many there are.
type Bucket struct {
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Count float64 `json:"count"`
}

// StringStats summarises the non-numeric values of a feature.
type StringStats struct {
	TotalLength int64        `json:"total_length"`
	AvgLength   float64      `json:"avg_length"`
	Top         []ValueCount `json:"top,omitempty"`
	Values      TopK         `json:"values"`
}

func newFeature(name string) *FeatureStats {
	f := &FeatureStats{Name: name, Numeric: &NumericStats{}, String: &StringStats{}}
	f.Numeric.Grid.onMix = f.fillFromGrid
	return f
}

// valueRules are the reading rules the per-field hot path needs.
type valueRules struct {
	nulls [][]byte
}

func (r *valueRules) isNull(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	for _, n := range r.nulls {
		if bytes.Equal(b, n) {
			return true
		}
	}
	return false
}

// addField classifies one CSV field and adds it.
func (f *FeatureStats) addField(b []byte, r *valueRules) {
	if r.isNull(b) {
		return
	}
	if c := b[0]; (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'n' || c == 'N' || c == 'i' || c == 'I' {
		if v, isInt, ok := parseNumber(b); ok {
			f.addNumber(v, isInt)
			return
		}
	}
	f.addString(b)
}

// addNumber adds a numeric value.
func (f *FeatureStats) addNumber(v float64, isInt bool) {
	f.Count++
	f.Numbers++
	if isInt {
		f.Integers++
	}
	n := f.Numeric
	switch {
	case v != v:
		n.NaN++
		f.HLL.AddHash(hashFloat(v))
		return
	case math.IsInf(v, 1):
		n.PosInf++
		f.HLL.AddHash(hashFloat(v))
		return
	case math.IsInf(v, -1):
		n.NegInf++
		f.HLL.AddHash(hashFloat(v))
		return
	}
	if v == 0 {
		n.Zeros++
	}
	n.Moments.Add(v)
	repeat := n.Grid.Add(v) // may fill the sketch and registers from the grid, without v
	if n.sketchLive {
		n.Sketch.Add(v)
		// A repeat of its bin's single value is in the registers
		// already (from the grid, or when it first came), and adding it
		// again would change nothing.
		if !repeat {
			f.HLL.AddHash(hashFloat(v))
		}
	}
}

// addString adds a non-numeric value.
func (f *FeatureStats) addString(b []byte) {
	f.HLL.AddHash(hashBytes(b))
	f.Count++
	f.Strings++
	if isBool(b) {
		f.Bools++
	}
	s := f.String
	s.TotalLength += int64(len(b))
	if !utf8.Valid(b) {
		f.InvalidUTF8++
		if f.InvalidUTF8Example == "" {
			f.InvalidUTF8Example = strconv.Quote(string(b[:min(len(b), 40)]))
		}
	}
	s.Values.Add(b)
}

func isBool(b []byte) bool {
	switch string(b) {
	case "true", "false", "True", "False", "TRUE", "FALSE":
		return true
	}
	return false
}

// merge folds o (finished or not: it is flushed here) into f.
func (f *FeatureStats) merge(o *FeatureStats) error {
	f.fillFromGrid()
	o.fillFromGrid()
	o.Numeric.Grid.flush()
	o.String.Values.flush()
	f.Count += o.Count
	f.Numbers += o.Numbers
	f.Integers += o.Integers
	f.Strings += o.Strings
	f.Bools += o.Bools
	f.InvalidUTF8 += o.InvalidUTF8
	if f.InvalidUTF8Example == "" {
		f.InvalidUTF8Example = o.InvalidUTF8Example
	}
	if err := f.HLL.Merge(&o.HLL); err != nil {
		return err
	}
	n, m := f.Numeric, o.Numeric
	n.Moments.Merge(m.Moments)
	n.Zeros += m.Zeros
	n.NaN += m.NaN
	n.PosInf += m.PosInf
	n.NegInf += m.NegInf
	n.Sketch.Merge(&m.Sketch)
	if err := n.Grid.thaw(); err != nil {
		return err
	}
	n.Grid.Merge(&m.Grid)
	f.String.TotalLength += o.String.TotalLength
	f.String.Values.flush()
	f.String.Values.Merge(&o.String.Values)
	return nil
}

// finish derives the summary fields for a data set of rows rows.
func (f *FeatureStats) finish(rows int64) {
	f.Missing = rows - f.Count
	switch {
	case f.Count == 0:
		f.Type = TypeUnknown
	case f.Strings == 0 && f.Integers == f.Numbers:
		f.Type = TypeInt
	case f.Strings == 0:
		f.Type = TypeFloat
	case f.Bools == f.Strings && f.Numbers == 0:
		f.Type = TypeBool
	default:
		f.Type = TypeString
	}
	s := f.String
	s.Values.flush()
	s.AvgLength = 0
	if f.Strings > 0 {
		s.AvgLength = float64(s.TotalLength) / float64(f.Strings)
	}
	s.Top = s.Values.Top(topValues)
	f.fillFromGrid()
	n := f.Numeric
	n.Std = n.Moments.Std()
	n.Grid.flush()
	// Distinct values: exact while the string counts are exact and no
	// grid bin holds two numbers (each value then has its own entry), else
	// HyperLogLog's estimate (numbers hashed by value, strings by bytes).
	f.DistinctExact = !s.Values.Approximate && len(n.Grid.Mixed) == 0
	if f.DistinctExact {
		f.Distinct = int64(len(s.Values.Counts))
		for _, c := range n.Grid.Counts {
			if c > 0 {
				f.Distinct++
			}
		}
		for _, c := range []int64{n.NaN, n.PosInf, n.NegInf} {
			if c > 0 {
				f.Distinct++
			}
		}
	} else {
		f.Distinct = int64(math.Round(f.HLL.Estimate()))
	}
	n.Quantiles, n.Histogram, n.QuantileHistogram = nil, nil, nil
	if n.Moments.N > 0 && n.Sketch.N > 0 {
		qs := make([]float64, histogramBuckets+1)
		for i := range qs {
			qs[i] = float64(i) / histogramBuckets
		}
		n.Quantiles = n.Sketch.Quantiles(qs)
		n.Quantiles[0], n.Quantiles[histogramBuckets] = n.Min, n.Max
		n.Histogram = n.EqualWidth(n.Min, n.Max, histogramBuckets)
		per := float64(n.Moments.N) / histogramBuckets
		for i := 0; i < histogramBuckets; i++ {
			n.QuantileHistogram = append(n.QuantileHistogram, Bucket{n.Quantiles[i], n.Quantiles[i+1], per})
		}
	}
}

// EqualWidth returns the counts of the finite values in nb equal-width
// buckets over [lo, hi] (bucket of a value by EqualWidthBin), re-binned
// from the fine grid.
func (n *NumericStats) EqualWidth(lo, hi float64, nb int) []Bucket {
	counts := rebin(n.Grid.masses(n.Min, n.Max), lo, hi, nb)
	out := make([]Bucket, nb)
	w := (hi - lo) / float64(nb)
	for i := range out {
		out[i] = Bucket{Low: lo + float64(i)*w, High: lo + float64(i+1)*w, Count: counts[i]}
	}
	out[nb-1].High = hi
	return out
}
