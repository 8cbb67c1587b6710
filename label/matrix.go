package label

import (
	"errors"
	"fmt"
)

// Abstain is the vote of a labeling function that does not label a record.
const Abstain = -1

// MaxClasses is the largest number of classes a label matrix can hold: votes
// are stored as int16.
const MaxClasses = 1 << 14

// Matrix is a sparse label matrix: row i holds the non-abstain votes of the
// M labeling functions on record i, in compressed sparse row form. Row i's
// votes are Cols[RowPtr[i]:RowPtr[i+1]] (labeling function indices,
// increasing) and Votes[RowPtr[i]:RowPtr[i+1]] (their labels).
//
// In a multi-class matrix (Tasks == nil) a vote is a class id in [0, K). In
// a multi-label matrix each labeling function j speaks about one class,
// Tasks[j], and its vote is 1 (the class is present) or 0 (it is absent);
// K is then the number of classes.
type Matrix struct {
	N, M, K int
	// Names holds the labeling functions' names (len M).
	Names []string
	// Classes holds the class names (len K), or nil when the classes are
	// known by id only.
	Classes []string
	// Tasks is nil for a multi-class matrix and holds each labeling
	// function's class for a multi-label one.
	Tasks  []int
	RowPtr []int64
	Cols   []int32
	Votes  []int16
}

// ErrAllAbstain is returned (wrapped) when a label model is fitted to a
// matrix in which every labeling function abstains on every row.
var ErrAllAbstain = errors.New("every labeling function abstains on every row")

// MultiLabel reports whether m is a multi-label matrix.
func (m *Matrix) MultiLabel() bool { return m.Tasks != nil }

// NNZ returns the number of non-abstain votes.
func (m *Matrix) NNZ() int { return len(m.Cols) }

// Row returns the labeling-function indices and votes of row i. The slices
// alias the matrix.
func (m *Matrix) Row(i int) ([]int32, []int16) {
	a, b := m.RowPtr[i], m.RowPtr[i+1]
	return m.Cols[a:b], m.Votes[a:b]
}

// Covered reports whether any labeling function voted on row i.
func (m *Matrix) Covered(i int) bool { return m.RowPtr[i+1] > m.RowPtr[i] }

// CoveredRows returns the indices of the rows with at least one vote.
func (m *Matrix) CoveredRows() []int {
	var out []int
	for i := 0; i < m.N; i++ {
		if m.Covered(i) {
			out = append(out, i)
		}
	}
	return out
}

// Validate checks the matrix's shape and that every vote is in range: a
// label outside the declared classes is an error naming the row and the
// labeling function.
func (m *Matrix) Validate() error {
	if m.N < 0 || m.M < 0 {
		return fmt.Errorf("label matrix: negative shape %d×%d", m.N, m.M)
	}
	if m.K < 1 || m.K > MaxClasses {
		return fmt.Errorf("label matrix: %d classes, want 1 to %d", m.K, MaxClasses)
	}
	if len(m.Names) != m.M {
		return fmt.Errorf("label matrix: %d names for %d labeling functions", len(m.Names), m.M)
	}
	if m.Classes != nil && len(m.Classes) != m.K {
		return fmt.Errorf("label matrix: %d class names for %d classes", len(m.Classes), m.K)
	}
	if m.Tasks != nil {
		if len(m.Tasks) != m.M {
			return fmt.Errorf("label matrix: %d tasks for %d labeling functions", len(m.Tasks), m.M)
		}
		for j, t := range m.Tasks {
			if t < 0 || t >= m.K {
				return fmt.Errorf("label matrix: labeling function %q speaks about class %d, outside 0..%d", m.Names[j], t, m.K-1)
			}
		}
	}
	if len(m.RowPtr) != m.N+1 || m.RowPtr[0] != 0 {
		return fmt.Errorf("label matrix: row pointer of length %d for %d rows", len(m.RowPtr), m.N)
	}
	if len(m.Cols) != len(m.Votes) || int64(len(m.Cols)) != m.RowPtr[m.N] {
		return fmt.Errorf("label matrix: %d columns and %d votes for %d entries", len(m.Cols), len(m.Votes), m.RowPtr[m.N])
	}
	hi := int16(m.K - 1)
	if m.Tasks != nil {
		hi = 1
	}
	for i := 0; i < m.N; i++ {
		a, b := m.RowPtr[i], m.RowPtr[i+1]
		if b < a {
			return fmt.Errorf("label matrix: row %d: decreasing row pointer", i)
		}
		prev := int32(-1)
		for e := a; e < b; e++ {
			c := m.Cols[e]
			if c <= prev || int(c) >= m.M {
				return fmt.Errorf("label matrix: row %d: labeling function index %d out of order or range", i, c)
			}
			prev = c
			if v := m.Votes[e]; v < 0 || v > hi {
				return fmt.Errorf("label matrix: row %d: labeling function %q voted %d, outside the classes 0..%d", i, m.Names[c], v, hi)
			}
		}
	}
	return nil
}

