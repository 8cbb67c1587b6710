package nn

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/kiln-ml/kiln/internal/vfs"
	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// SaveWeights writes the parameters of m to path in the safetensors format,
// atomically, with metadata (may be nil).
func SaveWeights(path string, m Module, metadata map[string]string) error {
	return saveWeights(vfs.OS, path, m, metadata)
}

func saveWeights(fs vfs.FS, path string, m Module, metadata map[string]string) error {
	return safetensors.WriteFileFS(fs, path, weightTensors(m), metadata)
}

func weightTensors(m Module) []safetensors.Tensor {
	ps := m.Parameters()
	ts := make([]safetensors.Tensor, len(ps))
	for i, p := range ps {
		ts[i] = safetensors.F32(p.Name, p.Data.Data, p.Data.Shape...)
	}
	return ts
}

// LoadWeights reads a safetensors file into the parameters of m. Every
// parameter must be present with its exact shape; a missing, extra or
// mis-shaped tensor is an error naming it, and m is left unchanged.
func LoadWeights(path string, m Module) error {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return err
	}
	return LoadFile(f, path, "", m)
}

// LoadFile copies the tensors named prefix+parameter name from f into m's
// parameters; path is used in errors. Tensors in f without the prefix are
// ignored; with the prefix, they must all match a parameter.
func LoadFile(f *safetensors.File, path, prefix string, m Module) error {
	ps := m.Parameters()
	vals := make([][]float32, len(ps))
	want := map[string]bool{}
	for i, p := range ps {
		want[prefix+p.Name] = true
		t := f.Get(prefix + p.Name)
		if t == nil {
			return fmt.Errorf("load %s: parameter %q of shape %v is missing (file holds: %s)", path, prefix+p.Name, p.Data.Shape, f.Names())
		}
		if !tensor.SameShape(t.Shape, p.Data.Shape) {
			return fmt.Errorf("load %s: parameter %q has shape %v in the file, the model wants %v", path, prefix+p.Name, t.Shape, p.Data.Shape)
		}
		v, err := t.Float32s()
		if err != nil {
			return fmt.Errorf("load %s: %w", path, err)
		}
		vals[i] = v
	}
	for _, t := range f.Tensors {
		if len(t.Name) >= len(prefix) && t.Name[:len(prefix)] == prefix && !want[t.Name] {
			return fmt.Errorf("load %s: tensor %q does not belong to the model", path, t.Name)
		}
	}
	for i, p := range ps {
		copy(p.Data.Data, vals[i])
	}
	return nil
}

// SavedModel is a model directory as kiln train writes it: model.json (the
// ModelConfig and how inputs are normalised) and model.safetensors.
type SavedModel struct {
	Config ModelConfig `json:"model"`
	// Mean and Std normalise raw inputs scaled to [0, 1]: x' = (x−Mean)/Std.
	Mean float32 `json:"mean"`
	Std  float32 `json:"std"`
	// Data names the data set the model was trained on.
	Data string `json:"data,omitempty"`
	// WeightsSHA256 is the hash of model.safetensors as saved with this
	// file, so that a folder whose two files come from different saves
	// (a save that failed between them) is detected on load.
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
}

// SaveModel writes dir/model.safetensors and then dir/model.json, each
// atomically; model.json records the weights' hash, so a save that fails
// between the two files leaves a folder that LoadModel refuses instead of a
// silently mismatched model.
func SaveModel(dir string, info SavedModel, m Module) error {
	return saveModel(vfs.OS, dir, info, m)
}

func saveModel(fs vfs.FS, dir string, info SavedModel, m Module) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, weightTensors(m), map[string]string{"format": "kiln", "model": info.Config.Name}); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	info.WeightsSHA256 = hex.EncodeToString(sum[:])
	if err := vfs.WriteFileAtomic(fs, filepath.Join(dir, "model.safetensors"), buf.Bytes()); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := vfs.WriteFileAtomic(fs, filepath.Join(dir, "model.json"), append(js, '\n')); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	return nil
}

// LoadModel reads a model directory written by SaveModel and returns the
// rebuilt model with its weights.
func LoadModel(dir string) (*SavedModel, Module, error) {
	p := filepath.Join(dir, "model.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, fmt.Errorf("load model: %w", err)
	}
	var info SavedModel
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", p, err)
	}
	m, err := Build(info.Config, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", p, err)
	}
	wp := filepath.Join(dir, "model.safetensors")
	wb, err := os.ReadFile(wp)
	if err != nil {
		return nil, nil, fmt.Errorf("load model: %w", err)
	}
	if info.WeightsSHA256 != "" {
		if sum := sha256.Sum256(wb); hex.EncodeToString(sum[:]) != info.WeightsSHA256 {
			return nil, nil, fmt.Errorf("load model %s: model.safetensors does not match the hash in model.json (a save was interrupted, or a file was replaced)", dir)
		}
	}
	f, err := safetensors.Decode(wb, wp)
	if err != nil {
		return nil, nil, err
	}
	if err := LoadFile(f, wp, "", m); err != nil {
		return nil, nil, err
	}
	if info.Std == 0 {
		info.Std = 1
	}
	return &info, m, nil
}
