package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config sets up a Server.
type Config struct {
	// Repository is the model repository's root: NAME/VERSION/ folders
	// written by kiln train --out.
	Repository string
	// SLO is the latency objective of a request, and its default deadline.
	SLO time.Duration
	// MaxBatch bounds batches, in rows; 1 turns batching off.
	MaxBatch int
	// MaxDelay is the longest a free model waits for its batch to fill
	// (Clipper's delayed batching; default: SLO/40, at most 500 µs;
	// negative: no waiting, batches form only while the model is busy).
	// It waits only for the rows expected within MaxDelay at the recent
	// arrival rate, so a lightly loaded model does not wait at all.
	MaxDelay time.Duration
	// MaxQueueRows bounds each version's queue, in rows.
	MaxQueueRows int
	// MaxRows bounds the rows of one request.
	MaxRows int
	// MaxInFlight bounds the requests inside Infer at once, across models
	// (for REST, from before the body is read); more are refused at once
	// (the queues bound rows per version, this bounds the memory of
	// requests waiting on ensembles and caches, and of bodies).
	MaxInFlight int
	// MaxBody bounds a REST request's body, in bytes.
	MaxBody int64
	// CacheRows is the prediction cache's capacity in rows (0: no cache).
	CacheRows int
	// Poll is how often the repository is scanned for changes.
	Poll time.Duration
	// Logger receives structured logs (nil: discard).
	Logger *slog.Logger
	// Seed seeds the selection policies' randomness.
	Seed uint64
}

func (c *Config) defaults() {
	if c.SLO <= 0 {
		c.SLO = 20 * time.Millisecond
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	switch {
	case c.MaxDelay == 0:
		c.MaxDelay = min(c.SLO/40, 500*time.Microsecond)
	case c.MaxDelay < 0:
		c.MaxDelay = 0
	}
	if c.MaxQueueRows <= 0 {
		c.MaxQueueRows = 8 * c.MaxBatch
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 1024
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 4096
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 32 << 20
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server serves the models of a repository: it loads and unloads versions
// as the repository changes, batches requests per version, caches
// predictions, and chooses versions by each model's policy. The protocol
// front ends (REST in http.go, gRPC in grpc.go) decode requests and call
// Infer.
type Server struct {
	cfg     Config
	log     *slog.Logger
	met     *metrics
	cache   *Cache
	rng     *rand.Rand
	rngMu   sync.Mutex
	mu      sync.RWMutex
	models  map[string]*servedModel
	syncMu  sync.Mutex
	loads   uint64 // versions loaded so far; under syncMu
	stop    chan struct{}
	stopped chan struct{}
	closed  bool
	// watching is set by the first Watch (under mu): WaitWatch waits
	// only for a Watch that started, and a second Watch returns at once.
	watching bool

	inFlight atomic.Int64
	bodies   sync.Pool // *[]byte: REST request bodies of known length
	words    wordPool  // binary FP32 inputs (REST and gRPC)
	headers  headerCache
}

type servedModel struct {
	name     string
	versions map[string]*servedVersion
	order    []string // loaded versions, ascending
	policy   PolicyConfig
	pstamp   string

	selMu    sync.Mutex
	selector Selector
	arms     []string
	ensemble bool
	feedback *feedbackLog
}

type servedVersion struct {
	model   *Model
	batcher *Batcher
	stamp   string
	load    uint64 // this load's number, unique in the server (CacheKey.Load)
}

// NewServer loads the repository once and returns the server; Watch keeps
// it in step with the repository afterwards.
func NewServer(cfg Config) (*Server, error) {
	cfg.defaults()
	s := &Server{cfg: cfg, log: cfg.Logger, met: newMetrics(), cache: NewCache(cfg.CacheRows),
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), models: map[string]*servedModel{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	s.bodies.New = func() any { return new([]byte) }
	s.met.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kiln_serve_cache_hit_ratio",
		Help: "Prediction cache hits / lookups since start."}, func() float64 {
		h, m := s.cache.Stats()
		if h+m == 0 {
			return 0
		}
		return float64(h) / float64(h+m)
	}))
	if err := s.Sync(); err != nil {
		s.Close() // stops the batchers of what did load
		return nil, err
	}
	return s, nil
}

// Registry returns the server's Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.met.reg }

// Watch rescans the repository every Config.Poll until Close. A second
// call returns at once.
func (s *Server) Watch() {
	s.mu.Lock()
	if s.watching {
		s.mu.Unlock()
		return
	}
	s.watching = true
	s.mu.Unlock()
	defer close(s.stopped)
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.Sync(); err != nil {
				s.log.Error("repository scan failed", "err", err)
			}
		}
	}
}

