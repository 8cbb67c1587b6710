package label

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func synthFor(t *testing.T, n int, accs, covs, balance []float64, seed uint64) (*Matrix, []int) {
	t.Helper()
	L, gold, err := Synthesize(SynthConfig{N: n, ClassBalance: balance, Accuracies: accs, Coverage: covs, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return L, gold
}

func TestOverlapEqualsNaive(t *testing.T) {
	L, _ := synthFor(t, 3000, []float64{0.9, 0.6, 0.7, 0.8}, []float64{0.5, 0.9, 0.2, 1}, []float64{0.2, 0.3, 0.5}, 3)
	want := overlapNaive(L)
	for _, w := range []int{1, 2, 5} {
		got := Overlap(L, w)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("workers %d: O[%d] = %g, naive %g", w, i, got[i], want[i])
			}
		}
	}
}

// TestMatrixCompletionGradient checks the analytic gradient of the
// objective (pairwise, marginal, L2 and third-moment terms) against central
// finite differences.
func TestMatrixCompletionGradient(t *testing.T) {
	L, _ := synthFor(t, 5000, []float64{0.9, 0.6, 0.7, 0.8}, []float64{0.5, 0.9, 0.4, 0.7}, []float64{0.3, 0.3, 0.4}, 5)
	m, k := L.M, L.K
	d := m * k
	trip, tm := tripleMoments(L, 1, 1)
	pr := &mcProblem{o: Overlap(L, 1), m: m, k: k, d: d, l2: 0.3, trip: trip, t: tm, w3: 2}
	rng := rand.New(rand.NewPCG(1, 2))
	mu := make([]float64, d*k)
	pr.mu0 = make([]float64, d*k)
	for i := range mu {
		mu[i] = rng.Float64()
		pr.mu0[i] = rng.Float64()
	}
	p := []float64{0.2, 0.5, 0.3}
	gmu, gp := make([]float64, d*k), make([]float64, k)
	pr.lossGrad(mu, p, gmu, gp)
	f := func() float64 { return pr.lossGrad(mu, p, make([]float64, d*k), make([]float64, k)) }
	const h = 1e-6
	check := func(name string, x []float64, g []float64) {
		for i := range x {
			old := x[i]
			x[i] = old + h
			up := f()
			x[i] = old - h
			down := f()
			x[i] = old
			num := (up - down) / (2 * h)
			if math.Abs(num-g[i]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Fatalf("d/d%s[%d]: analytic %g, numeric %g", name, i, g[i], num)
			}
		}
	}
	check("mu", mu, gmu)
	check("p", p, gp)
}

// TestMatrixCompletionRecoversAccuracies follows Ratner et al., "Training
// Complex Models with Multi-Task Weak Supervision" (AAAI 2019), §4: with
// conditionally independent functions, the accuracies and the class
// balance are recovered from the overlaps alone, and the model then beats
// majority vote.
func TestMatrixCompletionRecoversAccuracies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		balance []float64
		m       int
		cov     float64
	}{
		{"binary balanced", []float64{0.5, 0.5}, 20, 0.1},
		{"binary 25/75", []float64{0.25, 0.75}, 12, 0.2},
		{"three classes", []float64{0.2, 0.3, 0.5}, 15, 0.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			accs := make([]float64, tc.m)
			covs := make([]float64, tc.m)
			for j := range accs {
				accs[j] = 0.55 + 0.4*rng.Float64()
				covs[j] = tc.cov
			}
			L, gold := synthFor(t, 100000, accs, covs, tc.balance, 13)
			mc := &MatrixCompletion{}
			if err := mc.Fit(L); err != nil {
				t.Fatal(err)
			}
			if !mc.BalanceEstimated {
				t.Fatal("class balance was not estimated")
			}
			for j, a := range mc.Accuracies() {
				if math.Abs(a-accs[j]) > 0.05 {
					t.Errorf("function %d: accuracy %.3f, true %.3f", j, a, accs[j])
				}
			}
			for c, b := range mc.ClassBalance() {
				if math.Abs(b-tc.balance[c]) > 0.03 {
					t.Errorf("class %d: balance %.3f, true %.3f", c, b, tc.balance[c])
				}
			}
			tb := TieBreak{Policy: TieRandom, Seed: 3}
			pm, _ := mc.PredictProba(L)
			mv := &MajorityVote{}
			mv.Fit(L)
			pv, _ := mv.PredictProba(L)
			accMC, accMV := Accuracy(Predict(pm, tb), gold), Accuracy(Predict(pv, tb), gold)
			t.Logf("accuracy: matrix completion %.4f, majority vote %.4f; balance %.3f", accMC, accMV, mc.ClassBalance())
			if accMC <= accMV {
				t.Errorf("matrix completion %.4f does not beat majority vote %.4f", accMC, accMV)
			}
		})
	}
}

