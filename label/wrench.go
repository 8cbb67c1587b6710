package label

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Split is one split of a weakly supervised data set: its label matrix,
// its gold labels (Abstain where unknown), and its records.
type Split struct {
	L       *Matrix
	Gold    []int
	Records []Record
}

type wrenchRecord struct {
	Label      *int           `json:"label"`
	WeakLabels []int          `json:"weak_labels"`
	Data       map[string]any `json:"data"`
}

// LoadWrench reads a data set in the WRENCH benchmark's format: a folder
// with train.json, valid.json and test.json, each a JSON object from id to
// {"label": y, "weak_labels": [...], "data": {...}} with -1 for an
// abstain, and optionally label.json mapping class ids to names. Records
// are taken in increasing numeric id order.
func LoadWrench(dir string) (train, valid, test *Split, err error) {
	var classes []string
	if b, err := os.ReadFile(filepath.Join(dir, "label.json")); err == nil {
		var names map[string]string
		if err := json.Unmarshal(b, &names); err != nil {
			return nil, nil, nil, fmt.Errorf("wrench %s: label.json: %w", dir, err)
		}
		classes = make([]string, len(names))
		for id, name := range names {
			c, err := strconv.Atoi(id)
			if err != nil || c < 0 || c >= len(names) {
				return nil, nil, nil, fmt.Errorf("wrench %s: label.json: class id %q is not in 0..%d", dir, id, len(names)-1)
			}
			classes[c] = name
		}
	}
	splits := make([]*Split, 3)
	for s, name := range []string{"train", "valid", "test"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("wrench: %w", err)
		}
		sp, err := ParseWrench(b, classes)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("wrench %s: %w", filepath.Join(dir, name+".json"), err)
		}
		splits[s] = sp
	}
	if classes == nil {
		// Without label.json, the classes are those seen anywhere.
		k := 2
		for _, sp := range splits {
			k = max(k, sp.L.K)
		}
		for _, sp := range splits {
			sp.L.K = k
		}
	}
	m := splits[0].L.M
	for s, sp := range splits[1:] {
		if sp.L.M != m {
			return nil, nil, nil, fmt.Errorf("wrench %s: split %d has %d labeling functions, train has %d", dir, s+1, sp.L.M, m)
		}
	}
	return splits[0], splits[1], splits[2], nil
}

// ParseWrench parses one WRENCH split. classes names the classes (nil: as
// many as the largest label seen, and at least 2). A label or vote outside
// the classes is an error naming the record.
func ParseWrench(b []byte, classes []string) (*Split, error) {
	var raw map[string]wrenchRecord
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(raw))
	for id := range raw {
		ids = append(ids, id)
	}
	num := func(s string) (int, bool) { n, err := strconv.Atoi(s); return n, err == nil }
	sort.Slice(ids, func(a, b int) bool {
		na, oka := num(ids[a])
		nb, okb := num(ids[b])
		if oka && okb {
			return na < nb
		}
		return ids[a] < ids[b]
	})
	k := len(classes)
	maxSeen := 1
	m := -1
	for _, id := range ids {
		r := raw[id]
		if m < 0 {
			m = len(r.WeakLabels)
		}
		if len(r.WeakLabels) != m {
			return nil, fmt.Errorf("record %s has %d weak labels, want %d", id, len(r.WeakLabels), m)
		}
		for _, v := range r.WeakLabels {
			maxSeen = max(maxSeen, v)
		}
		if r.Label != nil {
			maxSeen = max(maxSeen, *r.Label)
		}
	}
	if k == 0 {
		k = maxSeen + 1
	}
	if k > MaxClasses {
		return nil, fmt.Errorf("%d classes, more than %d", k, MaxClasses)
	}
	if m < 0 {
		m = 0
	}
	b2 := NewBuilder(DefaultNames(m), k)
	sp := &Split{}
	var cols []int32
	var votes []int16
	for _, id := range ids {
		r := raw[id]
		cols, votes = cols[:0], votes[:0]
		for j, v := range r.WeakLabels {
			if v == Abstain {
				continue
			}
			if v < 0 || v >= k {
				return nil, fmt.Errorf("record %s: weak label %d of function %d: %w (classes 0..%d, -1 abstains)", id, v, j, ErrOutsideClasses, k-1)
			}
			cols = append(cols, int32(j))
			votes = append(votes, int16(v))
		}
		b2.AddRow(cols, votes)
		y := Abstain
		if r.Label != nil {
			y = *r.Label
			if y < -1 || y >= k {
				return nil, fmt.Errorf("record %s: label %d: %w (classes 0..%d)", id, y, ErrOutsideClasses, k-1)
			}
		}
		sp.Gold = append(sp.Gold, y)
		sp.Records = append(sp.Records, Record(r.Data))
	}
	sp.L = b2.Matrix()
	sp.L.Classes = classes
	return sp, nil
}

