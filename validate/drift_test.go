package validate

import (
	"bufio"
	"encoding/csv"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// rawColumns reads the named columns of a CSV file with encoding/csv, the
// independent reference for the distances below.
func rawColumns(t *testing.T, path string, header []string, comment rune, trim bool, cols ...string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = comment
	r.TrimLeadingSpace = trim
	if header == nil {
		if header, err = r.Read(); err != nil {
			t.Fatal(err)
		}
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[h] = i
	}
	out := map[string][]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			out[c] = append(out[c], rec[idx[c]])
		}
	}
	return out
}

// refLInf is L-infinity between the value shares of two columns, leaving
// out the missing values (empty or in nulls).
func refLInf(a, b []string, nulls ...string) float64 {
	count := func(xs []string) (map[string]float64, float64) {
		m := map[string]float64{}
		n := 0.0
	outer:
		for _, x := range xs {
			if x == "" {
				continue
			}
			for _, nl := range nulls {
				if x == nl {
					continue outer
				}
			}
			m[x]++
			n++
		}
		return m, n
	}
	ca, na := count(a)
	cb, nb := count(b)
	d := 0.0
	for k, v := range ca {
		d = math.Max(d, math.Abs(v/na-cb[k]/nb))
	}
	for k, v := range cb {
		d = math.Max(d, math.Abs(ca[k]/na-v/nb))
	}
	return d
}

// refJSD is the Jensen-Shannon divergence (bits) of two numeric columns
// over nbins equal-width bins spanning both columns' combined range, a
// value x in bin floor((x-lo)/((hi-lo)/nbins)) clamped to the last bin:
// the bin rule the package documents, written out again here.
func refJSD(t *testing.T, a, b []string, nbins int) float64 {
	parse := func(xs []string) []float64 {
		var out []float64
		for _, x := range xs {
			if x == "" {
				continue
			}
			v, err := strconv.ParseFloat(x, 64)
			if err != nil {
				t.Fatalf("parse %q: %v", x, err)
			}
			out = append(out, v)
		}
		return out
	}
	va, vb := parse(a), parse(b)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range append(append([]float64{}, va...), vb...) {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	hist := func(vs []float64) []float64 {
		h := make([]float64, nbins)
		w := (hi - lo) / float64(nbins)
		for _, v := range vs {
			j := int(math.Floor((v - lo) / w))
			if j >= nbins {
				j = nbins - 1
			}
			h[j]++
		}
		for i := range h {
			h[i] /= float64(len(vs))
		}
		return h
	}
	p, q := hist(va), hist(vb)
	js := 0.0
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			js += p[i] / 2 * math.Log2(p[i]/m)
		}
		if q[i] > 0 {
			js += q[i] / 2 * math.Log2(q[i]/m)
		}
	}
	return js
}

// adultColumns reads the attribute names from adult.names ("name:
// continuous." or "name: v1, v2, ..."), and names the class column
// "income".
func adultColumns(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`^([a-z-]+): .*\.$`)
	var cols []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := re.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			cols = append(cols, m[1])
		}
	}
	if len(cols) != 14 {
		t.Fatalf("adult.names: %d attributes, want 14: %v", len(cols), cols)
	}
	return append(cols, "income")
}

func distanceOf(t *testing.T, ds []Distance, feature string) Distance {
	t.Helper()
	for _, d := range ds {
		if d.Feature == feature {
			return d
		}
	}
	t.Fatalf("no distance for %q in %v", feature, ds)
	return Distance{}
}

// TestDriftTaxi checks L-infinity and Jensen-Shannon between the taxi
// sample and its serving span against a direct computation from the raw
// rows, with the statistics computed both in one pass and split across
// workers.
func TestDriftTaxi(t *testing.T) {
	base, cur := testData(t, "chicago-taxi/data.csv"), testData(t, "chicago-taxi/serving-span.csv")
	cols := []string{"payment_type", "company", "fare", "trip_miles"}
	ra := rawColumns(t, base, nil, 0, false, cols...)
	rb := rawColumns(t, cur, nil, 0, false, cols...)
	for _, workers := range []int{1, 3} {
		o := Options{Workers: workers, MinSplitBytes: 1}
		sa, err := ComputeFile(base, o)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := ComputeFile(cur, o)
		if err != nil {
			t.Fatal(err)
		}
		ds := Compare(sa, sb, nil, CompareOptions{})
		for _, c := range []string{"payment_type", "company"} {
			got, want := distanceOf(t, ds, c), refLInf(ra[c], rb[c])
			if got.Measure != LInfinity || math.Abs(got.Value-want) > 1e-6 {
				t.Errorf("workers %d: %s: %s %.9f, reference L-infinity %.9f", workers, c, got.Measure, got.Value, want)
			}
			t.Logf("workers %d: %s L-inf %.6f (reference %.6f, largest at %q)", workers, c, got.Value, want, got.Detail)
		}
		for _, bins := range []int{10, DefaultBins} {
			ds := Compare(sa, sb, nil, CompareOptions{Bins: bins})
			for _, c := range []string{"fare", "trip_miles"} {
				checkJSD(t, distanceOf(t, ds, c), refJSD(t, ra[c], rb[c], bins), bins)
			}
		}
	}
}

