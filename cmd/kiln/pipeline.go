package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/kiln-ml/kiln/internal/vfs"
	"github.com/kiln-ml/kiln/pipeline"
	"github.com/kiln-ml/kiln/store"
)

const pipelineUsage = `usage: kiln pipeline run FILE [STEP...] [flags] | kiln pipeline check FILE [flags]

run    runs the steps of pipeline FILE (or the STEPs named and the steps
       they need) in dependency order, independent steps at the same
       time, skipping every step whose kind, settings, input content and
       code version match a cached result whose outputs are unchanged; a
       failed step stops the steps that depend on it.
check  validates FILE and prints the order the steps would run in.

A step is a Kiln command (kind: train, eval, data pull, models register,
label fit, ...) with args, params (passed as --key=value) and named
inputs and outputs (paths; a port not used in args is passed as
--NAME=PATH). A step that reads a path another step writes runs after it.
See docs/pipeline.md.
`

// stepVerbs are the verbs a pipeline step may run; those with sub-verbs
// list them. A kind is offered only when its verb exists in this build.
var stepVerbs = map[string][]string{
	"data":     {"pull", "add", "delete"},
	"train":    nil,
	"eval":     nil,
	"predict":  nil,
	"tune":     nil,
	"models":   {"register", "promote"},
	"label":    {"apply", "analyze", "fit", "predict"},
	"validate": {"stats", "infer", "check", "drift", "update", "report"},
}

// stepKinds returns the step kinds this build of kiln can run.
func stepKinds() []string {
	vs := verbs()
	var kinds []string
	for v, subs := range stepVerbs {
		if _, ok := vs[v]; !ok {
			continue
		}
		if len(subs) == 0 {
			kinds = append(kinds, v)
		}
		for _, s := range subs {
			kinds = append(kinds, v+" "+s)
		}
	}
	sort.Strings(kinds)
	return kinds
}

func runPipeline(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, pipelineUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, pipelineUsage)
		return exitOK
	case "run":
		return runPipelineRun(args[1:], stdout, stderr, "")
	case "check":
		return runPipelineCheck(args[1:], stdout, stderr)
	}
	return usageErr(stderr, "pipeline: unknown verb %q (run, check)", args[0])
}

// setFlags collects repeated --set NAME=VALUE flags.
type setFlags map[string]string

func (s setFlags) String() string { return "" }

func (s setFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	s[k] = val
	return nil
}

// loadPipeline reads, parses and validates a pipeline file; src, when not
// nil, is its content (the built-in quickstart, whose paths are relative
// to the working folder).
func loadPipeline(file string, src []byte, set map[string]string) (*pipeline.Graph, []byte, error) {
	dir := filepath.Dir(file)
	if src == nil {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, err
		}
		src = b
	} else {
		dir = "."
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	p, err := pipeline.Parse(file, src, pipeline.ParseOptions{Dir: absDir, Home: kilnHomeAbs(), Set: set})
	if err != nil {
		return nil, nil, err
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	g, err := pipeline.Validate(p, pipeline.ValidateOptions{Kinds: stepKinds(), Exists: exists})
	if err != nil {
		return nil, nil, err
	}
	return g, src, nil
}

func kilnHomeAbs() string {
	h, err := filepath.Abs(kilnHome())
	if err != nil {
		return kilnHome()
	}
	return h
}

func runPipelineCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln pipeline check", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), pipelineUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print one JSON document: the steps, their commands and levels")
	set := setFlags{}
	fs.Var(set, "set", "override a variable of the file's vars: (NAME=VALUE; repeatable)")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, "pipeline check: name one pipeline file")
	}
	g, _, err := loadPipeline(pos[0], nil, set)
	if err != nil {
		return pipelineErr(stderr, err)
	}
	if exe, err := os.Executable(); err == nil {
		if err := checkStepFlags(context.Background(), exe, g); err != nil {
			return pipelineErr(stderr, err)
		}
	}
	levels, _ := pipeline.Levels(g.Deps)
	if *asJSON {
		type step struct {
			Name    string   `json:"name"`
			Kind    string   `json:"kind"`
			Level   int      `json:"level"`
			Needs   []string `json:"needs"`
			Command []string `json:"command"`
		}
		var steps []step
		for l, ids := range levels {
			for _, i := range ids {
				s := step{Name: g.Steps[i].Name, Kind: g.Steps[i].Kind, Level: l, Needs: []string{}, Command: g.Steps[i].Command()}
				for _, d := range g.Deps[i] {
					s.Needs = append(s.Needs, g.Steps[d].Name)
				}
				steps = append(steps, s)
			}
		}
		return writeJSON(stdout, map[string]any{"file": pos[0], "steps": steps})
	}
	for l, ids := range levels {
		for _, i := range ids {
			s := g.Steps[i]
			fmt.Fprintf(stdout, "%d  %-12s kiln %s\n", l, s.Name, strings.Join(s.Command(), " "))
		}
	}
	return exitOK
}

