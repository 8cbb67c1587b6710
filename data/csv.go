package data

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CSVError is an error at a place in a CSV file. Err is the cause; for a
// row whose field count differs from the header's it is csv.ErrFieldCount,
// for bad quoting csv.ErrQuote or csv.ErrBareQuote.
type CSVError struct {
	File   string
	Line   int // 1-based; 0 when the error has no place
	Column int // 1-based field position; 0 when the error concerns a row
	Err    error
}

// Error formats the error as "csv FILE:LINE:COLUMN: cause", leaving out
// the place parts that are 0.
func (e *CSVError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("csv %s: %v", e.File, e.Err)
	case e.Column == 0:
		return fmt.Sprintf("csv %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("csv %s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
}

// Unwrap returns the cause.
func (e *CSVError) Unwrap() error { return e.Err }

// CSVOptions adjust how a CSV file is read. The zero value reads RFC 4180
// files with a header row.
type CSVOptions struct {
	// Comma separates fields (default ',').
	Comma rune
	// Comment, when not 0, starts a comment line.
	Comment rune
	// TrimSpace drops the spaces that follow a separator (as in "a, b").
	TrimSpace bool
	// Columns, when not nil, names the columns of a file without a header
	// row; its first line is then data.
	Columns []string
}

// CSVReader streams the records of a CSV file, reporting errors with the
// file name and line. Every record has as many fields as the header:
// a ragged row is an error, not a short record.
type CSVReader struct {
	name   string
	r      *csv.Reader
	header []string
	index  map[string]int
}

// NewCSVReader reads the header row of r; name is used in errors.
func NewCSVReader(r io.Reader, name string) (*CSVReader, error) {
	return NewCSVReaderOptions(r, name, CSVOptions{})
}

// NewCSVReaderOptions is NewCSVReader with options. The header (read from
// the file, or opts.Columns) must name every column once, in valid UTF-8;
// a UTF-8 byte-order mark before it is skipped.
func NewCSVReaderOptions(r io.Reader, name string, opts CSVOptions) (*CSVReader, error) {
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\ufeff" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // the first record fixes the width
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.Comment = opts.Comment
	cr.TrimLeadingSpace = opts.TrimSpace
	c := &CSVReader{name: name, r: cr}
	header := opts.Columns
	if header == nil {
		h, err := cr.Read()
		if err == io.EOF {
			return nil, &CSVError{File: name, Err: errors.New("empty file, want a header row")}
		}
		if err != nil {
			return nil, c.wrap(err)
		}
		header = h
	} else {
		cr.FieldsPerRecord = len(header)
	}
	c.header = append([]string(nil), header...)
	c.index = make(map[string]int, len(header))
	for i, h := range c.header {
		if !utf8.ValidString(h) {
			return nil, &CSVError{File: name, Line: 1, Column: i + 1, Err: errors.New("column name is not valid UTF-8")}
		}
		if _, dup := c.index[h]; dup {
			return nil, &CSVError{File: name, Line: 1, Column: i + 1, Err: fmt.Errorf("duplicate column %q", h)}
		}
		c.index[h] = i
	}
	if len(c.header) == 0 {
		return nil, &CSVError{File: name, Err: errors.New("no columns")}
	}
	return c, nil
}

// Header returns the column names.
func (c *CSVReader) Header() []string { return c.header }

// Column returns the position of the column named name.
func (c *CSVReader) Column(name string) (int, bool) {
	i, ok := c.index[name]
	return i, ok
}

// Next returns the next record and the line it starts on, or io.EOF at the
// end. The record's slice is reused by the following call. Fields must be
// valid UTF-8.
func (c *CSVReader) Next() ([]string, int, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	if err != nil {
		return nil, 0, c.wrap(err)
	}
	line, _ := c.r.FieldPos(0)
	for i, f := range rec {
		if !utf8.ValidString(f) {
			return nil, line, &CSVError{File: c.name, Line: line, Column: i + 1, Err: fmt.Errorf("column %q is not valid UTF-8", c.header[i])}
		}
	}
	return rec, line, nil
}

// wrap turns encoding/csv's errors into a CSVError.
func (c *CSVReader) wrap(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return &CSVError{File: c.name, Line: pe.StartLine, Err: fmt.Errorf("ragged row: %w (want %d fields, as the header)", pe.Err, c.r.FieldsPerRecord)}
		}
		return &CSVError{File: c.name, Line: pe.Line, Column: pe.Column, Err: pe.Err}
	}
	return &CSVError{File: c.name, Err: err}
}

// ReadCSVDataset reads a numeric CSV file, raw or gzipped (told by its
// first bytes), into a Dataset under DecodeCSVDataset's rules.
func ReadCSVDataset(path, label string) (*Dataset, error) {
	return ReadCSVDatasetOptions(path, label, CSVOptions{})
}

// ReadCSVDatasetOptions is ReadCSVDataset with CSV options.
func ReadCSVDatasetOptions(path, label string, opts CSVOptions) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("csv %s: gzip: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return DecodeCSVDataset(r, path, label, opts)
}

// DecodeCSVDataset reads a numeric CSV stream into a Dataset: every column
// but label is a feature, a finite float; label holds integer classes
// 0..K-1 ("3" or "3.0"), and Classes is the largest label + 1. Surrounding
// spaces are ignored. An empty, non-numeric or non-finite value is an error
// naming the line and column; name is used in errors.
func DecodeCSVDataset(r io.Reader, name, label string, opts CSVOptions) (*Dataset, error) {
	cr, err := NewCSVReaderOptions(r, name, opts)
	if err != nil {
		return nil, err
	}
	li, ok := cr.Column(label)
	if !ok {
		return nil, &CSVError{File: name, Err: fmt.Errorf("no label column %q (columns: %s)", label, strings.Join(cr.Header(), ", "))}
	}
	ds := &Dataset{SampleShape: []int{len(cr.Header()) - 1}, Source: name}
	if ds.SampleShape[0] == 0 {
		return nil, &CSVError{File: name, Err: fmt.Errorf("no feature columns beside the label %q", label)}
	}
	for {
		rec, line, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if i == li {
				y, err := parseClass(v)
				if err != nil {
					return nil, &CSVError{File: name, Line: line, Column: i + 1, Err: fmt.Errorf("label %q: %w", v, err)}
				}
				ds.Y = append(ds.Y, y)
				ds.Classes = max(ds.Classes, int(y)+1)
				continue
			}
			x, err := strconv.ParseFloat(v, 32)
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				return nil, &CSVError{File: name, Line: line, Column: i + 1, Err: fmt.Errorf("column %q: %q is not a finite number", cr.Header()[i], v)}
			}
			ds.X = append(ds.X, float32(x))
		}
		ds.N++
	}
	if ds.N == 0 {
		return nil, &CSVError{File: name, Err: errors.New("no data rows")}
	}
	return ds, nil
}

// parseClass parses a class index: a non-negative integer below 2³¹,
// written as an integer or an integral float.
func parseClass(v string) (int32, error) {
	if y, err := strconv.ParseInt(v, 10, 32); err == nil {
		if y < 0 {
			return 0, errors.New("negative class index")
		}
		return int32(y), nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0, errors.New("not a class index (a non-negative integer)")
	}
	return int32(f), nil
}
