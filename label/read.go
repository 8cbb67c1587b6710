package label

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// RecordReader is a RecordSource over a file; Close releases it.
type RecordReader interface {
	RecordSource
	Close() error
}

// FormatOf returns the record format of path from its extension: "csv",
// "jsonl" (.jsonl, .ndjson, .json) or "parquet"; "" when unknown.
func FormatOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv"
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	case ".parquet", ".pq":
		return "parquet"
	}
	return ""
}

// OpenRecords opens a CSV (header row first), JSON Lines (one object per
// line) or Parquet file as a record reader. format may be "" to take it
// from the extension.
func OpenRecords(path, format string) (RecordReader, error) {
	if format == "" {
		format = FormatOf(path)
	}
	switch format {
	case "csv", "jsonl":
	case "parquet":
		return openParquet(path)
	default:
		return nil, fmt.Errorf("read records %s: unknown format %q (want csv, jsonl or parquet)", path, format)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	if format == "csv" {
		r, err := NewCSVReader(f, path)
		if err != nil {
			f.Close()
			return nil, err
		}
		return &closingReader{RecordSource: r, c: f}, nil
	}
	return &closingReader{RecordSource: NewJSONLReader(f, path), c: f}, nil
}

type closingReader struct {
	RecordSource
	c io.Closer
}

func (r *closingReader) Close() error { return r.c.Close() }

// ReadAll reads every record of a file.
func ReadAll(path, format string) ([]Record, error) {
	rr, err := OpenRecords(path, format)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	var out []Record
	for {
		r, err := rr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
}

// CSVReader reads records from CSV with a header row; every value is a
// string.
type CSVReader struct {
	r      *csv.Reader
	header []string
	name   string
}

// NewCSVReader reads the header row of r. name is used in errors.
func NewCSVReader(r io.Reader, name string) (*CSVReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("read csv %s: empty file, want a header row", name)
	}
	if err != nil {
		return nil, fmt.Errorf("read csv %s: header: %w", name, err)
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	seen := map[string]bool{}
	for _, h := range header {
		if seen[h] {
			return nil, fmt.Errorf("read csv %s: column %q appears twice in the header", name, h)
		}
		seen[h] = true
	}
	return &CSVReader{r: cr, header: header, name: name}, nil
}

// Header returns the column names.
func (c *CSVReader) Header() []string { return c.header }

// Next returns the next row as a record, or io.EOF.
func (c *CSVReader) Next() (Record, error) {
	row, err := c.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("read csv %s: %w", c.name, err)
	}
	rec := make(Record, len(row))
	for i, v := range row {
		rec[c.header[i]] = v
	}
	return rec, nil
}

// JSONLReader reads one JSON object per line; blank lines are skipped.
// Integers become int64 and other numbers float64.
type JSONLReader struct {
	r    *bufio.Reader
	name string
	line int
}

// NewJSONLReader returns a reader over r. name is used in errors.
func NewJSONLReader(r io.Reader, name string) *JSONLReader {
	return &JSONLReader{r: bufio.NewReaderSize(r, 1<<16), name: name}
}

// Next returns the next object, or io.EOF.
func (j *JSONLReader) Next() (Record, error) {
	for {
		line, err := j.r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read jsonl %s: %w", j.name, err)
		}
		j.line++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		}
		rec, perr := parseJSONRecord(line)
		if perr != nil {
			return nil, fmt.Errorf("read jsonl %s: line %d: %w", j.name, j.line, perr)
		}
		return rec, nil
	}
}

// parseJSONRecord decodes one JSON object into a record with int64 and
// float64 numbers.
func parseJSONRecord(b []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %T", v)
	}
	return Record(normalizeJSON(obj).(map[string]any)), nil
}

func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeJSON(e)
		}
		return x
	}
	return v
}
