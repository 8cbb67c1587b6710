package label

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadCSV(t *testing.T) {
	p := writeFile(t, "a.csv", "\ufeffID,TEXT\n1,\"multi\nline, quoted\"\n2,plain\n")
	recs, err := ReadAll(p, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{{"ID": "1", "TEXT": "multi\nline, quoted"}, {"ID": "2", "TEXT": "plain"}}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("got %v", recs)
	}
	if _, err := ReadAll(writeFile(t, "b.csv", "A,A\n1,2\n"), ""); err == nil {
		t.Error("duplicate column accepted")
	}
	if _, err := ReadAll(writeFile(t, "c.csv", "A,B\n1\n"), ""); err == nil {
		t.Error("short row accepted")
	}
}

func TestReadJSONL(t *testing.T) {
	p := writeFile(t, "a.jsonl", `{"n": 3, "x": 1.5, "s": "hi", "l": [1, 2.5], "o": {"k": true}}`+"\n\n"+`{"n": null}`)
	recs, err := ReadAll(p, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{{"n": int64(3), "x": 1.5, "s": "hi", "l": []any{int64(1), 2.5}, "o": map[string]any{"k": true}}, {"n": nil}}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("got %#v", recs)
	}
	_, err = ReadAll(writeFile(t, "b.jsonl", "{\"a\": 1}\n[1, 2]\n"), "")
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("array line: %v", err)
	}
}

func TestReadParquet(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "text", Type: arrow.BinaryTypes.String},
		{Name: "stars", Type: arrow.PrimitiveTypes.Int32},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"subscribe now", "nice"}, nil)
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{1, 5}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{0.5, 0}, []bool{true, false})
	rec := b.NewRecordBatch()
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "a.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadAll(p, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{{"text": "subscribe now", "stars": int64(1), "score": 0.5}, {"text": "nice", "stars": int64(5), "score": nil}}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("got %#v", recs)
	}
	// Labeling functions run on Parquet records like on any other.
	set, err := ParseSpec([]byte("classes: [HAM, SPAM]\nfunctions:\n  - name: s\n    expr: 'has_word(r.text, \"subscribe\") ? SPAM : (r.stars >= 4 ? HAM : ABSTAIN)'\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rr, _ := OpenRecords(p, "")
	defer rr.Close()
	L, _, err := Apply(set, rr, ApplyOptions{})
	if err != nil || !reflect.DeepEqual(L.Dense(), [][]int{{1}, {0}}) {
		t.Fatalf("apply on parquet: %v %v", err, L)
	}
	_ = context.Background
}

func FuzzParseJSONRecord(f *testing.F) {
	f.Add([]byte(`{"a": 1, "b": [1.5, "x"], "c": {"d": null}}`))
	f.Add([]byte(`[1]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseJSONRecord(b)
		if err == nil && r == nil {
			t.Fatal("nil record without error")
		}
	})
}
