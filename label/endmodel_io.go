package label

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/kiln-ml/kiln/internal/vfs"
	"github.com/kiln-ml/kiln/nn"
)

// EndModel is a trained end model: a featurizer (text or tabular) and an
// ensemble of NNClassifiers, saved as a folder with endmodel.json and one
// safetensors file per network.
type EndModel struct {
	Text    *TextFeaturizer    `json:"text,omitempty"`
	Tabular *TabularFeaturizer `json:"tabular,omitempty"`
	Classes []string           `json:"classes,omitempty"`
	Hidden  []int              `json:"hidden,omitempty"`
	In      int                `json:"inputs"`
	K       int                `json:"outputs"`
	Members int                `json:"networks"`

	nets []*NNClassifier
}

func (e *EndModel) featurizer() (Featurizer, error) {
	switch {
	case e.Text != nil && e.Tabular == nil:
		return e.Text, nil
	case e.Tabular != nil && e.Text == nil:
		return e.Tabular, nil
	}
	return nil, errors.New("end model: want exactly one of a text and a tabular featurizer")
}

// TrainEndModel fits the featurizer on recs and trains seeds networks like
// cfg (seeds cfg.Seed, cfg.Seed+1, ...) on the probabilistic labels P (one
// row per record), whose predictions are averaged.
func TrainEndModel(e *EndModel, recs []Record, P *Probs, cfg NNClassifier, seeds int) error {
	feat, err := e.featurizer()
	if err != nil {
		return err
	}
	if len(recs) != P.N() {
		return fmt.Errorf("end model: %d records for %d label rows", len(recs), P.N())
	}
	if err := feat.Fit(recs); err != nil {
		return err
	}
	X, err := feat.Transform(recs)
	if err != nil {
		return err
	}
	seeds = max(seeds, 1)
	e.nets = nil
	ens := &Ensemble{}
	for s := 0; s < seeds; s++ {
		c := cfg
		c.Seed = cfg.Seed + uint64(s)
		c.Losses = nil
		e.nets = append(e.nets, &c)
		ens.Members = append(ens.Members, &c)
	}
	if err := ens.Fit(X, P); err != nil {
		return err
	}
	e.Hidden, e.In, e.K, e.Members = cfg.Hidden, X.Dim, P.K, seeds
	return nil
}

// PredictProba featurizes recs and averages the networks' distributions.
func (e *EndModel) PredictProba(recs []Record) (*Probs, error) {
	feat, err := e.featurizer()
	if err != nil {
		return nil, err
	}
	if len(e.nets) == 0 {
		return nil, errors.New("end model: not trained")
	}
	X, err := feat.Transform(recs)
	if err != nil {
		return nil, err
	}
	ens := &Ensemble{}
	for _, n := range e.nets {
		ens.Members = append(ens.Members, n)
	}
	return ens.PredictProba(X)
}

// Save writes the model into dir (created if needed): the networks'
// weights first, then endmodel.json, each file atomically.
func (e *EndModel) Save(dir string) error {
	if len(e.nets) == 0 {
		return errors.New("save end model: not trained")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save end model: %w", err)
	}
	for i, n := range e.nets {
		if err := nn.SaveWeights(filepath.Join(dir, fmt.Sprintf("net-%d.safetensors", i)), n.Net, nil); err != nil {
			return fmt.Errorf("save end model: %w", err)
		}
	}
	b, err := json.MarshalIndent(e, "", " ")
	if err != nil {
		return fmt.Errorf("save end model: %w", err)
	}
	if err := vfs.WriteFileAtomic(vfs.OS, filepath.Join(dir, "endmodel.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("save end model: %w", err)
	}
	return nil
}

// LoadEndModel reads a model saved by Save.
func LoadEndModel(dir string) (*EndModel, error) {
	b, err := os.ReadFile(filepath.Join(dir, "endmodel.json"))
	if err != nil {
		return nil, fmt.Errorf("load end model: %w", err)
	}
	e := &EndModel{}
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("load end model %s: %w", dir, err)
	}
	if _, err := e.featurizer(); err != nil {
		return nil, fmt.Errorf("load end model %s: %w", dir, err)
	}
	if e.Members < 1 || e.Members > 1000 {
		return nil, fmt.Errorf("load end model %s: %d networks", dir, e.Members)
	}
	for i := 0; i < e.Members; i++ {
		net, err := NewSparseNet(e.In, e.Hidden, e.K, rand.New(rand.NewPCG(0, 0)))
		if err != nil {
			return nil, fmt.Errorf("load end model %s: %w", dir, err)
		}
		if err := nn.LoadWeights(filepath.Join(dir, fmt.Sprintf("net-%d.safetensors", i)), net); err != nil {
			return nil, fmt.Errorf("load end model %s: %w", dir, err)
		}
		e.nets = append(e.nets, &NNClassifier{Hidden: e.Hidden, Net: net})
	}
	return e, nil
}
