package label

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// MatrixCompletion is the label model of Ratner et al., "Training Complex
// Models with Multi-Task Weak Supervision" (AAAI 2019), for conditionally
// independent labeling functions, as Snorkel 0.9's LabelModel fits it.
//
// Let ψ be a row's one-hot vote vector (D = M*K entries) and O = E[ψψᵀ]
// its overlap matrix. If the functions are independent given the class Y,
// the off-diagonal blocks of O factor as
//
//	O[ja, j'b] = Σ_y μ[ja, y] p_y μ[j'b, y]      (j ≠ j')
//
// with μ[ja, y] = P(λ_j = a | Y = y) and p the class balance, and the
// diagonal holds the vote frequencies O[ja, ja] = Σ_y μ[ja, y] p_y. Fit
// minimises, over the D×K matrix μ (and p when it is not given),
//
//	‖(O − μ diag(p) μᵀ)_Ω‖² + ‖μ p − diag(O)‖² + L2 ‖μ − μ₀‖²
//
// where Ω masks out the diagonal blocks, with projected Adam: μ stays in
// [0, 1] and p on the simplex (through a softmax). μ₀ assumes each
// function is right PrecInit of the time. This needs no ground truth: the
// accuracies are read off the agreement structure.
//
// The class balance needs more than pairwise agreement: for any p some μ
// reproduces O (see triples.go). When Balance is nil, Fit adds a term for
// the third moments of sampled triples of functions, starts p from a short
// Dawid-Skene run on a row sample, and finishes the optimisation with
// L-BFGS, which follows the long flat valley along p that Adam crawls in.
// With fewer than three functions the balance stays uniform
// (BalanceEstimated reports which). On real labeling functions, which are
// rarely independent given the class, the estimate can be far off: give
// the balance, or choose it on labeled validation rows (Select,
// MatrixCompletionGrid).
//
// Labels are identified up to a permutation of the classes; Fit picks the
// permutation under which the functions are, on average, most accurate.
// The work is one sparse pass to build O (and one over a sample for the
// third moments), then an optimisation over D×K numbers whose cost does
// not depend on the number of rows.
type MatrixCompletion struct {
	// Balance fixes the class balance; nil estimates it with μ.
	Balance []float64
	// Steps is the number of Adam steps (default 300), LR the initial
	// learning rate (default 0.02, cosine-decayed to a hundredth).
	Steps int
	LR    float64
	// L2 weighs the pull of μ towards μ₀ (default 0).
	L2 float64
	// PrecInit is the initial precision of every function (default 0.7).
	PrecInit float64
	// Workers is the number of goroutines of the sparse passes (0:
	// GOMAXPROCS).
	Workers int
	// PolishIterations bounds the L-BFGS iterations that finish the fit
	// when the balance is estimated (default 200).
	PolishIterations int
	// Seed picks the sampled triples of functions.
	Seed uint64
	// AbstainEvidence makes PredictProba count abstains as evidence (see
	// there).
	AbstainEvidence bool

	m, k int
	// BalanceEstimated reports whether the last Fit estimated the class
	// balance (false when it was given, or could not be estimated).
	BalanceEstimated bool
	mu               []float64 // D×K, row-major
	p                []float64
	// Loss is the objective's value after the last step.
	Loss float64
}

// maxMCDim bounds M*K: O is (M*K)², counted per worker.
const maxMCDim = 4096

// Fit learns μ and the class balance from L.
func (mc *MatrixCompletion) Fit(L *Matrix) error {
	if err := checkFit(L); err != nil {
		return err
	}
	if L.MultiLabel() {
		return errMultiLabel("matrix completion")
	}
	if L.M*L.K > maxMCDim {
		return fmt.Errorf("matrix completion: %d functions × %d classes exceed %d one-hot columns; use Dawid-Skene", L.M, L.K, maxMCDim)
	}
	if mc.Balance != nil {
		if err := checkBalance(mc.Balance, L.K); err != nil {
			return fmt.Errorf("matrix completion: %w", err)
		}
	}
	o := Overlap(L, mc.Workers)
	var trip [][3]int
	var t, p0 []float64
	if mc.Balance == nil {
		trip, t = tripleMoments(L, mc.Seed, mc.Workers)
		p0 = startBalance(L, mc.Workers)
	}
	mc.fitMoments(o, L.M, L.K, trip, t, p0)
	return nil
}

