package validate

import (
	"context"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// computeParquet returns the statistics of a Parquet file, read batch by
// batch through Arrow: numeric columns feed the numeric statistics
// directly (every integer and float width, signed or not), strings and
// binaries the string statistics, booleans count as
// the strings true and false, nulls as missing; other types are counted
// as strings of their printed value.
func computeParquet(path string) (s *Stats, err error) {
	// The decoder is third-party code on untrusted bytes: a panic inside
	// it becomes an error naming the file.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("read parquet %s: corrupt file: %v", path, r)
		}
	}()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 8192}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	sc, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	names := make([]string, sc.NumFields())
	for i := range names {
		names[i] = sc.Field(i).Name
	}
	if _, err := checkColumns(names, path, 0); err != nil {
		return nil, err
	}
	s = NewStats(names)
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	defer rr.Release()
	var scratch []byte
	for rr.Next() {
		rec := rr.RecordBatch()
		n := int(rec.NumRows())
		for c := 0; c < int(rec.NumCols()); c++ {
			scratch = addArrowColumn(s.Features[c], rec.Column(c), n, scratch)
		}
		s.Rows += int64(n)
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	return s, nil
}

// addArrowColumn adds the first n values of col to f, choosing the
// column's reader once rather than per value.
func addArrowColumn(f *FeatureStats, col arrow.Array, n int, scratch []byte) []byte {
	switch a := col.(type) {
	case *array.Float64:
		addNumbers(f, a, n, false)
	case *array.Float32:
		addNumbers(f, a, n, false)
	case *array.Int64:
		addNumbers(f, a, n, true)
	case *array.Int32:
		addNumbers(f, a, n, true)
	case *array.Int16:
		addNumbers(f, a, n, true)
	case *array.Int8:
		addNumbers(f, a, n, true)
	case *array.Uint64:
		addNumbers(f, a, n, true)
	case *array.Uint32:
		addNumbers(f, a, n, true)
	case *array.Uint16:
		addNumbers(f, a, n, true)
	case *array.Uint8:
		addNumbers(f, a, n, true)
	case *array.String:
		scratch = addStrings(f, a, n, scratch)
	case *array.LargeString:
		scratch = addStrings(f, a, n, scratch)
	case *array.Binary:
		for i := 0; i < n; i++ {
			if !a.IsNull(i) {
				f.addString(a.Value(i))
			}
		}
	case *array.Boolean:
		for i := 0; i < n; i++ {
			if !a.IsNull(i) {
				scratch = strconv.AppendBool(scratch[:0], a.Value(i))
				f.addString(scratch)
			}
		}
	default:
		for i := 0; i < n; i++ {
			if !col.IsNull(i) {
				scratch = fmt.Append(scratch[:0], col.GetOneForMarshal(i))
				f.addString(scratch)
			}
		}
	}
	return scratch
}

// valueArray is an Arrow array of values of type T.
type valueArray[T any] interface {
	IsNull(i int) bool
	Value(i int) T
}

func addNumbers[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64](f *FeatureStats, a valueArray[T], n int, isInt bool) {
	for i := 0; i < n; i++ {
		if !a.IsNull(i) {
			f.addNumber(float64(a.Value(i)), isInt)
		}
	}
}

func addStrings(f *FeatureStats, a valueArray[string], n int, scratch []byte) []byte {
	for i := 0; i < n; i++ {
		if !a.IsNull(i) {
			scratch = append(scratch[:0], a.Value(i)...)
			f.addString(scratch)
		}
	}
	return scratch
}
