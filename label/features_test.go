package label

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/tensor"
)

func TestTextFeaturizer(t *testing.T) {
	recs := []Record{{"t": "Check out my channel"}, {"t": "nice song"}, {"t": "my song"}}
	f := &TextFeaturizer{Field: "t", WordNGrams: 2, MinDF: 1}
	if err := f.Fit(recs); err != nil {
		t.Fatal(err)
	}
	// 4 + 2 + 2 unigrams (my, song shared) = 6 distinct; 3 + 1 + 1 bigrams.
	if f.Dim() != 6+5 {
		t.Fatalf("vocabulary of %d terms: %v", f.Dim(), f.Vocab)
	}
	X, err := f.Transform([]Record{{"t": "my song, my SONG"}, {"t": "unknown words"}})
	if err != nil {
		t.Fatal(err)
	}
	// "my", "song", "my song" (twice each), "song my" unknown: counts 2, 2,
	// 2 normalised to 1/√3 each.
	if n := X.RowPtr[1] - X.RowPtr[0]; n != 3 {
		t.Fatalf("row 0 has %d features", n)
	}
	for _, v := range X.Val[:3] {
		if math.Abs(float64(v)-1/math.Sqrt(3)) > 1e-6 {
			t.Fatalf("values %v", X.Val)
		}
	}
	if X.RowPtr[2] != X.RowPtr[1] {
		t.Fatal("unknown words produced features")
	}
	fs := &TextFeaturizer{Field: "t", WordNGrams: 1, Shape: true, TFIDF: true}
	fs.Fit(recs)
	if _, ok := fs.Vocab["s:len1"]; !ok {
		t.Fatalf("shape terms missing: %v", fs.Vocab)
	}
	if terms := shapeTerms("visit www.spam.com NOW 12345678", 4); !reflect.DeepEqual(terms, []string{"s:len1", "s:link", "s:digits"}) {
		t.Fatalf("shape terms %v", terms)
	}
	h := &TextFeaturizer{Field: "t", WordNGrams: 1, HashDim: 16}
	h.Fit(recs)
	Xh, _ := h.Transform(recs)
	if Xh.Dim != 16 || Xh.N() != 3 {
		t.Fatalf("hashed %d×%d", Xh.N(), Xh.Dim)
	}
}

func TestTabularFeaturizer(t *testing.T) {
	recs := []Record{{"age": "30", "job": "a"}, {"age": int64(50), "job": "b"}, {"age": "", "job": "a"}}
	f := &TabularFeaturizer{Columns: []string{"age", "job"}}
	if err := f.Fit(recs); err != nil {
		t.Fatal(err)
	}
	if !f.Numeric[0] || f.Numeric[1] || f.Dim() != 3 {
		t.Fatalf("kinds %v, dim %d", f.Numeric, f.Dim())
	}
	X, err := f.Transform([]Record{{"age": "40", "job": "b"}, {"age": nil, "job": "zzz"}})
	if err != nil {
		t.Fatal(err)
	}
	// mean 40, std 10: age 40 → 0; job b is the second category.
	if !reflect.DeepEqual(X.Idx, []int32{0, 2}) || X.Val[0] != 0 || X.Val[1] != 1 || X.RowPtr[2] != 2 {
		t.Fatalf("features %+v", X)
	}
	if _, err := f.Transform([]Record{{"age": "old", "job": "a"}}); err == nil {
		t.Fatal("a word in a numeric column was accepted")
	}
}

// TestSparseForwardEqualsDense: the sparse first layer computes what the
// dense reference computes.
func TestSparseForwardEqualsDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	X := &Sparse{Dim: 7, RowPtr: []int{0, 2, 2, 5}, Idx: []int32{1, 6, 0, 3, 4}, Val: []float32{0.5, -1, 2, 0.25, 1}}
	for _, hidden := range [][]int{nil, {4, 3}} {
		net, err := NewSparseNet(7, hidden, 2, rng)
		if err != nil {
			t.Fatal(err)
		}
		tp := autograd.NewTape()
		tp.SetNoGrad(true)
		rows := []int{2, 0, 1}
		sparse := net.ForwardSparse(tp, X, rows).Data.Clone()
		dense := make([]float32, 3*7)
		X.DenseRows(rows, dense)
		want := net.Forward(tp.Const(tensor.FromSlice(dense, 3, 7))).Data
		for i := range want.Data {
			if math.Abs(float64(sparse.Data[i]-want.Data[i])) > 1e-5 {
				t.Fatalf("hidden %v: output %d: sparse %g, dense %g", hidden, i, sparse.Data[i], want.Data[i])
			}
		}
	}
}

