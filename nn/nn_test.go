package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
	"github.com/kiln-ml/kiln/tensor"
)

func TestSequentialNamesMatchPyTorch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, err := Build(ModelConfig{Name: "lenet5", Input: []int{1, 28, 28}, Classes: 10}, rng)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Parameters() {
		names = append(names, p.Name)
	}
	want := "0.weight 0.bias 3.weight 3.bias 7.weight 7.bias 9.weight 9.bias 11.weight 11.bias"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("names %q, want %q", got, want)
	}
}

func TestDefaultInitBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	l := NewLinear(400, 120, true, rng)
	bound := float32(1 / math.Sqrt(400))
	var maxAbs float32
	for _, v := range l.Weight.Data.Data {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	// U(−b, b): everything inside, and the largest close to b.
	if maxAbs > bound || maxAbs < 0.98*bound {
		t.Fatalf("max |w| = %v, want just under %v", maxAbs, bound)
	}
	c := NewConv2d(6, 16, 5, 1, 0, true, rng)
	cb := float32(1 / math.Sqrt(150))
	for _, v := range c.Bias.Data.Data {
		if v > cb || v < -cb {
			t.Fatalf("conv bias %v outside ±%v", v, cb)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, cfg := range []ModelConfig{
		{Name: "resnet", Input: []int{784}, Classes: 10},
		{Name: "lenet5", Input: []int{784}, Classes: 10},
		{Name: "mlp", Input: []int{784}, Classes: 0},
		{Name: "mlp", Input: []int{784}, Hidden: []int{0}, Classes: 10},
	} {
		if _, err := Build(cfg, rng); err == nil {
			t.Errorf("Build(%+v) succeeded", cfg)
		}
	}
	_, err := Build(ModelConfig{Name: "resnet", Input: []int{1}, Classes: 2}, rng)
	if !strings.Contains(err.Error(), "unknown model \"resnet\"") {
		t.Fatalf("error %q does not name the model", err)
	}
}

func TestSaveLoadWeights(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 4))
	cfg := ModelConfig{Name: "mlp", Input: []int{784}, Hidden: []int{32, 16}, Classes: 10}
	m, _ := Build(cfg, rng)
	if err := SaveModel(dir, SavedModel{Config: cfg, Mean: 0.1307, Std: 0.3081}, m); err != nil {
		t.Fatal(err)
	}
	info, m2, err := LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mean != 0.1307 || info.Config.Hidden[1] != 16 {
		t.Fatalf("info %+v", info)
	}
	for i, p := range m.Parameters() {
		q := m2.Parameters()[i]
		for j := range p.Data.Data {
			if p.Data.Data[j] != q.Data.Data[j] {
				t.Fatalf("%s[%d] differs after reload", p.Name, j)
			}
		}
	}
	// A model of another shape must be refused with the parameter named.
	other, _ := Build(ModelConfig{Name: "mlp", Input: []int{784}, Hidden: []int{64, 16}, Classes: 10}, rng)
	err = LoadWeights(filepath.Join(dir, "model.safetensors"), other)
	if err == nil || !strings.Contains(err.Error(), `"0.weight" has shape [32 784] in the file, the model wants [64 784]`) {
		t.Fatalf("shape mismatch error: %v", err)
	}
	before := other.Parameters()[2].Data.Data[0]
	if other.Parameters()[2].Data.Data[0] != before {
		t.Fatal("failed load changed the model")
	}
	lenet, _ := Build(ModelConfig{Name: "lenet5", Input: []int{1, 28, 28}, Classes: 10}, rng)
	if err := LoadWeights(filepath.Join(dir, "model.safetensors"), lenet); err == nil || !strings.Contains(err.Error(), "has shape [32 784] in the file") {
		t.Fatalf("loading mlp weights into lenet5: %v", err)
	}
	// A truncated weights file is reported with its path.
	p := filepath.Join(dir, "model.safetensors")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-10], 0o644)
	if _, _, err := LoadModel(dir); err == nil || !strings.Contains(err.Error(), "model.safetensors does not match") {
		t.Fatalf("truncated file: %v", err)
	}
	// Without the recorded hash, the decoder itself names the file.
	if err := LoadWeights(p, m2); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("truncated file: %v", err)
	}
}

