package serve

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// The call size for each batch size is the one with the least time per
// row at or below it: the times OpenBLAS gave the MNIST MLP here (15, 18,
// 24, 97, 150 µs for 1-16 rows) make batches of 8 and 16 run as calls of 4.
func TestChooseChunks(t *testing.T) {
	us := time.Microsecond
	cases := []struct {
		times []time.Duration
		want  []int
	}{
		{[]time.Duration{15 * us, 18 * us, 24 * us, 97 * us, 150 * us}, []int{1, 2, 4, 4, 4}},
		{[]time.Duration{10 * us, 20 * us, 40 * us, 60 * us}, []int{1, 1, 1, 8}}, // ties keep the smaller
		{[]time.Duration{10 * us, 19 * us, 37 * us, 72 * us}, []int{1, 2, 4, 8}},
		{[]time.Duration{5 * us}, []int{1}},
	}
	for _, c := range cases {
		if got := chooseChunks(c.times); !reflect.DeepEqual(got, c.want) {
			t.Errorf("chooseChunks(%v) = %v, want %v", c.times, got, c.want)
		}
	}
}

func TestChunkFor(t *testing.T) {
	// Calibrated up to 32 rows, as OpenBLAS gave the MNIST MLP here: calls
	// of 4 rows best from 4 to 16, a 32-row call best at 32.
	m := &Model{chunks: []int{1, 2, 4, 4, 4, 32}}
	cases := map[int]int{
		1: 1, 2: 2, 3: 3, // calls of 1, 2 and 4 rows were each best at their size
		4: 4, 5: 4, 7: 4, // at 8, calls of 4 beat 8: a slow path starts after 4
		8: 4, 31: 4, // at 8 and 16, calls of 4 were best
		32: 32, 33: 33, 100: 100, 5000: 5000, // the largest measured call was best
	}
	for n, want := range cases {
		if got := m.chunkFor(n); got != want {
			t.Errorf("chunkFor(%d) = %d, want %d", n, got, want)
		}
	}
	// A memory-bound model whose calibration stopped at 16 rows, each size
	// best at itself: no batch is split.
	big := &Model{chunks: []int{1, 2, 4, 8, 16}}
	for _, n := range []int{3, 12, 16, 24, 256} {
		if got := big.chunkFor(n); got != n {
			t.Errorf("memory-bound chunkFor(%d) = %d, want %d", n, got, n)
		}
	}
	// Beyond the calibration, a smaller call that was best at its end
	// still splits larger batches.
	if got := (&Model{chunks: []int{1, 2, 4, 4}}).chunkFor(100); got != 4 {
		t.Errorf("chunkFor(100) calibrated to 8 rows with calls of 4 best = %d, want 4", got)
	}
	if got := (&Model{}).chunkFor(7); got != 7 {
		t.Errorf("uncalibrated chunkFor(7) = %d, want 7", got)
	}
}

// A calibrated model answers every batch size as the uncalibrated one
// does, whatever call sizes its calibration chose; and a forced split
// (every call one row) too.
func TestCalibratedModelAnswersAsUncalibrated(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{64, 32}, 1, nil)
	plain, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	times := cal.Calibrate(64)
	if len(times) != 7 || len(cal.Chunks()) != 7 {
		t.Fatalf("calibrating to 64 rows measured %v and chose %v, want 7 sizes (1 to 64)", times, cal.Chunks())
	}
	one, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	one.chunks = []int{1, 1, 1, 1, 1, 1, 1}
	for _, n := range []int{1, 2, 3, 5, 8, 13, 64, 100} {
		x := images(n, uint64(n))
		want := plain.Predict(x, n)
		for name, m := range map[string]*Model{"calibrated": cal, "one row per call": one} {
			got := m.Predict(x, n)
			if len(got) != len(want) {
				t.Fatalf("%s, %d rows: %d values, want %d", name, n, len(got), len(want))
			}
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Fatalf("%s, %d rows: value %d is %v, uncalibrated %v", name, n, i, got[i], want[i])
				}
			}
		}
	}
}
