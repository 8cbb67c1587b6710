package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/label"
)

func TestStratifiedSplit(t *testing.T) {
	gold := make([]int, 370)
	for i := range gold {
		if i < 174 {
			gold[i] = 1
		}
	}
	first, second := stratifiedSplit(gold, 250, 123)
	if len(first) != 120 || len(second) != 250 {
		t.Fatalf("split %d/%d", len(first), len(second))
	}
	spam := 0
	seen := map[int]bool{}
	for _, i := range second {
		spam += gold[i]
		seen[i] = true
	}
	for _, i := range first {
		if seen[i] {
			t.Fatalf("row %d in both parts", i)
		}
	}
	// 250 × 174/370 = 117.6: stratified means 117 or 118 spam rows.
	if spam < 117 || spam > 118 {
		t.Fatalf("%d spam rows in the test part", spam)
	}
	a, b := stratifiedSplit(gold, 250, 123)
	if a[0] != first[0] || b[0] != second[0] {
		t.Fatal("the split is not repeatable")
	}
}

// TestLabelingFunctionsOnTrain compiles lfs.yaml and checks that every
// function runs without failing on videos 1–4.
func TestLabelingFunctionsOnTrain(t *testing.T) {
	dir := os.Getenv("KILN_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	dir = filepath.Join(dir, "youtube-spam")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test data %s not found", dir)
		}
		t.Skipf("test data %s not found", dir)
	}
	set, err := label.LoadSpec("lfs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var recs []label.Record
	for _, v := range videos[:4] {
		r, err := label.ReadAll(filepath.Join(dir, v), "csv")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r...)
	}
	L, st, err := label.ApplyRecords(set, recs, label.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for j, e := range st.Errors {
		if e != 0 {
			t.Errorf("%s failed on %d records: %s", set.LFs[j].Name(), e, st.FirstError[j])
		}
	}
	if cov := float64(len(L.CoveredRows())) / float64(L.N); cov < 0.8 {
		t.Errorf("coverage %.3f", cov)
	}
}
