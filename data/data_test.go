package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testData returns the shared data folder, skipping (or failing under
// CI=true) when it is missing.
func testData(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("KILN_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	p := filepath.Join(dir, sub)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test data %s missing (set KILN_TEST_DATA)", p)
		}
		t.Skipf("test data %s missing (set KILN_TEST_DATA); skipping", p)
	}
	return p
}

func encode(t testing.TB, typ byte, dims []int, vals []float32, gz bool) []byte {
	var b bytes.Buffer
	if err := EncodeIDX(&b, typ, dims, vals); err != nil {
		t.Fatal(err)
	}
	if !gz {
		return b.Bytes()
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b.Bytes())
	w.Close()
	return z.Bytes()
}

func TestIDXRoundTrip(t *testing.T) {
	vals := []float32{0, 1, 2, 255, 7, 9}
	for _, gz := range []bool{false, true} {
		for _, typ := range []byte{IDXUint8, IDXFloat32} {
			x, err := DecodeIDX(bytes.NewReader(encode(t, typ, []int{2, 3}, vals, gz)), "mem")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := x.Float32s()
			if x.Type != typ || fmt.Sprint(x.Dims) != "[2 3]" || fmt.Sprint(got) != fmt.Sprint(vals) {
				t.Fatalf("gz=%v type %x: %v %v", gz, typ, x.Dims, got)
			}
		}
	}
}

func TestIDXErrors(t *testing.T) {
	good := encode(t, IDXUint8, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}, false)
	huge := []byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated header"},
		{"bad magic", append([]byte{1}, good[1:]...), "bad magic"},
		{"bad type", []byte{0, 0, 0x42, 1, 0, 0, 0, 1, 0}, "unknown element type"},
		{"zero dims", []byte{0, 0, 8, 0}, "zero dimensions"},
		{"short dims", good[:6], "dimension 1 of 2 missing"},
		{"truncated data", good[:len(good)-2], "truncated: want 6 bytes"},
		{"huge header", huge, "declare more than"},
		{"bad gzip", []byte{0x1f, 0x8b, 1, 2, 3}, "gzip"},
	}
	for _, c := range cases {
		_, err := DecodeIDX(bytes.NewReader(c.b), "f.idx")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.idx") {
			t.Errorf("%s: %v, want an error naming f.idx and containing %q", c.name, err, c.want)
		}
	}
	// A truncated gzip stream is reported too.
	gz := encode(t, IDXUint8, []int{100}, make([]float32, 100), true)
	if _, err := DecodeIDX(bytes.NewReader(gz[:len(gz)-12]), "t.gz"); err == nil {
		t.Error("truncated gzip accepted")
	}
}