// Sync loads new and changed versions and unloads removed ones. A version
// that fails to load is logged and left out (a changed one keeps serving
// its previous files). A policy file that does not parse leaves its model
// on its previous policy while everything else is applied, and is
// returned as the error.
func (s *Server) Sync() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	found, err := scanRepository(s.cfg.Repository)
	if err != nil {
		return err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil
	}
	var retired []*servedVersion
	var policyErrs []error
	// Load outside the lock: requests keep flowing while files are read.
	loaded := map[string]map[string]*servedVersion{}
	for name, rm := range found {
		for v, rv := range rm.versions {
			s.mu.RLock()
			var cur *servedVersion
			if sm := s.models[name]; sm != nil {
				cur = sm.versions[v]
			}
			s.mu.RUnlock()
			if cur != nil && cur.stamp == rv.stamp {
				continue
			}
			m, err := LoadModel(name, v, rv.dir)
			if err != nil {
				s.log.Error("model version failed to load", "model", name, "version", v, "err", err)
				continue
			}
			// Before it serves: which call sizes run its batches fastest
			// (chunk.go). The calls are capped at maxCalibrationRows, so
			// that a large --max-batch does not make loading slow.
			times := m.Calibrate(min(s.cfg.MaxBatch, maxCalibrationRows))
			s.log.Info("model version calibrated", "model", name, "version", v, "call_times", times, "rows_per_call", m.Chunks())
			if loaded[name] == nil {
				loaded[name] = map[string]*servedVersion{}
			}
			s.loads++
			loaded[name][v] = &servedVersion{model: m, stamp: rv.stamp, batcher: s.newBatcher(m), load: s.loads}
		}
	}
	s.mu.Lock()
	if s.closed {
		// Close ran while the versions loaded: it has stopped what was
		// served, and what was loaded since must not start serving.
		s.mu.Unlock()
		for _, vs := range loaded {
			for _, sv := range vs {
				sv.batcher.Stop()
			}
		}
		return nil
	}
	for name, rm := range found {
		sm := s.models[name]
		changed := false
		if sm == nil {
			sm = &servedModel{name: name, versions: map[string]*servedVersion{}, feedback: newFeedbackLog(10000, feedbackRows)}
			s.models[name] = sm
			changed = true
		}
		for v, nv := range loaded[name] {
			if old := sm.versions[v]; old != nil {
				retired = append(retired, old)
			}
			sm.versions[v] = nv
			changed = true
			s.log.Info("model version loaded", "model", name, "version", v, "dir", rm.versions[v].dir)
		}
		for v, old := range sm.versions {
			if _, ok := rm.versions[v]; !ok {
				delete(sm.versions, v)
				retired = append(retired, old)
				changed = true
				s.log.Info("model version unloaded", "model", name, "version", v)
			}
		}
		switch {
		case rm.policyErr != nil:
			// The model keeps the policy it had (a new model: latest)
			// until its file parses; the rest of the repository goes on.
			policyErrs = append(policyErrs, rm.policyErr)
		case rm.stamp != sm.pstamp:
			sm.policy, sm.pstamp, changed = rm.policy, rm.stamp, true
		}
		if changed {
			s.rebuild(sm)
		}
	}
	for name, sm := range s.models {
		if _, ok := found[name]; !ok {
			for _, old := range sm.versions {
				retired = append(retired, old)
			}
			delete(s.models, name)
			s.met.loaded.DeleteLabelValues(name)
			s.log.Info("model unloaded", "model", name)
		}
	}
	s.mu.Unlock()
	// Requests already queued on a retired version finish on it.
	for _, sv := range retired {
		sv.batcher.Stop()
		name, v := sv.model.Name, sv.model.Version
		s.cache.DropVersion(name, v)
		if !s.ModelReady(name, v) { // unloaded, not replaced
			s.met.dropVersion(name, v)
		}
	}
	return errors.Join(policyErrs...)
}

