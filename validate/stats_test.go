package validate

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/internal/vfs"
	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
)

// sameStats fails unless a and b agree: exactly on counts, extremes,
// HyperLogLog registers, exact value counts and the fine grid (so on every
// histogram), to 1e-9 relative on mean and standard deviation (Chan's
// merge rounds differently from one pass).
func sameStats(t *testing.T, what string, a, b *Stats) {
	t.Helper()
	if a.Rows != b.Rows || a.RaggedRows != b.RaggedRows || len(a.Features) != len(b.Features) {
		t.Fatalf("%s: rows %d/%d ragged %d/%d features %d/%d", what, a.Rows, b.Rows, a.RaggedRows, b.RaggedRows, len(a.Features), len(b.Features))
	}
	for i, fa := range a.Features {
		fb := b.Features[i]
		ctx := what + ": " + fa.Name
		if fa.Name != fb.Name || fa.Type != fb.Type || fa.Count != fb.Count || fa.Missing != fb.Missing ||
			fa.Numbers != fb.Numbers || fa.Integers != fb.Integers || fa.Strings != fb.Strings || fa.Bools != fb.Bools ||
			fa.Distinct != fb.Distinct || fa.InvalidUTF8 != fb.InvalidUTF8 {
			t.Errorf("%s: counts differ:\n%+v\n%+v", ctx, *fa, *fb)
		}
		if !bytes.Equal(fa.HLL.Registers, fb.HLL.Registers) {
			t.Errorf("%s: HyperLogLog registers differ", ctx)
		}
		if !maps.Equal(fa.String.Values.Counts, fb.String.Values.Counts) || fa.String.TotalLength != fb.String.TotalLength {
			t.Errorf("%s: value counts differ", ctx)
		}
		na, nb := fa.Numeric, fb.Numeric
		if na.N != nb.N || na.Min != nb.Min || na.Max != nb.Max || na.Zeros != nb.Zeros || na.NaN != nb.NaN || na.PosInf != nb.PosInf || na.NegInf != nb.NegInf {
			t.Errorf("%s: numeric counts differ: %+v vs %+v", ctx, na.Moments, nb.Moments)
		}
		if !near(na.Mean, nb.Mean, 1e-9) || !near(na.Std, nb.Std, 1e-9) {
			t.Errorf("%s: mean %v/%v std %v/%v", ctx, na.Mean, nb.Mean, na.Std, nb.Std)
		}
		ga, gb := na.Grid, nb.Grid
		if ga.Exp != gb.Exp || ga.Lo != gb.Lo || !slices.Equal(ga.Counts, gb.Counts) || !slices.Equal(ga.Values, gb.Values) || !slices.Equal(ga.Mixed, gb.Mixed) {
			t.Errorf("%s: grids differ (exp %d/%d lo %d/%d bins %d/%d)", ctx, ga.Exp, gb.Exp, ga.Lo, gb.Lo, len(ga.Counts), len(gb.Counts))
		}
		if !slices.Equal(na.Histogram, nb.Histogram) {
			t.Errorf("%s: histograms differ:\n%v\n%v", ctx, na.Histogram, nb.Histogram)
		}
	}
}

func near(a, b, rel float64) bool {
	return a == b || math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}

// checkQuantiles holds each decile of the sketch to KLL's rank error: the
// true rank of the reported value is within 2% of the decile (§4 of
// Karnin, Lang, Liberty: ε ≈ 1.65% for k = 200).
func checkQuantiles(t *testing.T, what string, f *FeatureStats, values []float64) {
	t.Helper()
	sort.Float64s(values)
	for i, v := range f.Numeric.Quantiles {
		q := float64(i) / histogramBuckets
		lo := sort.SearchFloat64s(values, v)                                      // values < v
		hi := sort.Search(len(values), func(j int) bool { return values[j] > v }) // values <= v
		rlo, rhi := float64(lo)/float64(len(values)), float64(hi)/float64(len(values))
		if q < rlo-0.02 || q > rhi+0.02 {
			t.Errorf("%s %s: decile %.1f = %v has true rank [%.4f, %.4f]", what, f.Name, q, v, rlo, rhi)
		}
	}
}

