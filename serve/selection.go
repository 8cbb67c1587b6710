package serve

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Selector chooses which of a model's versions answers a request that
// names no version (Clipper §5, model selection). Arms are indices into
// the versions the selector was built for. Implementations are pure: the
// randomness comes in as an argument, and they are not safe for concurrent
// use (the server holds a lock around them).
type Selector interface {
	// Choose returns the arm to use and the probability with which it was
	// chosen.
	Choose(rng *rand.Rand) (arm int, prob float64)
	// Feedback reports the reward in [0, 1] of an answer from arm that was
	// chosen with probability prob.
	Feedback(arm int, prob, reward float64)
	// Probabilities returns the current probability of choosing each arm.
	Probabilities() []float64
}

// Pinned always chooses one arm.
type Pinned struct {
	// Arm is the arm chosen.
	Arm int
	// Arms is the number of arms.
	Arms int
}

// Choose returns the pinned arm with probability 1.
func (p *Pinned) Choose(*rand.Rand) (int, float64) { return p.Arm, 1 }

// Feedback is ignored: a pinned choice does not learn.
func (p *Pinned) Feedback(int, float64, float64) {}

// Probabilities is 1 for the pinned arm, 0 elsewhere.
func (p *Pinned) Probabilities() []float64 {
	out := make([]float64, p.Arms)
	out[p.Arm] = 1
	return out
}

// Canary splits traffic by fixed weights, as a canary release does (for
// example 0.95 to the current version and 0.05 to the new one).
type Canary struct {
	probs []float64
}

// NewCanary returns a selector choosing arm i with probability
// weights[i] / Σ weights. Weights must be non-negative with a positive sum.
func NewCanary(weights []float64) (*Canary, error) {
	sum := 0.0
	for i, w := range weights {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("canary weight %d is %v, want a non-negative number", i, w)
		}
		sum += w
	}
	if sum <= 0 {
		return nil, fmt.Errorf("canary weights %v sum to %v, want a positive sum", weights, sum)
	}
	probs := make([]float64, len(weights))
	for i, w := range weights {
		probs[i] = w / sum
	}
	return &Canary{probs: probs}, nil
}

// Choose draws an arm by the weights.
func (c *Canary) Choose(rng *rand.Rand) (int, float64) {
	i := draw(c.probs, rng.Float64())
	return i, c.probs[i]
}

// Feedback is ignored: canary weights are set by the operator.
func (c *Canary) Feedback(int, float64, float64) {}

// Probabilities returns the normalised weights.
func (c *Canary) Probabilities() []float64 { return append([]float64(nil), c.probs...) }

// Exp3 is the adversarial multi-armed bandit of Auer et al. (2002) that
// Clipper's single-model selection policy uses (§5.1): arm i is chosen
// with probability p_i = (1−γ)·w_i/Σw + γ/K, and a reward x for the chosen
// arm updates only its weight, w_i ← w_i · exp(γ·(x/p_i)/K), the reward
// divided by the probability so that the estimate stays unbiased. Weights
// are kept as logarithms, shifted so that the largest is 0, which keeps
// them finite however long it runs.
type Exp3 struct {
	// Gamma is the exploration rate in (0, 1].
	Gamma float64
	logW  []float64
}

// NewExp3 returns a bandit over arms arms with exploration rate gamma.
func NewExp3(arms int, gamma float64) (*Exp3, error) {
	if arms < 1 {
		return nil, fmt.Errorf("exp3: %d arms, want at least 1", arms)
	}
	if !(gamma > 0 && gamma <= 1) {
		return nil, fmt.Errorf("exp3: gamma %v, want 0 < gamma <= 1", gamma)
	}
	return &Exp3{Gamma: gamma, logW: make([]float64, arms)}, nil
}

// Probabilities returns p_i for every arm.
func (e *Exp3) Probabilities() []float64 {
	k := float64(len(e.logW))
	ws := make([]float64, len(e.logW))
	sum := 0.0
	for i, lw := range e.logW {
		ws[i] = math.Exp(lw)
		sum += ws[i]
	}
	for i := range ws {
		ws[i] = (1-e.Gamma)*ws[i]/sum + e.Gamma/k
	}
	return ws
}

// Choose draws an arm from the current probabilities.
func (e *Exp3) Choose(rng *rand.Rand) (int, float64) {
	p := e.Probabilities()
	i := draw(p, rng.Float64())
	return i, p[i]
}

// Feedback applies the Exp3 update for reward (clamped to [0, 1]) of arm,
// chosen with probability prob.
func (e *Exp3) Feedback(arm int, prob, reward float64) {
	if arm < 0 || arm >= len(e.logW) || !(prob > 0) {
		return
	}
	reward = math.Min(math.Max(reward, 0), 1)
	e.logW[arm] += e.Gamma * (reward / prob) / float64(len(e.logW))
	top := math.Inf(-1)
	for _, lw := range e.logW {
		top = math.Max(top, lw)
	}
	for i := range e.logW {
		e.logW[i] -= top
	}
}

// carry gives e the learned weights of old for the versions that both
// have (arms named by oldArms and newArms), so that loading or unloading a
// version does not throw away what the bandit learned about the others.
// A version new to e starts at the weight of the best carried one, as
// every arm starts at one weight in a fresh Exp3: it is explored at once
// and keeps its share until its rewards say otherwise. Nothing is carried
// when the exploration rates differ (the operator changed the policy).
func (e *Exp3) carry(old *Exp3, oldArms, newArms []string) {
	if old == nil || old.Gamma != e.Gamma {
		return
	}
	prev := make(map[string]float64, len(oldArms))
	for i, v := range oldArms {
		if i < len(old.logW) {
			prev[v] = old.logW[i]
		}
	}
	top, any := math.Inf(-1), false
	for i, v := range newArms {
		if lw, ok := prev[v]; ok {
			e.logW[i], any = lw, true
			top = math.Max(top, lw)
		}
	}
	if !any {
		return
	}
	for i, v := range newArms {
		if _, ok := prev[v]; !ok {
			e.logW[i] = top
		}
	}
	for i := range e.logW {
		e.logW[i] -= top
	}
}

// draw returns the index i at which the cumulative sum of p passes u in [0, 1).
func draw(p []float64, u float64) int {
	acc := 0.0
	for i, v := range p {
		acc += v
		if u < acc {
			return i
		}
	}
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] > 0 {
			return i
		}
	}
	return 0
}
