package validate

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// AnomalyKind names a kind of anomaly (TensorFlow Data Validation's names
// where it has one).
type AnomalyKind string

// The anomaly kinds Check reports.
const (
	MissingColumn     AnomalyKind = "SCHEMA_MISSING_COLUMN"
	NewColumn         AnomalyKind = "SCHEMA_NEW_COLUMN"
	TypeMismatch      AnomalyKind = "UNEXPECTED_DATA_TYPE"
	PresenceTooLow    AnomalyKind = "FEATURE_PRESENCE_TOO_LOW"
	UnexpectedStrings AnomalyKind = "ENUM_TYPE_UNEXPECTED_STRING_VALUES"
	OutOfRange        AnomalyKind = "VALUE_OUT_OF_RANGE"
	NaNOrInfinity     AnomalyKind = "NAN_OR_INFINITY"
	InvalidUTF8       AnomalyKind = "INVALID_UTF8"
	RowCountTooLow    AnomalyKind = "ROW_COUNT_TOO_LOW"
	RowCountTooHigh   AnomalyKind = "ROW_COUNT_TOO_HIGH"
	RaggedRows        AnomalyKind = "RAGGED_ROWS"
	DriftTooHigh      AnomalyKind = "DRIFT_TOO_HIGH"
	SkewTooHigh       AnomalyKind = "SKEW_TOO_HIGH"
)

// Severity of an anomaly.
const (
	SeverityError   = "ERROR"
	SeverityWarning = "WARNING"
)

// Anomaly is one way data breaks its schema.
type Anomaly struct {
	Kind     AnomalyKind `json:"kind"`
	Feature  string      `json:"feature,omitempty"`
	Severity string      `json:"severity"`
	// Description is one sentence for a person.
	Description string `json:"description"`
	// Fraction is the share of the feature's values concerned, when known.
	Fraction float64 `json:"fraction,omitempty"`
	// Examples are offending values.
	Examples []string `json:"examples,omitempty"`
}

// Kinds returns the distinct kinds of as, sorted.
func Kinds(as []Anomaly) []AnomalyKind {
	var out []AnomalyKind
	for _, a := range as {
		if !slices.Contains(out, a.Kind) {
			out = append(out, a.Kind)
		}
	}
	slices.Sort(out)
	return out
}

// Check compares statistics with a schema in environment env ("" for the
// schema's default environment, and every feature when it has none) and
// returns the anomalies, ordered by feature in the schema's order, then
// new columns, then data-set-wide ones.
func Check(st *Stats, s *Schema, env string) []Anomaly {
	if env == "" {
		env = s.DefaultEnvironment
	}
	var out []Anomaly
	for i := range s.Features {
		fs := &s.Features[i]
		if !fs.InEnv(env) {
			continue
		}
		f := st.Feature(fs.Name)
		if f == nil {
			// An optional feature (presence.min_fraction 0, as Update
			// proposes for a column that went missing) may be absent,
			// as in TFDV.
			if fs.Presence.MinFraction == 0 {
				continue
			}
			out = append(out, Anomaly{Kind: MissingColumn, Feature: fs.Name, Severity: SeverityError,
				Description: fmt.Sprintf("Column %q is in the schema but not in the data.", fs.Name)})
			continue
		}
		out = append(out, checkFeature(f, fs, st.Rows)...)
	}
	for _, f := range st.Features {
		if s.Feature(f.Name) == nil {
			out = append(out, Anomaly{Kind: NewColumn, Feature: f.Name, Severity: SeverityError,
				Description: fmt.Sprintf("Column %q is in the data but not in the schema.", f.Name),
				Examples:    exampleValues(f, 3)})
		}
	}
	// Data without rows passes no feature check (each needs rows to
	// judge), so it is an anomaly unless the schema allows it with an
	// explicit row_count.min of 0.
	if st.Rows == 0 && (s.RowCount == nil || s.RowCount.Min == nil) {
		out = append(out, Anomaly{Kind: RowCountTooLow, Severity: SeverityError,
			Description: "The data has no rows (set row_count.min: 0 in the schema to allow it)."})
	}
	if rc := s.RowCount; rc != nil {
		if rc.Min != nil && float64(st.Rows) < *rc.Min {
			out = append(out, Anomaly{Kind: RowCountTooLow, Severity: SeverityError,
				Description: fmt.Sprintf("The data has %d rows, fewer than the schema's minimum %v.", st.Rows, *rc.Min)})
		}
		if rc.Max != nil && float64(st.Rows) > *rc.Max {
			out = append(out, Anomaly{Kind: RowCountTooHigh, Severity: SeverityError,
				Description: fmt.Sprintf("The data has %d rows, more than the schema's maximum %v.", st.Rows, *rc.Max)})
		}
	}
	if st.RaggedRows > 0 {
		out = append(out, Anomaly{Kind: RaggedRows, Severity: SeverityError,
			Fraction:    float64(st.RaggedRows) / float64(st.Rows+st.RaggedRows),
			Description: fmt.Sprintf("%d rows have a different number of fields from the header and were left out of the statistics.", st.RaggedRows),
			Examples:    st.RaggedExamples})
	}
	return out
}

