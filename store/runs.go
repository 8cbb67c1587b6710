package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Status is the state of a run.
type Status string

// The states of a run.
const (
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	// Cached marks a pipeline step that did not run because a earlier run
	// with the same cache key produced its result.
	Cached Status = "cached"
	// Blocked marks a pipeline step that did not run because a step it
	// depends on failed.
	Blocked Status = "blocked"
)

// RunSpec describes a run about to start.
type RunSpec struct {
	// Kind says what ran: "train", "eval", "data.pull", "data.delete",
	// "models.register", "pipeline", "pipeline.step", ...
	Kind string
	// Name is an optional label (a pipeline step's name).
	Name string
	// Command is the command line, program name first.
	Command []string
	// Config is the run's configuration (flag values, a step's settings);
	// it is stored as JSON.
	Config any
	// Parent is the id of the run that started this one (0: none);
	// commands take it from KILN_PARENT_RUN.
	Parent int64
	// CacheKey, when set, is a content hash of everything that determines
	// the run's result; FindCached looks runs up by it.
	CacheKey string
	// Code is the version of the code that runs.
	Code CodeVersion
}

// CodeVersion is a git commit and whether the work tree had changes.
type CodeVersion struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
}

// RunInfo is a run as recorded.
type RunInfo struct {
	ID        int64             `json:"id"`
	Parent    int64             `json:"parent_id,omitempty"`
	Kind      string            `json:"kind"`
	Name      string            `json:"name,omitempty"`
	Command   []string          `json:"command"`
	Config    json.RawMessage   `json:"config"`
	CacheKey  string            `json:"cache_key,omitempty"`
	Code      CodeVersion       `json:"code"`
	Host      string            `json:"host"`
	PID       int               `json:"pid"`
	Started   time.Time         `json:"started"`
	Heartbeat time.Time         `json:"heartbeat"`
	Ended     time.Time         `json:"ended,omitzero"`
	Status    Status            `json:"status"`
	Error     string            `json:"error,omitempty"`
	Params    map[string]string `json:"params,omitempty"`
}

