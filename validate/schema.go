package validate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// Schema describes what valid data looks like, in human-editable YAML:
//
//	version: 1
//	environments: [TRAINING, SERVING]
//	row_count: {min: 1000}
//	features:
//	  - name: fare
//	    type: FLOAT
//	    presence: {min_fraction: 1}
//	    range: {min: 0, max: 700}
//	    drift: {jensen_shannon: 0.1}
//	  - name: payment_type
//	    type: STRING
//	    presence: {min_fraction: 1}
//	    domain: [Cash, Credit Card, ...]
//	    drift: {l_infinity: 0.1}
//	  - name: tips
//	    type: FLOAT
//	    not_in_environment: [SERVING]
//
// A feature applies in every environment unless in_environment lists the
// ones it applies in or not_in_environment the ones it does not (a label
// is absent in serving).
type Schema struct {
	Version      int      `yaml:"version" json:"version"`
	Environments []string `yaml:"environments,omitempty" json:"environments,omitempty"`
	// DefaultEnvironment is used when a check names none.
	DefaultEnvironment string `yaml:"default_environment,omitempty" json:"default_environment,omitempty"`
	// RowCount bounds the number of rows.
	RowCount *Bounds `yaml:"row_count,omitempty" json:"row_count,omitempty"`
	// CSV says how the data's CSV files are read (for example column names
	// of files without a header); flags override it.
	CSV      *CSVOptions     `yaml:"csv,omitempty" json:"csv,omitempty"`
	Features []FeatureSchema `yaml:"features" json:"features"`
}

// Bounds is an optional minimum and maximum.
type Bounds struct {
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
}

// FeatureSchema is what the schema says about one feature.
type FeatureSchema struct {
	Name     string   `yaml:"name" json:"name"`
	Type     Type     `yaml:"type" json:"type"`
	Presence Presence `yaml:"presence" json:"presence"`
	// Domain lists the values a string feature may take; empty means any.
	Domain []string `yaml:"domain,omitempty,flow" json:"domain,omitempty"`
	// MinDomainMass is the smallest fraction of values that must be in
	// Domain (default 1: any other value is an anomaly).
	MinDomainMass *float64 `yaml:"min_domain_mass,omitempty" json:"min_domain_mass,omitempty"`
	// Range bounds a numeric feature's values.
	Range *Bounds `yaml:"range,omitempty" json:"range,omitempty"`
	// AllowNaN accepts NaN and infinities.
	AllowNaN bool `yaml:"allow_nan,omitempty" json:"allow_nan,omitempty"`
	// Drift and Skew hold thresholds on the distance between two data
	// sets' distributions: spans of the same source (drift) and training
	// against serving (skew, which falls back to Drift when unset).
	Drift *Threshold `yaml:"drift,omitempty" json:"drift,omitempty"`
	Skew  *Threshold `yaml:"skew,omitempty" json:"skew,omitempty"`

	InEnvironment    []string `yaml:"in_environment,omitempty,flow" json:"in_environment,omitempty"`
	NotInEnvironment []string `yaml:"not_in_environment,omitempty,flow" json:"not_in_environment,omitempty"`
}

// Presence says how often a feature must have a value.
type Presence struct {
	// MinFraction is the smallest fraction of rows with a value; 1 means
	// required.
	MinFraction float64 `yaml:"min_fraction" json:"min_fraction"`
}

// Threshold bounds a distance: L-infinity for categorical features,
// Jensen-Shannon divergence for numeric ones, over Bins equal-width bins
// (default DefaultBins, 100). A threshold of 0 judges nothing.
type Threshold struct {
	LInfinity     *float64 `yaml:"l_infinity,omitempty" json:"l_infinity,omitempty"`
	JensenShannon *float64 `yaml:"jensen_shannon,omitempty" json:"jensen_shannon,omitempty"`
	Bins          int      `yaml:"bins,omitempty" json:"bins,omitempty"`
}

// Feature returns the schema of feature name, or nil.
func (s *Schema) Feature(name string) *FeatureSchema {
	for i := range s.Features {
		if s.Features[i].Name == name {
			return &s.Features[i]
		}
	}
	return nil
}

// InEnv reports whether feature f applies in environment env ("" means
// every feature applies).
func (f *FeatureSchema) InEnv(env string) bool {
	if env == "" {
		return true
	}
	if slices.Contains(f.NotInEnvironment, env) {
		return false
	}
	return len(f.InEnvironment) == 0 || slices.Contains(f.InEnvironment, env)
}

// CheckEnv returns an error when env is not one of the schema's
// environments ("" and schemas without environments accept any).
func (s *Schema) CheckEnv(env string) error {
	if env == "" || len(s.Environments) == 0 || slices.Contains(s.Environments, env) {
		return nil
	}
	return fmt.Errorf("environment %q is not in the schema's environments %v", env, s.Environments)
}

