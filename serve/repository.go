package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
)

// PolicyFile is the optional file in a model's folder of the repository
// that sets how versions are chosen for requests that name none.
const PolicyFile = "policy.yaml"

// PolicyConfig is the content of PolicyFile.
//
//	policy: latest | pinned | canary | exp3 | ensemble   (default latest)
//	version: "2"                  # pinned: the version
//	weights: {"1": 0.9, "2": 0.1} # canary: traffic share per version
//	gamma: 0.1                    # exp3: exploration rate
//	versions: ["1", "2"]          # exp3, canary, ensemble: the versions (default all)
type PolicyConfig struct {
	Policy   string             `yaml:"policy"`
	Version  string             `yaml:"version"`
	Weights  map[string]float64 `yaml:"weights"`
	Gamma    float64            `yaml:"gamma"`
	Versions []string           `yaml:"versions"`
}

// repoModel is what a scan finds for one model: its versions' folders
// with a stamp that changes when their files change, and its policy.
type repoModel struct {
	versions  map[string]repoVersion
	policy    PolicyConfig
	stamp     string // of the policy file
	policyErr error  // the policy file did not parse (policy is then unset)
}

type repoVersion struct {
	dir   string
	stamp string
}

// scanRepository lists ROOT/NAME/VERSION folders that hold a saved model
// (model.json and model.safetensors); VERSION must be a positive integer,
// as in Triton's and KServe's repositories. Folders of any other shape are
// skipped. A policy file that does not parse is recorded in its model's
// policyErr, naming the file, so that one bad file holds back only its
// own model's policy.
func scanRepository(root string) (map[string]repoModel, error) {
	names, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("model repository: %w", err)
	}
	out := map[string]repoModel{}
	for _, n := range names {
		if !n.IsDir() {
			continue
		}
		mdir := filepath.Join(root, n.Name())
		vs, err := os.ReadDir(mdir)
		if err != nil {
			continue // removed while we looked
		}
		rm := repoModel{versions: map[string]repoVersion{}}
		for _, v := range vs {
			if !v.IsDir() || !isVersion(v.Name()) {
				continue
			}
			vdir := filepath.Join(mdir, v.Name())
			st, ok := stampOf(filepath.Join(vdir, "model.json"), filepath.Join(vdir, "model.safetensors"))
			if !ok {
				continue
			}
			rm.versions[v.Name()] = repoVersion{dir: vdir, stamp: st}
		}
		if len(rm.versions) == 0 {
			continue
		}
		pf := filepath.Join(mdir, PolicyFile)
		if b, err := os.ReadFile(pf); err == nil {
			rm.stamp, _ = stampOf(pf)
			if err := yaml.Unmarshal(b, &rm.policy); err != nil {
				rm.policy, rm.policyErr = PolicyConfig{}, fmt.Errorf("model repository: %s: %w", pf, err)
			}
		}
		out[n.Name()] = rm
	}
	return out, nil
}

func isVersion(s string) bool {
	n, err := strconv.ParseUint(s, 10, 63)
	return err == nil && n > 0 && strconv.FormatUint(n, 10) == s
}

// stampOf returns the size and modification time of files, or false when
// one is missing.
func stampOf(files ...string) (string, bool) {
	s := ""
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || !fi.Mode().IsRegular() {
			return "", false
		}
		s += fmt.Sprintf("%d:%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s, true
}

// sortVersions orders version names numerically.
func sortVersions(vs []string) {
	sort.Slice(vs, func(i, j int) bool {
		a, _ := strconv.ParseUint(vs[i], 10, 63)
		b, _ := strconv.ParseUint(vs[j], 10, 63)
		return a < b
	})
}

// buildSelector makes the selector for a model's policy over its loaded
// versions (sorted). It returns the arms (versions the selector chooses
// among) and whether the policy is an ensemble.
func buildSelector(pc PolicyConfig, loaded []string) (Selector, []string, bool, error) {
	arms := loaded
	if len(pc.Versions) > 0 {
		have := map[string]bool{}
		for _, v := range loaded {
			have[v] = true
		}
		arms = nil
		for _, v := range pc.Versions {
			if have[v] {
				arms = append(arms, v)
			}
		}
		if len(arms) == 0 {
			return nil, nil, false, fmt.Errorf("policy: none of the versions %v is loaded (loaded: %v)", pc.Versions, loaded)
		}
	}
	switch pc.Policy {
	case "", "latest":
		return &Pinned{Arm: len(loaded) - 1, Arms: len(loaded)}, loaded, false, nil
	case "pinned":
		for i, v := range loaded {
			if v == pc.Version {
				return &Pinned{Arm: i, Arms: len(loaded)}, loaded, false, nil
			}
		}
		return nil, nil, false, fmt.Errorf("policy pinned: version %q is not loaded (loaded: %v)", pc.Version, loaded)
	case "canary":
		w := make([]float64, len(arms))
		for v := range pc.Weights {
			found := false
			for i, a := range arms {
				if a == v {
					w[i], found = pc.Weights[v], true
				}
			}
			if !found {
				return nil, nil, false, fmt.Errorf("policy canary: weight for version %q, which is not loaded (loaded: %v)", v, arms)
			}
		}
		c, err := NewCanary(w)
		if err != nil {
			return nil, nil, false, fmt.Errorf("policy canary: %w", err)
		}
		return c, arms, false, nil
	case "exp3":
		g := pc.Gamma
		if g == 0 {
			g = 0.1
		}
		e, err := NewExp3(len(arms), g)
		if err != nil {
			return nil, nil, false, fmt.Errorf("policy: %w", err)
		}
		return e, arms, false, nil
	case "ensemble":
		return &Pinned{Arm: 0, Arms: len(arms)}, arms, true, nil
	}
	return nil, nil, false, fmt.Errorf("policy %q: want latest, pinned, canary, exp3 or ensemble", pc.Policy)
}
