package validate

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// taxiRecords reads the taxi sample with encoding/csv.
func taxiRecords(t *testing.T) (header []string, rows [][]string) {
	t.Helper()
	b, err := os.ReadFile(testData(t, "chicago-taxi/data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[0], recs[1:]
}

func writeCSV(t *testing.T, header []string, rows [][]string) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(header)
	w.WriteAll(rows)
	p := filepath.Join(t.TempDir(), "data.csv")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func col(header []string, name string) int { return slices.Index(header, name) }

func statsOf(t *testing.T, path string) *Stats {
	t.Helper()
	s, err := ComputeFile(path, Options{Workers: 2, MinSplitBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCorruptedCopies checks that each corruption of the taxi data makes
// exactly the expected anomaly kinds and no others, against a schema
// inferred (with ranges and a row-count floor) from the clean data.
func TestCorruptedCopies(t *testing.T) {
	header, rows := taxiRecords(t)
	clean := statsOf(t, writeCSV(t, header, rows))
	schema := Infer(clean, InferOptions{Ranges: true, MinRowsFraction: 0.5})
	schema.RowCount.Max = ptr(1.5 * float64(clean.Rows)) // edited by hand
	if as := Check(clean, schema, ""); len(as) != 0 {
		t.Fatalf("clean data has anomalies against its own schema: %+v", as)
	}
	// The schema survives a YAML round trip.
	yb, err := schema.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if schema, err = DecodeSchema(yb, "inferred"); err != nil {
		t.Fatalf("%v\n%s", err, yb)
	}
	edit := func(f func(i int, r []string) []string) [][]string {
		out := make([][]string, len(rows))
		for i, r := range rows {
			out[i] = f(i, slices.Clone(r))
		}
		return out
	}
	fare, miles, pay, company := col(header, "fare"), col(header, "trip_miles"), col(header, "payment_type"), col(header, "company")
	dropped := slices.Delete(slices.Clone(header), company, company+1)
	raw, err := os.ReadFile(testData(t, "chicago-taxi/data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// Cut a third of the way in, just after a comma, so the last row is
	// short.
	cut := bytes.IndexByte(raw[len(raw)/3:], ',') + len(raw)/3 + 1
	truncated := filepath.Join(t.TempDir(), "truncated.csv")
	if err := os.WriteFile(truncated, raw[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		path string
		want []AnomalyKind
	}{
		{"dropped column", writeCSV(t, dropped, edit(func(_ int, r []string) []string { return slices.Delete(r, company, company+1) })),
			[]AnomalyKind{MissingColumn}},
		{"strings in a numeric column", writeCSV(t, header, edit(func(i int, r []string) []string {
			if i%50 == 0 {
				r[miles] = "twelve"
			}
			return r
		})), []AnomalyKind{TypeMismatch}},
		{"new category", writeCSV(t, header, edit(func(i int, r []string) []string {
			if i%40 == 0 {
				r[pay] = "Bitcoin"
			}
			return r
		})), []AnomalyKind{UnexpectedStrings}},
		{"NaNs", writeCSV(t, header, edit(func(i int, r []string) []string {
			if i%30 == 0 {
				r[fare] = "NaN"
			}
			return r
		})), []AnomalyKind{NaNOrInfinity}},
		{"shifted distribution", writeCSV(t, header, edit(func(_ int, r []string) []string {
			v, _ := strconv.ParseFloat(r[fare], 64)
			r[fare] = strconv.FormatFloat(v*1.5+40, 'f', 2, 64)
			return r
		})), []AnomalyKind{OutOfRange}},
		{"truncated file", truncated, []AnomalyKind{RaggedRows, RowCountTooLow}},
		{"missing values", writeCSV(t, header, edit(func(i int, r []string) []string {
			if i%5 == 0 {
				r[miles] = ""
			}
			return r
		})), []AnomalyKind{PresenceTooLow}},
		{"fractions in an integer column", writeCSV(t, header, edit(func(i int, r []string) []string {
			if i%100 == 0 {
				r[col(header, "trip_start_hour")] = "7.5"
			}
			return r
		})), []AnomalyKind{TypeMismatch}},
		{"infinity", writeCSV(t, header, edit(func(i int, r []string) []string {
			if i == 3 {
				r[miles] = "-Inf"
			}
			return r
		})), []AnomalyKind{NaNOrInfinity}},
		{"twice the rows", writeCSV(t, header, append(slices.Clone(rows), rows...)), []AnomalyKind{RowCountTooHigh}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := statsOf(t, c.path)
			as := Check(st, schema, "")
			if got := Kinds(as); !slices.Equal(got, c.want) {
				t.Errorf("kinds %v, want %v: %+v", got, c.want, as)
			}
			for _, a := range as {
				if a.Description == "" || a.Severity == "" {
					t.Errorf("anomaly without description or severity: %+v", a)
				}
				t.Logf("%s %s: %s %v", a.Kind, a.Feature, a.Description, a.Examples)
			}
		})
	}
	// Drift: only the shifted feature is over its threshold.
	shifted := statsOf(t, cases[4].path)
	ds := Compare(clean, shifted, schema, CompareOptions{})
	var over []string
	for _, d := range ds {
		if d.Exceeds {
			over = append(over, d.Feature)
		}
	}
	if !slices.Equal(over, []string{"fare"}) {
		t.Errorf("drift over threshold for %v, want [fare]: %+v", over, ds)
	}
	if got := Kinds(DistanceAnomalies(ds, false)); !slices.Equal(got, []AnomalyKind{DriftTooHigh}) {
		t.Errorf("drift anomaly kinds %v", got)
	}
	// The new category also shows as the largest L-infinity difference.
	nc := statsOf(t, cases[2].path)
	if d := distanceOf(t, Compare(clean, nc, schema, CompareOptions{}), "payment_type"); d.Detail != "Bitcoin" && d.Detail != "Cash" {
		t.Errorf("payment_type L-inf detail %q", d.Detail)
	}
}

// TestEnvironments checks that a label absent in serving is an anomaly
// only outside the SERVING environment.
func TestEnvironments(t *testing.T) {
	header, rows := taxiRecords(t)
	clean := statsOf(t, writeCSV(t, header, rows))
	schema := Infer(clean, InferOptions{})
	schema.Environments = []string{"TRAINING", "SERVING"}
	schema.Feature("tips").NotInEnvironment = []string{"SERVING"}
	if err := schema.Validate(); err != nil {
		t.Fatal(err)
	}
	tips := col(header, "tips")
	var serving [][]string
	for _, r := range rows {
		serving = append(serving, slices.Delete(slices.Clone(r), tips, tips+1))
	}
	st := statsOf(t, writeCSV(t, slices.Delete(slices.Clone(header), tips, tips+1), serving))
	if as := Check(st, schema, "SERVING"); len(as) != 0 {
		t.Errorf("serving data in SERVING: %+v", as)
	}
	if got := Kinds(Check(st, schema, "TRAINING")); !slices.Equal(got, []AnomalyKind{MissingColumn}) {
		t.Errorf("serving data in TRAINING: kinds %v, want [%s]", got, MissingColumn)
	}
	schema.Feature("tips").NotInEnvironment = []string{"STAGING"}
	if err := schema.Validate(); err == nil || !strings.Contains(err.Error(), "STAGING") {
		t.Errorf("unknown environment accepted: %v", err)
	}
}

// TestUpdate checks that the proposed schema accepts the new data and
// lists each change.
func TestUpdate(t *testing.T) {
	header, rows := taxiRecords(t)
	clean := statsOf(t, writeCSV(t, header, rows))
	schema := Infer(clean, InferOptions{Ranges: true})
	pay, fare := col(header, "payment_type"), col(header, "fare")
	var next [][]string
	for i, r := range rows {
		r = slices.Clone(r)
		if i%40 == 0 {
			r[pay] = "Bitcoin"
		}
		if i == 7 {
			r[fare] = "999.5"
		}
		next = append(next, append(r, "x"))
	}
	st := statsOf(t, writeCSV(t, append(slices.Clone(header), "extra"), next))
	if got := Kinds(Check(st, schema, "")); !slices.Equal(got, []AnomalyKind{UnexpectedStrings, OutOfRange, NewColumn}) && !slices.Equal(got, Kinds([]Anomaly{{Kind: UnexpectedStrings}, {Kind: OutOfRange}, {Kind: NewColumn}})) {
		t.Fatalf("before update: kinds %v", got)
	}
	prop, diff := Update(schema, st, "", InferOptions{})
	if prop.Version != 2 {
		t.Errorf("version %d, want 2", prop.Version)
	}
	if as := Check(st, prop, ""); len(as) != 0 {
		t.Errorf("proposed schema still finds %+v", as)
	}
	want := []string{`+ payment_type: domain value "Bitcoin"`, "~ fare: range.max 700.07 -> 999.5", "+ feature extra (STRING)"}
	for _, w := range want {
		if !slices.Contains(diff, w) {
			t.Errorf("difference lacks %q: %q", w, diff)
		}
	}
	if len(diff) != len(want) {
		t.Errorf("differences %q, want %q", diff, want)
	}
}

// TestUpdateMissingColumn: a required column that went missing is an
// anomaly; Update makes it optional, and the proposal accepts the data.
func TestUpdateMissingColumn(t *testing.T) {
	o := Options{Workers: 1}
	old, err := computeString(t, "a,b,c\n1,x,2\n2,y,3\n", o)
	if err != nil {
		t.Fatal(err)
	}
	schema := Infer(old, InferOptions{})
	cur, err := computeString(t, "a,b\n1,x\n2,y\n", o)
	if err != nil {
		t.Fatal(err)
	}
	if got := Kinds(Check(cur, schema, "")); !slices.Equal(got, []AnomalyKind{MissingColumn}) {
		t.Fatalf("before update: kinds %v", got)
	}
	prop, diff := Update(schema, cur, "", InferOptions{})
	if !slices.Equal(diff, []string{"~ c: presence.min_fraction 1 -> 0 (column missing)"}) {
		t.Errorf("differences %q", diff)
	}
	if as := Check(cur, prop, ""); len(as) != 0 {
		t.Errorf("proposed schema still finds %+v", as)
	}
}

// TestDomainWithNumbers: values of a string feature that parse as numbers
// are matched against the domain's numbers by value ("10" and "10.0"
// against "10"), reported with examples when outside, and Update adds
// them.
func TestDomainWithNumbers(t *testing.T) {
	st, err := computeString(t, "size\nS\nM\n10\n10.0\n7\n7\n", Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	schema := &Schema{Version: 1, Features: []FeatureSchema{{Name: "size", Type: TypeString, Presence: Presence{1}, Domain: []string{"10", "M", "S"}}}}
	as := Check(st, schema, "")
	if len(as) != 1 || as[0].Kind != UnexpectedStrings || !slices.Equal(as[0].Examples, []string{`"7"`}) || !strings.Contains(as[0].Description, `2 values outside its domain: "7"`) {
		t.Fatalf("anomalies %+v", as)
	}
	prop, diff := Update(schema, st, "", InferOptions{})
	if !slices.Equal(diff, []string{`+ size: domain value "7"`}) {
		t.Errorf("differences %q", diff)
	}
	if as := Check(st, prop, ""); len(as) != 0 {
		t.Errorf("proposed schema still finds %+v", as)
	}
}

// TestTypeMismatchExamples: an INT feature with decimals and a BOOL
// feature with other values each name offending values.
func TestTypeMismatchExamples(t *testing.T) {
	st, err := computeString(t, "n,b\n1,true\n2.5,false\n180.0,yes\n4,false\n", Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	schema := &Schema{Version: 1, Features: []FeatureSchema{{Name: "n", Type: TypeInt}, {Name: "b", Type: TypeBool}}}
	as := Check(st, schema, "")
	if len(as) != 2 || as[0].Kind != TypeMismatch || as[1].Kind != TypeMismatch {
		t.Fatalf("anomalies %+v", as)
	}
	if !slices.Equal(as[0].Examples, []string{"2.5"}) || !strings.Contains(as[0].Description, "2 values are written with a decimal point") {
		t.Errorf("INT: %+v", as[0])
	}
	if !slices.Equal(as[1].Examples, []string{`"yes"`}) || !strings.Contains(as[1].Description, "1 values are neither true nor false") {
		t.Errorf("BOOL: %+v", as[1])
	}
}

// TestUpdateNoRows: for data without rows Update allows it (row_count.min
// 0), and the proposal accepts the data.
func TestUpdateNoRows(t *testing.T) {
	o := Options{Workers: 1}
	old, err := computeString(t, "a\n1\n", o)
	if err != nil {
		t.Fatal(err)
	}
	schema := Infer(old, InferOptions{})
	empty, err := computeString(t, "a\n", o)
	if err != nil {
		t.Fatal(err)
	}
	if got := Kinds(Check(empty, schema, "")); !slices.Equal(got, []AnomalyKind{RowCountTooLow}) {
		t.Fatalf("before update: kinds %v", got)
	}
	prop, diff := Update(schema, empty, "", InferOptions{})
	if len(diff) != 1 || !strings.Contains(diff[0], "row_count.min") {
		t.Errorf("differences %q", diff)
	}
	if as := Check(empty, prop, ""); len(as) != 0 {
		t.Errorf("proposed schema still finds %+v", as)
	}
}