func checkFeature(f *FeatureStats, fs *FeatureSchema, rows int64) []Anomaly {
	var out []Anomaly
	add := func(kind AnomalyKind, frac float64, ex []string, format string, args ...any) {
		out = append(out, Anomaly{Kind: kind, Feature: f.Name, Severity: SeverityError, Fraction: frac,
			Description: fmt.Sprintf(format, args...), Examples: ex})
	}
	n := f.Numeric
	special := n.NaN + n.PosInf + n.NegInf
	switch fs.Type {
	case TypeInt:
		if f.Strings > 0 {
			add(TypeMismatch, frac(f.Strings, f.Count), stringExamples(f, 5), "Feature %q is INT in the schema but %d values are not numbers.", f.Name, f.Strings)
		} else if nonInt := f.Numbers - f.Integers - special; nonInt > 0 {
			// A value is an integer as written ("180.0" is not, as TFDV
			// infers FLOAT for it).
			add(TypeMismatch, frac(nonInt, f.Count), fractionExamples(f, 5), "Feature %q is INT in the schema but %d values are written with a decimal point or exponent.", f.Name, nonInt)
		}
	case TypeFloat:
		if f.Strings > 0 {
			add(TypeMismatch, frac(f.Strings, f.Count), stringExamples(f, 5), "Feature %q is FLOAT in the schema but %d values are not numbers.", f.Name, f.Strings)
		}
	case TypeBool:
		if f.Numbers > 0 || f.Strings != f.Bools {
			bad := f.Numbers + f.Strings - f.Bools
			add(TypeMismatch, frac(bad, f.Count), notBoolExamples(f, 5), "Feature %q is BOOL in the schema but %d values are neither true nor false.", f.Name, bad)
		}
	}
	if rows > 0 {
		if p := float64(f.Count) / float64(rows); p < fs.Presence.MinFraction {
			add(PresenceTooLow, 1-p, nil, "Feature %q has a value in %.4g%% of rows, below the schema's %.4g%%.", f.Name, 100*p, 100*fs.Presence.MinFraction)
		}
	}
	if len(fs.Domain) > 0 && f.Strings > 0 {
		in := make(map[string]bool, len(fs.Domain))
		for _, v := range fs.Domain {
			in[v] = true
		}
		var bad int64
		var ex []ValueCount
		for v, c := range f.String.Values.Counts {
			if !in[v] {
				bad += c
				ex = append(ex, ValueCount{v, c})
			}
		}
		if fs.Type == TypeString && f.Numbers > 0 {
			// Values that parse as numbers are counted as numbers, not by
			// their text: they are matched against the domain's numbers by
			// value.
			nb, nex := numbersOutside(f, fs.Domain)
			bad += nb
			ex = append(ex, nex...)
		}
		mass := 1.0
		if fs.MinDomainMass != nil {
			mass = *fs.MinDomainMass
		}
		if fr := frac(bad, f.Count); bad > 0 && 1-fr < mass {
			sort.Slice(ex, func(i, j int) bool {
				if ex[i].Count != ex[j].Count {
					return ex[i].Count > ex[j].Count
				}
				return ex[i].Value < ex[j].Value
			})
			var exs []string
			for _, e := range ex[:min(len(ex), 5)] {
				exs = append(exs, strconv.Quote(e.Value))
			}
			approx := ""
			if f.String.Values.Approximate {
				approx = " (at least; counts are approximate)"
			}
			add(UnexpectedStrings, fr, exs, "Feature %q has %d values outside its domain%s: %s.", f.Name, bad, approx, strings.Join(exs, ", "))
		}
	}
	if r := fs.Range; r != nil && n.Moments.N > 0 {
		var ex []string
		if r.Min != nil && n.Min < *r.Min {
			ex = append(ex, strconv.FormatFloat(n.Min, 'g', -1, 64))
		}
		if r.Max != nil && n.Max > *r.Max {
			ex = append(ex, strconv.FormatFloat(n.Max, 'g', -1, 64))
		}
		if len(ex) > 0 {
			lo, hi := "-inf", "+inf"
			lo64, hi64 := math.Inf(-1), math.Inf(1)
			if r.Min != nil {
				lo, lo64 = strconv.FormatFloat(*r.Min, 'g', -1, 64), *r.Min
			}
			if r.Max != nil {
				hi, hi64 = strconv.FormatFloat(*r.Max, 'g', -1, 64), *r.Max
			}
			out := n.outside(lo64, hi64)
			add(OutOfRange, out, ex, "Feature %q has values in [%v, %v], outside the schema's range [%s, %s] (%.3g%% of values).", f.Name, n.Min, n.Max, lo, hi, 100*out)
		}
	}
	if (fs.Type == TypeInt || fs.Type == TypeFloat) && special > 0 && !fs.AllowNaN {
		var ex []string
		if n.NaN > 0 {
			ex = append(ex, "NaN")
		}
		if n.PosInf > 0 {
			ex = append(ex, "+Inf")
		}
		if n.NegInf > 0 {
			ex = append(ex, "-Inf")
		}
		add(NaNOrInfinity, frac(special, f.Count), ex, "Feature %q has %d NaN and %d infinite values.", f.Name, n.NaN, n.PosInf+n.NegInf)
	}
	if f.InvalidUTF8 > 0 {
		add(InvalidUTF8, frac(f.InvalidUTF8, f.Count), []string{f.InvalidUTF8Example}, "Feature %q has %d values that are not valid UTF-8.", f.Name, f.InvalidUTF8)
	}
	return out
}

