package data

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCSVReaderLines(t *testing.T) {
	in := "\ufeffid,text\n1,plain\n2,\"two\nlines\"\n3,\"quoted \"\"q\"\"\"\n"
	cr, err := NewCSVReader(strings.NewReader(in), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cr.Header()) != "[id text]" {
		t.Fatalf("header %q (the byte-order mark must go)", cr.Header())
	}
	if i, ok := cr.Column("text"); !ok || i != 1 {
		t.Fatalf("Column(text) = %d %v", i, ok)
	}
	var got []string
	for {
		rec, line, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s|%s", line, rec[0], rec[1]))
	}
	if want := `[2:1|plain 3:2|two
lines 5:3|quoted "q"]`; fmt.Sprint(got) != want {
		t.Fatalf("records %q, want %q", got, want)
	}
}

func TestCSVReaderErrors(t *testing.T) {
	cases := []struct {
		in, want string
		is       error
	}{
		{"a,b\n1,2\n3\n", "csv t.csv:3: ragged row", csv.ErrFieldCount},
		{"a,b\n1,2\n3,4,5\n", "csv t.csv:3: ragged row", csv.ErrFieldCount},
		{"a,b\n1,\"x\n", "csv t.csv:2:6: extraneous or missing", csv.ErrQuote},
		{"a,b\n1,x\"y\n", "csv t.csv:2:4", csv.ErrBareQuote},
		{"a,b\n1,\xff\n", `csv t.csv:2:2: column "b" is not valid UTF-8`, nil},
	}
	for _, c := range cases {
		cr, err := NewCSVReader(strings.NewReader(c.in), "t.csv")
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, _, err = cr.Next()
		}
		wantErr(t, c.in, err, c.want)
		var ce *CSVError
		if !errors.As(err, &ce) || ce.File != "t.csv" {
			t.Errorf("%q: %T is not a *CSVError", c.in, err)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%q: %v does not wrap %v", c.in, err, c.is)
		}
	}
	for in, want := range map[string]string{
		"":           "csv t.csv: empty file",
		"a,a\n":      `csv t.csv:1:2: duplicate column "a"`,
		"a,\xff\n":   "csv t.csv:1:2: column name is not valid UTF-8",
		"\"a\n1,2\n": "csv t.csv:",
	} {
		_, err := NewCSVReader(strings.NewReader(in), "t.csv")
		wantErr(t, in, err, want)
	}
}

func TestCSVReaderOptions(t *testing.T) {
	// UCI Adult's layout: no header, comma and space, a comment line.
	in := "# census\n39, State-gov, <=50K\n50, Self-emp, >50K\n"
	cr, err := NewCSVReaderOptions(strings.NewReader(in), "adult", CSVOptions{Comment: '#', TrimSpace: true, Columns: []string{"age", "class", "income"}})
	if err != nil {
		t.Fatal(err)
	}
	rec, line, err := cr.Next()
	if err != nil || line != 2 || fmt.Sprint(rec) != "[39 State-gov <=50K]" {
		t.Fatalf("first record %q line %d %v", rec, line, err)
	}
	cr, _ = NewCSVReaderOptions(strings.NewReader("1;2\n3\n"), "semi", CSVOptions{Comma: ';', Columns: []string{"x", "y"}})
	cr.Next()
	_, _, err = cr.Next()
	wantErr(t, "ragged without header", err, "csv semi:2: ragged row", "want 2 fields")
}

func TestAdultThroughCSVReader(t *testing.T) {
	p := filepath.Join(testData(t, "adult"), "adult.data")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cols := strings.Split("age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,capital-gain,capital-loss,hours-per-week,native-country,income", ",")
	cr, err := NewCSVReaderOptions(f, p, CSVOptions{TrimSpace: true, Columns: cols})
	if err != nil {
		t.Fatal(err)
	}
	n, rich := 0, 0
	for {
		rec, _, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if rec[14] == ">50K" {
			rich++
		}
	}
	// 32,561 rows, 7,841 of them over 50K (UCI's description: 24%).
	if n != 32561 || rich != 7841 {
		t.Fatalf("%d rows, %d over 50K", n, rich)
	}
}

