package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/pipeline"
	"github.com/kiln-ml/kiln/store"
)

// realPipeline: pull ─► train ─► evaluate, and pull ─► train2. Its steps
// are real kiln verbs run as child processes (the test binary acting as
// kiln, see TestMain), on tiny settings.
const realPipeline = `vars:
  lr: 0.05
steps:
  pull:
    kind: data pull
    args: [mnist, --from, "${src}"]
    outputs: {dir: data/mnist}
  train:
    kind: train
    params: {hidden: 8, batch: 64, max-steps: 20, lr: "${lr}", seed: 1}
    inputs: {data-dir: data/mnist}
    outputs: {out: models/m}
  evaluate:
    kind: eval
    args: [--json]
    inputs: {model: models/m, data-dir: data/mnist}
    stdout: reports/eval.json
  train2:
    kind: train
    params: {hidden: 4, batch: 64, max-steps: 10, seed: 2}
    inputs: {data-dir: data/mnist}
    outputs: {out: models/m2}
`

type pipelineRun struct {
	code   int
	report pipelineReport
	states map[string]pipeline.State
	stderr string
}

func runPipelineFile(t *testing.T, args ...string) pipelineRun {
	t.Helper()
	code, stdout, stderr := kiln(t, append([]string{"pipeline", "run", "--json"}, args...)...)
	pr := pipelineRun{code: code, stderr: stderr, states: map[string]pipeline.State{}}
	if err := json.Unmarshal([]byte(stdout), &pr.report); err != nil || pr.report.Result == nil {
		t.Fatalf("pipeline run %v: exit %d, stdout %q: %v\n%s", args, code, stdout, err, stderr)
	}
	for _, s := range pr.report.Steps {
		pr.states[s.Name] = s.State
	}
	return pr
}

func wantStates(t *testing.T, what string, got map[string]pipeline.State, want map[string]pipeline.State) {
	t.Helper()
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: step %s %v, want %v (all: %v)", what, n, got[n], w, got)
		}
	}
}

