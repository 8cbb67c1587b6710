package label

import (
	"errors"
	"fmt"
)

// Record is one data point as labeling functions see it: field name to
// value. Values are strings (CSV), or JSON's types with integers as int64
// and other numbers as float64 (JSON Lines, Parquet).
type Record map[string]any

// LF is a labeling function: it returns a class id, or Abstain. An error
// means the function failed on this record; the applier counts it and
// records an abstain.
type LF interface {
	Name() string
	Label(r Record) (int, error)
}

// FuncLF is a labeling function written in Go.
type FuncLF struct {
	LFName string
	Fn     func(r Record) (int, error)
}

// Name returns the function's name.
func (f FuncLF) Name() string { return f.LFName }

// Label calls the function.
func (f FuncLF) Label(r Record) (int, error) { return f.Fn(r) }

// NewLF returns a Go labeling function with the given name.
func NewLF(name string, fn func(r Record) (int, error)) LF { return FuncLF{LFName: name, Fn: fn} }

// Set is a list of labeling functions with the classes they vote for.
//
// For a multi-class task (MultiLabel false) each function returns a class
// id in [0, len(Classes)) or Abstain. For a multi-label task each function
// speaks about one class, Tasks[j], and returns 1 (present), 0 (absent) or
// Abstain.
type Set struct {
	Classes    []string
	MultiLabel bool
	Tasks      []int
	LFs        []LF
}

// NewSet returns a multi-class set over the given classes.
func NewSet(classes []string, lfs ...LF) (*Set, error) {
	s := &Set{Classes: classes, LFs: lfs}
	return s, s.Validate()
}

// Validate checks the set: at least one class, unique non-empty names, and
// for a multi-label set one task per function naming a class.
func (s *Set) Validate() error {
	if len(s.Classes) < 1 || len(s.Classes) > MaxClasses {
		return fmt.Errorf("labeling functions: %d classes, want 1 to %d", len(s.Classes), MaxClasses)
	}
	if !s.MultiLabel && len(s.Classes) < 2 {
		return errors.New("labeling functions: a multi-class task needs at least 2 classes")
	}
	seen := map[string]bool{}
	for j, f := range s.LFs {
		n := f.Name()
		if n == "" {
			return fmt.Errorf("labeling function %d has no name", j)
		}
		if seen[n] {
			return fmt.Errorf("labeling function %q is declared twice", n)
		}
		seen[n] = true
	}
	if s.MultiLabel {
		if len(s.Tasks) != len(s.LFs) {
			return fmt.Errorf("labeling functions: %d classes for %d multi-label functions", len(s.Tasks), len(s.LFs))
		}
		for j, t := range s.Tasks {
			if t < 0 || t >= len(s.Classes) {
				return fmt.Errorf("labeling function %q: class %d outside 0..%d", s.LFs[j].Name(), t, len(s.Classes)-1)
			}
		}
	}
	return nil
}

// Names returns the functions' names.
func (s *Set) Names() []string {
	out := make([]string, len(s.LFs))
	for j, f := range s.LFs {
		out[j] = f.Name()
	}
	return out
}

// maxVote is the largest vote a function of s may return.
func (s *Set) maxVote() int {
	if s.MultiLabel {
		return 1
	}
	return len(s.Classes) - 1
}

// LabelError reports a labeling function that returned a label outside the
// declared classes. Unlike a failure, which abstains, it stops the
// application: the function is wrong, not the record.
type LabelError struct {
	LF    string
	Row   int
	Value int
	Max   int
}

func (e *LabelError) Error() string {
	return fmt.Sprintf("labeling function %q returned %d on record %d, outside the declared classes 0..%d (or ABSTAIN = -1)", e.LF, e.Value, e.Row, e.Max)
}