// Dense returns the matrix as rows of M votes with Abstain for no vote. It
// is meant for tests and small matrices.
func (m *Matrix) Dense() [][]int {
	out := make([][]int, m.N)
	for i := range out {
		row := make([]int, m.M)
		for j := range row {
			row[j] = Abstain
		}
		cols, votes := m.Row(i)
		for e, c := range cols {
			row[c] = int(votes[e])
		}
		out[i] = row
	}
	return out
}

// FromDense builds a multi-class matrix with k classes from rows of votes
// (Abstain for no vote). Names default to lf0, lf1, ...; a vote outside
// [0, k) is an error.
func FromDense(rows [][]int, k int, names []string) (*Matrix, error) {
	m := 0
	if len(rows) > 0 {
		m = len(rows[0])
	}
	if names == nil {
		names = DefaultNames(m)
	}
	b := NewBuilder(names, k)
	var cols []int32
	var votes []int16
	for i, r := range rows {
		if len(r) != m {
			return nil, fmt.Errorf("label matrix: row %d has %d votes, want %d", i, len(r), m)
		}
		cols, votes = cols[:0], votes[:0]
		for j, v := range r {
			if v == Abstain {
				continue
			}
			if v < 0 || v >= k {
				return nil, fmt.Errorf("label matrix: row %d: labeling function %q voted %d, outside the classes 0..%d", i, names[j], v, k-1)
			}
			cols = append(cols, int32(j))
			votes = append(votes, int16(v))
		}
		b.AddRow(cols, votes)
	}
	return b.Matrix(), nil
}

// DefaultNames returns lf0 ... lf(m-1).
func DefaultNames(m int) []string {
	names := make([]string, m)
	for j := range names {
		names[j] = fmt.Sprintf("lf%d", j)
	}
	return names
}

// Builder appends rows to a label matrix.
type Builder struct{ m Matrix }

// NewBuilder starts a multi-class matrix over the named labeling functions
// with k classes.
func NewBuilder(names []string, k int) *Builder {
	return &Builder{m: Matrix{M: len(names), K: k, Names: names, RowPtr: []int64{0}}}
}

// AddRow appends one row; cols must increase and votes must be in range
// (Matrix.Validate checks both).
func (b *Builder) AddRow(cols []int32, votes []int16) {
	b.m.Cols = append(b.m.Cols, cols...)
	b.m.Votes = append(b.m.Votes, votes...)
	b.m.RowPtr = append(b.m.RowPtr, int64(len(b.m.Cols)))
	b.m.N++
}

// Matrix returns the matrix built so far; the builder must not be used
// after.
func (b *Builder) Matrix() *Matrix { return &b.m }

// Concat stacks matrices with the same labeling functions and classes.
func Concat(parts ...*Matrix) (*Matrix, error) {
	if len(parts) == 0 {
		return nil, errors.New("label matrix: nothing to concatenate")
	}
	first := parts[0]
	out := &Matrix{M: first.M, K: first.K, Names: first.Names, Classes: first.Classes, Tasks: first.Tasks, RowPtr: []int64{0}}
	for p, m := range parts {
		if m.M != first.M || m.K != first.K || (m.Tasks == nil) != (first.Tasks == nil) {
			return nil, fmt.Errorf("label matrix: part %d is %d functions × %d classes, want %d × %d", p, m.M, m.K, first.M, first.K)
		}
		base := int64(len(out.Cols))
		for i := 1; i <= m.N; i++ {
			out.RowPtr = append(out.RowPtr, base+m.RowPtr[i])
		}
		out.Cols = append(out.Cols, m.Cols...)
		out.Votes = append(out.Votes, m.Votes...)
		out.N += m.N
	}
	return out, nil
}

// SelectRows returns the matrix of the given rows, in that order.
func (m *Matrix) SelectRows(rows []int) *Matrix {
	out := &Matrix{M: m.M, K: m.K, Names: m.Names, Classes: m.Classes, Tasks: m.Tasks, RowPtr: make([]int64, 1, len(rows)+1)}
	for _, i := range rows {
		c, v := m.Row(i)
		out.Cols = append(out.Cols, c...)
		out.Votes = append(out.Votes, v...)
		out.RowPtr = append(out.RowPtr, int64(len(out.Cols)))
	}
	out.N = len(rows)
	return out
}

// SelectLFs returns the matrix restricted to the given labeling functions
// (increasing indices), renumbered 0..len(lfs)-1.
func (m *Matrix) SelectLFs(lfs []int) *Matrix {
	idx := make([]int32, m.M)
	for j := range idx {
		idx[j] = -1
	}
	out := &Matrix{N: m.N, M: len(lfs), K: m.K, Classes: m.Classes, RowPtr: make([]int64, 1, m.N+1)}
	for n, j := range lfs {
		idx[j] = int32(n)
		out.Names = append(out.Names, m.Names[j])
		if m.Tasks != nil {
			out.Tasks = append(out.Tasks, m.Tasks[j])
		}
	}
	for i := 0; i < m.N; i++ {
		cols, votes := m.Row(i)
		for e, c := range cols {
			if n := idx[c]; n >= 0 {
				out.Cols = append(out.Cols, n)
				out.Votes = append(out.Votes, votes[e])
			}
		}
		out.RowPtr = append(out.RowPtr, int64(len(out.Cols)))
	}
	return out
}
