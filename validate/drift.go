package validate

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Distance measures.
const (
	LInfinity     = "l_infinity"
	JensenShannon = "jensen_shannon"
)

// DefaultBins is the number of equal-width bins of the Jensen-Shannon
// histograms when the schema names none.
const DefaultBins = 100

// Distance is how far one feature's distribution moved between two data
// sets.
type Distance struct {
	Feature string  `json:"feature"`
	Measure string  `json:"measure"`
	Value   float64 `json:"value"`
	// Threshold is the bound that applies (0 when none does).
	Threshold float64 `json:"threshold,omitempty"`
	Exceeds   bool    `json:"exceeds"`
	// Value with the largest difference in share (L-infinity), or the
	// bins used (Jensen-Shannon).
	Detail string `json:"detail,omitempty"`
	// Approximate is set when a distance comes from approximate counts
	// (a top-k summary past its exact capacity).
	Approximate bool `json:"approximate,omitempty"`
}

// CompareOptions say how Compare judges distances.
type CompareOptions struct {
	// Skew selects the schema's skew thresholds (falling back to drift's)
	// instead of its drift thresholds.
	Skew bool
	// Default is the threshold of every feature that the schema gives
	// none (all of them without a schema); 0: such distances are
	// reported, never judged.
	Default float64
	// Bins overrides the number of Jensen-Shannon bins (0: the schema's,
	// else DefaultBins).
	Bins int
}

// Compare returns the distance of each feature present in both data sets
// (in base's order): L-infinity between normalised value counts for string
// and boolean features, Jensen-Shannon divergence between equal-width
// histograms for numeric ones. With a schema only features with a
// threshold there, or o.Default when positive, are judged; without one,
// o.Default applies to all.
func Compare(base, cur *Stats, s *Schema, o CompareOptions) []Distance {
	var out []Distance
	for _, bf := range base.Features {
		cf := cur.Feature(bf.Name)
		if cf == nil || bf.Count == 0 || cf.Count == 0 {
			continue
		}
		var th *Threshold
		if s != nil {
			if fs := s.Feature(bf.Name); fs != nil {
				th = fs.Drift
				if o.Skew && fs.Skew != nil {
					th = fs.Skew
				}
			}
		}
		bins := DefaultBins
		if th != nil && th.Bins > 0 {
			bins = th.Bins
		}
		if o.Bins > 0 {
			bins = o.Bins
		}
		var d Distance
		categorical := bf.Type == TypeString || bf.Type == TypeBool || cf.Type == TypeString || cf.Type == TypeBool
		switch {
		case categorical:
			d = LInfinityDistance(bf, cf)
			if th != nil && th.LInfinity != nil {
				d.Threshold = *th.LInfinity
			}
		case bf.Numeric.Moments.N > 0 && cf.Numeric.Moments.N > 0:
			d = JensenShannonDistance(bf, cf, bins)
			if th != nil && th.JensenShannon != nil {
				d.Threshold = *th.JensenShannon
			}
		default:
			continue
		}
		if d.Threshold == 0 && o.Default > 0 {
			d.Threshold = o.Default
		}
		d.Exceeds = d.Threshold > 0 && d.Value > d.Threshold
		out = append(out, d)
	}
	return out
}

