package validate

import (
	"context"
	"fmt"

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

func addArrowColumn(f *FeatureStats, col arrow.Array, n int, scratch []byte) []byte {
	for i := 0; i < n; i++ {
		if col.IsNull(i) {
			continue
		}
		var v any
		switch a := col.(type) {
		case *array.Float64:
			v = a.Value(i)
		case *array.Float32:
			v = float64(a.Value(i))
		case *array.Int64:
			v = a.Value(i)
		case *array.Int32:
			v = int64(a.Value(i))
		case *array.Int16:
			v = int64(a.Value(i))
		case *array.Int8:
			v = int64(a.Value(i))
		case *array.Uint64:
			v = a.Value(i)
		case *array.Uint32:
			v = int64(a.Value(i))
		case *array.Uint16:
			v = int64(a.Value(i))
		case *array.Uint8:
			v = int64(a.Value(i))
		case *array.String:
			v = a.Value(i)
		case *array.LargeString:
			v = a.Value(i)
		case *array.Binary:
			v = a.Value(i)
		case *array.Boolean:
			v = a.Value(i)
		default:
			v = fmt.Sprint(col.GetOneForMarshal(i))
		}
		scratch = f.addTyped(v, scratch)
	}
	return scratch
}