// TestSaveModelFailures fails each filesystem operation of SaveModel in
// turn: the folder must then load as the old model or be refused as torn,
// never load as a mix, and hold no temporary files.
func TestSaveModelFailures(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	cfg := ModelConfig{Name: "mlp", Input: []int{8}, Hidden: []int{4}, Classes: 3}
	oldM, _ := Build(cfg, rng)
	newM, _ := Build(cfg, rng)
	count := errorfs.New(-1)
	if err := saveModel(count, t.TempDir(), SavedModel{Config: cfg}, newM); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < count.Ops(); i++ {
		dir := t.TempDir()
		if err := SaveModel(dir, SavedModel{Config: cfg}, oldM); err != nil {
			t.Fatal(err)
		}
		fs := errorfs.New(i)
		if err := saveModel(fs, dir, SavedModel{Config: cfg}, newM); !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("failing %s: %v", fs.Log[i], err)
		}
		_, got, err := LoadModel(dir)
		if err == nil {
			same := func(a Module) bool {
				for j, p := range a.Parameters() {
					for k, v := range p.Data.Data {
						if got.Parameters()[j].Data.Data[k] != v {
							return false
						}
					}
				}
				return true
			}
			if !same(oldM) && !same(newM) {
				t.Fatalf("failing %s: the folder loads as neither the old nor the new model", fs.Log[i])
			}
		} else if !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("failing %s: load error %v", fs.Log[i], err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 2 {
			t.Fatalf("failing %s: %d entries left", fs.Log[i], len(ents))
		}
	}
}

func TestSchedules(t *testing.T) {
	cases := []struct {
		s    Schedule
		step int
		want float64
	}{
		{Constant{0.1}, 99, 0.1},
		{StepDecay{Base: 1, Every: 10, Gamma: 0.5}, 0, 1},
		{StepDecay{Base: 1, Every: 10, Gamma: 0.5}, 9, 1},
		{StepDecay{Base: 1, Every: 10, Gamma: 0.5}, 10, 0.5},
		{StepDecay{Base: 1, Every: 10, Gamma: 0.5}, 25, 0.25},
		{Cosine{Base: 1, Min: 0, Total: 100}, 0, 1},
		{Cosine{Base: 1, Min: 0, Total: 100}, 50, 0.5},
		{Cosine{Base: 1, Min: 0.1, Total: 100}, 100, 0.1},
		{Warmup{Steps: 4, Then: Constant{0.8}}, 0, 0.2},
		{Warmup{Steps: 4, Then: Constant{0.8}}, 3, 0.8},
		{Warmup{Steps: 4, Then: Cosine{Base: 1, Total: 10}}, 9, 0.5},
	}
	for i, c := range cases {
		if got := c.s.LR(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("case %d: %T.LR(%d) = %v, want %v", i, c.s, c.step, got, c.want)
		}
	}
}

// TestSGDMatchesFormula checks two SGD steps with momentum, Nesterov and
// weight decay against the update written out by hand.
func TestSGDMatchesFormula(t *testing.T) {
	for _, nesterov := range []bool{false, true} {
		p := autograd.NewParam("w", tensor.FromSlice([]float32{1, -2}, 2))
		opt, err := NewSGD([]*Param{p}, SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01, Nesterov: nesterov})
		if err != nil {
			t.Fatal(err)
		}
		w := []float64{1, -2}
		buf := []float64{0, 0}
		grads := [][]float64{{0.5, 0.25}, {-1, 2}}
		for step, g := range grads {
			p.Grad.Data[0], p.Grad.Data[1] = float32(g[0]), float32(g[1])
			p.HasGrad = true
			opt.Step()
			for j := range w {
				d := g[j] + 0.01*w[j]
				if step == 0 {
					buf[j] = d
				} else {
					buf[j] = 0.9*buf[j] + d
				}
				if nesterov {
					d += 0.9 * buf[j]
				} else {
					d = buf[j]
				}
				w[j] -= 0.1 * d
				if math.Abs(float64(p.Data.Data[j])-w[j]) > 1e-6 {
					t.Fatalf("nesterov=%v step %d: w[%d] = %v, want %v", nesterov, step, j, p.Data.Data[j], w[j])
				}
			}
		}
	}
	p := autograd.NewParam("w", tensor.FromSlice([]float32{1}, 1))
	opt, _ := NewSGD([]*Param{p}, SGDConfig{LR: 1})
	opt.Step() // no gradient yet: skipped
	if p.Data.Data[0] != 1 {
		t.Fatal("SGD updated a parameter without a gradient")
	}
	if _, err := NewSGD(nil, SGDConfig{LR: -1}); err == nil {
		t.Fatal("negative learning rate accepted")
	}
}
