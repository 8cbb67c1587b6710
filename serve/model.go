package serve

import (
	"fmt"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// Names of the tensors every Kiln classifier takes and returns.
const (
	// InputName is the name of a model's one input tensor.
	InputName = "input"
	// ProbabilitiesName is the output holding class probabilities (N, classes).
	ProbabilitiesName = "probabilities"
	// ClassName is the output holding the most probable class (N).
	ClassName = "class"
)

// Model is one loaded version of a model: a network saved by kiln train,
// ready to run batches. Its Predict is not safe for concurrent use; each
// version's batcher calls it from one goroutine, as Clipper's model
// containers run one batch at a time.
type Model struct {
	// Name and Version say where the model came from in the repository.
	Name, Version string
	// Info is the saved model.json.
	Info *nn.SavedModel
	// Features is the number of values in one input row.
	Features int
	// Classes is the number of outputs per row.
	Classes int
	// Sample is the shape of one input row, e.g. [784] or [1 28 28].
	Sample []int

	net  nn.Module
	tape *autograd.Tape
	buf  []float32
	// chunks, when calibrated, gives for each power of two p (index
	// log2 p) the rows per network call that run a batch of p or more
	// rows fastest (chunk.go).
	chunks []int
}

// NewModel wraps a network built from info for serving.
func NewModel(name, version string, info *nn.SavedModel, net nn.Module) (*Model, error) {
	feat := tensor.Numel(info.Config.Input)
	if feat < 1 || info.Config.Classes < 1 {
		return nil, fmt.Errorf("model %s/%s: input shape %v with %d classes cannot be served", name, version, info.Config.Input, info.Config.Classes)
	}
	net.SetTraining(false)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	sample := append([]int(nil), info.Config.Input...)
	if info.Config.FlattenInput() {
		sample = []int{feat}
	}
	if info.Std == 0 { // as nn.LoadModel does, for an info built by hand
		info.Std = 1
	}
	return &Model{Name: name, Version: version, Info: info, Features: feat, Classes: info.Config.Classes, Sample: sample, net: net, tape: tp}, nil
}

// LoadModel reads a folder written by kiln train --out.
func LoadModel(name, version, dir string) (*Model, error) {
	info, net, err := nn.LoadModel(dir)
	if err != nil {
		return nil, err
	}
	return NewModel(name, version, info, net)
}

// Predict returns the class probabilities (n × Classes, row-major) of n
// rows of raw inputs x (n × Features, pixels in [0, 1]); inputs are
// normalised with the model's saved mean and standard deviation first.
func (m *Model) Predict(x []float32, n int) []float32 {
	return m.PredictParts([][]float32{x}, n)
}

// PredictParts is Predict of the rows of parts one after another (each a
// whole number of rows, n in all). A batch of several requests is
// normalised straight from each request's rows into the model's input, so
// that it is not first copied into one slice.
func (m *Model) PredictParts(parts [][]float32, n int) []float32 {
	total := 0
	for _, x := range parts {
		total += len(x)
	}
	if total != n*m.Features {
		panic(fmt.Sprintf("serve: Predict got %d values for %d rows of %d", total, n, m.Features))
	}
	if cap(m.buf) < total {
		m.buf = make([]float32, total)
	}
	in := m.buf[:total]
	mean, inv := m.Info.Mean, 1/m.Info.Std
	off := 0
	for _, x := range parts {
		dst := in[off : off+len(x)]
		for i, v := range x {
			dst[i] = (v - mean) * inv
		}
		off += len(x)
	}
	c := m.chunkFor(n)
	if c >= n {
		return m.forward(in, n, nil)
	}
	out := make([]float32, 0, n*m.Classes)
	for off := 0; off < n; off += c {
		k := min(c, n-off)
		out = m.forward(in[off*m.Features:(off+k)*m.Features], k, out)
	}
	return out
}

// forward runs the network on n normalised rows and appends their class
// probabilities to out.
func (m *Model) forward(in []float32, n int, out []float32) []float32 {
	m.tape.Reset()
	shape := append([]int{n}, m.Sample...)
	probs := autograd.Softmax(m.net.Forward(m.tape.Const(&tensor.Tensor{Data: in, Shape: shape})))
	return append(out, probs.Data.Data...)
}
