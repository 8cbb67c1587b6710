package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testData returns a folder of the shared data sets (KILN_TEST_DATA, or
// ../shared/data beside the repository root), skipping the test when it is
// missing, or failing it under CI=true.
func testData(t testing.TB, sub string) string {
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

// encode returns an IDX stream of values, gzipped when gz is set.
func encode(t testing.TB, typ byte, dims []int, vals []float32, gz bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := EncodeIDX(&b, typ, dims, vals); err != nil {
		t.Fatal(err)
	}
	if !gz {
		return b.Bytes()
	}
	return gzipBytes(b.Bytes())
}

func gzipBytes(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

// wantErr fails unless err is not nil and its message holds every part.
func wantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one containing %q", what, parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q, want it to contain %q", what, err, p)
		}
	}
}

// checkNoLoaderGoroutines fails if a goroutine of this package's loader is
// still alive shortly after the call (a hand-written goleak: it looks for
// the loader's frames in every goroutine's stack, so other tests running
// in parallel do not disturb it).
func checkNoLoaderGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "data.(*EpochIter).work") {
			return
		}
	}
	t.Fatalf("loader goroutines still running:\n%s", stacks)
}

// skipUnderRace skips a test that only decodes or hashes the real data
// sets: it has no concurrency for the race detector to check, and runs ten
// times slower under it.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("data-heavy and single-threaded: runs without -race only")
	}
}