// Validate checks the schema's own consistency: names, types, fractions
// and distance thresholds in [0, 1], ranges and row counts with min not
// above max, and environments among the declared ones. A problem with a
// feature is a *FieldError.
func (s *Schema) Validate() error {
	if rc := s.RowCount; rc != nil && rc.Min != nil && rc.Max != nil && *rc.Min > *rc.Max {
		return &FieldError{Feature: -1, Key: "row_count", Err: fmt.Errorf("row_count min %v above max %v", *rc.Min, *rc.Max)}
	}
	seen := map[string]bool{}
	for i := range s.Features {
		if err := s.validateFeature(i, seen); err != nil {
			return err
		}
	}
	if s.DefaultEnvironment != "" && !slices.Contains(s.Environments, s.DefaultEnvironment) {
		return &FieldError{Feature: -1, Key: "default_environment", Err: fmt.Errorf("default_environment %q is not in environments %v", s.DefaultEnvironment, s.Environments)}
	}
	return nil
}

// FieldError is a problem with one setting of a schema: of feature
// number Feature (counted from 0; -1 for a setting of the whole schema),
// under key Key ("" for the feature as a whole).
type FieldError struct {
	Feature int
	Key     string
	Err     error
}

// Error returns the problem's description.
func (e *FieldError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func (s *Schema) validateFeature(i int, seen map[string]bool) error {
	f := &s.Features[i]
	bad := func(key, format string, args ...any) error {
		return &FieldError{Feature: i, Key: key, Err: fmt.Errorf("feature %q: "+format, append([]any{f.Name}, args...)...)}
	}
	if f.Name == "" {
		return &FieldError{Feature: i, Err: fmt.Errorf("feature %d has no name", i+1)}
	}
	if seen[f.Name] {
		return bad("name", "twice")
	}
	seen[f.Name] = true
	switch f.Type {
	case TypeInt, TypeFloat, TypeString, TypeBool, TypeUnknown:
	default:
		return bad("type", "type %q (want INT, FLOAT, STRING or BOOL)", f.Type)
	}
	if f.Presence.MinFraction < 0 || f.Presence.MinFraction > 1 {
		return bad("presence", "presence.min_fraction %v not in [0, 1]", f.Presence.MinFraction)
	}
	if m := f.MinDomainMass; m != nil && (*m < 0 || *m > 1) {
		return bad("min_domain_mass", "min_domain_mass %v not in [0, 1]", *m)
	}
	if r := f.Range; r != nil && r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		return bad("range", "range min %v above max %v", *r.Min, *r.Max)
	}
	for _, t := range []struct {
		key string
		th  *Threshold
	}{{"drift", f.Drift}, {"skew", f.Skew}} {
		if t.th == nil {
			continue
		}
		if t.th.Bins < 0 {
			return bad(t.key, "%s: %d bins", t.key, t.th.Bins)
		}
		// Both distances lie in [0, 1]: a threshold outside it would
		// never (negative: always) be crossed.
		for name, v := range map[string]*float64{LInfinity: t.th.LInfinity, JensenShannon: t.th.JensenShannon} {
			if v != nil && (*v < 0 || *v > 1 || *v != *v) {
				return bad(t.key, "%s.%s %v not in [0, 1]", t.key, name, *v)
			}
		}
	}
	for _, env := range append(slices.Clone(f.InEnvironment), f.NotInEnvironment...) {
		if len(s.Environments) > 0 && !slices.Contains(s.Environments, env) {
			key := "not_in_environment"
			if slices.Contains(f.InEnvironment, env) {
				key = "in_environment"
			}
			return bad(key, "environment %q is not in the schema's environments %v", env, s.Environments)
		}
	}
	return nil
}

// fieldLine returns the line of e's setting in the YAML document b (0
// when it cannot be found).
func fieldLine(b []byte, e *FieldError) int {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	root := doc.Content[0]
	lookup := func(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
		if m.Kind != yaml.MappingNode {
			return nil, nil
		}
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == key {
				return m.Content[j], m.Content[j+1]
			}
		}
		return nil, nil
	}
	if e.Feature < 0 {
		if k, _ := lookup(root, e.Key); k != nil {
			return k.Line
		}
		return 0
	}
	_, fs := lookup(root, "features")
	if fs == nil || fs.Kind != yaml.SequenceNode || e.Feature >= len(fs.Content) {
		return 0
	}
	item := fs.Content[e.Feature]
	if k, _ := lookup(item, e.Key); k != nil {
		return k.Line
	}
	return item.Line
}

// DecodeSchema parses and validates a YAML schema; unknown keys are
// errors, so that a misspelt constraint is not silently ignored.
func DecodeSchema(b []byte, name string) (*Schema, error) {
	var s Schema
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	if err := s.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			if line := fieldLine(b, fe); line > 0 {
				return nil, fmt.Errorf("schema %s:%d: %w", name, line, err)
			}
		}
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return &s, nil
}

// LoadSchema reads a YAML schema file.
func LoadSchema(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return DecodeSchema(b, path)
}

// Encode returns the schema as YAML.
func (s *Schema) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Save writes the schema to path atomically.
func (s *Schema) Save(path string) error { return s.save(vfs.OS, path) }

func (s *Schema) save(fs vfs.FS, path string) error {
	b, err := s.Encode()
	if err != nil {
		return fmt.Errorf("save schema %s: %w", path, err)
	}
	if err := vfs.WriteFileAtomic(fs, path, b); err != nil {
		return fmt.Errorf("save schema %s: %w", path, err)
	}
	return nil
}

func ptr(v float64) *float64 { return &v }
