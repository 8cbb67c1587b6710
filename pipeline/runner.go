package pipeline

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// Environment variables a step's process receives.
const (
	// EnvParentRun holds the pipeline run's id, so that the step's own
	// run is recorded as its child.
	EnvParentRun = "KILN_PARENT_RUN"
	// EnvStep holds the step's name.
	EnvStep = "KILN_PIPELINE_STEP"
	// EnvCacheKey holds the step's cache key (StepKey), which the step's
	// run records.
	EnvCacheKey = "KILN_CACHE_KEY"
)

// Runner runs a validated pipeline: each step as a child process of Exe
// in dependency order, independent steps at the same time (at most Jobs),
// skipping a step whose key (StepKey) has a valid cached result. A failed
// step blocks the steps that depend on it; the others go on.
type Runner struct {
	// Exe is the program a step's command runs with (the kiln binary).
	Exe string
	// Dir is the children's working folder (usually the pipeline's).
	Dir string
	// Env is added to the children's environment after os.Environ().
	Env []string
	// Jobs bounds how many steps run at once (at least 1).
	Jobs int
	// Force re-runs every step, cached or not.
	Force bool
	// ForceOutputs re-runs the steps that write any of these paths (or a
	// path inside them), and every step downstream of them; kiln uses it
	// for the folders of stale models (--retrain-stale).
	ForceOutputs []string
	// Cache holds step results; nil caches nothing.
	Cache *Cache
	// Recorder, when not nil, records the run and its steps.
	Recorder Recorder
	// Amended, when not nil, accepts outputs rewritten since their step
	// ran (see Cache.Lookup).
	Amended Amended
	// Code is the code version that goes into every step's key.
	Code CodeVersion
	// LogDir, when set, receives one log file per step (its standard
	// error, and its standard output unless the step captures it) under
	// LogDir/RUN_ID/STEP.log.
	LogDir string
	// Start describes the run to the Recorder (file, arguments).
	Start PipelineStart
	// OnChange, when not nil, is called with every step's result after each
	// change of state, always from the goroutine that called Run.
	OnChange func([]StepResult)
}