// TestMergeEqualsWhole computes the taxi data's statistics in one pass,
// split across workers by byte ranges, and as three files merged, and
// after a JSON round trip: all must be the same statistics.
func TestMergeEqualsWhole(t *testing.T) {
	header, rows := taxiRecords(t)
	whole := statsOf1(t, writeCSV(t, header, rows))
	split, err := ComputeFile(writeCSV(t, header, rows), Options{Workers: 4, MinSplitBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, "byte ranges", whole, split)
	var parts []string
	for _, r := range [][2]int{{0, 4000}, {4000, 4001}, {4001, len(rows)}} {
		parts = append(parts, writeCSV(t, header, rows[r[0]:r[1]]))
	}
	merged, err := ComputeFiles(parts, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, "files merged", whole, merged)
	// Saved and loaded partition statistics merge to the same thing.
	var loaded *Stats
	for i, p := range parts {
		s := statsOf1(t, p)
		path := filepath.Join(t.TempDir(), fmt.Sprintf("part%d.json", i))
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		if !IsStatsFile(path) {
			t.Fatalf("%s not recognised as statistics", path)
		}
		l, err := LoadStats(path)
		if err != nil {
			t.Fatal(err)
		}
		if loaded == nil {
			loaded = l
			continue
		}
		if err := loaded.Merge(l); err != nil {
			t.Fatal(err)
		}
		loaded.Finish()
	}
	sameStats(t, "saved, loaded and merged", whole, loaded)
	// Quantiles of the whole and of the merges are within KLL's bound.
	for _, name := range []string{"fare", "trip_miles", "trip_seconds", "trip_start_hour", "pickup_latitude"} {
		j := col(header, name)
		var vs []float64
		for _, r := range rows {
			if v, err := strconv.ParseFloat(r[j], 64); err == nil {
				vs = append(vs, v)
			}
		}
		for what, s := range map[string]*Stats{"whole": whole, "split": split, "merged": merged, "loaded": loaded} {
			checkQuantiles(t, what, s.Feature(name), slices.Clone(vs))
		}
	}
	// Distinct counts: exact for strings, HyperLogLog within 3% otherwise.
	for _, name := range []string{"company", "payment_type", "fare", "trip_start_timestamp"} {
		j := col(header, name)
		set := map[string]bool{}
		for _, r := range rows {
			if r[j] != "" {
				set[r[j]] = true
			}
		}
		f := whole.Feature(name)
		if f.DistinctExact && f.Distinct != int64(len(set)) || math.Abs(float64(f.Distinct-int64(len(set)))) > 0.03*float64(len(set)) {
			t.Errorf("%s: distinct %d (exact %v), true %d", name, f.Distinct, f.DistinctExact, len(set))
		}
	}
}

func statsOf1(t *testing.T, path string) *Stats {
	t.Helper()
	s, err := ComputeFile(path, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// quotedCSV makes a CSV whose quoted fields hold separators, escaped
// quotes and newlines, so that a naive split at a newline would cut a
// record.
func quotedCSV(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"id", "text", "x", "kind"})
	words := []string{"plain", "with, comma", "line\nbreak", `say "hi"`, "two\n\nbreaks, \"and\" more", ""}
	for i := 0; i < n; i++ {
		w.Write([]string{strconv.Itoa(i), words[rng.IntN(len(words))], strconv.FormatFloat(rng.NormFloat64()*3+1, 'f', 3, 64), []string{"a", "b", "c"}[rng.IntN(3)]})
	}
	w.Flush()
	return b.Bytes()
}

// TestSplitQuotedNewlines checks that splitting a file whose quoted
// fields hold newlines gives the statistics of one pass, and that both
// agree with encoding/csv's reading of it.
func TestSplitQuotedNewlines(t *testing.T) {
	data := quotedCSV(20000, 7)
	one, err := ComputeCSVAt(bytes.NewReader(data), int64(len(data)), "q.csv", Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	one.Finish()
	for _, w := range []int{2, 3, 7} {
		s, err := ComputeCSVAt(bytes.NewReader(data), int64(len(data)), "q.csv", Options{Workers: w, MinSplitBytes: 1})
		if err != nil {
			t.Fatal(err)
		}
		s.Finish()
		sameStats(t, fmt.Sprintf("%d workers", w), one, s)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, r := range recs[1:] {
		if r[1] != "" {
			counts[r[1]]++
		}
	}
	if one.Rows != int64(len(recs)-1) || !maps.Equal(one.Feature("text").String.Values.Counts, counts) {
		t.Errorf("rows %d (encoding/csv %d), text counts %v, want %v", one.Rows, len(recs)-1, one.Feature("text").String.Values.Counts, counts)
	}
}

// TestSplitLineNumbers checks that an error in a later byte range names
// the file's line, not the range's.
func TestSplitLineNumbers(t *testing.T) {
	data := quotedCSV(5000, 3)
	lines := bytes.Count(data, []byte{'\n'})
	data = append(data, []byte("1,\"unterminated,2,a\n")...)
	for _, w := range []int{1, 3} {
		_, err := ComputeCSVAt(bytes.NewReader(data), int64(len(data)), "bad.csv", Options{Workers: w, MinSplitBytes: 1})
		want := fmt.Sprintf("bad.csv:%d: ", lines+1)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("workers %d: error %v, want prefix %q", w, err, want)
		}
	}
}

// TestKLLMerge checks the sketch's rank error on 200,000 values added in
// one sketch and in 16 merged ones (Karnin, Lang, Liberty §3-4).
func TestKLLMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var one KLL
	parts := make([]KLL, 16)
	vs := make([]float64, 200000)
	for i := range vs {
		vs[i] = rng.ExpFloat64()
		one.Add(vs[i])
		parts[i%16].Add(vs[i])
	}
	var merged KLL
	for i := range parts {
		merged.Merge(&parts[i])
	}
	sort.Float64s(vs)
	for _, s := range []*KLL{&one, &merged} {
		if s.N != int64(len(vs)) {
			t.Fatalf("n %d", s.N)
		}
		if err := s.check(); err != nil {
			t.Fatal(err)
		}
		for _, q := range []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99} {
			v := s.Quantiles([]float64{q})[0]
			r := float64(sort.SearchFloat64s(vs, v)) / float64(len(vs))
			if math.Abs(r-q) > 0.02 {
				t.Errorf("q %.2f: value %v has rank %.4f", q, v, r)
			}
		}
		if n := s.size; n > kllTotal(len(s.Levels)) {
			t.Errorf("sketch holds %d items", n)
		}
	}
}

