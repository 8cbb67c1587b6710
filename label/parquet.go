package label

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetReader yields the rows of a Parquet file, batch by batch, as
// records.
type parquetReader struct {
	name  string
	pf    *file.Reader
	rr    pqarrow.RecordReader
	batch arrow.RecordBatch
	row   int
}

func openParquet(path string) (RecordReader, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	return &parquetReader{name: path, pf: pf, rr: rr}, nil
}

func (p *parquetReader) Next() (Record, error) {
	for p.batch == nil || p.row >= int(p.batch.NumRows()) {
		if !p.rr.Next() {
			if err := p.rr.Err(); err != nil && err != io.EOF {
				return nil, fmt.Errorf("read parquet %s: %w", p.name, err)
			}
			return nil, io.EOF
		}
		p.batch = p.rr.RecordBatch()
		p.row = 0
	}
	sc := p.batch.Schema()
	rec := make(Record, p.batch.NumCols())
	for c := 0; c < int(p.batch.NumCols()); c++ {
		col := p.batch.Column(c)
		if col.IsNull(p.row) {
			rec[sc.Field(c).Name] = nil
			continue
		}
		rec[sc.Field(c).Name] = normalizeArrow(col.GetOneForMarshal(p.row))
	}
	p.row++
	return rec, nil
}

// normalizeArrow maps Arrow's Go values onto the types records hold:
// string, bool, int64, float64, []any and map[string]any.
func normalizeArrow(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	case float32:
		return float64(x)
	case float64, string, bool, nil:
		return x
	case []byte:
		return string(x)
	case []any:
		for i, e := range x {
			x[i] = normalizeArrow(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeArrow(e)
		}
		return x
	}
	return fmt.Sprint(v)
}

func (p *parquetReader) Close() error {
	p.rr.Release()
	return p.pf.Close()
}