// TestNNClassifierLearnsFromSoftLabels: on separable data with soft
// labels, the classifier's predictions match the labels' argmax, for
// logistic regression and an MLP, and the loss falls.
func TestNNClassifierLearnsFromSoftLabels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n, dim := 400, 50
	X := &Sparse{Dim: dim, RowPtr: []int{0}}
	P := NewProbs(n, 2)
	var gold []int
	for i := 0; i < n; i++ {
		y := i % 2
		for f := 0; f < 5; f++ {
			X.Idx = append(X.Idx, int32(y*25+rng.IntN(25)))
			X.Val = append(X.Val, 1)
		}
		X.RowPtr = append(X.RowPtr, len(X.Idx))
		conf := 0.6 + 0.3*rng.Float64()
		P.P[i*2+y], P.P[i*2+1-y] = conf, 1-conf
		gold = append(gold, y)
	}
	for _, c := range []*NNClassifier{{Epochs: 20, LR: 0.05}, {Hidden: []int{8}, Epochs: 20, LR: 0.01}} {
		if err := c.Fit(X, P); err != nil {
			t.Fatal(err)
		}
		p, err := c.PredictProba(X)
		if err != nil {
			t.Fatal(err)
		}
		if acc := Accuracy(Predict(p, TieBreak{}), gold); acc < 0.99 {
			t.Errorf("hidden %v: accuracy %.3f", c.Hidden, acc)
		}
		if l := c.Losses; l[len(l)-1] >= l[0] {
			t.Errorf("hidden %v: loss went from %.4f to %.4f", c.Hidden, l[0], l[len(l)-1])
		}
	}
	ens := &Ensemble{Members: []SoftClassifier{&NNClassifier{Epochs: 5, LR: 0.05, Seed: 1}, &NNClassifier{Epochs: 5, LR: 0.05, Seed: 2}}}
	if err := ens.Fit(X, P); err != nil {
		t.Fatal(err)
	}
	pe, _ := ens.PredictProba(X)
	p1, _ := ens.Members[0].PredictProba(X)
	p2, _ := ens.Members[1].PredictProba(X)
	if math.Abs(pe.P[0]-(p1.P[0]+p2.P[0])/2) > 1e-12 {
		t.Errorf("ensemble is not the mean of its members")
	}
	bad := NewProbs(n, 2)
	bad.P[0] = math.NaN()
	if err := (&NNClassifier{}).Fit(X, bad); err == nil {
		t.Error("NaN label accepted")
	}
}

func TestEndModelSaveLoad(t *testing.T) {
	var recs []Record
	P := NewProbs(60, 2)
	for i := 0; i < 60; i++ {
		text := "nice song really"
		if i%2 == 1 {
			text = "subscribe to my channel"
		}
		recs = append(recs, Record{"t": text})
		P.P[i*2+i%2] = 0.9
		P.P[i*2+1-i%2] = 0.1
	}
	e := &EndModel{Text: &TextFeaturizer{Field: "t", WordNGrams: 2, TFIDF: true}, Classes: []string{"HAM", "SPAM"}}
	if err := TrainEndModel(e, recs, P, NNClassifier{Hidden: []int{4}, Epochs: 5, LR: 0.02}, 2); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := e.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadEndModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := e.PredictProba(recs[:4])
	if err != nil {
		t.Fatal(err)
	}
	p2, err := back.PredictProba(recs[:4])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p1.P, p2.P) {
		t.Fatalf("reloaded model predicts %v, original %v", p2.P, p1.P)
	}
	if got := Predict(p1, TieBreak{}); !reflect.DeepEqual(got, []int{0, 1, 0, 1}) {
		t.Fatalf("predictions %v", got)
	}
}
