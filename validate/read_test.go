package validate

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

func computeString(t *testing.T, data string, o Options) (*Stats, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return ComputeFile(p, o)
}

// TestBadInput checks each kind of bad input ends in a clear error naming
// the file and line, or in an anomaly: never a crash or a silent drop.
func TestBadInput(t *testing.T) {
	o := Options{Workers: 1}
	t.Run("empty file", func(t *testing.T) {
		_, err := computeString(t, "", o)
		if err == nil || !strings.Contains(err.Error(), "in.csv: empty file") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("header only", func(t *testing.T) {
		s, err := computeString(t, "a,b\n", o)
		if err != nil {
			t.Fatal(err)
		}
		if s.Rows != 0 || len(s.Features) != 2 || s.Features[0].Type != TypeUnknown {
			t.Fatalf("rows %d features %d", s.Rows, len(s.Features))
		}
		schema := &Schema{Version: 1, RowCount: &Bounds{Min: ptr(1)}, Features: []FeatureSchema{{Name: "a", Type: TypeInt, Presence: Presence{1}}, {Name: "b", Type: TypeInt}}}
		if got := Kinds(Check(s, schema, "")); !slices.Equal(got, []AnomalyKind{RowCountTooLow}) {
			t.Errorf("kinds %v", got)
		}
		// A schema inferred without a row-count floor still flags it,
		// and one with row_count.min 0 allows it.
		schema.RowCount = nil
		if got := Kinds(Check(s, schema, "")); !slices.Equal(got, []AnomalyKind{RowCountTooLow}) {
			t.Errorf("no row_count: kinds %v", got)
		}
		schema.RowCount = &Bounds{Min: ptr(0)}
		if got := Check(s, schema, ""); len(got) != 0 {
			t.Errorf("row_count.min 0: %+v", got)
		}
	})
	t.Run("mixed column against its own schema", func(t *testing.T) {
		s, err := computeString(t, "zip,k\n60601,a\nN/A,b\n60602,a\n", o)
		if err != nil {
			t.Fatal(err)
		}
		schema := Infer(s, InferOptions{})
		if f := schema.Feature("zip"); f.Type != TypeString || len(f.Domain) != 0 {
			t.Errorf("zip: %+v", f)
		}
		if as := Check(s, schema, ""); len(as) != 0 {
			t.Errorf("clean data has anomalies: %+v", as)
		}
	})
	t.Run("byte-order mark", func(t *testing.T) {
		s, err := computeString(t, "\ufeffa,b\n1,2\n", o)
		if err != nil || s.Features[0].Name != "a" {
			t.Fatalf("%v %q", err, s.Features[0].Name)
		}
	})
	t.Run("ragged rows", func(t *testing.T) {
		s, err := computeString(t, "a,b\n1,2\n3\n4,5,6\n7,8\n", o)
		if err != nil {
			t.Fatal(err)
		}
		if s.Rows != 2 || s.RaggedRows != 2 {
			t.Fatalf("rows %d ragged %d", s.Rows, s.RaggedRows)
		}
		if !strings.HasSuffix(s.RaggedExamples[0], "in.csv:3: 1 fields, want 2") || !strings.HasSuffix(s.RaggedExamples[1], "in.csv:4: 3 fields, want 2") {
			t.Errorf("examples %q", s.RaggedExamples)
		}
		schema := Infer(s, InferOptions{})
		as := Check(s, schema, "")
		if got := Kinds(as); !slices.Equal(got, []AnomalyKind{RaggedRows}) {
			t.Errorf("kinds %v", got)
		}
	})
	for name, c := range map[string]struct{ data, want string }{
		"unterminated quote": {"a,b\n1,2\n3,\"open\n4,5\n", "in.csv:3: bad quoting: quoted field not terminated"},
		"text after quote":   {"a,b\n1,\"x\"y\n", `in.csv:2: bad quoting: 'y' after a closing quote`},
		"bare quote":         {"a,b\n1,2\n3,x\"y\n", "in.csv:3: bad quoting: bare quote in unquoted field 2"},
		"duplicate column":   {"a,a\n1,2\n", `in.csv:1: column "a" twice`},
		"unnamed column":     {"a,\n1,2\n", "in.csv:1: column 2 has no name"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, w := range []int{1, 2} {
				_, err := computeString(t, c.data, Options{Workers: w, MinSplitBytes: 1})
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("workers %d: error %v, want %q", w, err, c.want)
				}
			}
		})
	}
	t.Run("invalid UTF-8", func(t *testing.T) {
		s, err := computeString(t, "a,b\nok,1\n\xff\xfe,2\n", o)
		if err != nil {
			t.Fatal(err)
		}
		f := s.Feature("a")
		if f.InvalidUTF8 != 1 || f.Count != 2 {
			t.Fatalf("invalid %d count %d", f.InvalidUTF8, f.Count)
		}
		schema := &Schema{Version: 1, Features: []FeatureSchema{{Name: "a", Type: TypeString}, {Name: "b", Type: TypeInt}}}
		if got := Kinds(Check(s, schema, "")); !slices.Equal(got, []AnomalyKind{InvalidUTF8}) {
			t.Errorf("kinds %v", got)
		}
		if _, err := computeString(t, "a,\xff\n1,2\n", o); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
			t.Errorf("invalid header: %v", err)
		}
	})
	t.Run("100 MB line", func(t *testing.T) {
		for _, c := range []struct{ format, head, open, close string }{
			{"csv", "a,b\n1,2\n", "3,", "\n5,6\n"},
			{"jsonl", "{\"a\": 1}\n{\"a\": 2}\n", "{\"a\": \"", "\"}\n{\"a\": 3}\n"},
		} {
			p := filepath.Join(t.TempDir(), "long."+c.format)
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(c.head + c.open)
			chunk := bytes.Repeat([]byte("x"), 1<<20)
			for i := 0; i < 100; i++ {
				f.Write(chunk)
			}
			f.WriteString(c.close)
			f.Close()
			_, err = ComputeFile(p, Options{Workers: 1})
			if !errors.Is(err, ErrRecordTooLong) || !strings.Contains(err.Error(), "long."+c.format+":3: record too long") {
				t.Errorf("%s: error %v", c.format, err)
			}
		}
	})
}

