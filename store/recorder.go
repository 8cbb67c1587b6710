package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Recorder is what a command records its run through: parameters,
// metrics, the artifacts it read and the ones it wrote, and its end. *Run
// implements it against a store; Discard records nothing, so that code
// taking a Recorder runs and tests without a database.
type Recorder interface {
	// ID returns the run's id in the store, 0 for Discard.
	ID() int64
	// SetParams records parameters, replacing earlier values of the same
	// keys.
	SetParams(ctx context.Context, params map[string]string) error
	// LogMetric buffers a value; it never waits for I/O.
	LogMetric(name string, step int64, value float64)
	// UsePath hashes the file or folder at path, records it as an
	// artifact where it lies and as an input of the run in role (for
	// example "data", "model").
	UsePath(ctx context.Context, path, role string) (Artifact, error)
	// ProducePath is UsePath for an output of the run.
	ProducePath(ctx context.Context, path, role string) (Artifact, error)
	// Use records an artifact already in the store as an input.
	Use(ctx context.Context, a Artifact, role string) error
	// Produce records an artifact already in the store as an output.
	Produce(ctx context.Context, a Artifact, role string) error
	// End flushes the metrics and records the run as succeeded (runErr
	// nil) or failed with runErr's message.
	End(ctx context.Context, runErr error) error
}

var _ Recorder = (*Run)(nil)

// Discard is a Recorder that records nothing.
var Discard Recorder = discard{}

type discard struct{}

func (discard) ID() int64                                          { return 0 }
func (discard) SetParams(context.Context, map[string]string) error { return nil }
func (discard) LogMetric(string, int64, float64)                   {}
func (discard) UsePath(context.Context, string, string) (Artifact, error) {
	return Artifact{}, nil
}
func (discard) ProducePath(context.Context, string, string) (Artifact, error) {
	return Artifact{}, nil
}
func (discard) Use(context.Context, Artifact, string) error     { return nil }
func (discard) Produce(context.Context, Artifact, string) error { return nil }
func (discard) End(context.Context, error) error                { return nil }

// CurrentCode returns the version of the running binary's code: the git
// commit and modified flag Go stamped into it at build time, or, when the
// binary carries none (go run, go test, -buildvcs=false), what git says of
// the work tree holding the executable, else of the one holding dir
// (commit "" when neither is in a git tree).
func CurrentCode(dir string) CodeVersion {
	var cv CodeVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				cv.Commit = s.Value
			case "vcs.modified":
				cv.Dirty = s.Value == "true"
			}
		}
	}
	if cv.Commit != "" {
		return cv
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	if dir == "" {
		dir = "."
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dirs = append(dirs, abs)
	}
	for _, d := range dirs {
		out, err := exec.Command("git", "-C", d, "rev-parse", "HEAD").Output()
		if err != nil {
			continue
		}
		cv.Commit = strings.TrimSpace(string(out))
		st, err := exec.Command("git", "-C", d, "status", "--porcelain", "--untracked-files=no").Output()
		cv.Dirty = err == nil && len(strings.TrimSpace(string(st))) > 0
		return cv
	}
	return cv
}