// TestHLL checks the estimate within 3 standard errors and that merged
// registers equal the registers of the union.
func TestHLL(t *testing.T) {
	var a, b, all HLL
	for i := 0; i < 100000; i++ {
		h := hashBytes([]byte(strconv.Itoa(i)))
		all.AddHash(h)
		if i%3 == 0 {
			a.AddHash(h)
		} else {
			b.AddHash(h)
		}
	}
	if e := all.Estimate(); math.Abs(e-100000) > 3*0.0081*100000 {
		t.Errorf("estimate %.0f of 100000", e)
	}
	a.Merge(&b)
	if !bytes.Equal(a.Registers, all.Registers) {
		t.Error("merged registers differ from the union's")
	}
	var small HLL
	for i := 0; i < 50; i++ {
		small.AddHash(hashBytes([]byte(strconv.Itoa(i))))
	}
	if e := small.Estimate(); math.Abs(e-50) > 1 {
		t.Errorf("small-range estimate %.2f of 50", e)
	}
}

// TestTopKOverflow checks Misra-Gries: past capacity counts are lower
// bounds within Dropped, and a frequent value keeps its place.
func TestTopKOverflow(t *testing.T) {
	var tk TopK
	truth := map[string]int64{}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 100000; i++ {
		v := "heavy"
		if rng.IntN(2) == 0 {
			v = strconv.Itoa(rng.IntN(50000))
		}
		truth[v]++
		tk.Add([]byte(v))
	}
	tk.flush()
	if !tk.Approximate {
		t.Fatal("not approximate past capacity")
	}
	for k, c := range tk.Counts {
		if c > truth[k] || truth[k]-c > tk.Dropped {
			t.Errorf("%s: count %d, true %d, dropped %d", k, c, truth[k], tk.Dropped)
		}
	}
	if top := tk.Top(1); top[0].Value != "heavy" {
		t.Errorf("top value %v", top)
	}
}

// TestGridDeterministic checks that the fine grid's bin width depends on
// the range only: any split of the values merges to the same grid.
func TestGridDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	vs := make([]float64, 5000)
	for i := range vs {
		vs[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(6)))
	}
	var whole Grid
	for _, v := range vs {
		whole.Add(v)
	}
	whole.flush()
	for _, cut := range []int{1, 17, 2500, 4999} {
		var a, b Grid
		for _, v := range vs[:cut] {
			a.Add(v)
		}
		for _, v := range vs[cut:] {
			b.Add(v)
		}
		b.flush()
		a.Merge(&b)
		a.flush()
		if a.Exp != whole.Exp || a.Lo != whole.Lo || !slices.Equal(a.Counts, whole.Counts) || !slices.Equal(a.Mixed, whole.Mixed) {
			t.Errorf("cut %d: exp %d/%d lo %d/%d", cut, a.Exp, whole.Exp, a.Lo, whole.Lo)
		}
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// TestRadixSort compares the KLL's sorts with the standard library's on
// values of mixed signs, zeros, infinities and repeats.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 5, 47, 48, 300, 5000} {
		a := make([]float64, n)
		for i := range a {
			switch rng.IntN(6) {
			case 0:
				a[i] = 0
			case 1:
				a[i] = math.Copysign(0, -1)
			case 2:
				a[i] = math.Inf(1 - 2*rng.IntN(2))
			default:
				a[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10))
			}
		}
		b := slices.Clone(a)
		c := slices.Clone(a)
		radixSort(a, nil)
		sortFloats(c)
		sort.Float64s(b)
		if !slices.Equal(a, b) || !slices.Equal(c, b) {
			t.Errorf("n %d: sorts differ", n)
		}
	}
}

