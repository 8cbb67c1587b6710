package serve

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// InferResult is a model's answer to an InferRequest.
type InferResult struct {
	// Model is the model's name; Version the version that answered (for an
	// ensemble, the members that answered joined by "+").
	Model, Version string
	// ID is the request's ID.
	ID string
	// Rows and Classes give the shape of Probs (Rows × Classes).
	Rows, Classes int
	// Probs are the class probabilities.
	Probs []float32
	// Outputs are the outputs to return, in order.
	Outputs []string
	// Members is the number of ensemble members that answered (0 when not
	// an ensemble), of EnsembleSize.
	Members, EnsembleSize int
}

// ClassOf returns the most probable class of each row.
func (r *InferResult) ClassOf() []int64 {
	out := make([]int64, r.Rows)
	for i := range out {
		row := r.Probs[i*r.Classes : (i+1)*r.Classes]
		best := 0
		for c, v := range row {
			if v > row[best] {
				best = c
			}
		}
		out[i] = int64(best)
	}
	return out
}

// Infer answers one request: it resolves the model and version (by the
// model's policy when the request names none), checks the input, and
// predicts through the cache and the version's batcher. Errors are a
// *RequestError (400/404), an *OverloadError, ErrDeadline, or the
// context's error.
func (s *Server) Infer(ctx context.Context, req *InferRequest) (*InferResult, error) {
	if n := s.inFlight.Add(1); n > int64(s.cfg.MaxInFlight) {
		s.inFlight.Add(-1)
		return nil, &OverloadError{Reason: rejectInFlight, RetryAfter: s.cfg.SLO}
	}
	defer s.inFlight.Add(-1)
	now := time.Now()
	deadline := now.Add(s.cfg.SLO)
	if req.Timeout > 0 && now.Add(req.Timeout).Before(deadline) {
		deadline = now.Add(req.Timeout)
	}
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	sm, sv, err := s.lookup(req.Model, req.Version)
	if err != nil {
		return nil, err
	}
	outputs := req.Outputs
	if len(outputs) == 0 {
		outputs = []string{ProbabilitiesName, ClassName}
	}
	if sv != nil {
		return s.inferVersion(ctx, req, sv, outputs, deadline)
	}
	sm.selMu.Lock()
	sel, arms, ens := sm.selector, sm.arms, sm.ensemble
	sm.selMu.Unlock()
	if sel == nil || len(arms) == 0 {
		return nil, notFound("model_name", "model %q: %v", req.Model, errNoVersions)
	}
	if ens {
		return s.inferEnsemble(ctx, req, sm, arms, outputs, deadline)
	}
	arm, prob := s.draw(sel)
	_, sv, err = s.lookup(req.Model, arms[arm])
	if err != nil {
		return nil, err
	}
	res, err := s.inferVersion(ctx, req, sv, outputs, deadline)
	if err == nil && req.ID != "" {
		sm.feedback.add(req.ID, feedbackEntry{version: arms[arm], arm: arm, prob: prob, classes: res.ClassOf(), sel: sel})
	}
	return res, err
}

func (s *Server) inferVersion(ctx context.Context, req *InferRequest, sv *servedVersion, outputs []string, deadline time.Time) (*InferResult, error) {
	m := sv.model
	n, x, err := rowsFor(req, m, s.cfg.MaxRows)
	if err != nil {
		return nil, err
	}
	probs, err := s.predict(ctx, sv, x, n, deadline)
	if err != nil {
		return nil, err
	}
	return &InferResult{Model: m.Name, Version: m.Version, ID: req.ID, Rows: n, Classes: m.Classes, Probs: probs, Outputs: outputs}, nil
}

// predict answers rows from the cache where it can and sends the rest to
// the version's batcher as one request.
func (s *Server) predict(ctx context.Context, sv *servedVersion, x []float32, n int, deadline time.Time) ([]float32, error) {
	m := sv.model
	f, c := m.Features, m.Classes
	if s.cfg.CacheRows <= 0 {
		return sv.batcher.Predict(ctx, x, n, deadline)
	}
	out := make([]float32, n*c)
	keys := make([]CacheKey, n)
	var miss []int
	hits := 0
	for i := 0; i < n; i++ {
		keys[i] = CacheKey{Model: m.Name, Version: m.Version, Row: s.cache.RowHash(x[i*f : (i+1)*f])}
		if v, ok := s.cache.Get(keys[i]); ok {
			copy(out[i*c:], v)
			hits++
		} else {
			miss = append(miss, i)
		}
	}
	s.met.cacheHits.WithLabelValues(m.Name).Add(float64(hits))
	s.met.cacheMiss.WithLabelValues(m.Name).Add(float64(len(miss)))
	if len(miss) == 0 {
		return out, nil
	}
	xm := x
	if len(miss) < n {
		xm = make([]float32, 0, len(miss)*f)
		for _, i := range miss {
			xm = append(xm, x[i*f:(i+1)*f]...)
		}
	}
	pm, err := sv.batcher.Predict(ctx, xm, len(miss), deadline)
	if err != nil {
		return nil, err
	}
	for j, i := range miss {
		row := pm[j*c : (j+1)*c : (j+1)*c]
		copy(out[i*c:], row)
		s.cache.Put(keys[i], row)
	}
	return out, nil
}