// StepResult is what happened to one step.
type StepResult struct {
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	State    State      `json:"state"`
	Command  []string   `json:"command"`
	Key      string     `json:"key,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Started  time.Time  `json:"started,omitzero"`
	Seconds  float64    `json:"seconds"`
	ExitCode int        `json:"exit_code,omitempty"`
	Error    string     `json:"error,omitempty"`
	Log      string     `json:"log,omitempty"`
	Inputs   []PortHash `json:"inputs,omitempty"`
	Outputs  []PortHash `json:"outputs,omitempty"`
}

// Result is the outcome of a pipeline run.
type Result struct {
	RunID   string       `json:"run_id"`
	Status  string       `json:"status"`
	Seconds float64      `json:"seconds"`
	Steps   []StepResult `json:"steps"`
}

// Run runs the pipeline and returns every step's result. Its error is
// for what stopped the run as a whole (the recorder failing to start);
// failed steps are in the result, whose Status is then "failed".
func (r *Runner) Run(ctx context.Context, g *Graph) (*Result, error) {
	start := time.Now()
	n := len(g.Steps)
	res := &Result{Steps: make([]StepResult, n)}
	for i, s := range g.Steps {
		res.Steps[i] = StepResult{Name: s.Name, Kind: s.Kind, State: Pending, Command: s.Command()}
	}
	if r.Recorder != nil {
		info := r.Start
		info.Code, info.Started = r.Code, start
		for _, s := range g.Steps {
			info.Steps = append(info.Steps, s.Name)
		}
		id, err := r.Recorder.StartPipeline(ctx, info)
		if err != nil {
			return nil, fmt.Errorf("pipeline: record the run: %w", err)
		}
		res.RunID = id
	} else {
		var b [8]byte
		rand.Read(b[:])
		res.RunID = "local-" + hex.EncodeToString(b[:])
	}
	forced := r.forced(g)
	jobs := max(r.Jobs, 1)
	st := make([]State, n)
	done := make(chan StepResult)
	started := make(chan int)
	index := map[string]int{}
	for i, s := range g.Steps {
		index[s.Name] = i
	}
	var recErrs []error
	// An interrupted run is still recorded to its end.
	recCtx := context.WithoutCancel(ctx)
	finish := func(sr StepResult) {
		i := index[sr.Name]
		st[i], res.Steps[i] = sr.State, sr
		if r.Recorder != nil {
			if err := r.Recorder.RecordStep(recCtx, res.RunID, sr); err != nil {
				recErrs = append(recErrs, fmt.Errorf("record step %s: %w", sr.Name, err))
			}
		}
	}
	notify := func() {
		if r.OnChange != nil {
			r.OnChange(append([]StepResult(nil), res.Steps...))
		}
	}
	notify()
	running := 0
	for {
		ready, blocked := Advance(g.Deps, st)
		if len(blocked) > 0 {
			for _, i := range blocked {
				sr := res.Steps[i]
				sr.State, sr.Reason = Blocked, "not run: "+r.blocker(g, st, i)
				finish(sr)
			}
			notify()
			continue
		}
		for _, i := range ready {
			if running >= jobs {
				break
			}
			if ctx.Err() != nil {
				sr := res.Steps[i]
				sr.State, sr.Reason = Blocked, "not run: the pipeline was interrupted"
				finish(sr)
				continue
			}
			st[i] = Checking
			res.Steps[i].State, res.Steps[i].Started = Checking, time.Now()
			running++
			go func(i int, sr StepResult) {
				done <- r.runStep(ctx, g.Steps[i], sr, forced[i], res.RunID, func() { started <- i })
			}(i, res.Steps[i])
		}
		notify()
		if running == 0 {
			break
		}
		for waiting := true; waiting; {
			select {
			case i := <-started:
				st[i], res.Steps[i].State = Running, Running
				notify()
			case sr := <-done:
				finish(sr)
				running--
				waiting = false
			}
		}
	}
	res.Status = "succeeded"
	for _, s := range st {
		if s == Failed || s == Blocked {
			res.Status = "failed"
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if r.Recorder != nil {
		if err := r.Recorder.EndPipeline(recCtx, res.RunID, res.Status); err != nil {
			recErrs = append(recErrs, fmt.Errorf("record the end of the run: %w", err))
		}
	}
	return res, errors.Join(recErrs...)
}

// forced returns which steps must run whatever the cache holds.
func (r *Runner) forced(g *Graph) []bool {
	if r.Force {
		all := make([]bool, len(g.Steps))
		for i := range all {
			all[i] = true
		}
		return all
	}
	var roots []int
	for _, p := range r.ForceOutputs {
		roots = append(roots, g.Producers(p)...)
	}
	return Descendants(g.Deps, roots)
}

// blocker names the dependency that keeps step i from running.
func (r *Runner) blocker(g *Graph, st []State, i int) string {
	for _, d := range g.Deps[i] {
		if st[d] == Failed {
			return "step " + g.Steps[d].Name + " failed"
		}
	}
	for _, d := range g.Deps[i] {
		if st[d] == Blocked {
			return "step " + g.Steps[d].Name + " did not run"
		}
	}
	return "a dependency did not finish"
}

// runStep hashes a step's inputs, reuses a cached result when it can, and
// otherwise runs the step's process and records its outputs.
// It calls started just before the process starts.
func (r *Runner) runStep(ctx context.Context, s *Step, sr StepResult, forced bool, runID string, started func()) StepResult {
	t0 := time.Now()
	fail := func(format string, args ...any) StepResult {
		sr.State, sr.Error = Failed, fmt.Sprintf(format, args...)
		sr.Seconds = time.Since(t0).Seconds()
		return sr
	}
	for _, in := range s.Inputs {
		h, files, err := hashTree(in.Path)
		if err != nil {
			return fail("input %s: %v", in.Name, err)
		}
		sr.Inputs = append(sr.Inputs, PortHash{Name: in.Name, Path: in.Path, Hash: h, Files: files})
	}
	sr.Key = StepKey(s, sr.Inputs, r.Code.String())
	switch {
	case forced:
		sr.Reason = "forced"
	case r.Cache == nil:
		sr.Reason = "no cache"
	default:
		e, why := r.Cache.Lookup(sr.Key, r.Amended)
		if e != nil {
			sr.State, sr.Outputs = Cached, e.Outputs
			sr.Reason = "result of " + e.Finished.Format(time.RFC3339)
			if e.Amended {
				sr.Reason += ", outputs amended by a recorded deletion"
			}
			if e.RunID != "" {
				sr.Reason += " (run " + e.RunID + ")"
			}
			sr.Seconds = time.Since(t0).Seconds()
			return sr
		}
		sr.Reason = why
	}
	// Run the step's process: standard error (and standard output unless
	// it is captured) go to the step's log; the last lines go into the
	// error when it fails.
	tail := &tailWriter{max: 4096}
	var logw io.Writer = tail
	if r.LogDir != "" {
		dir := filepath.Join(r.LogDir, runID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail("log: %v", err)
		}
		sr.Log = filepath.Join(dir, s.Name+".log")
		f, err := os.Create(sr.Log)
		if err != nil {
			return fail("log: %v", err)
		}
		defer f.Close()
		logw = io.MultiWriter(f, tail)
	}
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, r.Exe, sr.Command...)
	cmd.Dir = r.Dir
	cmd.Env = append(append(os.Environ(), r.Env...), EnvStep+"="+s.Name, EnvCacheKey+"="+sr.Key)
	if r.Recorder != nil {
		cmd.Env = append(cmd.Env, EnvParentRun+"="+runID)
	}
	cmd.Stderr = logw
	cmd.Stdout = logw
	if s.Stdout != "" {
		cmd.Stdout = &stdout
	}
	// On an interrupt the step gets SIGINT and 5 s to stop before SIGKILL,
	// so that it can end its recorded run.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	started()
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			sr.ExitCode = ee.ExitCode()
		}
		msg := strings.TrimSpace(tail.String())
		if ctx.Err() != nil {
			return fail("interrupted: %v", err)
		}
		if msg != "" {
			return fail("%v: %s", err, lastLines(msg, 5))
		}
		return fail("%v", err)
	}
	if s.Stdout != "" {
		if err := os.MkdirAll(filepath.Dir(s.Stdout), 0o755); err != nil {
			return fail("stdout: %v", err)
		}
		if err := vfs.WriteFileAtomic(vfs.OS, s.Stdout, stdout.Bytes()); err != nil {
			return fail("stdout: write %s: %v", s.Stdout, err)
		}
	}
	manifests := map[string]map[string]string{}
	for _, o := range s.allOutputs() {
		h, files, err := hashTree(o.Path)
		if err != nil {
			return fail("the step succeeded but did not write its output %s (%s): %v", o.Name, o.Path, err)
		}
		sr.Outputs = append(sr.Outputs, PortHash{Name: o.Name, Path: o.Path, Hash: h, Files: files})
		manifests[o.Name] = files
	}
	sr.State, sr.Seconds = Done, time.Since(t0).Seconds()
	if r.Cache != nil {
		e := &Entry{Key: sr.Key, Step: s.Name, Kind: s.Kind, Command: sr.Command, Inputs: sr.Inputs,
			Outputs: sr.Outputs, Files: manifests, RunID: runID, Finished: time.Now().UTC(), Seconds: sr.Seconds}
		if err := r.Cache.Store(e); err != nil {
			// The step's work is done and its outputs are in place; only
			// the next run's skip is lost, which the result says.
			sr.Reason += "; not cached: " + err.Error()
		}
	}
	return sr
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	b   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.b) }

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