// WrenchResult is the evaluation of majority vote and the label model on
// a data set in WRENCH's format.
type WrenchResult struct {
	MajorityVoteAcc float64 `json:"majority_vote_acc"`
	LabelModelAcc   float64 `json:"label_model_acc"`
	MajorityVoteF1  float64 `json:"majority_vote_f1"`
	LabelModelF1    float64 `json:"label_model_f1"`
	// F1 says which F1: the positive class's for two classes, else macro.
	F1 string `json:"f1"`
	// LabelModel names the configuration chosen on the validation split,
	// and ValidScores lists every candidate's validation score.
	LabelModel   string    `json:"label_model"`
	ValidScores  []Score   `json:"valid_scores,omitempty"`
	ClassBalance []float64 `json:"class_balance"`
	TieBreak     string    `json:"tie_break"`
	Rows         [3]int    `json:"rows_train_valid_test"`
	Functions    int       `json:"labeling_functions"`
	Classes      int       `json:"classes"`
}

// labeled returns the rows with a gold label.
func labeled(gold []int) []int {
	var rows []int
	for i, y := range gold {
		if y >= 0 {
			rows = append(rows, i)
		}
	}
	return rows
}

// EvaluateWrench fits majority vote and the matrix-completion label model
// on train (without its labels), picks the label model's configuration on
// the labeled rows of valid (Select over MatrixCompletionGrid; the
// estimated-balance default when valid has no labels), and scores both on
// the labeled rows of test, breaking ties the same way for both.
func EvaluateWrench(train, valid, test *Split, tb TieBreak, seed uint64) (*WrenchResult, error) {
	k := train.L.K
	res := &WrenchResult{TieBreak: tb.String(), Rows: [3]int{train.L.N, valid.L.N, test.L.N}, Functions: train.L.M, Classes: k}
	res.F1 = "F1 of class 1"
	if k != 2 {
		res.F1 = "macro F1"
	}
	mv := &MajorityVote{}
	if err := mv.Fit(train.L); err != nil {
		return nil, err
	}
	vrows := labeled(valid.Gold)
	var lm Model
	if len(vrows) == 0 {
		lm = &MatrixCompletion{Seed: seed}
		res.LabelModel = "matrix_completion balance=estimated (no labeled validation rows)"
		if err := lm.Fit(train.L); err != nil {
			return nil, err
		}
	} else {
		vgold := make([]int, len(vrows))
		for n, i := range vrows {
			vgold[n] = valid.Gold[i]
		}
		cands, err := MatrixCompletionGrid(vgold, k, seed)
		if err != nil {
			return nil, err
		}
		best, scores, err := Select(cands, train.L, valid.L.SelectRows(vrows), vgold, tb)
		if err != nil {
			return nil, err
		}
		lm, res.LabelModel, res.ValidScores = cands[best].Model, cands[best].Name, scores
	}
	res.ClassBalance = lm.ClassBalance()
	trows := labeled(test.Gold)
	if len(trows) == 0 {
		return nil, fmt.Errorf("wrench: the test split has no labeled rows")
	}
	Lt := test.L.SelectRows(trows)
	tgold := make([]int, len(trows))
	for n, i := range trows {
		tgold[n] = test.Gold[i]
	}
	pmv, err := mv.PredictProba(Lt)
	if err != nil {
		return nil, err
	}
	plm, err := lm.PredictProba(Lt)
	if err != nil {
		return nil, err
	}
	predMV, predLM := Predict(pmv, tb), Predict(plm, tb)
	res.MajorityVoteAcc, res.LabelModelAcc = Accuracy(predMV, tgold), Accuracy(predLM, tgold)
	res.MajorityVoteF1, res.LabelModelF1 = F1(predMV, tgold, k), F1(predLM, tgold, k)
	return res, nil
}
