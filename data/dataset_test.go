package data

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadMNIST(t *testing.T) {
	skipUnderRace(t)
	dir := testData(t, "mnist")
	ds, err := LoadMNISTLike(dir, "test", MNISTNorm)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 10000 || ds.Features() != 784 || ds.Classes != 10 || fmt.Sprint(ds.SampleShape) != "[1 28 28]" {
		t.Fatalf("N=%d features=%d classes=%d shape %v", ds.N, ds.Features(), ds.Classes, ds.SampleShape)
	}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	// The first test images are a 7 and a 2; pixels span the background
	// value (0 − 0.1307)/0.3081 to the ink value (1 − 0.1307)/0.3081.
	if ds.Y[0] != 7 || ds.Y[1] != 2 {
		t.Fatalf("first labels %v", ds.Y[:2])
	}
	lo, hi := ds.X[0], ds.X[0]
	for _, v := range ds.X[:784] {
		lo, hi = min(lo, v), max(hi, v)
	}
	if math.Abs(float64(lo)+0.1307/0.3081) > 1e-5 || math.Abs(float64(hi)-(1-0.1307)/0.3081) > 1e-5 {
		t.Fatalf("pixel range [%v, %v]", lo, hi)
	}
	// Over the whole training set the normalised pixels have mean ≈ 0 and
	// deviation ≈ 1: the constants are MNIST's.
	tr, err := LoadMNISTLike(dir, "train", MNISTNorm)
	if err != nil {
		t.Fatal(err)
	}
	var s, ss float64
	for _, v := range tr.X {
		s += float64(v)
		ss += float64(v) * float64(v)
	}
	mean := s / float64(len(tr.X))
	std := math.Sqrt(ss/float64(len(tr.X)) - mean*mean)
	if tr.N != 60000 || math.Abs(mean) > 1e-3 || math.Abs(std-1) > 1e-3 {
		t.Fatalf("train: N=%d mean %.5f std %.5f", tr.N, mean, std)
	}
}

func TestLoadMNISTLikeErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadMNISTLike(dir, "train", MNISTNorm)
	wantErr(t, "missing files", err, "train-images-idx3-ubyte", dir)
	_, err = LoadMNISTLike(dir, "valid", MNISTNorm)
	wantErr(t, "bad split", err, `unknown split "valid"`)

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	img := write("t10k-images-idx3-ubyte", encode(t, IDXUint8, []int{3, 2, 2}, make([]float32, 12), false))
	lab := write("t10k-labels-idx1-ubyte", encode(t, IDXUint8, []int{2}, []float32{1, 2}, false))
	_, err = LoadMNISTLike(dir, "test", MNISTNorm)
	wantErr(t, "count mismatch", err, "3 images in t10k-images-idx3-ubyte but 2 labels in t10k-labels-idx1-ubyte")

	write("t10k-labels-idx1-ubyte", encode(t, IDXUint8, []int{3}, []float32{1, 2, 12}, false))
	_, err = LoadMNISTLike(dir, "test", MNISTNorm)
	wantErr(t, "bad label", err, lab, "label 12 of item 2")

	write("t10k-labels-idx1-ubyte", encode(t, IDXInt16, []int{3}, []float32{1, 2, 3}, false))
	_, err = LoadMNISTLike(dir, "test", MNISTNorm)
	wantErr(t, "labels of another type", err, lab, "type 0x0b")

	write("t10k-labels-idx1-ubyte", encode(t, IDXUint8, []int{3}, []float32{1, 2, 3}, false))
	write("t10k-images-idx3-ubyte", encode(t, IDXUint8, []int{12}, make([]float32, 12), false))
	_, err = LoadMNISTLike(dir, "test", MNISTNorm)
	wantErr(t, "images of 1 dimension", err, img, "dimensions [12]")

	write("t10k-images-idx3-ubyte", []byte{0, 0, 8, 3, 0, 0})
	_, err = LoadMNISTLike(dir, "test", MNISTNorm)
	wantErr(t, "corrupt images", err, img, "truncated header")

	// A raw file is preferred over a gzipped one; the zero Normalize
	// keeps pixels in [0, 1].
	os.Remove(img)
	write("t10k-images-idx3-ubyte.gz", encode(t, IDXUint8, []int{3, 1, 2}, []float32{0, 255, 51, 0, 0, 0}, true))
	ds, err := LoadMNISTLike(dir, "test", Normalize{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.X[0] != 0 || ds.X[1] != 1 || math.Abs(float64(ds.X[2])-0.2) > 1e-6 || fmt.Sprint(ds.SampleShape) != "[1 1 2]" || fmt.Sprint(ds.Y) != "[1 2 3]" {
		t.Fatalf("X %v shape %v Y %v", ds.X, ds.SampleShape, ds.Y)
	}
	_, err = LoadMNISTLike(dir, "test", Normalize{Mean: 0, Std: float32(math.NaN())})
	wantErr(t, "NaN std", err, "normalisation")
}

func TestDatasetValidate(t *testing.T) {
	good := Dataset{X: make([]float32, 6), Y: []int32{0, 2}, N: 2, SampleShape: []int{3}, Classes: 3, Source: "s"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(d *Dataset){
		"values in X":      func(d *Dataset) { d.X = d.X[:5] },
		"2 labels for 3":   func(d *Dataset) { d.N = 3; d.X = make([]float32, 9) },
		"label 3 of":       func(d *Dataset) { d.Classes = 3; d.Y = []int32{0, 3} },
		"label -1":         func(d *Dataset) { d.Y = []int32{-1, 0} },
		"dimension below":  func(d *Dataset) { d.SampleShape = []int{0} },
		"samples of shape": func(d *Dataset) { d.SampleShape = nil },
	}
	for want, mutate := range cases {
		d := good
		mutate(&d)
		wantErr(t, want, d.Validate(), want, "data set s")
	}
}