// rebuild recomputes a model's version order and selector; s.mu is held.
func (s *Server) rebuild(sm *servedModel) {
	// A new slice each time: the selector's arms may be this slice, and
	// requests read the arms they took after letting go of the locks, so
	// the old one must not change under them.
	sm.order = make([]string, 0, len(sm.versions))
	for v := range sm.versions {
		sm.order = append(sm.order, v)
	}
	sortVersions(sm.order)
	s.met.loaded.WithLabelValues(sm.name).Set(float64(len(sm.order)))
	sm.selMu.Lock()
	defer sm.selMu.Unlock()
	if len(sm.order) == 0 {
		sm.selector, sm.arms = nil, nil
		return
	}
	sel, arms, ens, err := buildSelector(sm.policy, sm.order)
	if err == nil && ens {
		err = sameClasses(sm, arms)
	}
	if err != nil {
		s.log.Error("model policy rejected; serving the latest version", "model", sm.name, "err", err)
		sel, arms, ens, _ = buildSelector(PolicyConfig{}, sm.order)
	}
	if e, ok := sel.(*Exp3); ok {
		old, _ := sm.selector.(*Exp3)
		e.carry(old, sm.arms, arms)
	}
	sm.selector, sm.arms, sm.ensemble = sel, arms, ens
}

// sameClasses checks that an ensemble's members answer the same number
// of classes: their probabilities are summed and averaged row by row.
func sameClasses(sm *servedModel, arms []string) error {
	first := sm.versions[arms[0]].model.Classes
	for _, v := range arms[1:] {
		if c := sm.versions[v].model.Classes; c != first {
			return fmt.Errorf("policy ensemble: version %s answers %d classes, version %s %d; an ensemble's members must answer the same classes", arms[0], first, v, c)
		}
	}
	return nil
}

// batchObjective is the AIMD objective of one batch for a request
// objective slo: a request can wait for the batch running when it arrives,
// then run in its own, after up to maxDelay of waiting for that batch to
// fill; those three are held to half of slo, and the other half is left
// for the protocol, the queue and the CPU being taken away.
func batchObjective(slo, maxDelay time.Duration) time.Duration {
	return max((slo/2-maxDelay)/2, slo/20)
}

func (s *Server) newBatcher(m *Model) *Batcher {
	cfg := BatchConfig{Objective: batchObjective(s.cfg.SLO, s.cfg.MaxDelay), MaxBatch: s.cfg.MaxBatch, Step: max(1, s.cfg.MaxBatch/64),
		Backoff: 0.9, MaxDelay: s.cfg.MaxDelay, MaxQueueRows: s.cfg.MaxQueueRows}
	size := s.met.batchSize.WithLabelValues(m.Name, m.Version)
	blat := s.met.batchLat.WithLabelValues(m.Name, m.Version)
	depth := s.met.queueDepth.WithLabelValues(m.Name, m.Version)
	limit := s.met.batchLimit.WithLabelValues(m.Name, m.Version)
	return NewBatcher(m, cfg, func(st BatchStats) {
		size.Observe(float64(st.Rows))
		blat.Observe(st.Latency.Seconds())
		depth.Set(float64(st.QueuedRows))
		limit.Set(float64(st.Limit))
	})
}

