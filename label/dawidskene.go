package label

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// DawidSkene is the label model of Dawid and Skene ("Maximum likelihood
// estimation of observer error-rates using the EM algorithm", 1979): each
// labeling function j has a confusion matrix P(λ_j = a | Y = y) over the K
// classes and abstain, the class balance is a parameter, and EM alternates
// the posterior of each row's class (E) with re-estimating both (M).
// Abstain is an outcome like any other, so that a function that only ever
// votes one class (most labeling functions do) still carries evidence: its
// silence is more likely under the other classes. EM starts from the
// majority-vote posteriors.
type DawidSkene struct {
	// Balance fixes the class balance; nil estimates it.
	Balance []float64
	// MaxIter bounds the EM iterations (default 100); Tol stops when the
	// mean log-likelihood gains less (default 1e-7).
	MaxIter int
	Tol     float64
	// Smoothing is the pseudo-count added to every confusion cell
	// (default 0.01).
	Smoothing float64
	// Workers is the number of goroutines of each pass (0: GOMAXPROCS).
	Workers int

	m, k  int
	prior []float64
	conf  []float64 // conf[(j*k+y)*(k+1)+a] = P(λ_j = a | Y = y), a = k is abstain
	// Iterations is the number of EM iterations the last Fit ran.
	Iterations int
}

func workersOr(w int) int {
	if w <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return w
}

// parallelRows runs fn over [0, n) split into w contiguous ranges.
func parallelRows(n, w int, fn func(part, lo, hi int)) {
	if w > n {
		w = max(n, 1)
	}
	var wg sync.WaitGroup
	for p := 0; p < w; p++ {
		lo, hi := n*p/w, n*(p+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(p, lo, hi)
		}()
	}
	wg.Wait()
}

// Fit runs EM on L.
func (ds *DawidSkene) Fit(L *Matrix) error {
	if err := checkFit(L); err != nil {
		return err
	}
	if L.MultiLabel() {
		return errMultiLabel("Dawid-Skene")
	}
	if ds.Balance != nil {
		if err := checkBalance(ds.Balance, L.K); err != nil {
			return fmt.Errorf("Dawid-Skene: %w", err)
		}
	}
	maxIter, tol, smooth := ds.MaxIter, ds.Tol, ds.Smoothing
	if maxIter <= 0 {
		maxIter = 100
	}
	if tol <= 0 {
		tol = 1e-7
	}
	if smooth <= 0 {
		smooth = 0.01
	}
	m, k := L.M, L.K
	k1 := k + 1
	ds.m, ds.k = m, k
	w := workersOr(ds.Workers)
	type acc struct {
		votes, prior []float64 // vote counts (m*k*k) and class mass (k)
		ll           float64
	}
	accs := make([]acc, w)
	for p := range accs {
		accs[p] = acc{votes: make([]float64, m*k*k), prior: make([]float64, k)}
	}
	// pass runs one E step (from the current parameters, or from majority
	// vote when first) and accumulates the M-step counts; abstain counts
	// are the class mass less the votes.
	pass := func(first bool) float64 {
		var logPrior, logConf []float64
		if !first {
			logPrior, logConf = ds.logParams()
		}
		parallelRows(L.N, w, func(part, lo, hi int) {
			a := &accs[part]
			clear(a.votes)
			clear(a.prior)
			a.ll = 0
			post := make([]float64, k)
			for i := lo; i < hi; i++ {
				cols, votes := L.Row(i)
				if first {
					for y := range post {
						post[y] = 1 / float64(k)
					}
					if len(votes) > 0 {
						clear(post)
						for _, v := range votes {
							post[v] += 1 / float64(len(votes))
						}
					}
				} else {
					copy(post, logPrior)
					for e, j := range cols {
						base := int(j) * k * k
						for y := 0; y < k; y++ {
							post[y] += logConf[base+y*k+int(votes[e])]
						}
					}
					a.ll += softmaxInPlace(post)
				}
				for y, py := range post {
					a.prior[y] += py
				}
				for e, j := range cols {
					base := int(j) * k * k
					for y, py := range post {
						a.votes[base+y*k+int(votes[e])] += py
					}
				}
			}
		})
		votes := make([]float64, m*k*k)
		mass := make([]float64, k)
		ll := 0.0
		for _, a := range accs {
			for i, x := range a.votes {
				votes[i] += x
			}
			for y, x := range a.prior {
				mass[y] += x
			}
			ll += a.ll
		}
		conf := make([]float64, m*k*k1)
		for j := 0; j < m; j++ {
			for y := 0; y < k; y++ {
				row := conf[(j*k+y)*k1 : (j*k+y+1)*k1]
				abst := mass[y]
				for a := 0; a < k; a++ {
					row[a] = votes[(j*k+y)*k+a]
					abst -= row[a]
				}
				row[k] = max(abst, 0)
				s := 0.0
				for a := range row {
					row[a] += smooth
					s += row[a]
				}
				for a := range row {
					row[a] /= s
				}
			}
		}
		prior := make([]float64, k)
		if ds.Balance != nil {
			copy(prior, ds.Balance)
		} else {
			s := 0.0
			for y := range prior {
				prior[y] = mass[y] + smooth
				s += prior[y]
			}
			for y := range prior {
				prior[y] /= s
			}
		}
		ds.conf, ds.prior = conf, prior
		return ll / float64(max(L.N, 1))
	}
	pass(true)
	prev := math.Inf(-1)
	ds.Iterations = 0
	for it := 0; it < maxIter; it++ {
		ll := pass(false)
		ds.Iterations++
		if ll-prev < tol {
			break
		}
		prev = ll
	}
	return nil
}

