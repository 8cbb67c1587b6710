package nn

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// ModelConfig names a model of the zoo and its sizes. It is saved beside
// the weights (model.json) so that a model can be rebuilt to load them.
type ModelConfig struct {
	// Name is "mlp" or "lenet5".
	Name string `json:"name"`
	// Input is the shape of one sample, e.g. [1, 28, 28].
	Input []int `json:"input"`
	// Hidden holds the hidden layer sizes of an MLP.
	Hidden []int `json:"hidden,omitempty"`
	// Classes is the number of outputs.
	Classes int `json:"classes"`
}

// Models lists the names Build accepts.
var Models = []string{"mlp", "lenet5"}

// Build constructs the model described by cfg, initialised from rng.
//
//   - mlp: Linear(in, h1), ReLU, ..., Linear(hk, classes), where in is the
//     product of the input shape (inputs are flattened by the caller).
//   - lenet5: LeCun et al. (1998) with ReLU and max-pooling, for 1×28×28
//     inputs: Conv(1→6, 5, pad 2), ReLU, MaxPool 2, Conv(6→16, 5), ReLU,
//     MaxPool 2, Flatten, Linear(400→120), ReLU, Linear(120→84), ReLU,
//     Linear(84→classes).
func Build(cfg ModelConfig, rng *rand.Rand) (Module, error) {
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	if cfg.Classes < 1 {
		return nil, fmt.Errorf("model %q: %d classes, want at least 1", cfg.Name, cfg.Classes)
	}
	in := 1
	for _, d := range cfg.Input {
		if d < 1 {
			return nil, fmt.Errorf("model %q: invalid input shape %v", cfg.Name, cfg.Input)
		}
		in *= d
	}
	switch cfg.Name {
	case "mlp":
		if len(cfg.Input) == 0 {
			return nil, fmt.Errorf("model mlp: no input shape")
		}
		var layers []Module
		prev := in
		for _, h := range cfg.Hidden {
			if h < 1 {
				return nil, fmt.Errorf("model mlp: hidden size %d, want at least 1", h)
			}
			layers = append(layers, NewLinear(prev, h, true, rng), ReLU())
			prev = h
		}
		layers = append(layers, NewLinear(prev, cfg.Classes, true, rng))
		return NewSequential(layers...), nil
	case "lenet5":
		if len(cfg.Input) != 3 || cfg.Input[0] != 1 || cfg.Input[1] != 28 || cfg.Input[2] != 28 {
			return nil, fmt.Errorf("model lenet5: input shape %v, want [1 28 28]", cfg.Input)
		}
		return NewSequential(
			NewConv2d(1, 6, 5, 1, 2, true, rng), ReLU(), &MaxPool2d{K: 2, Stride: 2},
			NewConv2d(6, 16, 5, 1, 0, true, rng), ReLU(), &MaxPool2d{K: 2, Stride: 2},
			Flatten{},
			NewLinear(400, 120, true, rng), ReLU(),
			NewLinear(120, 84, true, rng), ReLU(),
			NewLinear(84, cfg.Classes, true, rng),
		), nil
	}
	return nil, fmt.Errorf("unknown model %q (known: %s)", cfg.Name, strings.Join(Models, ", "))
}

// ParseSizes parses a comma-separated list of positive sizes such as
// "256,128".
func ParseSizes(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("size %q in %q is not a positive integer", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// FlattenInput reports whether the model takes flat (B, features) inputs.
func (c ModelConfig) FlattenInput() bool { return c.Name == "mlp" }
