package data

import (
	"fmt"
	"os"
	"path/filepath"
)

// Normalize maps pixels scaled to [0, 1] to (x − Mean)/Std.
type Normalize struct{ Mean, Std float32 }

// The usual normalisation constants (training-set mean and deviation).
var (
	MNISTNorm        = Normalize{Mean: 0.1307, Std: 0.3081}
	FashionMNISTNorm = Normalize{Mean: 0.2860, Std: 0.3530}
)

// Dataset is a labelled classification data set held in memory.
type Dataset struct {
	// X holds N samples of Features() values each, row-major.
	X []float32
	// Y holds the N labels in [0, Classes).
	Y []int32
	N int
	// SampleShape is the shape of one sample, e.g. [1, 28, 28].
	SampleShape []int
	Classes     int
	// Source says where the data came from (file paths).
	Source string
}

// Features returns the number of values per sample.
func (d *Dataset) Features() int {
	n := 1
	for _, s := range d.SampleShape {
		n *= s
	}
	return n
}

// findFile returns dir/base or dir/base.gz, whichever exists.
func findFile(dir, base string) (string, error) {
	for _, name := range []string{base, base + ".gz"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("data set in %s: neither %s nor %s.gz found", dir, base, base)
}

// LoadMNISTLike loads the "train" or "test" split of an MNIST-format data
// set (MNIST, Fashion-MNIST) from dir: the files train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
// each optionally gzipped. Pixels are scaled to [0, 1] and normalised.
func LoadMNISTLike(dir, split string, norm Normalize) (*Dataset, error) {
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("data: unknown split %q (train, test)", split)
	}
	ip, err := findFile(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lp, err := findFile(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	img, err := ReadIDX(ip)
	if err != nil {
		return nil, err
	}
	lab, err := ReadIDX(lp)
	if err != nil {
		return nil, err
	}
	if img.Type != IDXUint8 || len(img.Dims) != 3 {
		return nil, fmt.Errorf("read idx %s: want uint8 images of 3 dimensions, got type 0x%02x dimensions %v", ip, img.Type, img.Dims)
	}
	if lab.Type != IDXUint8 || len(lab.Dims) != 1 {
		return nil, fmt.Errorf("read idx %s: want uint8 labels of 1 dimension, got type 0x%02x dimensions %v", lp, lab.Type, lab.Dims)
	}
	n := img.Dims[0]
	if lab.Dims[0] != n {
		return nil, fmt.Errorf("data set in %s: %d images in %s but %d labels in %s", dir, n, filepath.Base(ip), lab.Dims[0], filepath.Base(lp))
	}
	if norm.Std == 0 {
		norm.Std = 1
	}
	x := make([]float32, len(img.Data))
	scale, shift := 1/(255*norm.Std), norm.Mean/norm.Std
	for i, p := range img.Data {
		x[i] = float32(p)*scale - shift
	}
	y := make([]int32, n)
	for i, l := range lab.Data {
		if l >= 10 {
			return nil, fmt.Errorf("read idx %s: label %d of item %d is not a digit class 0-9", lp, l, i)
		}
		y[i] = int32(l)
	}
	return &Dataset{X: x, Y: y, N: n, SampleShape: []int{1, img.Dims[1], img.Dims[2]}, Classes: 10, Source: ip + ", " + lp}, nil
}