func TestCSVDataset(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.csv")
	os.WriteFile(p, []byte("a,b,label\n1,2,0\n3.5, -1 ,2.0\n"), 0o644)
	ds, err := ReadCSVDataset(p, "label")
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 2 || ds.Classes != 3 || fmt.Sprint(ds.X) != "[1 2 3.5 -1]" || fmt.Sprint(ds.Y) != "[0 2]" || ds.Validate() != nil {
		t.Fatalf("%+v", ds)
	}
	// Gzip is told by content.
	gz := filepath.Join(dir, "d.bin")
	b, _ := os.ReadFile(p)
	os.WriteFile(gz, gzipBytes(b), 0o644)
	if ds2, err := ReadCSVDataset(gz, "label"); err != nil || fmt.Sprint(ds2.X) != fmt.Sprint(ds.X) {
		t.Fatalf("gzipped: %v %v", ds2, err)
	}
	bad := map[string]string{
		"a,b,label\n1,2\n":             "d.csv:2: ragged row",
		"a,b,label\n1,\"x,0\n":         "d.csv:2:8",
		"a,b,label\n1,zz,0\n":          `d.csv:2:2: column "b": "zz" is not a finite number`,
		"a,b,label\n1,,0\n":            `d.csv:2:2: column "b": "" is not a finite number`,
		"a,b,label\n1,NaN,0\n":         `"NaN" is not a finite number`,
		"a,b,label\n1,1e99,0\n":        `"1e99" is not a finite number`,
		"a,b,label\n1,2,-1\n":          `d.csv:2:3: label "-1": negative class index`,
		"a,b,label\n1,2,0.5\n":         `label "0.5": not a class index`,
		"a,b,label\n1,2,3e10\n":        `label "3e10": not a class index`,
		"":                             "empty file",
		"a,b,label\n":                  "no data rows",
		"a,b,lab\n1,2,3\n":             `no label column "label" (columns: a, b, lab)`,
		"label\n1\n":                   "no feature columns",
		"a,b,label\n1,2,0\n\xff,1,0\n": "not valid UTF-8",
	}
	for content, want := range bad {
		os.WriteFile(p, []byte(content), 0o644)
		_, err := ReadCSVDataset(p, "label")
		wantErr(t, fmt.Sprintf("%q", content), err, want, p)
	}
	_, err = ReadCSVDataset(filepath.Join(dir, "missing.csv"), "label")
	wantErr(t, "missing file", err, "missing.csv")
}

// FuzzCSVReader checks that records always have the header's width and
// start on strictly increasing lines, whatever the input.
func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"))
	f.Add([]byte("x\n\"q\"\"\"\n"))
	f.Add([]byte("a,b\n1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cr, err := NewCSVReader(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		last := 1
		for i := 0; i < 1000; i++ {
			rec, line, err := cr.Next()
			if err != nil {
				var ce *CSVError
				if err != io.EOF && !errors.As(err, &ce) {
					t.Fatalf("error %T %v is not a *CSVError", err, err)
				}
				return
			}
			if len(rec) != len(cr.Header()) {
				t.Fatalf("record of %d fields under a header of %d", len(rec), len(cr.Header()))
			}
			if line <= last {
				t.Fatalf("record on line %d after one on line %d", line, last)
			}
			last = line
		}
	})
}

// FuzzCSVDataset checks that a decoded data set is always consistent and
// finite.
func FuzzCSVDataset(f *testing.F) {
	f.Add([]byte("a,b,label\n1,2,0\n3,4,1\n"))
	f.Add([]byte("label,x\n2,1e-3\n0, 7\n"))
	f.Add([]byte("a,label\n1,1.0\n\"2\",3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := DecodeCSVDataset(bytes.NewReader(b), "fuzz", "label", CSVOptions{})
		if err != nil {
			return
		}
		if err := ds.Validate(); err != nil || ds.N == 0 {
			t.Fatalf("inconsistent data set: %v (N=%d)", err, ds.N)
		}
		for _, v := range ds.X {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("non-finite feature %v", v)
			}
		}
	})
}