// mcProblem holds the objective's data.
type mcProblem struct {
	o       []float64 // D×D
	m, k, d int
	mu0     []float64
	l2      float64
	// Third-order moments, when the class balance is estimated: trip
	// holds triples of distinct functions, t their k³ moments each
	// (E[ψ_u ψ_v ψ_w], cells in a, b, c order), weighted by w3.
	trip [][3]int
	t    []float64
	w3   float64
}

// lossGrad returns the objective at (mu, p) and adds its gradients into
// gmu (D×K) and gp (K).
func (pr *mcProblem) lossGrad(mu, p, gmu, gp []float64) float64 {
	k, d := pr.k, pr.d
	loss := 0.0
	// a = μ diag(p), rm = R μ accumulated pair by pair over the upper
	// off-diagonal blocks (R is symmetric, so each pair counts twice).
	a := make([]float64, d*k)
	for u := 0; u < d; u++ {
		for y := 0; y < k; y++ {
			a[u*k+y] = mu[u*k+y] * p[y]
		}
	}
	rm := make([]float64, d*k)
	for u := 0; u < d; u++ {
		au := a[u*k : (u+1)*k]
		muU := mu[u*k : (u+1)*k]
		rmU := rm[u*k : (u+1)*k]
		orow := pr.o[u*d : (u+1)*d]
		start := (u/k + 1) * k
		for v := start; v < d; v++ {
			muV := mu[v*k : (v+1)*k]
			g := 0.0
			for y, x := range au {
				g += x * muV[y]
			}
			r := g - orow[v]
			loss += 2 * r * r
			rmV := rm[v*k : (v+1)*k]
			for y := range rmU {
				rmU[y] += r * muV[y]
				rmV[y] += r * muU[y]
			}
		}
	}
	if len(pr.trip) > 0 {
		loss += pr.tripleLossGrad(mu, p, gmu, gp)
	}
	for u := 0; u < d; u++ {
		// Marginal term: r2 = Σ_y μ[u,y] p_y − O[u,u].
		r2 := -pr.o[u*d+u]
		for y := 0; y < k; y++ {
			r2 += a[u*k+y]
		}
		loss += r2 * r2
		for y := 0; y < k; y++ {
			m := mu[u*k+y]
			gmu[u*k+y] += 4*rm[u*k+y]*p[y] + 2*r2*p[y]
			gp[y] += 2*m*rm[u*k+y] + 2*r2*m
			if pr.l2 > 0 {
				diff := m - pr.mu0[u*k+y]
				loss += pr.l2 * diff * diff
				gmu[u*k+y] += 2 * pr.l2 * diff
			}
		}
	}
	return loss
}

// tripleLossGrad adds w3 Σ (Σ_y p_y μ_uy μ_vy μ_wy − T_uvw)² over the
// sampled triples and returns it.
func (pr *mcProblem) tripleLossGrad(mu, p, gmu, gp []float64) float64 {
	k := pr.k
	loss := 0.0
	cell := 0
	for _, tr := range pr.trip {
		for a := 0; a < k; a++ {
			u := (tr[0]*k + a) * k
			for b := 0; b < k; b++ {
				v := (tr[1]*k + b) * k
				for c := 0; c < k; c++ {
					w := (tr[2]*k + c) * k
					pred := 0.0
					for y := 0; y < k; y++ {
						pred += p[y] * mu[u+y] * mu[v+y] * mu[w+y]
					}
					r := pred - pr.t[cell]
					cell++
					loss += pr.w3 * r * r
					g := 2 * pr.w3 * r
					for y := 0; y < k; y++ {
						mu1, mu2, mu3 := mu[u+y], mu[v+y], mu[w+y]
						gy := g * p[y]
						gmu[u+y] += gy * mu2 * mu3
						gmu[v+y] += gy * mu1 * mu3
						gmu[w+y] += gy * mu1 * mu2
						gp[y] += g * mu1 * mu2 * mu3
					}
				}
			}
		}
	}
	return loss
}