// logParams returns the log-prior with every function's abstain factor
// folded in, and per vote the log-ratio of voting to abstaining, indexed
// (j*k+y)*k+a, so that a row's log-posterior is the log-prior plus the
// ratios of its votes.
func (ds *DawidSkene) logParams() (logPrior, logConf []float64) {
	k, k1 := ds.k, ds.k+1
	logPrior = logs(ds.prior)
	logConf = make([]float64, ds.m*k*k)
	for j := 0; j < ds.m; j++ {
		for y := 0; y < k; y++ {
			row := ds.conf[(j*k+y)*k1 : (j*k+y+1)*k1]
			la := math.Log(row[k])
			logPrior[y] += la
			for a := 0; a < k; a++ {
				logConf[(j*k+y)*k+a] = math.Log(row[a]) - la
			}
		}
	}
	return logPrior, logConf
}

// logs returns the element-wise logarithm.
func logs(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Log(v)
	}
	return out
}

// softmaxInPlace turns log-weights into probabilities and returns their
// log-sum-exp.
func softmaxInPlace(x []float64) float64 {
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	s := 0.0
	for i, v := range x {
		x[i] = math.Exp(v - mx)
		s += x[i]
	}
	for i := range x {
		x[i] /= s
	}
	return mx + math.Log(s)
}

// PredictProba returns each row's posterior under the fitted model.
func (ds *DawidSkene) PredictProba(L *Matrix) (*Probs, error) {
	if err := checkPredict(L, ds.m, ds.k); err != nil {
		return nil, err
	}
	logPrior, logConf := ds.logParams()
	return posteriors(L, logPrior, logConf, ds.Workers), nil
}

// posteriors computes P(y | votes) ∝ prior(y) Π_j P(vote_j | y) for every
// row, from logPrior (k) and logConf (m*k*k, indexed (j*k+y)*k+a).
func posteriors(L *Matrix, logPrior, logConf []float64, workers int) *Probs {
	k := L.K
	p := NewProbs(L.N, k)
	parallelRows(L.N, workersOr(workers), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			row := p.Row(i)
			copy(row, logPrior)
			cols, votes := L.Row(i)
			for e, j := range cols {
				base := int(j) * k * k
				for y := 0; y < k; y++ {
					row[y] += logConf[base+y*k+int(votes[e])]
				}
			}
			softmaxInPlace(row)
		}
	})
	return p
}

// ClassBalance returns the fitted (or given) class balance.
func (ds *DawidSkene) ClassBalance() []float64 { return append([]float64(nil), ds.prior...) }

// Confusion returns P(λ_j = a | Y = y) of labeling function j as a
// K×(K+1) matrix indexed [y][a], column K being abstain.
func (ds *DawidSkene) Confusion(j int) [][]float64 {
	k1 := ds.k + 1
	out := make([][]float64, ds.k)
	for y := range out {
		out[y] = append([]float64(nil), ds.conf[(j*ds.k+y)*k1:(j*ds.k+y+1)*k1]...)
	}
	return out
}

// Accuracies returns each function's accuracy when it votes,
// P(λ_j = Y | λ_j ≠ abstain).
func (ds *DawidSkene) Accuracies() []float64 {
	k, k1 := ds.k, ds.k+1
	out := make([]float64, ds.m)
	for j := range out {
		right, votes := 0.0, 0.0
		for y := 0; y < k; y++ {
			for a := 0; a < k; a++ {
				x := ds.prior[y] * ds.conf[(j*k+y)*k1+a]
				votes += x
				if a == y {
					right += x
				}
			}
		}
		out[j] = right / votes
	}
	return out
}

func errMultiLabel(model string) error {
	return fmt.Errorf("%s: the matrix is multi-label; wrap the model in MultiLabel", model)
}