// TestSaveFailsHalfWay makes every filesystem operation of saving
// statistics and a schema fail in turn: the old file stays whole (or, past
// the rename, the new one) and no temporary file is left.
func TestSaveFailsHalfWay(t *testing.T) {
	st, err := ComputeCSV(strings.NewReader("a,b\n1,x\n2,y\n"), "s.csv", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	schema := Infer(st, InferOptions{})
	for _, c := range []struct {
		name  string
		save  func(fs vfs.FS, path string) error
		check func([]byte) error
	}{
		{"stats.json", st.save, func(b []byte) error { _, err := DecodeStats(bytes.NewReader(b), "x"); return err }},
		{"schema.yaml", schema.save, func(b []byte) error { _, err := DecodeSchema(b, "x"); return err }},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, c.name)
		if err := c.save(vfs.OS, path); err != nil {
			t.Fatal(err)
		}
		old, _ := os.ReadFile(path)
		for fail := 0; ; fail++ {
			err := c.save(errorfs.New(fail), path)
			if err == nil {
				if fail == 0 {
					t.Fatal("no operation counted")
				}
				break
			}
			if !errors.Is(err, errorfs.ErrInjected) {
				t.Fatalf("%s fail at %d: %v", c.name, fail, err)
			}
			got, _ := os.ReadFile(path)
			if c.check(got) != nil || (!bytes.Equal(got, old) && !strings.Contains(err.Error(), "sync")) {
				t.Fatalf("%s fail at %d (%v): torn or changed", c.name, fail, err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Fatalf("%s fail at %d: %d files left", c.name, fail, len(entries))
			}
		}
	}
}

// TestSkewThresholds checks that skew uses the schema's skew threshold
// and falls back to the drift threshold.
func TestSkewThresholds(t *testing.T) {
	a, _ := ComputeCSV(strings.NewReader("c\nx\nx\ny\n"), "a.csv", CSVOptions{})
	b, _ := ComputeCSV(strings.NewReader("c\nx\ny\ny\n"), "b.csv", CSVOptions{})
	s := &Schema{Version: 1, Features: []FeatureSchema{{Name: "c", Type: TypeString, Drift: &Threshold{LInfinity: ptr(0.5)}}}}
	d := Compare(a, b, s, CompareOptions{Skew: true})
	if len(d) != 1 || math.Abs(d[0].Value-1.0/3) > 1e-12 || d[0].Threshold != 0.5 || d[0].Exceeds {
		t.Fatalf("fallback to drift: %+v", d)
	}
	s.Features[0].Skew = &Threshold{LInfinity: ptr(0.2)}
	d = Compare(a, b, s, CompareOptions{Skew: true})
	if !d[0].Exceeds || d[0].Threshold != 0.2 {
		t.Fatalf("skew threshold: %+v", d)
	}
	if got := Kinds(DistanceAnomalies(d, true)); !slices.Equal(got, []AnomalyKind{SkewTooHigh}) {
		t.Errorf("kinds %v", got)
	}
	if d := Compare(a, b, s, CompareOptions{}); d[0].Exceeds {
		t.Errorf("drift used the skew threshold: %+v", d)
	}
}

// TestComputeFilesParallel checks that files read at once merge to the
// statistics of one file holding them all.
func TestComputeFilesParallel(t *testing.T) {
	data := quotedCSV(3000, 11)
	whole, err := ComputeCSV(bytes.NewReader(data), "q.csv", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := 0; i < 4; i++ {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Write(recs[0])
		w.WriteAll(recs[1+i*750 : 1+(i+1)*750])
		p := filepath.Join(t.TempDir(), fmt.Sprintf("p%d.csv", i))
		os.WriteFile(p, b.Bytes(), 0o644)
		paths = append(paths, p)
	}
	merged, err := ComputeFiles(paths, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, "files in parallel", whole, merged)
	if !slices.Equal(merged.Sources, paths) {
		t.Errorf("sources %v", merged.Sources)
	}
}