// TestProgress checks that progress reports add up to the file's size,
// read in one pass or in byte ranges.
func TestProgress(t *testing.T) {
	data := quotedCSV(30000, 2)
	p := filepath.Join(t.TempDir(), "p.csv")
	os.WriteFile(p, data, 0o644)
	for _, w := range []int{1, 3} {
		var n atomic.Int64
		if _, err := ComputeFile(p, Options{Workers: w, MinSplitBytes: 1, Progress: func(k int64) { n.Add(k) }}); err != nil {
			t.Fatal(err)
		}
		if n.Load() != int64(len(data)) {
			t.Errorf("workers %d: progress %d bytes of %d", w, n.Load(), len(data))
		}
	}
}

// TestScannerAgainstEncodingCSV compares the scanner with encoding/csv on
// tricky inputs.
func TestScannerAgainstEncodingCSV(t *testing.T) {
	for _, in := range []string{
		"a,b\n1,2\n",
		"a,b\r\n1,2\r\n",
		"a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n",
		"a,b\n\"multi\nline\",2\n\n3,4",
		"a,b,c\n,,\n\"\",\"\",\"\"\n",
		"a\n\"\"\"\"\n",
		"a,b\n1,2\n\n\n3,4\n",
	} {
		got, gerr := scanAll(in, CSVOptions{})
		want, werr := refAll(in, CSVOptions{})
		if (gerr != nil) != (werr != nil) || !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%q:\n got %q %v\nwant %q %v", in, got, gerr, want, werr)
		}
	}
	// Options: a comment line, leading spaces and another separator.
	in := "|comment\n1, 2;3\n 4,  \"5\"\n"
	got, err := scanAll(in, CSVOptions{Comment: '|', TrimLeadingSpace: true})
	if err != nil || !slices.EqualFunc(got, [][]string{{"1", "2;3"}, {"4", "5"}}, slices.Equal) {
		t.Errorf("options: %q %v", got, err)
	}
	got, err = scanAll("a;b\n1;\"x;y\"\n", CSVOptions{Comma: ';'})
	if err != nil || !slices.EqualFunc(got, [][]string{{"a", "b"}, {"1", "x;y"}}, slices.Equal) {
		t.Errorf("semicolon: %q %v", got, err)
	}
}

func scanAll(in string, o CSVOptions) ([][]string, error) {
	sc := newCSVScanner(strings.NewReader(in), "x", &o, 1)
	sc.buf = make([]byte, 16) // force refills mid-record
	var out [][]string
	for {
		fs, _, err := sc.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		rec := make([]string, len(fs))
		for i, f := range fs {
			rec[i] = string(f)
		}
		out = append(out, rec)
	}
}

func refAll(in string, o CSVOptions) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(in))
	r.FieldsPerRecord = -1
	if o.Comma != 0 {
		r.Comma = rune(o.Comma)
	}
	return r.ReadAll()
}

// TestJSONLAndParquetReaders checks the typed readers against the same
// data as CSV.
func TestJSONL(t *testing.T) {
	in := `{"a": 1, "b": "x", "c": true}
{"a": 2.5, "b": null}

{"b": "y", "d": [1, 2]}
`
	s, err := ComputeJSONL(strings.NewReader(in), "in.jsonl", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Finish()
	if s.Rows != 3 {
		t.Fatalf("rows %d", s.Rows)
	}
	a, b, c, d := s.Feature("a"), s.Feature("b"), s.Feature("c"), s.Feature("d")
	if a.Type != TypeFloat || a.Count != 2 || a.Missing != 1 || a.Numeric.Mean != 1.75 {
		t.Errorf("a: %+v", a)
	}
	if b.Type != TypeString || b.Count != 2 || b.Missing != 1 || c.Type != TypeBool || d.Count != 1 {
		t.Errorf("b %v %d, c %v, d %d", b.Type, b.Count, c.Type, d.Count)
	}
	for in, want := range map[string]string{
		"{\"a\": 1}\n[1]\n":      "in.jsonl:2: want a JSON object per line",
		"{\"a\": 1}\n{\"a\": \n": "in.jsonl:2: field \"a\"",
		"{\"a\": 1, \"a\": 2}\n": `in.jsonl:1: key "a" twice`,
		"{\"a\": 1} {}\n":        "in.jsonl:1: text after the object",
	} {
		if _, err := ComputeJSONL(strings.NewReader(in), "in.jsonl", 0); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}
