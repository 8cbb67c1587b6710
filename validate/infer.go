package validate

import (
	"math"
	"sort"
)

// InferOptions tune schema inference.
type InferOptions struct {
	// MaxDomainSize is the most distinct values a string feature may have
	// to get a domain (default 100).
	MaxDomainSize int
	// Ranges adds each numeric feature's observed [min, max] as its range.
	Ranges bool
	// MinRowsFraction, when positive, sets row_count.min to this fraction
	// of the observed rows.
	MinRowsFraction float64
	// DriftThreshold is written as every feature's drift threshold
	// (default 0.1; negative writes none).
	DriftThreshold float64
}

// Infer proposes a schema from statistics: each feature's type as the
// values show it; presence required when no value is missing, otherwise
// the observed fraction rounded down to two decimals; a domain for string
// features with few distinct values (counted exactly, none of them a
// number); optionally ranges
// and a row-count floor; and a drift threshold on each feature.
func Infer(st *Stats, o InferOptions) *Schema {
	if o.MaxDomainSize == 0 {
		o.MaxDomainSize = 100
	}
	if o.DriftThreshold == 0 {
		o.DriftThreshold = 0.1
	}
	s := &Schema{Version: 1}
	if o.MinRowsFraction > 0 {
		s.RowCount = &Bounds{Min: ptr(math.Floor(o.MinRowsFraction * float64(st.Rows)))}
	}
	for _, f := range st.Features {
		s.Features = append(s.Features, inferFeature(f, st.Rows, o))
	}
	return s
}

func inferFeature(f *FeatureStats, rows int64, o InferOptions) FeatureSchema {
	fs := FeatureSchema{Name: f.Name, Type: f.Type}
	if rows > 0 {
		frac := float64(f.Count) / float64(rows)
		if f.Count < rows {
			frac = math.Floor(frac*100) / 100
		}
		fs.Presence.MinFraction = frac
	}
	categorical := f.Type == TypeString || f.Type == TypeBool
	// Values that parse as numbers are counted as numbers, not by their
	// text, so a feature with some cannot list its domain.
	if categorical && f.Numbers == 0 && f.DistinctExact && f.Distinct <= int64(o.MaxDomainSize) {
		for v := range f.String.Values.Counts {
			fs.Domain = append(fs.Domain, v)
		}
		sort.Strings(fs.Domain)
	}
	n := f.Numeric
	numeric := f.Type == TypeInt || f.Type == TypeFloat
	if numeric && o.Ranges && n.Moments.N > 0 {
		fs.Range = &Bounds{Min: ptr(n.Min), Max: ptr(n.Max)}
	}
	if numeric && n.NaN+n.PosInf+n.NegInf > 0 {
		fs.AllowNaN = true
	}
	if o.DriftThreshold > 0 {
		switch {
		case categorical:
			fs.Drift = &Threshold{LInfinity: ptr(o.DriftThreshold)}
		case numeric:
			fs.Drift = &Threshold{JensenShannon: ptr(o.DriftThreshold)}
		}
	}
	return fs
}