// TestPipelineRerunsChangedStep is the must-show with real kiln
// commands: a second run skips every step; changing the train step's
// configuration re-runs exactly train and evaluate (which reads its
// model); a failing train blocks evaluate only.
func TestPipelineRerunsChangedStep(t *testing.T) {
	src := mnistDir(t)
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	dir := t.TempDir()
	file := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(file, []byte(strings.Replace(realPipeline, "vars:\n", "vars:\n  src: "+src+"\n", 1)), 0o644)
	D, C, F, B := pipeline.Done, pipeline.Cached, pipeline.Failed, pipeline.Blocked

	r := runPipelineFile(t, file)
	if r.code != exitOK || r.report.Status != "succeeded" {
		t.Fatalf("first run: exit %d %+v\n%s", r.code, r.report.Result, r.stderr)
	}
	wantStates(t, "first run", r.states, map[string]pipeline.State{"pull": D, "train": D, "evaluate": D, "train2": D})
	var ev map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "reports", "eval.json"))
	if json.Unmarshal(b, &ev) != nil || ev["samples"] != float64(10000) {
		t.Fatalf("eval.json: %q", b)
	}
	firstAcc := ev["test_accuracy"]

	r = runPipelineFile(t, file)
	if r.code != exitOK {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	wantStates(t, "second run", r.states, map[string]pipeline.State{"pull": C, "train": C, "evaluate": C, "train2": C})
	secondID := r.report.RunID

	// The learning rate changes: train and its dependent evaluate run,
	// pull and train2 are skipped.
	r = runPipelineFile(t, file, "--set", "lr=0.2")
	if r.code != exitOK {
		t.Fatalf("changed lr: exit %d\n%s", r.code, r.stderr)
	}
	wantStates(t, "changed lr", r.states, map[string]pipeline.State{"pull": C, "train": D, "evaluate": D, "train2": C})
	b, _ = os.ReadFile(filepath.Join(dir, "reports", "eval.json"))
	if json.Unmarshal(b, &ev) != nil || ev["test_accuracy"] == firstAcc {
		t.Fatalf("eval.json not re-made for the new model: %q (first accuracy %v)", b, firstAcc)
	}

	// A learning rate train refuses: train fails, evaluate is blocked,
	// the rest are cached; exit 1.
	r = runPipelineFile(t, file, "--set", "lr=-1")
	if r.code != exitFailure || r.report.Status != "failed" {
		t.Fatalf("failing train: exit %d, status %s", r.code, r.report.Status)
	}
	wantStates(t, "failing train", r.states, map[string]pipeline.State{"pull": C, "train": F, "evaluate": B, "train2": C})

	// Named steps run with what they need only; --force runs them again.
	r = runPipelineFile(t, file, "train2", "--force")
	if r.code != exitOK || len(r.states) != 2 {
		t.Fatalf("train2 only: exit %d, states %v\n%s", r.code, r.states, r.stderr)
	}
	wantStates(t, "train2 only", r.states, map[string]pipeline.State{"pull": D, "train2": D})
	if code, _, stderr := kiln(t, "pipeline", "run", file, "nope"); code != exitUsage || !strings.Contains(stderr, `no step "nope"`) {
		t.Fatalf("unknown step: exit %d %q", code, stderr)
	}

	// The store holds each pipeline run, its steps' states, and a
	// pipeline.step run for each step that started no process.
	st, err := store.Open(context.Background(), store.OptionsFromEnv(home))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(context.Background(), store.RunFilter{Kind: "pipeline"})
	if err != nil || len(runs) != 5 {
		t.Fatalf("pipeline runs: %d, %v", len(runs), err)
	}
	var second *store.RunInfo
	for i := range runs {
		if idStr(runs[i].ID) == secondID {
			second = &runs[i]
		}
	}
	if second == nil || second.Status != store.Succeeded {
		t.Fatalf("second run %s not recorded as succeeded: %+v", secondID, runs)
	}
	info, err := st.GetRun(context.Background(), second.ID)
	if err != nil || info.Params["step.train"] != "cached" || info.Params["step.evaluate"] != "cached" {
		t.Fatalf("second run params %v, %v", info.Params, err)
	}
	cachedKids, err := st.ListRuns(context.Background(), store.RunFilter{Parent: second.ID})
	if err != nil || len(cachedKids) != 4 {
		t.Fatalf("second run's steps: %+v, %v", cachedKids, err)
	}
	for _, k := range cachedKids {
		if k.Kind != "pipeline.step" || k.Status != store.Cached || k.CacheKey == "" {
			t.Errorf("cached step recorded as %+v", k)
		}
	}
	// The first run's steps ran as processes, which recorded their own
	// runs under it (KILN_PARENT_RUN), named by their step, with its key.
	first := runs[len(runs)-1]
	kids, err := st.ListRuns(context.Background(), store.RunFilter{Parent: first.ID})
	if err != nil || len(kids) != 4 {
		t.Fatalf("first run's steps: %+v, %v", kids, err)
	}
	kinds := map[string]string{}
	for _, k := range kids {
		kinds[k.Name] = k.Kind
		if k.Status != store.Succeeded || k.CacheKey == "" {
			t.Errorf("step run %+v", k)
		}
	}
	if kinds["pull"] != "data.pull" || kinds["train"] != "train" || kinds["evaluate"] != "eval" || kinds["train2"] != "train" {
		t.Errorf("first run's steps recorded as %v", kinds)
	}
	// A cached step's run names the same artifacts, inputs and outputs,
	// that the steps' own processes recorded by reading the files in the
	// first run (same content hash and path). That the record reuses the
	// runner's hashes rather than reading the files is
	// store.TestRecordHashedPath's and pipeline's TestResultCarriesFileHashes'.
	seen := map[int64]bool{}
	for _, k := range kids {
		for _, list := range []func(context.Context, int64) ([]store.RunArtifact, error){st.RunInputs, st.RunOutputs} {
			as, err := list(context.Background(), k.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				seen[a.ID] = true
			}
		}
	}
	nIn, nOut := 0, 0
	for _, k := range cachedKids {
		for _, side := range []struct {
			name  string
			list  func(context.Context, int64) ([]store.RunArtifact, error)
			count *int
		}{{"input", st.RunInputs, &nIn}, {"output", st.RunOutputs, &nOut}} {
			as, err := side.list(context.Background(), k.ID)
			if err != nil {
				t.Fatal(err)
			}
			*side.count += len(as)
			for _, a := range as {
				if !seen[a.ID] {
					t.Errorf("cached step %s %s %s (%s): artifact %d, which no step of the first run recorded", k.Name, side.name, a.Role, a.Path, a.ID)
				}
			}
		}
	}
	if nIn == 0 || nOut == 0 {
		t.Errorf("the cached steps' runs record %d inputs and %d outputs", nIn, nOut)
	}
}

func idStr(id int64) string {
	b, _ := json.Marshal(id)
	return string(b)
}