// initMu returns μ₀: function j is right prec of the time when it votes a,
// and spreads the rest over the other classes, so that μ₀ p matches every
// vote frequency.
func initMu(o []float64, m, k int, p []float64, prec float64) []float64 {
	d := m * k
	mu := make([]float64, d*k)
	for j := 0; j < m; j++ {
		for a := 0; a < k; a++ {
			u := j*k + a
			lp := o[u*d+u]
			for y := 0; y < k; y++ {
				if y == a {
					mu[u*k+y] = math.Min(lp*prec/p[y], 1)
				} else {
					mu[u*k+y] = math.Min(lp*(1-prec)/(float64(k-1)*p[y]), 1)
				}
			}
		}
	}
	return mu
}

// fitMoments fits μ (and p) to the overlap matrix o and, when the balance
// is estimated, to the third moments t of the triples trip. Without third
// moments (fewer than 3 functions, or no triple ever voting together) the
// balance cannot be estimated and stays uniform.
//
// p0, when not nil, is where the estimated balance starts.
func (mc *MatrixCompletion) fitMoments(o []float64, m, k int, trip [][3]int, t, p0 []float64) {
	steps, lr, prec := mc.Steps, mc.LR, mc.PrecInit
	if steps <= 0 {
		steps = 300
	}
	if lr <= 0 {
		lr = 0.02
	}
	if prec <= 0 || prec >= 1 {
		prec = 0.7
	}
	d := m * k
	w3 := 0.0
	if mc.Balance == nil && len(trip) > 0 {
		// Weigh the third moments so that a relative error costs about
		// as much in both terms.
		s2, s3 := 0.0, 0.0
		for u := 0; u < d; u++ {
			for v := (u/k + 1) * k; v < d; v++ {
				s2 += 2 * o[u*d+v] * o[u*d+v]
			}
		}
		for _, x := range t {
			s3 += x * x
		}
		if s3 > 0 {
			w3 = s2 / s3
		}
	}
	estimate := mc.Balance == nil && w3 > 0
	mc.BalanceEstimated = estimate
	p := uniform(k)
	switch {
	case mc.Balance != nil:
		p = append([]float64(nil), mc.Balance...)
	case estimate && p0 != nil:
		p = append([]float64(nil), p0...)
	}
	mu := initMu(o, m, k, p, prec)
	pr := &mcProblem{o: o, m: m, k: k, d: d, mu0: append([]float64(nil), mu...), l2: mc.L2}
	if estimate {
		pr.trip, pr.t, pr.w3 = trip, t, w3
	}
	theta := make([]float64, k) // p = softmax(θ) when estimated
	for y := range theta {
		theta[y] = math.Log(p[y])
	}
	// Adam over μ (D×K) followed by θ (K).
	n := d*k + k
	params := make([]float64, n)
	grad := make([]float64, n)
	m1 := make([]float64, n)
	m2 := make([]float64, n)
	const b1, b2, eps = 0.9, 0.999, 1e-12
	copy(params, mu)
	copy(params[d*k:], theta)
	var loss float64
	for t := 1; t <= steps; t++ {
		mu := params[:d*k]
		if estimate {
			p = softmax(params[d*k:])
		}
		clear(grad)
		gp := make([]float64, k)
		loss = pr.lossGrad(mu, p, grad[:d*k], gp)
		if estimate {
			dot := 0.0
			for y := range gp {
				dot += gp[y] * p[y]
			}
			for y := range gp {
				grad[d*k+y] = p[y] * (gp[y] - dot)
			}
		}
		// Cosine decay to lr/100 converges precisely at the end.
		rate := lr * (0.01 + 0.99*0.5*(1+math.Cos(math.Pi*float64(t-1)/float64(steps))))
		c1, c2 := 1-math.Pow(b1, float64(t)), 1-math.Pow(b2, float64(t))
		for i, g := range grad {
			m1[i] = b1*m1[i] + (1-b1)*g
			m2[i] = b2*m2[i] + (1-b2)*g*g
			params[i] -= rate * (m1[i] / c1) / (math.Sqrt(m2[i]/c2) + eps)
		}
		for i := 0; i < d*k; i++ {
			params[i] = math.Min(math.Max(params[i], 0), 1)
		}
	}
	mu = params[:d*k]
	if estimate {
		// Second moments leave the balance nearly free (see
		// triples.go): the valley along it is long and flat, and Adam
		// crawls there. L-BFGS, which sees the curvature, finishes it.
		mu, p, loss = pr.polish(mu, params[d*k:], mc.PolishIterations)
	}
	mc.m, mc.k, mc.Loss = m, k, loss
	mc.mu, mc.p = breakSymmetry(mu, p, m, k)
}