// inferEnsemble sends the request to every member at once and answers with
// the mean of the members' probabilities as soon as the answers in hand
// fix the predicted classes (ensembleDecided), or at the deadline with the
// members that answered by then; stragglers are not waited for.
func (s *Server) inferEnsemble(ctx context.Context, req *InferRequest, sm *servedModel, arms, outputs []string, deadline time.Time) (*InferResult, error) {
	type answer struct {
		version string
		res     *InferResult
		err     error
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ch := make(chan answer, len(arms))
	var wg sync.WaitGroup
	for _, v := range arms {
		_, sv, err := s.lookup(req.Model, v)
		if err != nil {
			ch <- answer{version: v, err: err}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.inferVersion(ctx, req, sv, outputs, deadline)
			ch <- answer{version: v, res: r, err: err}
		}()
	}
	var got []*InferResult
	var names []string
	var firstErr error
	for pending := len(arms); pending > 0; {
		select {
		case a := <-ch:
			pending--
			if a.err != nil {
				var re *RequestError
				if errors.As(a.err, &re) {
					return nil, a.err
				}
				if firstErr == nil {
					firstErr = a.err
				}
				continue
			}
			got = append(got, a.res)
			names = append(names, a.version)
			probs := make([][]float32, len(got))
			for i, r := range got {
				probs[i] = r.Probs
			}
			if ensembleDecided(probs, pending, a.res.Rows, a.res.Classes) {
				pending = 0
			}
		case <-ctx.Done():
			pending = 0
		}
	}
	if len(got) == 0 {
		if firstErr == nil {
			firstErr = ErrDeadline
		}
		return nil, firstErr
	}
	probs := make([][]float32, len(got))
	for i, r := range got {
		probs[i] = r.Probs
	}
	sortVersions(names)
	return &InferResult{Model: req.Model, Version: strings.Join(names, "+"), ID: req.ID, Rows: got[0].Rows, Classes: got[0].Classes,
		Probs: ensembleAverage(probs), Outputs: outputs, Members: len(got), EnsembleSize: len(arms)}, nil
}

// feedbackEntry remembers which version answered a request, for feedback.
type feedbackEntry struct {
	version string
	arm     int
	prob    float64
	classes []int64
	sel     Selector
}

// feedbackLog holds the last few thousand answered request IDs of a model.
type feedbackLog struct {
	mu    sync.Mutex
	cap   int
	byID  map[string]feedbackEntry
	order []string
	next  int
}

func newFeedbackLog(capacity int) *feedbackLog {
	return &feedbackLog{cap: capacity, byID: map[string]feedbackEntry{}, order: make([]string, capacity)}
}

func (l *feedbackLog) add(id string, e feedbackEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.byID[id]; !ok {
		if old := l.order[l.next]; old != "" {
			delete(l.byID, old)
		}
		l.order[l.next] = id
		l.next = (l.next + 1) % l.cap
	}
	l.byID[id] = e
}

func (l *feedbackLog) take(id string) (feedbackEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byID[id]
	delete(l.byID, id)
	return e, ok
}

// Feedback is what a client reports about an earlier answer.
type Feedback struct {
	// ID is the request's id.
	ID string `json:"id"`
	// Reward in [0, 1], or else Labels: the true class of each row, the
	// reward being the fraction of rows answered right.
	Reward *float64 `json:"reward,omitempty"`
	Labels []int64  `json:"labels,omitempty"`
}

// FeedbackResult tells what the feedback updated.
type FeedbackResult struct {
	// Version is the version that had answered the request.
	Version string `json:"version"`
	// Reward is the reward applied.
	Reward float64 `json:"reward"`
	// Probabilities are the policy's probabilities per version afterwards.
	Probabilities map[string]float64 `json:"probabilities"`
}

// Feedback applies a client's reward for an answered request to the
// model's selection policy (an Exp3 bandit learns from it; pinned and
// canary policies ignore it).
func (s *Server) Feedback(model string, fb Feedback) (*FeedbackResult, error) {
	sm, _, err := s.lookup(model, "")
	if err != nil {
		return nil, err
	}
	if fb.ID == "" {
		return nil, badRequest("id", "missing: feedback names the id of the request it is about")
	}
	e, ok := sm.feedback.take(fb.ID)
	if !ok {
		return nil, notFound("id", "no answered request %q of model %q awaits feedback (it named a version, was already rated, or is too old)", fb.ID, model)
	}
	var reward float64
	switch {
	case fb.Reward != nil:
		reward = *fb.Reward
		if !(reward >= 0 && reward <= 1) {
			return nil, badRequest("reward", "%v is not in [0, 1]", reward)
		}
	case fb.Labels != nil:
		if len(fb.Labels) != len(e.classes) {
			return nil, badRequest("labels", "%d labels for a request of %d rows", len(fb.Labels), len(e.classes))
		}
		right := 0
		for i, l := range fb.Labels {
			if l == e.classes[i] {
				right++
			}
		}
		reward = float64(right) / float64(len(e.classes))
	default:
		return nil, badRequest("reward", "missing: give reward or labels")
	}
	sm.selMu.Lock()
	defer sm.selMu.Unlock()
	if sm.selector == nil {
		return nil, notFound("model_name", "model %q: %v", model, errNoVersions)
	}
	out := &FeedbackResult{Version: e.version, Reward: reward, Probabilities: map[string]float64{}}
	if e.sel == sm.selector {
		sm.selector.Feedback(e.arm, e.prob, reward)
	}
	for i, p := range sm.selector.Probabilities() {
		out.Probabilities[sm.arms[i]] = p
	}
	return out, nil
}
