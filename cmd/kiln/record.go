package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kiln-ml/kiln/pipeline"
	"github.com/kiln-ml/kiln/store"
)

// recording is a command's run in the store, or nothing when KILN_STORE=off.
type recording struct {
	store *store.Store // nil when recording is off
	rec   store.Recorder
}

// openStore opens the store the commands use (KILN_HOME/store.db, or the
// PostgreSQL DSN in KILN_STORE).
func openStore(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, store.OptionsFromEnv(kilnHome()))
}

// startRecording opens the store and starts a run of the given kind for
// the command line argv (without the program name) and configuration
// cfg. With KILN_STORE=off it records nothing. A store that cannot be
// opened (a corrupt file, an unreachable server) is an error: a command
// must not run unrecorded by accident.
func startRecording(ctx context.Context, kind string, argv []string, cfg any) (*recording, error) {
	if store.Disabled() {
		return &recording{rec: store.Discard}, nil
	}
	spec, err := commandRunSpec(kind, argv, cfg)
	if err != nil {
		return nil, err
	}
	s, err := openStore(ctx)
	if err != nil {
		return nil, err
	}
	run, err := s.StartRun(ctx, spec)
	if err != nil {
		s.Close()
		return nil, err
	}
	return &recording{store: s, rec: run}, nil
}

// commandRunSpec is the run of this kiln command: kind, the command line
// argv (without the program name), its configuration cfg, the code of the
// working folder, and the pipeline step's name, cache key and parent run
// from the environment a pipeline sets.
func commandRunSpec(kind string, argv []string, cfg any) (store.RunSpec, error) {
	parent, err := store.ParentRunFromEnv()
	if err != nil {
		return store.RunSpec{}, err
	}
	wd, _ := os.Getwd()
	return store.RunSpec{
		Kind: kind, Name: os.Getenv(pipeline.EnvStep), Command: append([]string{"kiln"}, argv...), Config: cfg,
		Parent: parent, CacheKey: os.Getenv(pipeline.EnvCacheKey), Code: store.CurrentCode(wd),
	}, nil
}

// end records the run's end (failed with runErr's message when it is not
// nil) and closes the store. A failure to record is reported on stderr
// and turns a successful command into a failed one.
func (r *recording) end(ctx context.Context, runErr error, stderr io.Writer) error {
	// An interrupted command (Ctrl-C cancels its context) still records
	// that it failed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := r.rec.End(ctx, runErr)
	if r.store != nil {
		r.store.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "kiln: recording the run: %v\n", err)
		if runErr == nil {
			return err
		}
	}
	return runErr
}

// flagConfig returns every flag's value, the run's configuration.
func flagConfig(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}