// TestDriftAdult does the same for UCI Adult's train and test files
// (no header, ", " separated, a "|" comment line, "?" for missing).
func TestDriftAdult(t *testing.T) {
	base, cur := testData(t, "adult/adult.data"), testData(t, "adult/adult.test")
	header := adultColumns(t, testData(t, "adult/adult.names"))
	cols := []string{"age", "hours-per-week", "workclass"}
	ra := rawColumns(t, base, header, '|', true, cols...)
	rb := rawColumns(t, cur, header, '|', true, cols...)
	o := Options{Workers: 2, MinSplitBytes: 1, CSV: CSVOptions{Columns: header, Comment: '|', TrimLeadingSpace: true, Nulls: []string{"?"}}}
	sa, err := ComputeFile(base, o)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ComputeFile(cur, o)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Rows != 32561 || sb.Rows != 16281 {
		t.Fatalf("rows %d and %d, want 32561 and 16281", sa.Rows, sb.Rows)
	}
	for _, bins := range []int{10, DefaultBins} {
		ds := Compare(sa, sb, nil, CompareOptions{Bins: bins})
		for _, c := range []string{"age", "hours-per-week"} {
			checkJSD(t, distanceOf(t, ds, c), refJSD(t, ra[c], rb[c], bins), bins)
		}
	}
	ds := Compare(sa, sb, nil, CompareOptions{})
	got, want := distanceOf(t, ds, "workclass"), refLInf(ra["workclass"], rb["workclass"], "?")
	if math.Abs(got.Value-want) > 1e-6 {
		t.Errorf("workclass: L-inf %.9f, reference %.9f", got.Value, want)
	}
	// The test file's labels end with a period: every label is new.
	if d := distanceOf(t, ds, "income"); d.Value < 0.5 {
		t.Errorf("income L-inf %.3f: the labels \"<=50K\" and \"<=50K.\" should not match", d.Value)
	}
}

// checkJSD holds a Jensen-Shannon value to the 1e-3 and, since
// these spans are close and their divergences small, also to a share of
// the reference: 1e-6 with 10 bins (no mixed grid bin straddles an edge,
// so the value is exact), 5% with 100 bins, where grid bins of several
// distinct values (trip_miles 0.1..0.9 in [0, 1)) straddle edges and are
// shared out by overlap (measured: 2.6% for trip_miles).
func checkJSD(t *testing.T, got Distance, want float64, bins int) {
	t.Helper()
	rel := 1e-6
	if bins > 10 {
		rel = 0.05
	}
	if got.Measure != JensenShannon || math.Abs(got.Value-want) > 1e-3 || math.Abs(got.Value-want) > rel*want {
		t.Errorf("%s: %s %.8f, reference JSD %.8f (%s)", got.Feature, got.Measure, got.Value, want, got.Detail)
	}
	t.Logf("%s JSD %.8f (reference %.8f, %s)", got.Feature, got.Value, want, got.Detail)
}

// TestJSDivergenceKnown checks the divergence on hand-computed cases.
func TestJSDivergenceKnown(t *testing.T) {
	if got := JSDivergence([]float64{1, 0}, []float64{0, 1}); math.Abs(got-1) > 1e-12 {
		t.Errorf("disjoint JSD %v, want 1 bit", got)
	}
	if got := JSDivergence([]float64{2, 3}, []float64{4, 6}); got > 1e-12 {
		t.Errorf("proportional JSD %v, want 0", got)
	}
	// P = (1/2, 1/2), Q = (1, 0): M = (3/4, 1/4);
	// ½(½log2(2/3) + ½log2(2)) + ½log2(4/3) = 0.311278...
	if got := JSDivergence([]float64{1, 1}, []float64{1, 0}); math.Abs(got-0.3112781244591328) > 1e-12 {
		t.Errorf("JSD %v, want 0.311278", got)
	}
}

// TestLInfinityCountsNumbers: in a categorical feature whose values are
// partly numbers (zip codes and "N/A"), the numbers are values too: 90%
// 60601 and 10% N/A against 50% and 50% is an L-infinity distance of
// 0.4, not 0 (the shares of the strings alone are 100% in both).
func TestLInfinityCountsNumbers(t *testing.T) {
	span := func(zip string, zips, nas int) *FeatureStats {
		var b strings.Builder
		b.WriteString("zip\n")
		for i := 0; i < zips; i++ {
			b.WriteString(zip + "\n")
		}
		for i := 0; i < nas; i++ {
			b.WriteString("N/A\n")
		}
		st, err := computeString(t, b.String(), Options{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		return st.Feature("zip")
	}
	a, b := span("60601", 9, 1), span("60601", 5, 5)
	if a.Type != TypeString {
		t.Fatalf("type %s", a.Type)
	}
	d := LInfinityDistance(a, b)
	if math.Abs(d.Value-0.4) > 1e-12 || d.Approximate {
		t.Errorf("distance %+v, want 0.4", d)
	}
	// "60601.0" is the same value as "60601".
	c := span("60601.0", 5, 5)
	if d := LInfinityDistance(b, c); d.Value != 0 {
		t.Errorf("same data: %+v", d)
	}
}
