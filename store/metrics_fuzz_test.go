package store

import (
	"math"
	"testing"
)

func TestMetricsRoundTrip(t *testing.T) {
	ms := []Metric{{"loss", 1, 2.5, 10}, {"loss", -3, math.Inf(-1), 11}, {"loss", 1 << 40, math.SmallestNonzeroFloat64, -1}}
	got, err := decodeMetrics(nil, "loss", encodeMetrics(ms), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ms {
		if got[i] != ms[i] {
			t.Fatalf("value %d: %+v, want %+v", i, got[i], ms[i])
		}
	}
	if _, err := decodeMetrics(nil, "loss", encodeMetrics(ms)[:70], 3); err == nil {
		t.Fatal("a short chunk decoded")
	}
}

func FuzzDecodeMetrics(f *testing.F) {
	f.Add(encodeMetrics([]Metric{{"m", 1, 0.5, 7}}), int64(1))
	f.Add([]byte{1, 2, 3}, int64(1))
	f.Fuzz(func(t *testing.T, data []byte, n int64) {
		ms, err := decodeMetrics(nil, "m", data, n)
		if err != nil {
			return
		}
		if int64(len(ms)) != n {
			t.Fatalf("%d values for n = %d", len(ms), n)
		}
		if b := encodeMetrics(ms); string(b) != string(data) {
			t.Fatal("re-encoding differs")
		}
	})
}
