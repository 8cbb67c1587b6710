package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kiln-ml/kiln/pipeline"
	"github.com/kiln-ml/kiln/store"
)

// storeRecorder records a pipeline run into the store: the run itself
// (kind "pipeline"), each step's state as a parameter of it, and a run of
// kind "pipeline.step" under it for each step whose process recorded no
// run of its own (cached and blocked steps, verbs that do not record, a
// process that failed before recording), with the step's inputs and
// outputs when it has them. The steps whose verbs record did so under the
// pipeline run, found through KILN_PARENT_RUN.
type storeRecorder struct {
	s   *store.Store
	dir string
	src []byte
	run *store.Run
	// code is the version of the code the pipeline runs, read once by
	// StartPipeline (without build stamps it asks git) for every run.
	code store.CodeVersion
}

func (r *storeRecorder) StartPipeline(ctx context.Context, p pipeline.PipelineStart) (string, error) {
	parent, err := store.ParentRunFromEnv()
	if err != nil {
		return "", err
	}
	r.code = store.CurrentCode(r.dir)
	run, err := r.s.StartRun(ctx, store.RunSpec{
		Kind: "pipeline", Name: filepath.Base(p.File), Command: p.Args, Parent: parent, Code: r.code,
		Config: map[string]any{"file": p.File, "sha256": p.FileSHA256, "content": string(r.src), "steps": p.Steps},
	})
	if err != nil {
		return "", err
	}
	r.run = run
	if err := run.SetParams(ctx, map[string]string{"binary_sha256": p.Code.Binary}); err != nil {
		return "", err
	}
	return strconv.FormatInt(run.ID(), 10), nil
}

func (r *storeRecorder) RecordStep(ctx context.Context, runID string, s pipeline.StepResult) error {
	if err := r.run.SetParams(ctx, map[string]string{"step." + s.Name: s.State.String()}); err != nil {
		return err
	}
	if s.State == pipeline.Done || s.State == pipeline.Failed {
		// A step's process records its own run when its verb records
		// (train, eval, data, models); for the verbs that do not, the
		// step's run is recorded here, so that lineage goes through it.
		kids, err := r.s.ListRuns(ctx, store.RunFilter{Parent: r.run.ID(), Limit: 1000})
		if err != nil {
			return err
		}
		for _, k := range kids {
			if k.Name == s.Name && k.Kind != "pipeline.step" {
				if s.State == pipeline.Failed {
					return nil
				}
				// The process named what it read and wrote; a file it
				// could not know of (its standard output, which the
				// runner wrote) is linked to its run here.
				return r.link(ctx, k.ID, s)
			}
		}
	}
	run, err := r.s.StartRun(ctx, store.RunSpec{
		Kind: "pipeline.step", Name: s.Name, Command: append([]string{"kiln"}, s.Command...), Parent: r.run.ID(),
		CacheKey: s.Key, Config: map[string]any{"kind": s.Kind}, Code: r.code,
	})
	if err != nil {
		return err
	}
	if s.State == pipeline.Cached || s.State == pipeline.Done {
		if err := r.link(ctx, run.ID(), s); err != nil {
			run.EndStatus(ctx, store.Failed, err.Error())
			return err
		}
	}
	switch s.State {
	case pipeline.Cached:
		return run.EndStatus(ctx, store.Cached, s.Reason)
	case pipeline.Blocked:
		return run.EndStatus(ctx, store.Blocked, s.Reason)
	case pipeline.Done:
		return run.End(ctx, nil)
	}
	return run.EndStatus(ctx, store.Failed, s.Error)
}

// link records the step's inputs and outputs as run id's. The runner
// hashed every one of them just now: they are recorded from those hashes
// rather than read again.
func (r *storeRecorder) link(ctx context.Context, id int64, s pipeline.StepResult) error {
	for _, side := range []struct {
		ports    []pipeline.PortHash
		produced bool
	}{{s.Inputs, false}, {s.Outputs, true}} {
		for _, p := range side.ports {
			a, err := r.s.RecordHashedPath(ctx, p.Path, p.Files)
			if err == nil {
				err = r.s.AddLineage(ctx, id, a, side.produced, p.Name)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *storeRecorder) EndPipeline(ctx context.Context, runID, status string) error {
	if status == "succeeded" {
		return r.run.End(ctx, nil)
	}
	return r.run.EndStatus(ctx, store.Failed, "a step failed")
}

// amended accepts a file of a cached output that recorded deletions
// rewrote, after the result was made, from content hash old to new.
func (r *storeRecorder) amended(file, old, new string, since time.Time) bool {
	ds, err := r.s.DeletionsAt(context.Background(), file)
	if err != nil {
		return false
	}
	cur := old
	for _, d := range ds {
		if d.Path == file && d.OldHash == cur && !d.Ended.Before(since) {
			cur = d.NewHash
		}
	}
	return cur == new
}

// String names the recorder in errors.
func (r *storeRecorder) String() string { return fmt.Sprintf("store %s", r.s.Where()) }
