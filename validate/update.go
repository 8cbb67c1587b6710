package validate

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
)

// Update proposes the next version of a schema that the data of st
// satisfies: new columns are added as inferred, missing columns become
// optional (presence 0), unseen domain values join the domain, ranges widen
// to the data, presence floors drop to what the data shows, a type widens
// (INT to FLOAT to STRING) when values demand it, NaN is allowed when
// present, and the row-count bounds widen (to a minimum of 0 for data
// without rows). It returns the proposal and the
// differences, one line each.
func Update(old *Schema, st *Stats, env string, o InferOptions) (*Schema, []string) {
	next := cloneSchema(old)
	next.Version = old.Version + 1
	if env == "" {
		env = old.DefaultEnvironment
	}
	var diff []string
	note := func(format string, args ...any) { diff = append(diff, fmt.Sprintf(format, args...)) }
	for i := range next.Features {
		fs := &next.Features[i]
		if !fs.InEnv(env) {
			continue
		}
		f := st.Feature(fs.Name)
		if f == nil {
			if fs.Presence.MinFraction > 0 {
				note("~ %s: presence.min_fraction %v -> 0 (column missing)", fs.Name, fs.Presence.MinFraction)
				fs.Presence.MinFraction = 0
			}
			continue
		}
		if t := widen(fs.Type, f); t != fs.Type {
			note("~ %s: type %s -> %s", fs.Name, fs.Type, t)
			fs.Type = t
			if t == TypeString {
				fs.Range = nil
			}
		}
		if st.Rows > 0 {
			p := float64(f.Count) / float64(st.Rows)
			if p < fs.Presence.MinFraction {
				np := math.Floor(p*100) / 100
				note("~ %s: presence.min_fraction %v -> %v", fs.Name, fs.Presence.MinFraction, np)
				fs.Presence.MinFraction = np
			}
		}
		if len(fs.Domain) > 0 {
			var add []string
			for v := range f.String.Values.Counts {
				if !slices.Contains(fs.Domain, v) {
					add = append(add, v)
				}
			}
			if fs.Type == TypeString && f.Numbers > 0 {
				// Numbers the grid knows exactly join as their shortest
				// text; a number known only as a range cannot.
				_, nums := numbersOutside(f, fs.Domain)
				for _, vc := range nums {
					if _, err := strconv.ParseFloat(vc.Value, 64); err == nil {
						add = append(add, vc.Value)
					}
				}
			}
			sort.Strings(add)
			for _, v := range add {
				note("+ %s: domain value %s", fs.Name, strconv.Quote(v))
			}
			fs.Domain = append(fs.Domain, add...)
			sort.Strings(fs.Domain)
		}
		n := f.Numeric
		if r := fs.Range; r != nil && n.Moments.N > 0 {
			if r.Min != nil && n.Min < *r.Min {
				note("~ %s: range.min %v -> %v", fs.Name, *r.Min, n.Min)
				r.Min = ptr(n.Min)
			}
			if r.Max != nil && n.Max > *r.Max {
				note("~ %s: range.max %v -> %v", fs.Name, *r.Max, n.Max)
				r.Max = ptr(n.Max)
			}
		}
		if (fs.Type == TypeInt || fs.Type == TypeFloat) && n.NaN+n.PosInf+n.NegInf > 0 && !fs.AllowNaN {
			note("~ %s: allow_nan false -> true", fs.Name)
			fs.AllowNaN = true
		}
	}
	for _, f := range st.Features {
		if next.Feature(f.Name) == nil {
			nf := inferFeature(f, st.Rows, o)
			note("+ feature %s (%s)", f.Name, nf.Type)
			next.Features = append(next.Features, nf)
		}
	}
	if st.Rows == 0 && (next.RowCount == nil || next.RowCount.Min == nil) {
		// Check flags data without rows unless the schema allows it.
		note("~ row_count.min unset -> 0 (the data has no rows)")
		if next.RowCount == nil {
			next.RowCount = &Bounds{}
		}
		next.RowCount.Min = ptr(0)
	}
	if rc := next.RowCount; rc != nil {
		if rc.Min != nil && float64(st.Rows) < *rc.Min {
			note("~ row_count.min %v -> %d", *rc.Min, st.Rows)
			rc.Min = ptr(float64(st.Rows))
		}
		if rc.Max != nil && float64(st.Rows) > *rc.Max {
			note("~ row_count.max %v -> %d", *rc.Max, st.Rows)
			rc.Max = ptr(float64(st.Rows))
		}
	}
	return next, diff
}

// widen returns the narrowest type at least as wide as t that f's values
// fit.
func widen(t Type, f *FeatureStats) Type {
	switch t {
	case TypeInt:
		if f.Strings > 0 {
			return TypeString
		}
		n := f.Numeric
		if f.Numbers-f.Integers-n.NaN-n.PosInf-n.NegInf > 0 {
			return TypeFloat
		}
	case TypeFloat:
		if f.Strings > 0 {
			return TypeString
		}
	case TypeBool:
		if f.Numbers > 0 || f.Strings != f.Bools {
			return TypeString
		}
	case TypeUnknown:
		if f.Count > 0 {
			return f.Type
		}
	}
	return t
}

func cloneSchema(s *Schema) *Schema {
	b, err := s.Encode()
	if err != nil {
		panic(fmt.Sprintf("validate: encode schema: %v", err)) // a Schema always encodes
	}
	c, err := DecodeSchema(b, "copy")
	if err != nil {
		panic(fmt.Sprintf("validate: decode own schema: %v", err))
	}
	return c
}