// TestPipelineRejected: a cycle, an unknown step kind, a missing input and
// a duplicate name are each refused with the file and line, and nothing
// runs.
func TestPipelineRejected(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	dir := t.TempDir()
	cases := []struct{ name, src, want string }{
		{"cycle", "steps:\n  a:\n    kind: train\n    inputs: {data-dir: d2}\n    outputs: {out: d1}\n  b:\n    kind: train\n    inputs: {data-dir: d1}\n    outputs: {out: d2}\n",
			"cycle.yaml:2:3: cycle: a (" + filepath.Join(dir, "cycle.yaml") + ":2:3) → b ("},
		{"kind", "steps:\n  a:\n    kind: trian\n    outputs: {out: m}\n", `kind.yaml:3:11: step "a": unknown step kind "trian" (known: `},
		{"missing", "steps:\n  a:\n    kind: train\n    inputs: {data-dir: nowhere}\n    outputs: {out: m}\n", `missing.yaml:4:24: step "a": missing input ` + filepath.Join(dir, "nowhere")},
		{"duplicate", "steps:\n  a:\n    kind: train\n    outputs: {out: m}\n  a:\n    kind: eval\n", `duplicate.yaml:5:3: duplicate step name "a" (first defined at `},
		{"unknown param", "steps:\n  a:\n    kind: train\n    params: {lr: 0.1, epoch: 2}\n    outputs: {out: m}\n", `unknown param.yaml:4:23: step "a": kiln train has no flag --epoch for param "epoch" (flags: `},
		{"unknown port", "steps:\n  a:\n    kind: eval\n    outputs: {out: m}\n", `unknown port.yaml:4:20: step "a": kiln eval has no flag --out for port "out"`},
	}
	for _, c := range cases {
		file := filepath.Join(dir, c.name+".yaml")
		os.WriteFile(file, []byte(c.src), 0o644)
		for _, verb := range []string{"run", "check"} {
			code, stdout, stderr := kiln(t, "pipeline", verb, file)
			if code != exitUsage || !strings.Contains(stderr, c.want) || stdout != "" {
				t.Errorf("%s (%s): exit %d, stderr\n%s\nwant exit %d and %q", c.name, verb, code, stderr, exitUsage, c.want)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(home, "pipeline")); err == nil {
		t.Errorf("a rejected pipeline left %s/pipeline behind", home)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("a rejected pipeline wrote into KILN_HOME: %v", entries)
	}
	if code, _, stderr := kiln(t, "pipeline", "run"); code != exitUsage || !strings.Contains(stderr, "name one pipeline file") {
		t.Errorf("no file: exit %d %q", code, stderr)
	}
	if code, _, stderr := kiln(t, "pipeline", "run", filepath.Join(dir, "absent.yaml")); code != exitUsage || !strings.Contains(stderr, "absent.yaml") {
		t.Errorf("absent file: exit %d %q", code, stderr)
	}
}

// TestQuickstartPipeline keeps kiln quickstart's built-in pipeline equal
// to examples/quickstart/pipeline.yaml, and checks that it validates.
func TestQuickstartPipeline(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, []byte(quickstartPipeline)) {
		t.Fatal("cmd/kiln/quickstart.yaml differs from examples/quickstart/pipeline.yaml: copy the example over it")
	}
	t.Setenv("KILN_HOME", t.TempDir())
	p, err := pipeline.Parse("quickstart.yaml", b, pipeline.ParseOptions{Dir: "/", Home: kilnHomeAbs()})
	if err != nil {
		t.Fatal(err)
	}
	// The data folder does not exist yet: the pull step produces it.
	if _, err := pipeline.Validate(p, pipeline.ValidateOptions{Kinds: stepKinds()}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "pull,train,evaluate,register" {
		t.Fatalf("steps %v", names)
	}
}

// TestStepKindsExist checks that every step kind the pipeline accepts is
// a command of this build (each answers -h) whose flags the pipeline can
// read, so that checkStepFlags is never skipped for one.
func TestStepKindsExist(t *testing.T) {
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	exe, _ := os.Executable()
	for _, k := range stepKinds() {
		args := append(strings.Fields(k), "-h")
		if code, _, stderr := kiln(t, args...); code != exitOK {
			t.Errorf("step kind %q: kiln %s exits %d: %s", k, strings.Join(args, " "), code, stderr)
		}
		if flags := verbFlags(context.Background(), exe, k); len(flags) == 0 {
			t.Errorf("step kind %q: no flags read from its -h", k)
		}
	}
	if flags := verbFlags(context.Background(), exe, "train"); !flags["lr"] || !flags["data-dir"] || flags["bogus"] {
		t.Errorf("train's flags: %v", flags)
	}
}
