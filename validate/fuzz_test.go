package validate

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzCSVScanner checks the byte-level scanner against encoding/csv: the
// same records, or an error from both (inputs with a carriage return are
// left out: encoding/csv rewrites \r\n inside quoted fields to \n, the
// scanner keeps field bytes as they are).
func FuzzCSVScanner(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,\"b\nc\",d\n", "\"\"\"\"\n", "a,b\n\n1,\"x\"\"y\"\n", "x\"y\n", "\"a\"b\n", "\"open\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if bytes.IndexByte(in, '\r') >= 0 {
			return
		}
		got, gerr := scanAll(string(in), CSVOptions{})
		want, werr := refAll(string(in), CSVOptions{})
		if (gerr != nil) != (werr != nil) {
			t.Fatalf("%q: scanner error %v, encoding/csv error %v", in, gerr, werr)
		}
		if gerr == nil && !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%q:\n got %q\nwant %q", in, got, want)
		}
		if gerr != nil {
			var re *ReadError
			if !errors.As(gerr, &re) || re.Line < 1 {
				t.Fatalf("%q: error without a line: %v", in, gerr)
			}
		}
	})
}

// FuzzCSVSplit checks that reading in byte ranges on several workers
// gives the statistics (or the error) of one pass.
func FuzzCSVSplit(f *testing.F) {
	f.Add(quotedCSV(40, 1))
	f.Add([]byte("a,b\n1,2\n3,\"x\ny\"\n4\n5,6,7\n\"z\"\"\",8\n"))
	f.Add([]byte("a\n\"\n\"\n\"\n\"\n"))
	f.Add([]byte("a,b\n#\"comment\n1,\"x\ny\"\n2,3\n#\n4,5\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzSplit(t, in, CSVOptions{})
		fuzzSplit(t, in, CSVOptions{Comment: '#', TrimLeadingSpace: true})
	})
}

func fuzzSplit(t *testing.T, in []byte, co CSVOptions) {
	{
		one, e1 := ComputeCSVAt(bytes.NewReader(in), int64(len(in)), "f.csv", Options{Workers: 1, CSV: co})
		many, e2 := ComputeCSVAt(bytes.NewReader(in), int64(len(in)), "f.csv", Options{Workers: 3, MinSplitBytes: 1, CSV: co})
		if (e1 != nil) != (e2 != nil) || (e1 != nil && e1.Error() != e2.Error()) {
			t.Fatalf("%q: one pass %v, split %v", in, e1, e2)
		}
		if e1 != nil {
			return
		}
		one.Finish()
		many.Finish()
		if one.Rows != many.Rows || one.RaggedRows != many.RaggedRows {
			t.Fatalf("%q: rows %d/%d ragged %d/%d", in, one.Rows, many.Rows, one.RaggedRows, many.RaggedRows)
		}
		for i, a := range one.Features {
			b := many.Features[i]
			if a.Count != b.Count || a.Numbers != b.Numbers || !bytes.Equal(a.HLL.Registers, b.HLL.Registers) || !maps.Equal(a.String.Values.Counts, b.String.Values.Counts) || a.Numeric.Min != b.Numeric.Min {
				t.Fatalf("%q: feature %s differs", in, a.Name)
			}
		}
	}
}

// FuzzJSONL checks that any input gives statistics or an error with a
// line, never a panic.
func FuzzJSONL(f *testing.F) {
	for _, s := range []string{"{\"a\": 1}\n{\"a\": \"x\", \"b\": null}\n", "{\"a\": [1, {\"b\": 2}]}\n", "[1]\n", "{\"a\":1}{}\n", "{\"a\": 1e400}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ComputeJSONL(bytes.NewReader(in), "f.jsonl", 1<<16)
		if err != nil {
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("%q: error without a place: %v", in, err)
			}
			return
		}
		s.Finish()
	})
}

// FuzzDecodeStats checks that decoding statistics never panics and that
// what decodes can be merged and finished.
func FuzzDecodeStats(f *testing.F) {
	st, _ := ComputeCSV(strings.NewReader("a,b\n1,x\n2.5,y\n,z\n"), "s.csv", CSVOptions{})
	var b bytes.Buffer
	st.Encode(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"format":"kiln.validate.stats/v1","rows":1,"features":[{"name":"a","count":1,"numeric":{"grid":{"exp":-3,"lo":5,"counts":[1],"values":[0.7]}}}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := DecodeStats(bytes.NewReader(in), "f.json")
		if err != nil {
			return
		}
		other, _ := DecodeStats(bytes.NewReader(in), "f.json")
		if err := s.Merge(other); err == nil {
			s.Finish()
		}
	})
}

// FuzzDecodeSchema checks that a schema that decodes encodes and decodes
// again to the same YAML.
func FuzzDecodeSchema(f *testing.F) {
	f.Add([]byte("version: 1\nenvironments: [TRAINING, SERVING]\nfeatures:\n  - name: a\n    type: INT\n    presence: {min_fraction: 1}\n    range: {min: 0, max: 3}\n    not_in_environment: [SERVING]\n"))
	f.Add([]byte("version: 2\nfeatures:\n  - name: b\n    type: STRING\n    presence: {min_fraction: 0.5}\n    domain: [x, y]\n    drift: {l_infinity: 0.1}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := DecodeSchema(in, "f.yaml")
		if err != nil {
			return
		}
		b1, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := DecodeSchema(b1, "again")
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, b1)
		}
		b2, _ := s2.Encode()
		if !bytes.Equal(b1, b2) {
			t.Fatalf("not stable:\n%s\n%s", b1, b2)
		}
	})
}

// FuzzParquet feeds damaged Parquet files to the reader: statistics or an
// error, never a crash (the Arrow decoder's panics on corrupt input are
// turned into errors).
func FuzzParquet(f *testing.F) {
	f.Add(smallParquet(f))
	b := smallParquet(f)
	f.Add(b[:len(b)/2])
	f.Add(append([]byte("PAR1"), b[len(b)-40:]...))
	f.Fuzz(func(t *testing.T, in []byte) {
		p := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(p, in, 0o644); err != nil {
			t.Fatal(err)
		}
		if s, err := ComputeFile(p, Options{}); err == nil {
			s.Finish()
		}
	})
}