// Run is a run in progress: it records parameters, metrics, inputs and
// outputs until End. Metrics are buffered and written in batches by a
// background goroutine that also refreshes the run's heartbeat. A Run is
// safe for concurrent use.
type Run struct {
	s  *Store
	id int64

	mu       sync.Mutex
	seq      int64 // metric batches taken so far
	buf      []Metric
	flushErr error
	ended    bool
	stats    FlushStats

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// flushAt is the buffer size that wakes the flusher before its tick.
const flushAt = 4096

// StartRun records a new running run of this process and starts its
// heartbeat. The caller must call End.
func (s *Store) StartRun(ctx context.Context, spec RunSpec) (*Run, error) {
	if spec.Kind == "" {
		return nil, errors.New("store: StartRun: empty Kind")
	}
	cmd, err := marshalPlain(spec.Command)
	if err != nil {
		return nil, fmt.Errorf("store: StartRun: command: %w", err)
	}
	cfg := []byte("{}")
	if spec.Config != nil {
		if cfg, err = marshalPlain(spec.Config); err != nil {
			return nil, fmt.Errorf("store: StartRun: config: %w", err)
		}
	}
	var parent any
	if spec.Parent > 0 {
		parent = spec.Parent
	}
	pid := os.Getpid()
	t := now()
	var id int64
	err = s.db.QueryRowContext(ctx, s.q(`INSERT INTO runs (parent_id, kind, name, command, config, cache_key, git_commit, git_dirty, host, pid, pid_start, started_at, heartbeat_at, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		parent, spec.Kind, spec.Name, string(cmd), string(cfg), spec.CacheKey, spec.Code.Commit, boolInt(spec.Code.Dirty),
		s.host, pid, processStart(pid), t, t, string(Running)).Scan(&id)
	if err != nil {
		return nil, s.wrap(err, "start run")
	}
	r := &Run{s: s, id: id, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r, nil
}

// marshalPlain is json.Marshal without HTML escaping, so that a recorded
// --where 'a && b' reads as typed in kiln runs show (not a \u0026\u0026 b).
func marshalPlain(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ID returns the run's id.
func (r *Run) ID() int64 { return r.id }

// Store returns the store the run records into.
func (r *Run) Store() *Store { return r.s }

// SetParams records parameters of the run, replacing earlier values of
// the same keys.
func (r *Run) SetParams(ctx context.Context, params map[string]string) error {
	if len(params) == 0 {
		return nil
	}
	tx, err := r.s.db.BeginTx(ctx, nil)
	if err != nil {
		return r.s.wrap(err, "set params")
	}
	defer tx.Rollback()
	for k, v := range params {
		if _, err := tx.ExecContext(ctx, r.s.q(`INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)
			ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`), r.id, k, v); err != nil {
			return r.s.wrap(err, "set params")
		}
	}
	return r.s.wrap(tx.Commit(), "set params")
}

// LogMetric buffers one metric value; it never waits for the database.
// Values reach the store within the heartbeat interval, and all of them
// by End or Flush.
func (r *Run) LogMetric(name string, step int64, value float64) {
	r.mu.Lock()
	r.buf = append(r.buf, Metric{Name: name, Step: step, Value: value, At: time.Now().UnixMicro()})
	full := len(r.buf) >= flushAt
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// Flush writes the buffered metrics now. It returns the error of the
// last write that failed and whose values are not written yet.
func (r *Run) Flush(ctx context.Context) error {
	r.flush(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushErr
}

func (r *Run) loop() {
	defer close(r.done)
	tick := time.NewTicker(r.s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.kick:
			r.flush(context.Background())
		case <-tick.C:
			r.flush(context.Background())
			r.beat(context.Background())
		}
	}
}

// beat refreshes the heartbeat. A failure is counted in FlushStats and
// not kept as the run's error: it loses nothing, and the next beat or End
// writes the heartbeat again (it used to sit in flushErr, so that one
// transient failure in a run logging no metrics failed the whole command
// at End).
func (r *Run) beat(ctx context.Context) {
	if _, err := r.s.db.ExecContext(ctx, r.s.q("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = ?"), now(), r.id, string(Running)); err != nil {
		r.mu.Lock()
		r.stats.HeartbeatErrors++
		r.stats.LastHeartbeatError = r.s.wrap(err, "heartbeat").Error()
		r.mu.Unlock()
	}
}

// flush takes the buffer under the lock and writes it outside. On failure
// the values go back to the front of the buffer, so that the next flush
// retries them, and the error is kept; a later successful flush, which
// wrote them, clears it.
func (r *Run) flush(ctx context.Context) {
	r.mu.Lock()
	batch := r.buf
	r.buf = nil
	seq := r.seq
	r.seq++
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	t0 := time.Now()
	err := r.s.insertMetrics(ctx, r.id, seq, batch)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Flushes++
	r.stats.Time += time.Since(t0)
	if err != nil {
		r.buf = append(batch, r.buf...)
		r.flushErr = err
		return
	}
	r.stats.Values += int64(len(batch))
	r.flushErr = nil
}

// End flushes the metrics, stops the heartbeat and records the run's end:
// succeeded when runErr is nil, failed with its message otherwise. It
// returns an error when the record could not be written (or an earlier
// metric flush failed). Calling End twice is an error.
func (r *Run) End(ctx context.Context, runErr error) error {
	st, msg := Succeeded, ""
	if runErr != nil {
		st, msg = Failed, runErr.Error()
	}
	return r.EndStatus(ctx, st, msg)
}

// EndStatus is End with an explicit status and message.
func (r *Run) EndStatus(ctx context.Context, st Status, msg string) error {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return fmt.Errorf("store: run %d ended twice", r.id)
	}
	r.ended = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	ferr := r.Flush(ctx)
	_, err := r.s.db.ExecContext(ctx, r.s.q("UPDATE runs SET status = ?, error = ?, ended_at = ?, heartbeat_at = ? WHERE id = ?"),
		string(st), msg, now(), now(), r.id)
	if err != nil {
		return r.s.wrap(err, fmt.Sprintf("end run %d", r.id))
	}
	return ferr
}

// reapDead marks failed the running runs whose process is gone: on this
// host, a pid that no longer exists (or was reused by a process started
// later); on other hosts, a heartbeat older than Options.StaleAfter.
func (s *Store) reapDead(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT id, host, pid, pid_start, heartbeat_at FROM runs WHERE status = ?"), string(Running))
	if err != nil {
		return err
	}
	type dead struct {
		id  int64
		why string
	}
	var ds []dead
	old := time.Now().Add(-s.staleAfter).UnixMicro()
	for rows.Next() {
		var (
			id, pid, hb int64
			host, start string
		)
		if err := rows.Scan(&id, &host, &pid, &start, &hb); err != nil {
			rows.Close()
			return err
		}
		switch {
		case host == s.host && !processAlive(int(pid), start):
			ds = append(ds, dead{id, fmt.Sprintf("process %d on %s ended without ending the run", pid, host)})
		case host != s.host && hb < old:
			ds = append(ds, dead{id, fmt.Sprintf("no heartbeat from process %d on %s since %s", pid, host, fromMicros(hb).Format(time.RFC3339))})
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, d := range ds {
		// The status guard keeps a run that ended meanwhile as it is.
		if _, err := s.db.ExecContext(ctx, s.q("UPDATE runs SET status = ?, error = ?, ended_at = heartbeat_at WHERE id = ? AND status = ?"),
			string(Failed), d.why, d.id, string(Running)); err != nil {
			return err
		}
	}
	return nil
}

// GetRun returns run id with its parameters.
func (s *Store) GetRun(ctx context.Context, id int64) (*RunInfo, error) {
	rs, err := s.queryRuns(ctx, "WHERE id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("store: no run %d: %w", id, ErrNotFound)
	}
	r := rs[0]
	rows, err := s.db.QueryContext(ctx, s.q("SELECT key, value FROM params WHERE run_id = ? ORDER BY key"), id)
	if err != nil {
		return nil, s.wrap(err, "read params")
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, s.wrap(err, "read params")
		}
		if r.Params == nil {
			r.Params = map[string]string{}
		}
		r.Params[k] = v
	}
	return &r, s.wrap(rows.Err(), "read params")
}

// RunFilter selects runs for ListRuns; zero fields match everything.
type RunFilter struct {
	Kind   string
	Status Status
	Parent int64
	// Limit caps the number of runs, newest first (0: 100).
	Limit int
}

// ListRuns returns runs newest first.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]RunInfo, error) {
	where, args := "WHERE 1=1", []any{}
	if f.Kind != "" {
		where += " AND kind = ?"
		args = append(args, f.Kind)
	}
	if f.Status != "" {
		where += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.Parent != 0 {
		where += " AND parent_id = ?"
		args = append(args, f.Parent)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	where += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", f.Limit)
	return s.queryRuns(ctx, where, args...)
}

// FindCached returns the newest succeeded run with the given cache key, or
// nil when there is none.
func (s *Store) FindCached(ctx context.Context, cacheKey string) (*RunInfo, error) {
	rs, err := s.queryRuns(ctx, "WHERE cache_key = ? AND status = ? ORDER BY id DESC LIMIT 1", cacheKey, string(Succeeded))
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

func (s *Store) queryRuns(ctx context.Context, where string, args ...any) ([]RunInfo, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, parent_id, kind, name, command, config, cache_key, git_commit, git_dirty, host, pid,
		started_at, heartbeat_at, ended_at, status, error FROM runs `+where), args...)
	if err != nil {
		return nil, s.wrap(err, "read runs")
	}
	defer rows.Close()
	var out []RunInfo
	for rows.Next() {
		var (
			r                  RunInfo
			parent             sql.NullInt64
			cmd, cfg, st       string
			dirty              int
			started, hb, ended int64
		)
		if err := rows.Scan(&r.ID, &parent, &r.Kind, &r.Name, &cmd, &cfg, &r.CacheKey, &r.Code.Commit, &dirty, &r.Host, &r.PID,
			&started, &hb, &ended, &st, &r.Error); err != nil {
			return nil, s.wrap(err, "read runs")
		}
		r.Parent = parent.Int64
		r.Code.Dirty = dirty != 0
		r.Status = Status(st)
		r.Started, r.Heartbeat, r.Ended = fromMicros(started), fromMicros(hb), fromMicros(ended)
		r.Config = json.RawMessage(cfg)
		if err := json.Unmarshal([]byte(cmd), &r.Command); err != nil {
			return nil, fmt.Errorf("store: run %d: command %q: %w", r.ID, cmd, err)
		}
		out = append(out, r)
	}
	return out, s.wrap(rows.Err(), "read runs")
}

// ErrNotFound is wrapped by errors for a run, artifact, data set or model
// that does not exist.
var ErrNotFound = errors.New("not found")

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
