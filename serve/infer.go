package serve

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

	classes []int64 // ClassOf's answer, once asked
}

// ClassOf returns the most probable class of each row. It is computed
// once (a request with an ID needs it for its feedback entry and again
// for its answer); the slice is shared, and callers must not change it.
func (r *InferResult) ClassOf() []int64 {
	if r.classes != nil {
		return r.classes
	}
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
	r.classes = out
	return out
}

// Infer answers one request: it resolves the model and version (by the
// model's policy when the request names none), checks the input, and
// predicts through the cache and the version's batcher. Errors are a
// *RequestError (400/404), an *OverloadError, ErrDeadline, or the
// context's error.
func (s *Server) Infer(ctx context.Context, req *InferRequest) (*InferResult, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	return s.infer(ctx, req)
}

// enter counts a request in against Config.MaxInFlight, or refuses it
// with an *OverloadError; leave counts it out. The REST front end enters
// before it reads the body, so that a refusal costs no reading or
// decoding.
func (s *Server) enter() error {
	if n := s.inFlight.Add(1); n > int64(s.cfg.MaxInFlight) {
		s.inFlight.Add(-1)
		return &OverloadError{Reason: rejectInFlight, RetryAfter: s.cfg.SLO}
	}
	return nil
}

func (s *Server) leave() { s.inFlight.Add(-1) }

// infer is Infer for a request already counted in.
func (s *Server) infer(ctx context.Context, req *InferRequest) (*InferResult, error) {
	now := time.Now()
	deadline := now.Add(s.cfg.SLO)
	if req.Timeout > 0 && now.Add(req.Timeout).Before(deadline) {
		deadline = now.Add(req.Timeout)
	}
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	outputs := req.Outputs
	if len(outputs) == 0 {
		outputs = []string{ProbabilitiesName, ClassName}
	}
	// A version unloaded or replaced between lookup and use (the
	// repository changed under traffic) is looked up again, twice at most.
	for attempt := 0; ; attempt++ {
		res, err := s.inferOnce(ctx, req, outputs, deadline)
		if errors.Is(err, errRetry) {
			if attempt < 2 {
				continue
			}
			err = ErrStopped
		}
		return res, err
	}
}

// errRetry marks an attempt that met a version retired under it.
var errRetry = errors.New("version retired during the request")

func (s *Server) inferOnce(ctx context.Context, req *InferRequest, outputs []string, deadline time.Time) (*InferResult, error) {
	sm, sv, err := s.lookup(req.Model, req.Version)
	if err != nil {
		return nil, err
	}
	if sv != nil {
		res, err := s.inferVersion(ctx, req, sv, outputs, deadline)
		if errors.Is(err, ErrStopped) {
			err = errRetry
		}
		return res, err
	}
	// The draw reads the selector's weights, which feedback changes under
	// selMu, so it is made under selMu too.
	sm.selMu.Lock()
	sel, arms, ens := sm.selector, sm.arms, sm.ensemble
	arm, prob := 0, 1.0
	if sel != nil && len(arms) > 0 && !ens {
		arm, prob = s.draw(sel)
	}
	sm.selMu.Unlock()
	if sel == nil || len(arms) == 0 {
		return nil, notFound("model_name", "model %q: %v", req.Model, errNoVersions)
	}
	if ens {
		return s.inferEnsemble(ctx, req, sm, arms, outputs, deadline)
	}
	if _, sv, err = s.lookup(req.Model, arms[arm]); err != nil {
		return nil, errRetry // the chosen version went away since the policy was read
	}
	res, err := s.inferVersion(ctx, req, sv, outputs, deadline)
	if errors.Is(err, ErrStopped) {
		return nil, errRetry
	}
	if err == nil && req.ID != "" {
		sm.feedback.add(req.ID, feedbackEntry{version: arms[arm], prob: prob, classes: res.ClassOf()})
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
		keys[i] = CacheKey{Model: m.Name, Version: m.Version, Load: sv.load, Row: s.cache.RowHash(x[i*f : (i+1)*f])}
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
		row := pm[j*c : (j+1)*c]
		copy(out[i*c:], row)
		// A copy: a slice of pm would keep the whole batch's answer alive
		// for as long as this one row stays cached.
		s.cache.Put(keys[i], slices.Clone(row))
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
	// The members' work may outlive the answer; the inputs must too.
	req = req.withOwnInputs()
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ch := make(chan answer, len(arms))
	var wg sync.WaitGroup
	for _, v := range arms {
		_, sv, err := s.lookup(req.Model, v)
		if err != nil {
			ch <- answer{version: v, err: errRetry} // unloaded since the policy was read
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
	var probs [][]float32 // got[i].Probs
	var names []string
	var firstErr error
	retired := 0 // members unloaded or replaced under the request
	for pending := len(arms); pending > 0; {
		select {
		case a := <-ch:
			pending--
			if errors.Is(a.err, errRetry) || errors.Is(a.err, ErrStopped) {
				retired++
				continue
			}
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
			if len(got) > 0 && a.res.Classes != got[0].Classes {
				// A member replaced since the policy was read (rebuild
				// refuses such an ensemble): its answer cannot be averaged.
				if firstErr == nil {
					firstErr = fmt.Errorf("ensemble member %s answers %d classes, not %d", a.version, a.res.Classes, got[0].Classes)
				}
				continue
			}
			got = append(got, a.res)
			probs = append(probs, a.res.Probs)
			names = append(names, a.version)
			if ensembleDecided(probs, pending, a.res.Rows, a.res.Classes) {
				pending = 0
			}
		case <-ctx.Done():
			pending = 0
		}
	}
	if len(got) == 0 {
		switch {
		case firstErr != nil:
		case retired > 0:
			// Every member that answered had been retired: the request
			// is tried again on the versions loaded now, as a
			// single-version request is.
			firstErr = errRetry
		default:
			firstErr = ErrDeadline
		}
		return nil, firstErr
	}
	sortVersions(names)
	return &InferResult{Model: req.Model, Version: strings.Join(names, "+"), ID: req.ID, Rows: got[0].Rows, Classes: got[0].Classes,
		Probs: ensembleAverage(probs), Outputs: outputs, Members: len(got), EnsembleSize: len(arms)}, nil
}