// pipelineErr prints a rejected pipeline's problems, one a line, and
// returns the usage exit code: nothing ran.
func pipelineErr(stderr io.Writer, err error) int {
	var el pipeline.ErrorList
	if errors.As(err, &el) {
		for _, e := range el {
			fmt.Fprintf(stderr, "kiln: %v\n", e)
		}
		fmt.Fprintf(stderr, "kiln: pipeline rejected (%d problem(s)); nothing ran\n", len(el))
		return exitUsage
	}
	return usageErr(stderr, "pipeline: %v", err)
}

// pipelineReport is what kiln pipeline run prints with --json.
type pipelineReport struct {
	File  string               `json:"file"`
	Code  pipeline.CodeVersion `json:"code"`
	Store string               `json:"store,omitempty"`
	*pipeline.Result
	// Stale lists, with --retrain-stale, the stale models before the run
	// and those still stale after it.
	StaleBefore []string `json:"stale_before,omitempty"`
	StaleAfter  []string `json:"stale_after,omitempty"`
}

// runPipelineRun runs `kiln pipeline run FILE`; builtin, when not empty,
// is the content of a built-in pipeline (kiln quickstart) used instead of
// reading FILE.
func runPipelineRun(args []string, stdout, stderr io.Writer, builtin string) int {
	fs := flag.NewFlagSet("kiln pipeline run", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), pipelineUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	jobs := fs.Int("jobs", 2, "steps that may run at the same time")
	force := fs.Bool("force", false, "re-run every step, cached or not")
	retrain := fs.Bool("retrain-stale", false, "re-run the steps that produce the models the store marks stale (their upstream when needed) and everything downstream")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout: the run and every step")
	bin := fs.String("kiln", "", "kiln binary the steps run with (default: this one)")
	set := setFlags{}
	fs.Var(set, "set", "override a variable of the file's vars: (NAME=VALUE; repeatable)")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	var src []byte
	if builtin != "" {
		src = []byte(builtin)
		pos = append([]string{"quickstart.yaml (built in)"}, pos...)
	}
	if len(pos) < 1 {
		return usageErr(stderr, "pipeline run: name one pipeline file")
	}
	if *jobs < 1 {
		return usageErr(stderr, "pipeline run: --jobs must be at least 1")
	}
	file := pos[0]
	g, src, err := loadPipeline(file, src, set)
	if err != nil {
		return pipelineErr(stderr, err)
	}
	if len(pos) > 1 {
		// Steps named after the file: run them and what they need only.
		if g, err = g.Only(pos[1:]); err != nil {
			return usageErr(stderr, "pipeline run: %v", err)
		}
	}
	exe := *bin
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fail(stderr, "pipeline: find the kiln binary: %v (pass --kiln)", err)
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := checkStepFlags(ctx, exe, g); err != nil {
		return pipelineErr(stderr, err)
	}
	cv, err := pipeline.ReadCodeVersion(exe)
	if err != nil {
		return fail(stderr, "pipeline: %v", err)
	}
	home := kilnHomeAbs()
	// One pipeline run at a time per KILN_HOME (as DVC locks its repo):
	// two runs at once would run the same steps into the same outputs and
	// the same cache entries.
	lockDir := filepath.Join(home, "pipeline")
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return fail(stderr, "pipeline: %v", err)
	}
	unlock, err := vfs.LockDir(lockDir, func() {
		fmt.Fprintf(stderr, "kiln: another kiln pipeline run holds %s; waiting for it to finish\n", lockDir)
	})
	if err != nil {
		return fail(stderr, "pipeline: %v", err)
	}
	defer unlock()
	sum := sha256.Sum256(src)
	r := &pipeline.Runner{
		Exe: exe, Dir: g.Pipeline.Dir, Jobs: *jobs, Force: *force, Code: cv,
		Cache:  &pipeline.Cache{Dir: filepath.Join(home, "pipeline", "cache")},
		LogDir: filepath.Join(home, "pipeline", "logs"),
		Start:  pipeline.PipelineStart{File: file, FileSHA256: hex.EncodeToString(sum[:]), Args: append([]string{"kiln", "pipeline", "run"}, args...)},
	}
	rep := &pipelineReport{File: file, Code: cv}
	var st *store.Store
	if !store.Disabled() {
		st, err = store.Open(ctx, store.OptionsFromEnv(home))
		if err != nil {
			return fail(stderr, "pipeline: %v (KILN_STORE=off runs without recording)", err)
		}
		defer st.Close()
		rep.Store = st.Where()
		sr := &storeRecorder{s: st, dir: g.Pipeline.Dir, src: src}
		r.Recorder = sr
		r.Amended = sr.amended
	} else if *retrain {
		return usageErr(stderr, "pipeline run: --retrain-stale asks the store which models are stale, and KILN_STORE=off")
	}
	if *retrain {
		stale, err := st.StaleModels(ctx)
		if err != nil {
			return fail(stderr, "pipeline: %v", err)
		}
		for _, m := range stale {
			rep.StaleBefore = append(rep.StaleBefore, m.Ref())
			if m.Source == "" {
				fmt.Fprintf(stderr, "kiln: stale model %s: the store does not know the folder it was registered from; not rebuilt\n", m.Ref())
				continue
			}
			producers := g.Producers(m.Source)
			if len(producers) == 0 {
				fmt.Fprintf(stderr, "kiln: stale model %s (%s): no step of %s writes %s; not rebuilt\n", m.Ref(), m.StaleReason, file, m.Source)
				continue
			}
			for _, i := range producers {
				fmt.Fprintf(stderr, "kiln: stale model %s (%s): re-running step %s and its dependents\n", m.Ref(), m.StaleReason, g.Steps[i].Name)
			}
			r.ForceOutputs = append(r.ForceOutputs, m.Source)
		}
		if len(stale) == 0 {
			fmt.Fprintln(stderr, "kiln: no stale models; running the pipeline as usual")
		}
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	disp := pipeline.NewDisplay(stderr, tty)
	r.OnChange = disp.Update
	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		if !tty {
			return
		}
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopTicker:
				return
			case <-t.C:
				disp.Redraw()
			}
		}
	}()
	res, runErr := r.Run(ctx, g)
	close(stopTicker)
	<-tickerDone
	if res == nil {
		return fail(stderr, "%v", runErr)
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "kiln: pipeline: %v\n", runErr)
		res.Status = "failed"
	}
	rep.Result = res
	if *retrain {
		if stale, err := st.StaleModels(context.WithoutCancel(ctx)); err == nil {
			for _, m := range stale {
				rep.StaleAfter = append(rep.StaleAfter, m.Ref())
			}
		}
	}
	if *asJSON {
		writeJSON(stdout, rep)
	} else {
		counts := map[pipeline.State]int{}
		for _, s := range res.Steps {
			counts[s.State]++
		}
		fmt.Fprintf(stdout, "pipeline %s: %s in %.1fs (run %s): %d ran, %d cached, %d failed, %d blocked\n", file, res.Status, res.Seconds,
			res.RunID, counts[pipeline.Done], counts[pipeline.Cached], counts[pipeline.Failed], counts[pipeline.Blocked])
		for i, s := range res.Steps {
			switch {
			case s.State == pipeline.Failed:
				fmt.Fprintf(stdout, "  step %s failed: %s (log: %s)\n", s.Name, s.Error, s.Log)
			case g.Steps[i].Stdout != "" && (s.State == pipeline.Done || s.State == pipeline.Cached):
				fmt.Fprintf(stdout, "  step %s: output in %s\n", s.Name, g.Steps[i].Stdout)
			}
		}
		if *retrain && len(rep.StaleAfter) > 0 {
			fmt.Fprintf(stdout, "still stale: %s\n", strings.Join(rep.StaleAfter, ", "))
		}
	}
	if res.Status != "succeeded" {
		return exitFailure
	}
	return exitOK
}