func softmax(x []float64) []float64 {
	out := append([]float64(nil), x...)
	softmaxInPlace(out)
	return out
}

// breakSymmetry permutes the classes of μ and p (a latent relabelling
// leaves the objective unchanged) to the permutation under which the
// functions agree most with the class: the largest Σ_j Σ_y p_y μ[j y, y].
// Up to 8 classes are searched exhaustively; above, the identity is kept.
func breakSymmetry(mu, p []float64, m, k int) ([]float64, []float64) {
	if k > 8 {
		return mu, p
	}
	score := func(perm []int) float64 {
		// Latent class perm[y] is relabelled y.
		s := 0.0
		for j := 0; j < m; j++ {
			for y := 0; y < k; y++ {
				s += p[perm[y]] * mu[(j*k+y)*k+perm[y]]
			}
		}
		return s
	}
	perm := make([]int, k)
	for i := range perm {
		perm[i] = i
	}
	best := append([]int(nil), perm...)
	bestScore := score(perm)
	permute(perm, 0, func(q []int) {
		if s := score(q); s > bestScore+1e-12 {
			bestScore = s
			copy(best, q)
		}
	})
	outMu := make([]float64, len(mu))
	outP := make([]float64, k)
	for y := 0; y < k; y++ {
		outP[y] = p[best[y]]
		for u := 0; u < m*k; u++ {
			outMu[u*k+y] = mu[u*k+best[y]]
		}
	}
	return outMu, outP
}

// permute calls fn with every permutation of q[i:] (Heap-free recursive
// swapping; q is restored afterwards).
func permute(q []int, i int, fn func([]int)) {
	if i == len(q) {
		fn(q)
		return
	}
	for j := i; j < len(q); j++ {
		q[i], q[j] = q[j], q[i]
		permute(q, i+1, fn)
		q[i], q[j] = q[j], q[i]
	}
}

// PredictProba returns P(Y | votes) ∝ p_Y Π_j μ[j λ_j, Y] over each row's
// votes, with μ clamped to [0.01, 0.99] as Snorkel does. Abstains carry no
// evidence unless AbstainEvidence is set, when an abstaining function j
// contributes P(λ_j = abstain | Y) = 1 − Σ_a μ[ja, Y].
func (mc *MatrixCompletion) PredictProba(L *Matrix) (*Probs, error) {
	if err := checkPredict(L, mc.m, mc.k); err != nil {
		return nil, err
	}
	k := mc.k
	clamp := func(x float64) float64 { return math.Min(math.Max(x, 0.01), 0.99) }
	logConf := make([]float64, mc.m*k*k) // (j*k+y)*k+a, as posteriors wants
	logPrior := logs(mc.p)
	for j := 0; j < mc.m; j++ {
		for y := 0; y < k; y++ {
			abst := 1.0
			for a := 0; a < k; a++ {
				abst -= mc.mu[(j*k+a)*k+y]
			}
			for a := 0; a < k; a++ {
				x := math.Log(clamp(mc.mu[(j*k+a)*k+y]))
				if mc.AbstainEvidence {
					// Every row starts as if all functions abstained;
					// a vote swaps its abstain factor for its vote's.
					x -= math.Log(clamp(abst))
				}
				logConf[(j*k+y)*k+a] = x
			}
			if mc.AbstainEvidence {
				logPrior[y] += math.Log(clamp(abst))
			}
		}
	}
	return posteriors(L, logPrior, logConf, mc.Workers), nil
}

// ClassBalance returns the estimated (or given) class balance.
func (mc *MatrixCompletion) ClassBalance() []float64 { return append([]float64(nil), mc.p...) }