// TestMatrixCompletionFlippedMajority: when most functions are worse than
// chance the permutation under which they are most accurate is the wrong
// one; with a majority of good functions the labels come out right.
func TestMatrixCompletionSymmetry(t *testing.T) {
	accs := []float64{0.85, 0.8, 0.9, 0.75, 0.3}
	covs := []float64{0.5, 0.5, 0.5, 0.5, 0.5}
	L, gold := synthFor(t, 20000, accs, covs, []float64{0.5, 0.5}, 2)
	mc := &MatrixCompletion{}
	if err := mc.Fit(L); err != nil {
		t.Fatal(err)
	}
	p, _ := mc.PredictProba(L)
	if acc := Accuracy(Predict(p, TieBreak{}), gold); acc < 0.8 {
		t.Fatalf("accuracy %.3f: classes came out swapped", acc)
	}
	if a := mc.Accuracies()[4]; a > 0.4 {
		t.Fatalf("the adversarial function's accuracy is %.3f, true 0.3", a)
	}
}

func TestMatrixCompletionGivenBalance(t *testing.T) {
	L, _ := synthFor(t, 20000, []float64{0.8, 0.7, 0.9}, []float64{0.5, 0.5, 0.5}, []float64{0.3, 0.7}, 4)
	mc := &MatrixCompletion{Balance: []float64{0.3, 0.7}}
	if err := mc.Fit(L); err != nil {
		t.Fatal(err)
	}
	if mc.BalanceEstimated || mc.ClassBalance()[0] != 0.3 {
		t.Fatalf("given balance not kept: %v", mc.ClassBalance())
	}
	if err := (&MatrixCompletion{Balance: []float64{0.5, 0.6}}).Fit(L); err == nil {
		t.Fatal("a balance summing to 1.1 was accepted")
	}
}

func TestAllAbstainIsAnError(t *testing.T) {
	L, _ := FromDense([][]int{{-1, -1}, {-1, -1}}, 2, nil)
	for _, md := range []Model{&MatrixCompletion{}, &DawidSkene{}, &MajorityVote{}} {
		err := md.Fit(L)
		if !errors.Is(err, ErrAllAbstain) {
			t.Errorf("%T: %v", md, err)
		}
	}
	empty := &Matrix{K: 2, M: 2, Names: []string{"a", "b"}, RowPtr: []int64{0}}
	if err := (&MatrixCompletion{}).Fit(empty); !errors.Is(err, ErrAllAbstain) {
		t.Errorf("empty matrix: %v", err)
	}
}

func TestMultiLabelModel(t *testing.T) {
	// Two classes, each with its own five functions voting present or
	// absent; the rows' classes are independent.
	var rows [][]int
	var gold [][]bool
	rng := rand.New(rand.NewPCG(5, 6))
	accs := []float64{0.9, 0.8, 0.75, 0.7, 0.65}
	for i := 0; i < 20000; i++ {
		y := []bool{rng.Float64() < 0.3, rng.Float64() < 0.6}
		row := make([]int, 10)
		for c := 0; c < 2; c++ {
			for j := 0; j < 5; j++ {
				row[c*5+j] = Abstain
				if rng.Float64() < 0.5 {
					v := y[c]
					if rng.Float64() > accs[j] {
						v = !v
					}
					row[c*5+j] = map[bool]int{false: 0, true: 1}[v]
				}
			}
		}
		rows, gold = append(rows, row), append(gold, y)
	}
	L, err := FromDense(rows, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	L.Tasks = []int{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}
	ml := &MultiLabel{}
	if err := ml.Fit(L); err != nil {
		t.Fatal(err)
	}
	p, err := ml.PredictProba(L)
	if err != nil {
		t.Fatal(err)
	}
	bal := ml.ClassBalance()
	if math.Abs(bal[0]-0.3) > 0.03 || math.Abs(bal[1]-0.6) > 0.03 {
		t.Errorf("presence rates %.3f, want 0.3 and 0.6", bal)
	}
	// Per-class majority vote of the class's functions (ties: present)
	// is the baseline.
	right, rightMV := 0, 0
	pred := PredictMultiLabel(p)
	for i := range gold {
		for c := 0; c < 2; c++ {
			if pred[i][c] == gold[i][c] {
				right++
			}
			yes, no := 0, 0
			for j := 0; j < 5; j++ {
				switch rows[i][c*5+j] {
				case 1:
					yes++
				case 0:
					no++
				}
			}
			if (yes >= no) == gold[i][c] {
				rightMV++
			}
		}
	}
	acc, accMV := float64(right)/float64(2*len(gold)), float64(rightMV)/float64(2*len(gold))
	t.Logf("per-class accuracy %.4f, majority vote %.4f", acc, accMV)
	if acc <= accMV {
		t.Errorf("per-class accuracy %.4f does not beat majority vote's %.4f", acc, accMV)
	}
	if err := (&MajorityVote{}).Fit(L); err == nil {
		t.Error("majority vote accepted a multi-label matrix")
	}
}

func TestMatrixCompletionTooFewFunctionsForBalance(t *testing.T) {
	L, _ := synthFor(t, 2000, []float64{0.9, 0.7}, []float64{0.5, 0.5}, []float64{0.3, 0.7}, 1)
	mc := &MatrixCompletion{}
	if err := mc.Fit(L); err != nil {
		t.Fatal(err)
	}
	if mc.BalanceEstimated || mc.ClassBalance()[0] != 0.5 {
		t.Fatalf("two functions cannot tell the balance, yet it is %v (estimated %v)", mc.ClassBalance(), mc.BalanceEstimated)
	}
}