// LInfinityDistance is max over values v of |p(v) - q(v)|, where p and q
// are the features' value counts each divided by its total. Values that
// parse as numbers count too, by value ("10" and "10.0" are one value),
// as far as the fine grid knows them exactly; the values of a grid bin
// holding several count as one value "[a, b]" (Approximate).
func LInfinityDistance(a, b *FeatureStats) Distance {
	pa, apxA := categoryCounts(a)
	pb, apxB := categoryCounts(b)
	ta, tb := sumCounts(pa), sumCounts(pb)
	keys := make([]string, 0, len(pa)+len(pb))
	for k := range pa {
		keys = append(keys, k)
	}
	for k := range pb {
		if _, ok := pa[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	d := Distance{Feature: a.Name, Measure: LInfinity,
		Approximate: a.String.Values.Approximate || b.String.Values.Approximate || apxA || apxB}
	for _, k := range keys {
		x := math.Abs(frac(pa[k], ta) - frac(pb[k], tb))
		if x > d.Value {
			d.Value, d.Detail = x, k
		}
	}
	return d
}

// categoryCounts returns a feature's value counts: its strings', and,
// when some values are numbers, theirs by value (see LInfinityDistance),
// with whether a number is known only as a range.
func categoryCounts(f *FeatureStats) (map[string]int64, bool) {
	if f.Numbers == 0 {
		return f.String.Values.Counts, false
	}
	m := make(map[string]int64, len(f.String.Values.Counts)+8)
	for k, c := range f.String.Values.Counts {
		m[k] = c
	}
	approx := false
	// numbersOutside with no domain lists every number.
	_, nums := numbersOutside(f, nil)
	for _, vc := range nums {
		if _, err := strconv.ParseFloat(vc.Value, 64); err != nil {
			approx = true
		}
		m[vc.Value] += vc.Count
	}
	return m, approx
}

func sumCounts(m map[string]int64) int64 {
	var t int64
	for _, c := range m {
		t += c
	}
	return t
}

// JSDBins returns the bins both data sets are histogrammed over for their
// Jensen-Shannon divergence: nbins equal-width bins over the combined
// range [min(a.min, b.min), max(a.max, b.max)] of the finite values (bin
// of x by EqualWidthBin, the last bin closed).
func JSDBins(a, b *FeatureStats) (lo, hi float64) {
	return math.Min(a.Numeric.Min, b.Numeric.Min), math.Max(a.Numeric.Max, b.Numeric.Max)
}

// JensenShannonDistance is the Jensen-Shannon divergence (base 2, so in
// [0, 1]) between the features' histograms over JSDBins. It is
// approximate only where a bin of the fine grid holds several distinct
// values and straddles a bin edge: such a bin is shared out in proportion
// to its overlap.
func JensenShannonDistance(a, b *FeatureStats, nbins int) Distance {
	lo, hi := JSDBins(a, b)
	ha := rebin(a.Numeric.Grid.masses(a.Numeric.Min, a.Numeric.Max), lo, hi, nbins)
	hb := rebin(b.Numeric.Grid.masses(b.Numeric.Min, b.Numeric.Max), lo, hi, nbins)
	return Distance{Feature: a.Name, Measure: JensenShannon, Value: JSDivergence(ha, hb),
		Detail: fmt.Sprintf("%d bins over [%g, %g]", nbins, lo, hi)}
}

// JSDivergence is the Jensen-Shannon divergence in bits between two
// histograms, each normalised to sum to one: ½KL(P‖M) + ½KL(Q‖M) with
// M = ½(P+Q).
func JSDivergence(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return 0
	}
	var js float64
	for i := range p {
		pi, qi := p[i]/sp, q[i]/sq
		m := (pi + qi) / 2
		if pi > 0 {
			js += 0.5 * pi * math.Log2(pi/m)
		}
		if qi > 0 {
			js += 0.5 * qi * math.Log2(qi/m)
		}
	}
	return max(js, 0)
}

// DistanceAnomalies turns the distances over their thresholds into
// anomalies of kind DriftTooHigh (or SkewTooHigh).
func DistanceAnomalies(ds []Distance, skew bool) []Anomaly {
	kind, word := DriftTooHigh, "drift"
	if skew {
		kind, word = SkewTooHigh, "skew"
	}
	var out []Anomaly
	for _, d := range ds {
		if !d.Exceeds {
			continue
		}
		a := Anomaly{Kind: kind, Feature: d.Feature, Severity: SeverityError,
			Description: fmt.Sprintf("The %s of feature %q is %.4g (%s), above the threshold %g.", word, d.Feature, d.Value, d.Measure, d.Threshold)}
		if d.Measure == LInfinity && d.Detail != "" {
			a.Examples = []string{d.Detail}
		}
		out = append(out, a)
	}
	return out
}