// Mu returns P(λ_j = a | Y = y) as mu[j][a][y].
func (mc *MatrixCompletion) Mu() [][][]float64 {
	k := mc.k
	out := make([][][]float64, mc.m)
	for j := range out {
		out[j] = make([][]float64, k)
		for a := range out[j] {
			out[j][a] = append([]float64(nil), mc.mu[(j*k+a)*k:(j*k+a+1)*k]...)
		}
	}
	return out
}

// Accuracies returns each function's accuracy when it votes,
// P(λ_j = Y | λ_j ≠ abstain) = Σ_y p_y μ[j y, y] / Σ_y p_y Σ_a μ[j a, y].
// A function that never votes gets NaN.
func (mc *MatrixCompletion) Accuracies() []float64 {
	k := mc.k
	out := make([]float64, mc.m)
	for j := range out {
		right, votes := 0.0, 0.0
		for y := 0; y < k; y++ {
			for a := 0; a < k; a++ {
				x := mc.p[y] * mc.mu[(j*k+a)*k+y]
				votes += x
				if a == y {
					right += x
				}
			}
		}
		out[j] = right / votes
		if votes == 0 {
			out[j] = math.NaN()
		}
	}
	return out
}

// polish minimises the objective from (mu, theta) with L-BFGS over
// unconstrained coordinates: μ = σ(z) and p = softmax(θ). The objective is
// scaled to order one for the optimiser's tolerances.
func (pr *mcProblem) polish(mu, theta []float64, iters int) ([]float64, []float64, float64) {
	if iters <= 0 {
		iters = 200
	}
	k, dk := pr.k, pr.d*pr.k
	scale := 0.0
	for _, x := range pr.o {
		scale += x * x
	}
	if scale == 0 {
		return mu, softmax(theta), 0
	}
	scale = 1 / scale
	x0 := make([]float64, dk+k)
	for i, m := range mu {
		m = math.Min(math.Max(m, 1e-7), 1-1e-7)
		x0[i] = math.Log(m / (1 - m))
	}
	copy(x0[dk:], theta)
	muBuf := make([]float64, dk)
	gmu := make([]float64, dk)
	gp := make([]float64, k)
	eval := func(x, grad []float64) float64 {
		for i := range muBuf {
			muBuf[i] = 1 / (1 + math.Exp(-x[i]))
		}
		p := softmax(x[dk:])
		clear(gmu)
		clear(gp)
		f := pr.lossGrad(muBuf, p, gmu, gp)
		if grad != nil {
			for i, m := range muBuf {
				grad[i] = scale * gmu[i] * m * (1 - m)
			}
			dot := 0.0
			for y := range gp {
				dot += gp[y] * p[y]
			}
			for y := range gp {
				grad[dk+y] = scale * p[y] * (gp[y] - dot)
			}
		}
		return scale * f
	}
	prob := optimize.Problem{
		Func: func(x []float64) float64 { return eval(x, nil) },
		Grad: func(grad, x []float64) { eval(x, grad) },
	}
	settings := &optimize.Settings{
		MajorIterations:   iters,
		GradientThreshold: 1e-10,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-10, Iterations: 20},
	}
	res, err := optimize.Minimize(prob, x0, settings, &optimize.LBFGS{})
	x := x0
	if err == nil || (res != nil && res.X != nil) {
		x = res.X
	}
	out := make([]float64, dk)
	for i := range out {
		out[i] = 1 / (1 + math.Exp(-x[i]))
	}
	p := softmax(x[dk:])
	return out, p, pr.lossGrad(out, p, make([]float64, dk), make([]float64, k))
}

// startRows bounds the rows startBalance reads.
const startRows = 20000

// startBalance is where the balance estimate starts: the prior of a short
// Dawid-Skene EM on an even sample of at most startRows covered rows. The
// moment objective has several basins when the classes are skewed; EM
// lands near the right one cheaply, and the moments then decide.
func startBalance(L *Matrix, workers int) []float64 {
	rows := L.CoveredRows()
	if len(rows) > startRows {
		step := float64(len(rows)) / startRows
		sample := make([]int, startRows)
		for i := range sample {
			sample[i] = rows[int(float64(i)*step)]
		}
		rows = sample
	}
	ds := &DawidSkene{MaxIter: 20, Tol: 1e-5, Workers: workers}
	if err := ds.Fit(L.SelectRows(rows)); err != nil {
		return nil
	}
	return ds.ClassBalance()
}