// numbersOutside counts the numeric values of a string feature that are
// not numbers of its domain ("10" matches 10 and 10.0), with examples.
// The fine grid knows a value exactly where a bin holds one distinct
// value; the values of a mixed bin are counted outside unless the whole
// bin is one domain number.
func numbersOutside(f *FeatureStats, domain []string) (int64, []ValueCount) {
	in := map[float64]bool{}
	for _, v := range domain {
		if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			in[x] = true
		}
	}
	n := f.Numeric
	var bad int64
	var ex []ValueCount
	for _, sp := range []struct {
		c int64
		v float64
	}{{n.NaN, math.NaN()}, {n.PosInf, math.Inf(1)}, {n.NegInf, math.Inf(-1)}} {
		if sp.c > 0 && !in[sp.v] { // NaN is never in the map
			bad += sp.c
			ex = append(ex, ValueCount{strconv.FormatFloat(sp.v, 'g', -1, 64), sp.c})
		}
	}
	if n.Moments.N == 0 {
		return bad, ex
	}
	for _, m := range n.Grid.masses(n.Min, n.Max) {
		if m.point && in[m.a] {
			continue
		}
		bad += int64(m.c)
		v := strconv.FormatFloat(m.a, 'g', -1, 64)
		if !m.point {
			v = fmt.Sprintf("a number in [%s, %s]", v, strconv.FormatFloat(m.b, 'g', -1, 64))
		}
		ex = append(ex, ValueCount{v, int64(m.c)})
	}
	return bad, ex
}

// outside returns the fraction of finite values outside [lo, hi], from
// the fine grid: exact for single-valued bins, by overlap for mixed ones.
func (n *NumericStats) outside(lo, hi float64) float64 {
	if n.Moments.N == 0 {
		return 0
	}
	var c float64
	for _, m := range n.Grid.masses(n.Min, n.Max) {
		if m.point {
			if m.a < lo || m.a > hi {
				c += m.c
			}
			continue
		}
		in := min(m.b, hi) - max(m.a, lo)
		c += m.c * (1 - max(in, 0)/(m.b-m.a))
	}
	return c / float64(n.Moments.N)
}

// frac is a/b, 0 when b is 0.
func frac(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// stringExamples returns the most frequent non-numeric values, quoted.
func stringExamples(f *FeatureStats, n int) []string {
	var out []string
	for _, vc := range f.String.Values.Top(n) {
		out = append(out, strconv.Quote(vc.Value))
	}
	return out
}

// fractionExamples returns up to n of a feature's values that are not
// whole numbers, as far as the fine grid knows them exactly.
func fractionExamples(f *FeatureStats, n int) []string {
	var out []string
	nm := f.Numeric
	if nm.Moments.N == 0 {
		return nil
	}
	for _, m := range nm.Grid.masses(nm.Min, nm.Max) {
		if m.point && m.a != math.Trunc(m.a) && len(out) < n {
			out = append(out, strconv.FormatFloat(m.a, 'g', -1, 64))
		}
	}
	return out
}

// notBoolExamples returns up to n values of a feature that are neither
// true nor false: its most frequent other strings, then a number.
func notBoolExamples(f *FeatureStats, n int) []string {
	var out []string
	for _, vc := range f.String.Values.Top(n + 2) {
		if !isBool([]byte(vc.Value)) && len(out) < n {
			out = append(out, strconv.Quote(vc.Value))
		}
	}
	if f.Numbers > 0 && f.Numeric.Moments.N > 0 && len(out) < n {
		out = append(out, strconv.FormatFloat(f.Numeric.Min, 'g', -1, 64))
	}
	return out
}

// exampleValues returns a few values of a feature of any type.
func exampleValues(f *FeatureStats, n int) []string {
	if f.Strings > 0 {
		return stringExamples(f, n)
	}
	if f.Numeric.Moments.N > 0 {
		return []string{strconv.FormatFloat(f.Numeric.Min, 'g', -1, 64), strconv.FormatFloat(f.Numeric.Max, 'g', -1, 64)}
	}
	return nil
}