func FuzzDecodeIDX(f *testing.F) {
	f.Add(encode(f, IDXUint8, []int{2, 2}, []float32{1, 2, 3, 4}, false))
	f.Add(encode(f, IDXFloat32, []int{3}, []float32{1, 2, 3}, true))
	f.Add([]byte{0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeIDX(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		if len(x.Data) != x.Len()*idxSize[x.Type] {
			t.Fatalf("%d data bytes for dims %v type %x", len(x.Data), x.Dims, x.Type)
		}
		if _, err := x.Float32s(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLoadMNIST(t *testing.T) {
	dir := testData(t, "mnist")
	ds, err := LoadMNISTLike(dir, "test", MNISTNorm)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 10000 || ds.Features() != 784 || ds.Classes != 10 {
		t.Fatalf("N=%d features=%d classes=%d", ds.N, ds.Features(), ds.Classes)
	}
	// The first test image is a 7; its normalised pixels span the
	// background value to the ink value.
	if ds.Y[0] != 7 || ds.Y[1] != 2 {
		t.Fatalf("first labels %v", ds.Y[:2])
	}
	lo, hi := ds.X[0], ds.X[0]
	for _, v := range ds.X[:784] {
		lo, hi = min(lo, v), max(hi, v)
	}
	if d := lo - (-0.1307 / 0.3081); d*d > 1e-10 || hi < 2.7 {
		t.Fatalf("pixel range [%v, %v]", lo, hi)
	}
	if _, err := LoadMNISTLike(t.TempDir(), "train", MNISTNorm); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Fatalf("missing files: %v", err)
	}
}

func TestLoadMNISTMismatch(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), encode(t, IDXUint8, []int{3, 2, 2}, make([]float32, 12), false), 0o644)
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), encode(t, IDXUint8, []int{2}, []float32{1, 2}, false), 0o644)
	_, err := LoadMNISTLike(dir, "test", MNISTNorm)
	if err == nil || !strings.Contains(err.Error(), "3 images") {
		t.Fatalf("count mismatch: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), encode(t, IDXUint8, []int{3}, []float32{1, 2, 12}, false), 0o644)
	_, err = LoadMNISTLike(dir, "test", MNISTNorm)
	if err == nil || !strings.Contains(err.Error(), "label 12") {
		t.Fatalf("bad label: %v", err)
	}
}

func toyDataset(n, feat int) *Dataset {
	ds := &Dataset{N: n, SampleShape: []int{feat}, Classes: 10, Source: "toy"}
	for i := 0; i < n; i++ {
		for j := 0; j < feat; j++ {
			ds.X = append(ds.X, float32(i))
		}
		ds.Y = append(ds.Y, int32(i%10))
	}
	return ds
}

func collect(t *testing.T, l *Loader, e int) [][]int {
	t.Helper()
	it := l.Epoch(context.Background(), e)
	defer it.Close()
	var out [][]int
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		for i, idx := range b.Indices {
			if b.X[i*2] != float32(idx) || b.Y[i] != int32(idx%10) {
				t.Fatalf("batch row %d holds sample %v, index says %d", i, b.X[i*2], idx)
			}
		}
		out = append(out, append([]int(nil), b.Indices...))
		b.Release()
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoaderEpochs(t *testing.T) {
	ds := toyDataset(103, 2)
	for _, workers := range []int{0, 1, 3} {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 10, Shuffle: true, Seed: 42, Workers: workers, Prefetch: 2})
		if err != nil {
			t.Fatal(err)
		}
		e0 := collect(t, l, 0)
		if len(e0) != 11 || len(e0[10]) != 3 || l.Len() != 11 {
			t.Fatalf("workers %d: %d batches, last of %d", workers, len(e0), len(e0[len(e0)-1]))
		}
		seen := map[int]bool{}
		for _, b := range e0 {
			for _, i := range b {
				if seen[i] {
					t.Fatalf("index %d twice in an epoch", i)
				}
				seen[i] = true
			}
		}
		if len(seen) != 103 {
			t.Fatalf("%d distinct indices, want 103", len(seen))
		}
		if fmt.Sprint(collect(t, l, 0)) != fmt.Sprint(e0) {
			t.Fatal("same seed and epoch gave another order")
		}
		if fmt.Sprint(collect(t, l, 1)) == fmt.Sprint(e0) {
			t.Fatal("epochs 0 and 1 have the same order")
		}
		sync, _ := NewLoader(ds, LoaderConfig{BatchSize: 10, Shuffle: true, Seed: 42})
		if fmt.Sprint(collect(t, sync, 0)) != fmt.Sprint(e0) {
			t.Fatalf("workers %d: prefetching loader differs from the synchronous one", workers)
		}
	}
}

func TestLoaderShards(t *testing.T) {
	ds := toyDataset(10, 2)
	all := map[int]int{}
	var sizes []int
	for r := 0; r < 3; r++ {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 2, Shuffle: true, Seed: 1, Rank: r, WorldSize: 3, DropLast: false})
		if err != nil {
			t.Fatal(err)
		}
		order := l.Order(0)
		sizes = append(sizes, len(order))
		for _, i := range order {
			all[i]++
		}
	}
	// 10 samples over 3 ranks: 4 each, padded by wrapping two samples.
	if fmt.Sprint(sizes) != "[4 4 4]" || len(all) != 10 {
		t.Fatalf("shard sizes %v, %d distinct", sizes, len(all))
	}
	twice := 0
	for _, c := range all {
		if c == 2 {
			twice++
		}
	}
	if twice != 2 {
		t.Fatalf("%d samples repeated, want the 2 of the padding", twice)
	}
	if _, err := NewLoader(ds, LoaderConfig{BatchSize: 2, Rank: 3, WorldSize: 3}); err == nil {
		t.Fatal("rank outside the world accepted")
	}
}

func TestLoaderCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := toyDataset(1000, 2)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 4, Workers: 3, Prefetch: 2})
	ctx, cancel := context.WithCancel(context.Background())
	it := l.Epoch(ctx, 0)
	it.Next()
	it.Close()
	it2 := l.Epoch(ctx, 1)
	it2.Next()
	cancel()
	if _, ok := it2.Next(); ok {
		// A batch may already be waiting; the next after it must fail.
		for {
			if _, ok := it2.Next(); !ok {
				break
			}
		}
	}
	it2.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}

func BenchmarkLoaderMNIST128(b *testing.B) {
	ds := toyDataset(60000, 784)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 128, Shuffle: true, Workers: 1, Prefetch: 4})
	b.ResetTimer()
	n := 0
	for n < b.N {
		it := l.Epoch(context.Background(), n)
		for n < b.N {
			bt, ok := it.Next()
			if !ok {
				break
			}
			bt.Release()
			n++
		}
		it.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
}

func TestCSV(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.csv")
	os.WriteFile(p, []byte("a,b,label\n1,2,0\n3.5,-1,2\n"), 0o644)
	ds, err := ReadCSVDataset(p, "label")
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 2 || ds.Classes != 3 || fmt.Sprint(ds.X) != "[1 2 3.5 -1]" {
		t.Fatalf("%+v", ds)
	}
	bad := map[string]string{
		"a,b,label\n1,2\n":             "d.csv:2: ragged row",
		"a,b,label\n1,\"x,0\n":         "d.csv:2",
		"a,b,label\n1,zz,0\n":          `d.csv:2: column "b": "zz" is not a number`,
		"a,b,label\n1,2,-1\n":          "not a class index",
		"":                             "empty file",
		"a,b,label\n":                  "header only",
		"a,a,label\n":                  "duplicate column",
		"a,b,label\n1,2,0\n\xff,1,0\n": "not valid UTF-8",
	}
	for content, want := range bad {
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := ReadCSVDataset(p, "label"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
}

func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"))
	f.Add([]byte("x\n\"q\"\"\"\n"))
	f.Add([]byte("a,b\n1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cr, err := NewCSVReader(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			rec, _, err := cr.Next()
			if err != nil {
				return
			}
			if len(rec) != len(cr.Header()) {
				t.Fatalf("record of %d fields under a header of %d", len(rec), len(cr.Header()))
			}
		}
	})
}

func TestPullFromMirror(t *testing.T) {
	src := testData(t, "mnist")
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()
	dir := t.TempDir()
	var log bytes.Buffer
	res, err := Pull(context.Background(), "mnist", PullOptions{Dir: dir, Mirrors: []string{srv.URL + "/missing/", srv.URL}, NoFallback: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Source, srv.URL) || len(res.Files) != 4 || !strings.Contains(log.String(), "404") {
		t.Fatalf("result %+v, log %s", res, log.String())
	}
	if _, err := LoadMNISTLike(dir, "test", MNISTNorm); err != nil {
		t.Fatal(err)
	}
	// A second pull finds the verified files in place.
	res, err = Pull(context.Background(), "mnist", PullOptions{Dir: dir, Mirrors: []string{}, NoFallback: true})
	if err != nil || !strings.Contains(res.Source, "already present") {
		t.Fatalf("second pull: %+v %v", res, err)
	}
}

func TestPullRejectsBadData(t *testing.T) {
	// A mirror serving corrupt files (right names, wrong bytes) is refused
	// and nothing is left in the destination.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(encode(t, IDXUint8, []int{4}, []float32{1, 2, 3, 4}, true))
	}))
	defer srv.Close()
	dir := t.TempDir()
	_, err := Pull(context.Background(), "mnist", PullOptions{Dir: dir, Mirrors: []string{srv.URL}, NoFallback: true})
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("corrupt mirror: %v", err)
	}
	// A connection that dies half-way is an error too.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write([]byte{0x1f, 0x8b, 8, 0})
	}))
	defer cut.Close()
	if _, err := Pull(context.Background(), "mnist", PullOptions{Dir: dir, Mirrors: []string{cut.URL}, NoFallback: true}); err == nil {
		t.Fatal("interrupted download accepted")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("failed pulls left %d files", len(ents))
	}
	if _, err := Pull(context.Background(), "cifar", PullOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "unknown data set") {
		t.Fatalf("unknown set: %v", err)
	}
}
