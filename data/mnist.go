package data

import (
	"fmt"
	"os"
	"path/filepath"
)

// MNIST file names, without the optional ".gz": the split's prefix ("train"
// or "t10k") followed by one of these.
const (
	mnistImages = "-images-idx3-ubyte"
	mnistLabels = "-labels-idx1-ubyte"
)

// findFile returns dir/base or dir/base.gz, whichever exists (base first).
func findFile(dir, base string) (string, error) {
	for _, name := range []string{base, base + ".gz"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("data set in %s: neither %s nor %s.gz found: %w", dir, base, base, os.ErrNotExist)
}

// LoadMNISTLike loads the "train" or "test" split of an MNIST-format data
// set (MNIST, Fashion-MNIST) from dir: the files train-images-idx3-ubyte and
// train-labels-idx1-ubyte, or t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each raw or gzipped (with the suffix .gz). Pixels
// are scaled to [0, 1] and normalised with norm; the samples have shape
// [1, rows, cols] and ten classes. Errors name the file at fault: a missing
// file, images that are not uint8 N×rows×cols, labels that are not uint8 N,
// counts that disagree, a label above 9.
func LoadMNISTLike(dir, split string, norm Normalize) (*Dataset, error) {
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("data set in %s: unknown split %q (want train or test)", dir, split)
	}
	if err := norm.check(); err != nil {
		return nil, fmt.Errorf("data set in %s: %w", dir, err)
	}
	ip, err := findFile(dir, prefix+mnistImages)
	if err != nil {
		return nil, err
	}
	lp, err := findFile(dir, prefix+mnistLabels)
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
	if img.Type != IDXUint8 || len(img.Dims) != 3 || img.Dims[1] == 0 || img.Dims[2] == 0 {
		return nil, fmt.Errorf("read idx %s: want uint8 (0x08) images of 3 dimensions N×rows×cols, got type 0x%02x dimensions %v", ip, img.Type, img.Dims)
	}
	if lab.Type != IDXUint8 || len(lab.Dims) != 1 {
		return nil, fmt.Errorf("read idx %s: want uint8 (0x08) labels of 1 dimension, got type 0x%02x dimensions %v", lp, lab.Type, lab.Dims)
	}
	n := img.Dims[0]
	if lab.Dims[0] != n {
		return nil, fmt.Errorf("data set in %s: %d images in %s but %d labels in %s", dir, n, filepath.Base(ip), lab.Dims[0], filepath.Base(lp))
	}
	y := make([]int32, n)
	for i, l := range lab.Data {
		if l >= 10 {
			return nil, fmt.Errorf("read idx %s: label %d of item %d is not a class 0-9", lp, l, i)
		}
		y[i] = int32(l)
	}
	x := make([]float32, len(img.Data))
	norm.Pixels(x, img.Data)
	return &Dataset{X: x, Y: y, N: n, SampleShape: []int{1, img.Dims[1], img.Dims[2]}, Classes: 10, Source: ip + ", " + lp}, nil
}
