package validate

// Summary is the statistics without their sketches: what a person or a
// script reads (kiln validate stats --json), not what merges.
type Summary struct {
	Sources    []string `json:"sources"`
	Rows       int64    `json:"rows"`
	RaggedRows int64    `json:"ragged_rows"`
	// Seconds is the time the statistics took, when the caller timed them.
	Seconds  float64          `json:"seconds,omitempty"`
	Features []FeatureSummary `json:"features"`
}

// FeatureSummary is one feature's summary.
type FeatureSummary struct {
	Name          string          `json:"name"`
	Type          Type            `json:"type"`
	Count         int64           `json:"count"`
	Missing       int64           `json:"missing"`
	Distinct      int64           `json:"distinct"`
	DistinctExact bool            `json:"distinct_exact"`
	InvalidUTF8   int64           `json:"invalid_utf8,omitempty"`
	Numeric       *NumericSummary `json:"numeric,omitempty"`
	String        *StringSummary  `json:"string,omitempty"`
}

// NumericSummary summarises numeric values.
type NumericSummary struct {
	Mean              float64   `json:"mean"`
	Std               float64   `json:"std"`
	Min               float64   `json:"min"`
	Max               float64   `json:"max"`
	Zeros             int64     `json:"zeros"`
	NaN               int64     `json:"nan"`
	Infinite          int64     `json:"infinite"`
	Quantiles         []float64 `json:"quantiles"`
	Histogram         []Bucket  `json:"histogram"`
	QuantileHistogram []Bucket  `json:"quantile_histogram"`
}

// StringSummary summarises non-numeric values.
type StringSummary struct {
	AvgLength   float64      `json:"avg_length"`
	Top         []ValueCount `json:"top"`
	Approximate bool         `json:"approximate,omitempty"`
}

// Summary returns the finished statistics' summary.
func (s *Stats) Summary() Summary {
	out := Summary{Sources: s.Sources, Rows: s.Rows, RaggedRows: s.RaggedRows}
	for _, f := range s.Features {
		fs := FeatureSummary{Name: f.Name, Type: f.Type, Count: f.Count, Missing: f.Missing,
			Distinct: f.Distinct, DistinctExact: f.DistinctExact, InvalidUTF8: f.InvalidUTF8}
		if n := f.Numeric; f.Numbers > 0 {
			fs.Numeric = &NumericSummary{Mean: n.Mean, Std: n.Std, Min: n.Min, Max: n.Max, Zeros: n.Zeros,
				NaN: n.NaN, Infinite: n.PosInf + n.NegInf, Quantiles: n.Quantiles, Histogram: n.Histogram,
				QuantileHistogram: n.QuantileHistogram}
		}
		if f.Strings > 0 {
			fs.String = &StringSummary{AvgLength: f.String.AvgLength, Top: f.String.Top, Approximate: f.String.Values.Approximate}
		}
		out.Features = append(out.Features, fs)
	}
	return out
}
