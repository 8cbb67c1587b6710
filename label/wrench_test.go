package label

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// testData returns a folder of the shared data, skipping the test when it
// is missing (and failing under CI=true).
func testData(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("KILN_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	p := filepath.Join(dir, sub)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test data %s not found: %v", p, err)
		}
		t.Skipf("test data %s not found", p)
	}
	return p
}

const wrenchSample = `{
 "1": {"label": 1, "weak_labels": [1, -1, 0], "data": {"text": "b"}},
 "0": {"label": 0, "weak_labels": [-1, -1, 0], "data": {"text": "a"}},
 "10": {"label": 1, "weak_labels": [1, 1, -1], "data": {"text": "c"}}
}`

func TestParseWrench(t *testing.T) {
	sp, err := ParseWrench([]byte(wrenchSample), []string{"HAM", "SPAM"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sp.L.Dense(), [][]int{{-1, -1, 0}, {1, -1, 0}, {1, 1, -1}}) || !reflect.DeepEqual(sp.Gold, []int{0, 1, 1}) {
		t.Fatalf("rows out of id order: %v %v", sp.L.Dense(), sp.Gold)
	}
	if sp.Records[2]["text"] != "c" {
		t.Fatalf("records %v", sp.Records)
	}
	_, err = ParseWrench([]byte(`{"0": {"label": 0, "weak_labels": [2], "data": {}}}`), []string{"a", "b"})
	if !errors.Is(err, ErrOutsideClasses) {
		t.Fatalf("weak label 2 of 2 classes: %v", err)
	}
	if _, err := ParseWrench([]byte(`{"0": {"label": 0, "weak_labels": [0]}, "1": {"label": 0, "weak_labels": [0, 1]}}`), nil); err == nil {
		t.Fatal("ragged weak labels accepted")
	}
}

// TestWrenchYouTube: on WRENCH's YouTube set, with its 10 labeling
// functions' votes, the label model beats majority vote on test.
func TestWrenchYouTube(t *testing.T) {
	train, valid, test, err := LoadWrench(testData(t, "wrench/youtube"))
	if err != nil {
		t.Fatal(err)
	}
	if train.L.N != 1686 || valid.L.N != 120 || test.L.N != 250 || train.L.M != 10 {
		t.Fatalf("shapes %d/%d/%d × %d", train.L.N, valid.L.N, test.L.N, train.L.M)
	}
	res, err := EvaluateWrench(train, valid, test, TieBreak{Policy: TieRandom}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("majority vote %.4f (F1 %.4f), label model %.4f (F1 %.4f): %s", res.MajorityVoteAcc, res.MajorityVoteF1, res.LabelModelAcc, res.LabelModelF1, res.LabelModel)
	if res.LabelModelAcc <= res.MajorityVoteAcc {
		t.Errorf("label model %.4f does not beat majority vote %.4f", res.LabelModelAcc, res.MajorityVoteAcc)
	}
}

func FuzzParseWrench(f *testing.F) {
	f.Add([]byte(wrenchSample))
	f.Add([]byte(`{"0": {"label": null, "weak_labels": [], "data": {}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := ParseWrench(b, nil)
		if err != nil {
			return
		}
		if err := sp.L.Validate(); err != nil {
			t.Fatalf("parsed an invalid matrix: %v", err)
		}
	})
}
