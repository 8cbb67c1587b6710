package validate

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// TestParquetMatchesCSV writes three taxi columns as Parquet (empty CSV
// fields as nulls) and checks the statistics match the CSV's.
func TestParquetMatchesCSV(t *testing.T) {
	header, rows := taxiRecords(t)
	fare, pay, sec := col(header, "fare"), col(header, "payment_type"), col(header, "trip_seconds")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "fare", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "payment_type", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "trip_seconds", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var csvRows [][]string
	for _, r := range rows {
		v, _ := strconv.ParseFloat(r[fare], 64)
		b.Field(0).(*array.Float64Builder).Append(v)
		b.Field(1).(*array.StringBuilder).Append(r[pay])
		if r[sec] == "" {
			b.Field(2).(*array.Int64Builder).AppendNull()
		} else {
			s, err := strconv.ParseFloat(r[sec], 64)
			if err != nil {
				t.Fatal(err)
			}
			b.Field(2).(*array.Int64Builder).Append(int64(s))
		}
		csvRows = append(csvRows, []string{r[fare], r[pay], r[sec]})
	}
	p := writeParquetFile(t, "taxi.parquet", b)
	pq, err := ComputeFile(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := statsOf1(t, writeCSV(t, []string{"fare", "payment_type", "trip_seconds"}, csvRows))
	if pq.Rows != cs.Rows {
		t.Fatalf("rows %d, CSV %d", pq.Rows, cs.Rows)
	}
	for _, name := range []string{"fare", "payment_type", "trip_seconds"} {
		a, c := pq.Feature(name), cs.Feature(name)
		if a.Count != c.Count || a.Missing != c.Missing || a.Numeric.N != c.Numeric.N || !near(a.Numeric.Mean, c.Numeric.Mean, 1e-12) ||
			a.Numeric.Min != c.Numeric.Min || a.Numeric.Max != c.Numeric.Max || !slices.Equal(a.Numeric.Histogram, c.Numeric.Histogram) ||
			!maps.Equal(a.String.Values.Counts, c.String.Values.Counts) {
			t.Errorf("%s: parquet %+v\ncsv %+v", name, a, c)
		}
	}
	if pq.Feature("trip_seconds").Type != TypeInt || pq.Feature("payment_type").Type != TypeString {
		t.Errorf("types %s %s", pq.Feature("trip_seconds").Type, pq.Feature("payment_type").Type)
	}
	if _, err := ComputeFile(writeCSV(t, []string{"a"}, [][]string{{"1"}}), Options{Format: "parquet"}); err == nil {
		t.Error("a CSV file read as Parquet gave no error")
	}
}

// smallParquet returns the bytes of a two-column, three-row Parquet file.
func smallParquet(t testing.TB) []byte {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Float64Builder).AppendValues([]float64{1.5, 0, -2}, []bool{true, false, true})
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "b", "a"}, nil)
	return parquetBytes(t, b)
}

// parquetBytes returns a Parquet file holding b's record.
func parquetBytes(t testing.TB, b *array.RecordBuilder) []byte {
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(rec.Schema(), &buf, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeParquetFile writes b's record as a Parquet file named name in a
// temporary directory and returns its path.
func writeParquetFile(t testing.TB, name string, b *array.RecordBuilder) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, parquetBytes(t, b), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParquetUnsigned: a uint64 column is an INT feature with its values,
// not strings of their printed form.
func TestParquetUnsigned(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "u", Type: arrow.PrimitiveTypes.Uint64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Uint64Builder).AppendValues([]uint64{1, 2, 7}, nil)
	p := writeParquetFile(t, "u.parquet", b)
	st, err := ComputeFile(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := st.Feature("u")
	if u.Type != TypeInt || u.Numeric.Min != 1 || u.Numeric.Max != 7 || u.Strings != 0 {
		t.Errorf("uint64 column: type %s, min %v, max %v, %d strings", u.Type, u.Numeric.Min, u.Numeric.Max, u.Strings)
	}
}

// TestParquetColumnTypes: booleans count as the strings true and false,
// narrow integers and float32 as numbers, binaries as strings, and other
// types (here a date) as strings of their printed value; nulls are missing.
func TestParquetColumnTypes(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int32},
		{Name: "f", Type: arrow.PrimitiveTypes.Float32},
		{Name: "bin", Type: arrow.BinaryTypes.Binary},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.BooleanBuilder).AppendValues([]bool{true, false, true}, []bool{true, true, false})
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{-3, 4, 5}, nil)
	b.Field(2).(*array.Float32Builder).AppendValues([]float32{0.5, 1, 2}, nil)
	b.Field(3).(*array.BinaryBuilder).AppendValues([][]byte{[]byte("x"), []byte("y"), []byte("x")}, nil)
	b.Field(4).(*array.Date32Builder).AppendValues([]arrow.Date32{0, 1, 1}, nil)
	st, err := ComputeFile(writeParquetFile(t, "t.parquet", b), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := st.Feature("b"); f.Type != TypeBool || f.Missing != 1 || f.String.Values.Counts["true"] != 1 || f.String.Values.Counts["false"] != 1 {
		t.Errorf("bool column: %+v", f)
	}
	if f := st.Feature("i"); f.Type != TypeInt || f.Numeric.Min != -3 || f.Numeric.Max != 5 {
		t.Errorf("int32 column: %+v", f)
	}
	if f := st.Feature("f"); f.Type != TypeFloat || f.Numeric.Min != 0.5 || f.Numeric.Max != 2 {
		t.Errorf("float32 column: %+v", f)
	}
	if f := st.Feature("bin"); f.Type != TypeString || f.String.Values.Counts["x"] != 2 {
		t.Errorf("binary column: %+v", f)
	}
	if f := st.Feature("d"); f.Type != TypeString || f.Distinct != 2 || f.Count != 3 {
		t.Errorf("date column: %+v", f)
	}
}
