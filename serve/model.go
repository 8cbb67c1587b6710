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
	// folded tells that the normalisation is folded into net's first
	// layer (foldNormalisation), so that raw inputs go in as they are.
	folded bool
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
	m := &Model{Name: name, Version: version, Info: info, Features: feat, Classes: info.Config.Classes, Sample: sample, net: net, tape: tp}
	if f, ok := foldNormalisation(net, feat, info.Mean, info.Std); ok {
		m.net, m.folded = f, true
	}
	return m, nil
}

// foldNormalisation returns, for a network whose first layer is Linear on
// the whole input row, a copy that takes raw inputs: W((x-mean)/std) + b
// is (W/std)x + (b - (mean/std)·ΣW), so the pass that normalised every
// input value before the network (a tenth of the MNIST MLP's time in a
// batch) goes. The network given is not changed; the copy shares all but
// the first layer. A convolution first is not folded: its zero padding
// stands for the mean in normalised inputs, which raw inputs cannot say.
func foldNormalisation(net nn.Module, feat int, mean, std float32) (nn.Module, bool) {
	seq, ok := net.(*nn.Sequential)
	if !ok || len(seq.Layers) == 0 {
		return nil, false
	}
	lin, ok := seq.Layers[0].(*nn.Linear)
	if !ok || len(lin.Weight.Data.Shape) != 2 || lin.Weight.Data.Shape[1] != feat {
		return nil, false
	}
	out := lin.Weight.Data.Shape[0]
	inv := 1 / float64(std)
	w := tensor.New(out, feat)
	b := tensor.New(out)
	for i := range out {
		row := lin.Weight.Data.Data[i*feat : (i+1)*feat]
		var sum float64
		for j, v := range row {
			sum += float64(v)
			w.Data[i*feat+j] = float32(float64(v) * inv)
		}
		var bias float64
		if lin.Bias != nil {
			bias = float64(lin.Bias.Data.Data[i])
		}
		b.Data[i] = float32(bias - float64(mean)*inv*sum)
	}
	first := &nn.Linear{Weight: autograd.NewParam(lin.Weight.Name, w), Bias: autograd.NewParam("bias", b)}
	return &nn.Sequential{Layers: append([]nn.Module{first}, seq.Layers[1:]...)}, true
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
// normalised (or, folded, copied) straight from each request's rows into
// the model's input; one part of a folded model is read where it is.
func (m *Model) PredictParts(parts [][]float32, n int) []float32 {
	total := 0
	for _, x := range parts {
		total += len(x)
	}
	if total != n*m.Features {
		panic(fmt.Sprintf("serve: Predict got %d values for %d rows of %d", total, n, m.Features))
	}
	var in []float32
	switch {
	case m.folded && len(parts) == 1:
		in = parts[0] // read, never written
	default:
		if cap(m.buf) < total {
			m.buf = make([]float32, total)
		}
		in = m.buf[:total]
		mean, inv := m.Info.Mean, 1/m.Info.Std
		off := 0
		for _, x := range parts {
			dst := in[off : off+len(x)]
			if m.folded {
				copy(dst, x)
			} else {
				dst = dst[:len(x)]
				for i, v := range x {
					dst[i] = (v - mean) * inv
				}
			}
			off += len(x)
		}
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

// forward runs the network on n rows as it takes them (normalised, or raw
// when the normalisation is folded) and appends their class probabilities
// to out.
func (m *Model) forward(in []float32, n int, out []float32) []float32 {
	m.tape.Reset()
	shape := append([]int{n}, m.Sample...)
	probs := autograd.Softmax(m.net.Forward(m.tape.Const(&tensor.Tensor{Data: in, Shape: shape})))
	return append(out, probs.Data.Data...)
}
