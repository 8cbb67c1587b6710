package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"
)

// CSVReader streams the records of a CSV file with a header row, reporting
// errors with the file name and line.
type CSVReader struct {
	name   string
	r      *csv.Reader
	header []string
	line   int
}

// NewCSVReader reads the header row of r; name is used in errors.
func NewCSVReader(r io.Reader, name string) (*CSVReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // the header fixes the width; ragged rows are errors
	h, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("csv %s: empty file, want a header row", name)
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	header := append([]string(nil), h...)
	seen := map[string]bool{}
	for i, c := range header {
		if !utf8.ValidString(c) {
			return nil, fmt.Errorf("csv %s:1: column %d name is not valid UTF-8", name, i+1)
		}
		if seen[c] {
			return nil, fmt.Errorf("csv %s:1: duplicate column %q", name, c)
		}
		seen[c] = true
	}
	return &CSVReader{name: name, r: cr, header: header, line: 1}, nil
}

// Header returns the column names.
func (c *CSVReader) Header() []string { return c.header }

// Next returns the next record (valid until the following call) and its
// line number, or io.EOF at the end.
func (c *CSVReader) Next() ([]string, int, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	if err != nil {
		return nil, 0, csvErr(c.name, err)
	}
	line, _ := c.r.FieldPos(0)
	c.line = line
	for i, f := range rec {
		if !utf8.ValidString(f) {
			return nil, line, fmt.Errorf("csv %s:%d: column %q is not valid UTF-8", c.name, line, c.header[i])
		}
	}
	return rec, line, nil
}

func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Errorf("csv %s:%d: ragged row: %w", name, pe.StartLine, pe.Err)
		}
		return fmt.Errorf("csv %s:%d:%d: %w", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("csv %s: %w", name, err)
}

// ReadCSVDataset reads a numeric CSV file into a Dataset: every column but
// label is a feature, parsed as a float; label holds integer classes
// 0..K-1. A value that does not parse is an error naming the line and
// column.
func ReadCSVDataset(path, label string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	defer f.Close()
	cr, err := NewCSVReader(f, path)
	if err != nil {
		return nil, err
	}
	li := -1
	for i, h := range cr.Header() {
		if h == label {
			li = i
		}
	}
	if li < 0 {
		return nil, fmt.Errorf("csv %s: no label column %q (columns: %v)", path, label, cr.Header())
	}
	ds := &Dataset{SampleShape: []int{len(cr.Header()) - 1}, Source: path}
	for {
		rec, line, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		for i, v := range rec {
			if i == li {
				y, err := strconv.Atoi(v)
				if err != nil || y < 0 {
					return nil, fmt.Errorf("csv %s:%d: label %q is not a class index", path, line, v)
				}
				ds.Y = append(ds.Y, int32(y))
				ds.Classes = max(ds.Classes, y+1)
				continue
			}
			x, err := strconv.ParseFloat(v, 32)
			if err != nil {
				return nil, fmt.Errorf("csv %s:%d: column %q: %q is not a number", path, line, cr.Header()[i], v)
			}
			ds.X = append(ds.X, float32(x))
		}
		ds.N++
	}
	if ds.N == 0 {
		return nil, fmt.Errorf("csv %s: header only, no rows", path)
	}
	return ds, nil
}
