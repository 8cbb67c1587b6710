package label

import (
	"fmt"
	"hash/fnv"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Sparse is a sparse row-major feature matrix (CSR): row i's features are
// Idx[RowPtr[i]:RowPtr[i+1]] with values Val[...], out of Dim.
type Sparse struct {
	Dim    int
	RowPtr []int
	Idx    []int32
	Val    []float32
}

// N returns the number of rows.
func (s *Sparse) N() int { return len(s.RowPtr) - 1 }

// DenseRows writes rows[r] of s densely into out (len(rows)×Dim, zeroed
// first).
func (s *Sparse) DenseRows(rows []int, out []float32) {
	clear(out)
	for r, i := range rows {
		base := r * s.Dim
		for e := s.RowPtr[i]; e < s.RowPtr[i+1]; e++ {
			out[base+int(s.Idx[e])] += s.Val[e]
		}
	}
}

// Featurizer turns records into feature vectors for an end model. Fit
// learns what it needs (a vocabulary, column statistics) from the training
// records only.
type Featurizer interface {
	Fit(recs []Record) error
	Transform(recs []Record) (*Sparse, error)
	Dim() int
}

// TextFeaturizer turns a text field into bag-of-words features: word
// n-grams (1..WordNGrams) and, when CharNGramMax > 0, character n-grams
// (CharNGramMin..CharNGramMax, within word boundaries padded by spaces).
// Terms come from a vocabulary of the training texts (terms in at least
// MinDF documents, the MaxFeatures most frequent kept) or, when HashDim >
// 0, from hashing into HashDim buckets. Values are counts, or TF-IDF
// weights when TFIDF is set (smoothed idf, log(1+n)/(1+df) + 1), and rows
// are scaled to unit L2 norm.
type TextFeaturizer struct {
	Field        string `json:"field"`
	WordNGrams   int    `json:"word_ngrams"`
	CharNGramMin int    `json:"char_ngram_min,omitempty"`
	CharNGramMax int    `json:"char_ngram_max,omitempty"`
	MinDF        int    `json:"min_df"`
	MaxFeatures  int    `json:"max_features,omitempty"`
	HashDim      int    `json:"hash_dim,omitempty"`
	TFIDF        bool   `json:"tfidf"`
	// Shape adds pseudo-terms for the text's shape: its length in words
	// (bucketed), whether it holds a link, a long run of digits, or is
	// mostly upper case.
	Shape bool `json:"shape,omitempty"`

	// Vocab and IDF are learned by Fit (and saved with the model).
	Vocab map[string]int32 `json:"vocab,omitempty"`
	IDF   []float32        `json:"idf,omitempty"`
}

// terms returns the n-gram terms of one text.
func (f *TextFeaturizer) terms(text string) []string {
	words := Words(text)
	n := max(f.WordNGrams, 1)
	var out []string
	for g := 1; g <= n; g++ {
		for i := 0; i+g <= len(words); i++ {
			out = append(out, "w:"+strings.Join(words[i:i+g], " "))
		}
	}
	if f.Shape {
		out = append(out, shapeTerms(text, len(words))...)
	}
	if f.CharNGramMax > 0 {
		lo := max(f.CharNGramMin, 1)
		for _, w := range words {
			r := []rune(" " + w + " ")
			for g := lo; g <= f.CharNGramMax; g++ {
				for i := 0; i+g <= len(r); i++ {
					out = append(out, "c:"+string(r[i:i+g]))
				}
			}
		}
	}
	return out
}

var (
	linkRE   = regexp.MustCompile(`https?:|www\.|\b[a-z0-9-]+\.(com|net|org|ly|be|co|me|tv|info|biz)\b|/watch\?`)
	digitsRE = regexp.MustCompile(`[0-9]{6,}`)
)

// shapeTerms returns the Shape pseudo-terms of a text of n words.
func shapeTerms(text string, n int) []string {
	bucket := 0
	for _, b := range []int{3, 7, 15, 30, 60} {
		if n > b {
			bucket++
		}
	}
	out := []string{"s:len" + strconv.Itoa(bucket)}
	folded := Fold(text)
	if linkRE.MatchString(folded) {
		out = append(out, "s:link")
	}
	if digitsRE.MatchString(folded) {
		out = append(out, "s:digits")
	}
	if UpperRatio(text) > 0.6 && n >= 3 {
		out = append(out, "s:upper")
	}
	return out
}

func (f *TextFeaturizer) text(r Record) (string, error) {
	v, ok := r[f.Field]
	if !ok {
		return "", fmt.Errorf("text featurizer: record has no field %q", f.Field)
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Sprint(v), nil
	}
	return s, nil
}

// Fit builds the vocabulary and document frequencies.
func (f *TextFeaturizer) Fit(recs []Record) error {
	if f.Field == "" {
		return fmt.Errorf("text featurizer: no field named")
	}
	df := map[string]int{}
	for _, r := range recs {
		s, err := f.text(r)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, t := range f.terms(s) {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	n := float64(len(recs))
	if f.HashDim > 0 {
		f.Vocab = nil
		f.IDF = make([]float32, f.HashDim)
		cnt := make([]int, f.HashDim)
		for t, d := range df {
			cnt[f.hash(t)] += d
		}
		for b, d := range cnt {
			f.IDF[b] = float32(math.Log((1+n)/(1+math.Min(float64(d), n))) + 1)
		}
		return nil
	}
	type term struct {
		t  string
		df int
	}
	var kept []term
	for t, d := range df {
		if d >= max(f.MinDF, 1) {
			kept = append(kept, term{t, d})
		}
	}
	sort.Slice(kept, func(a, b int) bool {
		if kept[a].df != kept[b].df {
			return kept[a].df > kept[b].df
		}
		return kept[a].t < kept[b].t
	})
	if f.MaxFeatures > 0 && len(kept) > f.MaxFeatures {
		kept = kept[:f.MaxFeatures]
	}
	f.Vocab = make(map[string]int32, len(kept))
	f.IDF = make([]float32, len(kept))
	for i, t := range kept {
		f.Vocab[t.t] = int32(i)
		f.IDF[i] = float32(math.Log((1+n)/(1+float64(t.df))) + 1)
	}
	return nil
}

func (f *TextFeaturizer) hash(t string) int32 {
	h := fnv.New32a()
	h.Write([]byte(t))
	return int32(h.Sum32() % uint32(f.HashDim))
}

// Dim returns the number of features.
func (f *TextFeaturizer) Dim() int {
	if f.HashDim > 0 {
		return f.HashDim
	}
	return len(f.IDF)
}

// Transform featurizes records with the fitted vocabulary; unknown terms
// are dropped.
func (f *TextFeaturizer) Transform(recs []Record) (*Sparse, error) {
	if f.IDF == nil {
		return nil, fmt.Errorf("text featurizer: not fitted")
	}
	out := &Sparse{Dim: f.Dim(), RowPtr: make([]int, 1, len(recs)+1)}
	for _, r := range recs {
		s, err := f.text(r)
		if err != nil {
			return nil, err
		}
		counts := map[int32]float32{}
		for _, t := range f.terms(s) {
			var id int32
			if f.HashDim > 0 {
				id = f.hash(t)
			} else {
				var ok bool
				if id, ok = f.Vocab[t]; !ok {
					continue
				}
			}
			counts[id]++
		}
		ids := make([]int32, 0, len(counts))
		for id := range counts {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
		norm := 0.0
		start := len(out.Val)
		for _, id := range ids {
			v := counts[id]
			if f.TFIDF {
				v *= f.IDF[id]
			}
			out.Idx = append(out.Idx, id)
			out.Val = append(out.Val, v)
			norm += float64(v) * float64(v)
		}
		if norm > 0 {
			inv := float32(1 / math.Sqrt(norm))
			for e := start; e < len(out.Val); e++ {
				out.Val[e] *= inv
			}
		}
		out.RowPtr = append(out.RowPtr, len(out.Idx))
	}
	return out, nil
}

// TabularFeaturizer uses record columns as features: a column whose
// training values all parse as numbers is standardised ((x − mean) / std,
// missing values 0); any other column is one-hot encoded over its
// MaxCategories most frequent training values (others and missing values
// encode as all zeros).
type TabularFeaturizer struct {
	Columns       []string `json:"columns"`
	MaxCategories int      `json:"max_categories,omitempty"`

	// Learned by Fit.
	Numeric    []bool             `json:"numeric,omitempty"`
	Mean       []float64          `json:"mean,omitempty"`
	Std        []float64          `json:"std,omitempty"`
	Categories []map[string]int32 `json:"categories,omitempty"`
	Offsets    []int              `json:"offsets,omitempty"`
	Width      int                `json:"width,omitempty"`
}

func cellNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func cellString(v any) string {
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s)
	}
	return fmt.Sprint(v)
}

// Fit learns each column's kind and statistics.
func (t *TabularFeaturizer) Fit(recs []Record) error {
	if len(t.Columns) == 0 {
		return fmt.Errorf("tabular featurizer: no columns named")
	}
	maxCat := t.MaxCategories
	if maxCat <= 0 {
		maxCat = 50
	}
	nc := len(t.Columns)
	t.Numeric = make([]bool, nc)
	t.Mean, t.Std = make([]float64, nc), make([]float64, nc)
	t.Categories = make([]map[string]int32, nc)
	t.Offsets = make([]int, nc)
	width := 0
	for c, col := range t.Columns {
		numeric, seen := true, 0
		var sum, sq float64
		freq := map[string]int{}
		for i, r := range recs {
			v, ok := r[col]
			if !ok {
				return fmt.Errorf("tabular featurizer: record %d has no column %q", i, col)
			}
			if v == nil || cellString(v) == "" {
				continue
			}
			freq[cellString(v)]++
			if x, ok := cellNumber(v); ok {
				sum += x
				sq += x * x
				seen++
			} else {
				numeric = false
			}
		}
		t.Offsets[c] = width
		if numeric && seen > 0 {
			t.Numeric[c] = true
			t.Mean[c] = sum / float64(seen)
			t.Std[c] = math.Sqrt(math.Max(sq/float64(seen)-t.Mean[c]*t.Mean[c], 0))
			if t.Std[c] == 0 {
				t.Std[c] = 1
			}
			width++
			continue
		}
		vals := make([]string, 0, len(freq))
		for v := range freq {
			vals = append(vals, v)
		}
		sort.Slice(vals, func(a, b int) bool {
			if freq[vals[a]] != freq[vals[b]] {
				return freq[vals[a]] > freq[vals[b]]
			}
			return vals[a] < vals[b]
		})
		if len(vals) > maxCat {
			vals = vals[:maxCat]
		}
		t.Categories[c] = map[string]int32{}
		for i, v := range vals {
			t.Categories[c][v] = int32(i)
		}
		width += len(vals)
	}
	t.Width = width
	return nil
}

// Dim returns the number of features.
func (t *TabularFeaturizer) Dim() int { return t.Width }

// Transform encodes records with the fitted statistics.
func (t *TabularFeaturizer) Transform(recs []Record) (*Sparse, error) {
	if t.Offsets == nil {
		return nil, fmt.Errorf("tabular featurizer: not fitted")
	}
	out := &Sparse{Dim: t.Width, RowPtr: make([]int, 1, len(recs)+1)}
	for i, r := range recs {
		for c, col := range t.Columns {
			v, ok := r[col]
			if !ok {
				return nil, fmt.Errorf("tabular featurizer: record %d has no column %q", i, col)
			}
			if v == nil || cellString(v) == "" {
				continue
			}
			if t.Numeric[c] {
				x, ok := cellNumber(v)
				if !ok {
					return nil, fmt.Errorf("tabular featurizer: record %d: column %q holds %q, not a number", i, col, cellString(v))
				}
				out.Idx = append(out.Idx, int32(t.Offsets[c]))
				out.Val = append(out.Val, float32((x-t.Mean[c])/t.Std[c]))
				continue
			}
			if id, ok := t.Categories[c][cellString(v)]; ok {
				out.Idx = append(out.Idx, int32(t.Offsets[c])+id)
				out.Val = append(out.Val, 1)
			}
		}
		out.RowPtr = append(out.RowPtr, len(out.Idx))
	}
	return out, nil
}
