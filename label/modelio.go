package label

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// savedModel is a fitted label model as JSON.
type savedModel struct {
	Kind            string       `json:"kind"`
	M               int          `json:"functions"`
	K               int          `json:"classes"`
	Balance         []float64    `json:"class_balance,omitempty"`
	Mu              []float64    `json:"mu,omitempty"`
	AbstainEvidence bool         `json:"abstain_evidence,omitempty"`
	Confusion       []float64    `json:"confusion,omitempty"`
	LFs             [][]int      `json:"class_functions,omitempty"`
	Models          []savedModel `json:"class_models,omitempty"`
}

func encodeModel(md Model) (savedModel, error) {
	switch x := md.(type) {
	case *MajorityVote:
		return savedModel{Kind: "majority_vote", M: x.m, K: x.k}, nil
	case *DawidSkene:
		return savedModel{Kind: "dawid_skene", M: x.m, K: x.k, Balance: x.prior, Confusion: x.conf}, nil
	case *MatrixCompletion:
		return savedModel{Kind: "matrix_completion", M: x.m, K: x.k, Balance: x.p, Mu: x.mu, AbstainEvidence: x.AbstainEvidence}, nil
	case *MultiLabel:
		s := savedModel{Kind: "multi_label", M: x.m, K: x.k, LFs: x.lfs}
		for c, sub := range x.models {
			e, err := encodeModel(sub)
			if err != nil {
				return s, fmt.Errorf("class %d: %w", c, err)
			}
			s.Models = append(s.Models, e)
		}
		return s, nil
	}
	return savedModel{}, fmt.Errorf("cannot save label model of type %T", md)
}

// SaveModel writes a fitted label model to path as JSON, atomically.
func SaveModel(path string, md Model) error { return saveModel(vfs.OS, path, md) }

func saveModel(fs vfs.FS, path string, md Model) error {
	s, err := encodeModel(md)
	if err != nil {
		return fmt.Errorf("save label model %s: %w", path, err)
	}
	if s.M == 0 && s.K == 0 {
		return fmt.Errorf("save label model %s: %w", path, ErrNotFitted)
	}
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("save label model %s: %w", path, err)
	}
	if err := vfs.WriteFileAtomic(fs, path, append(b, '\n')); err != nil {
		return fmt.Errorf("save label model %s: %w", path, err)
	}
	return nil
}

// LoadModel reads a label model written by SaveModel.
func LoadModel(path string) (Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load label model: %w", err)
	}
	var s savedModel
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("load label model %s: %w", path, err)
	}
	md, err := decodeModel(s)
	if err != nil {
		return nil, fmt.Errorf("load label model %s: %w", path, err)
	}
	return md, nil
}

func decodeModel(s savedModel) (Model, error) {
	if s.M < 0 || s.K < 1 || s.K > MaxClasses {
		return nil, fmt.Errorf("%d functions × %d classes", s.M, s.K)
	}
	want := func(what string, got, n int) error {
		if got != n {
			return fmt.Errorf("%s model: %s has %d numbers, want %d", s.Kind, what, got, n)
		}
		return nil
	}
	switch s.Kind {
	case "majority_vote":
		return &MajorityVote{m: s.M, k: s.K}, nil
	case "dawid_skene":
		if err := want("confusion", len(s.Confusion), s.M*s.K*(s.K+1)); err != nil {
			return nil, err
		}
		if err := want("class_balance", len(s.Balance), s.K); err != nil {
			return nil, err
		}
		return &DawidSkene{m: s.M, k: s.K, prior: s.Balance, conf: s.Confusion}, nil
	case "matrix_completion":
		if err := want("mu", len(s.Mu), s.M*s.K*s.K); err != nil {
			return nil, err
		}
		if err := want("class_balance", len(s.Balance), s.K); err != nil {
			return nil, err
		}
		return &MatrixCompletion{m: s.M, k: s.K, p: s.Balance, mu: s.Mu, AbstainEvidence: s.AbstainEvidence}, nil
	case "multi_label":
		if len(s.LFs) != s.K || len(s.Models) != s.K {
			return nil, fmt.Errorf("multi-label model: %d function lists and %d models for %d classes", len(s.LFs), len(s.Models), s.K)
		}
		ml := &MultiLabel{m: s.M, k: s.K, lfs: s.LFs}
		for c, sub := range s.Models {
			for _, j := range s.LFs[c] {
				if j < 0 || j >= s.M {
					return nil, fmt.Errorf("multi-label model: class %d names function %d of %d", c, j, s.M)
				}
			}
			md, err := decodeModel(sub)
			if err != nil {
				return nil, fmt.Errorf("class %d: %w", c, err)
			}
			ml.models = append(ml.models, md)
		}
		return ml, nil
	}
	return nil, fmt.Errorf("unknown label model kind %q", s.Kind)
}