// Close stops watching, lets queued requests finish and unloads every
// model. Call it after the front ends have stopped taking requests.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	models := s.models
	s.models = map[string]*servedModel{}
	s.mu.Unlock()
	close(s.stop)
	for _, sm := range models {
		for _, sv := range sm.versions {
			sv.batcher.Stop()
		}
	}
}

// WaitWatch returns when Watch has returned (after Close), or at once
// when Watch was never started.
func (s *Server) WaitWatch() {
	s.mu.RLock()
	watching := s.watching
	s.mu.RUnlock()
	if watching {
		<-s.stopped
	}
}

// Live reports whether the server answers requests.
func (s *Server) Live() bool { return true }

// Ready reports whether every model found has a version loaded and the
// server is not shutting down.
func (s *Server) Ready() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || len(s.models) == 0 {
		return false
	}
	for _, sm := range s.models {
		if len(sm.order) == 0 {
			return false
		}
	}
	return true
}

// ModelNames returns the names of the models served, sorted.
func (s *Server) ModelNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.models))
	for n := range s.models {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ModelMetadata describes a model or one of its versions.
type ModelMetadata struct {
	// Name is the model's name.
	Name string
	// Versions are the versions loaded (for a version request: that one).
	Versions []string
	// Platform is "kiln".
	Platform string
	// Inputs and Outputs describe the tensors, with -1 for the batch.
	Inputs, Outputs []TensorMetadata
}

// TensorMetadata describes one tensor of a model.
type TensorMetadata struct {
	// Name, Datatype and Shape as the protocol defines them.
	Name, Datatype string
	Shape          []int64
}

// lookup returns a model and, if version is not empty, that version.
func (s *Server) lookup(name, version string) (*servedModel, *servedVersion, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lookupLocked(name, version)
}

// lookupLocked is lookup with s.mu held.
func (s *Server) lookupLocked(name, version string) (*servedModel, *servedVersion, error) {
	sm := s.models[name]
	if sm == nil || len(sm.order) == 0 {
		return nil, nil, notFound("model_name", "unknown model %q", name)
	}
	if version == "" {
		return sm, nil, nil
	}
	sv := sm.versions[version]
	if sv == nil {
		return nil, nil, notFound("model_version", "model %q has no version %q (versions: %v)", name, version, sm.order)
	}
	return sm, sv, nil
}

// Metadata returns the metadata of model name (version may be empty).
func (s *Server) Metadata(name, version string) (*ModelMetadata, error) {
	// One critical section: between two, Sync can empty the versions
	// that the lookup found.
	s.mu.RLock()
	sm, sv, err := s.lookupLocked(name, version)
	var versions []string
	if err == nil {
		versions = append([]string(nil), sm.order...)
		if sv == nil {
			sv = sm.versions[versions[len(versions)-1]]
		} else {
			versions = []string{version}
		}
	}
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	m := sv.model
	in := []int64{-1}
	for _, d := range m.Sample {
		in = append(in, int64(d))
	}
	return &ModelMetadata{Name: name, Versions: versions, Platform: "kiln",
		Inputs: []TensorMetadata{{Name: InputName, Datatype: "FP32", Shape: in}},
		Outputs: []TensorMetadata{
			{Name: ProbabilitiesName, Datatype: "FP32", Shape: []int64{-1, int64(m.Classes)}},
			{Name: ClassName, Datatype: "INT64", Shape: []int64{-1}},
		}}, nil
}

// ModelReady reports whether model name (version may be empty) can serve.
func (s *Server) ModelReady(name, version string) bool {
	_, _, err := s.lookup(name, version)
	return err == nil
}

// errNoVersions is returned when every version of a model was unloaded
// between lookup and use.
var errNoVersions = errors.New("model has no version loaded")

func (s *Server) draw(sel Selector) (int, float64) {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return sel.Choose(s.rng)
}
