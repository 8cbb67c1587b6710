package nn

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// The vectors in testdata/torchstep were made by PyTorch 1.13
// (bench/train_vs_torch/gen_vectors.py): initial weights, two batches of
// real MNIST images, the loss and gradients of the first step and the
// weights after each of two optimizer steps. Kiln must reproduce them from
// the same initial weights to 1e-4 relative.

func loadVectors(t *testing.T, name string) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join("testdata", "torchstep", name))
	if err != nil {
		t.Fatalf("test vectors: %v", err)
	}
	return f
}

func vec(t *testing.T, f *safetensors.File, name string) *tensor.Tensor {
	t.Helper()
	e := f.Get(name)
	if e == nil {
		t.Fatalf("test vectors lack %q (have %s)", name, f.Names())
	}
	v, err := e.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return tensor.FromSlice(v, e.Shape...)
}

func labels(t *testing.T, f *safetensors.File, name string) []int32 {
	v := vec(t, f, name)
	out := make([]int32, len(v.Data))
	for i, x := range v.Data {
		out[i] = int32(x)
	}
	return out
}

// relClose compares with a tolerance of 1e-4 relative to the tensor's
// largest magnitude, so that values near zero are not held to an
// impossible relative bound.
func relClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	var scale float64
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*math.Max(scale, 1e-6) {
			t.Fatalf("%s[%d] = %.8g, PyTorch %.8g (|diff| %.3g, scale %.3g)", what, i, got[i], want[i], d, scale)
		}
	}
}

func meta(t *testing.T, f *safetensors.File, key string) float64 {
	v, err := strconv.ParseFloat(f.Metadata[key], 64)
	if err != nil {
		t.Fatalf("metadata %q = %q", key, f.Metadata[key])
	}
	return v
}

func TestStepMatchesPyTorch(t *testing.T) {
	for _, file := range []string{"mlp_sgd.safetensors", "mlp_adam.safetensors", "mlp_adamw.safetensors", "lenet5_sgd.safetensors"} {
		t.Run(file, func(t *testing.T) {
			f := loadVectors(t, file)
			var cfg ModelConfig
			sample := []int{784}
			switch f.Metadata["model"] {
			case "mlp":
				hidden, err := ParseSizes(f.Metadata["hidden"])
				if err != nil {
					t.Fatal(err)
				}
				cfg = ModelConfig{Name: "mlp", Input: []int{784}, Hidden: hidden, Classes: 10}
			case "lenet5":
				cfg = ModelConfig{Name: "lenet5", Input: []int{1, 28, 28}, Classes: 10}
				sample = cfg.Input
			default:
				t.Fatalf("unknown model %q", f.Metadata["model"])
			}
			m, err := Build(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := LoadFile(f, file, "init.", m); err != nil {
				t.Fatal(err)
			}
			lr := meta(t, f, "lr")
			wd := 0.0
			if f.Metadata["weight_decay"] != "" {
				wd = meta(t, f, "weight_decay")
			}
			var opt Optimizer
			switch f.Metadata["optimizer"] {
			case "sgd":
				opt, err = NewSGD(m.Parameters(), SGDConfig{LR: lr, Momentum: meta(t, f, "momentum"), WeightDecay: wd})
			case "adam":
				opt, err = NewAdam(m.Parameters(), AdamConfig{LR: lr, WeightDecay: wd})
			case "adamw":
				opt, err = NewAdamW(m.Parameters(), AdamConfig{LR: lr, WeightDecay: wd})
			default:
				t.Fatalf("unknown optimizer %q", f.Metadata["optimizer"])
			}
			if err != nil {
				t.Fatal(err)
			}
			for step := 0; step < 2; step++ {
				x := vec(t, f, fmt.Sprint("x", step))
				y := labels(t, f, fmt.Sprint("y", step))
				x = x.Reshape(append([]int{len(y)}, sample...)...)
				tp := autograd.NewTape()
				logits := m.Forward(tp.Const(x))
				loss := autograd.CrossEntropy(logits, y)
				if step == 0 {
					relClose(t, "logits0", logits.Data.Data, vec(t, f, "logits0").Data)
				}
				relClose(t, fmt.Sprint("loss", step), loss.Data.Data, vec(t, f, fmt.Sprint("loss", step)).Data)
				opt.ZeroGrad()
				if err := tp.Backward(loss); err != nil {
					t.Fatal(err)
				}
				if step == 0 {
					for _, p := range m.Parameters() {
						relClose(t, "grad0."+p.Name, p.Grad.Data, vec(t, f, "grad0."+p.Name).Data)
					}
				}
				opt.Step()
				for _, p := range m.Parameters() {
					name := fmt.Sprintf("after%d.%s", step, p.Name)
					relClose(t, name, p.Data.Data, vec(t, f, name).Data)
				}
			}
		})
	}
}

// TestActivationsMatchPyTorch checks soft-label cross-entropy, GELU and
// LayerNorm, forward and backward, against PyTorch's values.
func TestActivationsMatchPyTorch(t *testing.T) {
	f := loadVectors(t, "softce.safetensors")
	names := f.Names()
	need := func(prefix string) bool { return strings.Contains(names, prefix) }
	if need("soft_logits") {
		tp := autograd.NewTape()
		x := tp.Var(vec(t, f, "soft_logits"))
		loss := autograd.SoftCrossEntropy(x, vec(t, f, "soft_targets"))
		relClose(t, "soft loss", loss.Data.Data, vec(t, f, "soft_loss").Data)
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		relClose(t, "soft grad", x.Grad.Data, vec(t, f, "soft_grad").Data)
	} else {
		t.Fatalf("softce.safetensors lacks soft_logits (has %s)", names)
	}
	if need("gelu_x") {
		tp := autograd.NewTape()
		x := tp.Var(vec(t, f, "gelu_x"))
		y := autograd.GELU(x)
		relClose(t, "gelu", y.Data.Data, vec(t, f, "gelu_y").Data)
		if err := tp.Backward(autograd.Sum(y)); err != nil {
			t.Fatal(err)
		}
		relClose(t, "gelu grad", x.Grad.Data, vec(t, f, "gelu_grad").Data)
	}
	if need("ln_x") {
		tp := autograd.NewTape()
		x, w, b := tp.Var(vec(t, f, "ln_x")), tp.Var(vec(t, f, "ln_weight")), tp.Var(vec(t, f, "ln_bias"))
		y := autograd.LayerNorm(x, w, b, 1e-5)
		relClose(t, "layernorm", y.Data.Data, vec(t, f, "ln_y").Data)
		loss := autograd.Sum(autograd.Mul(y, tp.Const(vec(t, f, "ln_g"))))
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		relClose(t, "ln grad x", x.Grad.Data, vec(t, f, "ln_grad_x").Data)
		relClose(t, "ln grad w", w.Grad.Data, vec(t, f, "ln_grad_weight").Data)
		relClose(t, "ln grad b", b.Grad.Data, vec(t, f, "ln_grad_bias").Data)
	}
}
