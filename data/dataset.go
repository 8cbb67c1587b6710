package data

import (
	"fmt"
	"math"
)

// Dataset is a labelled classification data set held in memory.
type Dataset struct {
	// X holds N samples of Features() values each, row-major.
	X []float32
	// Y holds the N labels, each in [0, Classes).
	Y []int32
	// N is the number of samples.
	N int
	// SampleShape is the shape of one sample, e.g. [1, 28, 28] for an
	// MNIST image or [13] for a row of 13 features.
	SampleShape []int
	// Classes is the number of classes.
	Classes int
	// Source says where the data came from (file paths).
	Source string
}

// Features returns the number of values per sample: the product of
// SampleShape.
func (d *Dataset) Features() int {
	n := 1
	for _, s := range d.SampleShape {
		n *= s
	}
	return n
}

// Validate checks that the fields agree: len(X) = N × Features(),
// len(Y) = N, every label in [0, Classes). Errors name d.Source.
func (d *Dataset) Validate() error {
	if d.N < 0 || len(d.SampleShape) == 0 {
		return fmt.Errorf("data set %s: %d samples of shape %v", d.Source, d.N, d.SampleShape)
	}
	for _, s := range d.SampleShape {
		if s <= 0 {
			return fmt.Errorf("data set %s: sample shape %v has a dimension below 1", d.Source, d.SampleShape)
		}
	}
	if f := d.Features(); len(d.X) != d.N*f {
		return fmt.Errorf("data set %s: %d values in X, want %d samples × %d features = %d", d.Source, len(d.X), d.N, f, d.N*f)
	}
	if len(d.Y) != d.N {
		return fmt.Errorf("data set %s: %d labels for %d samples", d.Source, len(d.Y), d.N)
	}
	for i, y := range d.Y {
		if y < 0 || int(y) >= d.Classes {
			return fmt.Errorf("data set %s: label %d of sample %d outside [0, %d)", d.Source, y, i, d.Classes)
		}
	}
	return nil
}

// Normalize maps pixels scaled to [0, 1] to (x − Mean)/Std. The zero value
// leaves them in [0, 1].
type Normalize struct{ Mean, Std float32 }

// The usual normalisation constants: each training set's pixel mean and
// standard deviation.
var (
	MNISTNorm        = Normalize{Mean: 0.1307, Std: 0.3081}
	FashionMNISTNorm = Normalize{Mean: 0.2860, Std: 0.3530}
)

// Pixels writes the normalised value of every 8-bit pixel of src into dst,
// which must be at least as long: dst[i] = (src[i]/255 − Mean)/Std.
func (n Normalize) Pixels(dst []float32, src []uint8) {
	std := n.Std
	if std == 0 {
		std = 1
	}
	// One multiply-add per pixel: x/(255·std) − mean/std.
	scale, shift := 1/(255*std), n.Mean/std
	dst = dst[:len(src)]
	for i, p := range src {
		dst[i] = float32(p)*scale - shift
	}
}

// check rejects constants that would make every value NaN or infinite.
func (n Normalize) check() error {
	if math.IsNaN(float64(n.Mean)) || math.IsInf(float64(n.Mean), 0) || math.IsNaN(float64(n.Std)) || math.IsInf(float64(n.Std), 0) || n.Std < 0 {
		return fmt.Errorf("normalisation mean %v std %v: want finite values and std ≥ 0", n.Mean, n.Std)
	}
	return nil
}
