package label

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
)

func TestSaveLoadModels(t *testing.T) {
	L, _ := synthFor(t, 5000, []float64{0.9, 0.7, 0.8, 0.6}, []float64{0.5, 0.5, 0.5, 0.5}, []float64{0.4, 0.6}, 9)
	ml := L.SelectLFs([]int{0, 1, 2, 3})
	ml.Tasks = []int{0, 0, 1, 1}
	ml.K = 2
	for _, tc := range []struct {
		md Model
		L  *Matrix
	}{
		{&MajorityVote{}, L},
		{&DawidSkene{}, L},
		{&MatrixCompletion{AbstainEvidence: true}, L},
		{&MultiLabel{}, ml},
	} {
		if err := tc.md.Fit(tc.L); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "m.json")
		if err := SaveModel(path, tc.md); err != nil {
			t.Fatal(err)
		}
		back, err := LoadModel(path)
		if err != nil {
			t.Fatal(err)
		}
		p1, _ := tc.md.PredictProba(tc.L)
		p2, err := back.PredictProba(tc.L)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p1.P {
			if p1.P[i] != p2.P[i] {
				t.Fatalf("%T: reloaded model predicts %g, original %g", tc.md, p2.P[i], p1.P[i])
			}
		}
	}
	if err := SaveModel(filepath.Join(t.TempDir(), "x.json"), &MatrixCompletion{}); !errors.Is(err, ErrNotFitted) {
		t.Fatalf("saving an unfitted model: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"kind": "matrix_completion", "functions": 2, "classes": 2, "mu": [1]}`), 0o644)
	if _, err := LoadModel(bad); err == nil {
		t.Fatal("a model with a short mu loaded")
	}
}

func TestSaveModelFailsHalfWay(t *testing.T) {
	L, _ := synthFor(t, 2000, []float64{0.9, 0.7, 0.8}, []float64{0.5, 0.5, 0.5}, []float64{0.5, 0.5}, 1)
	md := &MatrixCompletion{}
	if err := md.Fit(L); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.json")
	for fail := 0; ; fail++ {
		err := saveModel(errorfs.New(fail), path, md)
		if err == nil {
			break
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != "m.json" {
				t.Fatalf("fail at %d: %s left behind", fail, e.Name())
			}
		}
		if _, statErr := os.Stat(path); statErr == nil {
			if _, lerr := LoadModel(path); lerr != nil {
				t.Fatalf("fail at %d: torn file: %v", fail, lerr)
			}
		}
	}
}
