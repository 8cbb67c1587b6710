package pipeline

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/internal/filehash"
)

// TestMain lets the test binary act as a tiny kiln with three verbs when
// the runner starts it as a step, so that the runner tests run real child
// processes doing little work:
//
//	write --out F [--text T] [--in F]   writes T and the content of --in to F
//	                                    (and of any other --NAME=F given)
//	fail                                prints to stderr and exits 1
//	meet --me F --other G --out H       creates F, waits for G to exist, writes H
//
// Every run appends "STEP PARENT_RUN" to $PIPELINE_TEST_EXECLOG.
func TestMain(m *testing.M) {
	if os.Getenv("PIPELINE_TEST_CHILD") == "1" {
		os.Exit(toyKiln(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func toyKiln(args []string) int {
	if log := os.Getenv("PIPELINE_TEST_EXECLOG"); log != "" {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %s\n", os.Getenv(EnvStep), os.Getenv(EnvParentRun))
			f.Close()
		}
	}
	if len(args) == 0 {
		return 2
	}
	// Ports not named in a step's args arrive as --NAME=PATH flags; the
	// toy reads every flag it does not know as one more input.
	var extra []string
	known := map[string]bool{"out": true, "text": true, "in": true, "me": true, "other": true}
	rest := []string{}
	for _, a := range args[1:] {
		if name, val, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") && !known[name] {
			extra = append(extra, val)
			continue
		}
		rest = append(rest, a)
	}
	args = append(args[:1], rest...)
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	out := fs.String("out", "", "")
	text := fs.String("text", "", "")
	in := fs.String("in", "", "")
	me := fs.String("me", "", "")
	other := fs.String("other", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	switch args[0] {
	case "fail":
		fmt.Fprintln(os.Stderr, "boom: this step always fails")
		return 1
	case "write":
		b := []byte(*text)
		for _, in := range append([]string{*in}, extra...) {
			if in == "" {
				continue
			}
			c, err := os.ReadFile(in)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			b = append(b, c...)
		}
		fmt.Println("wrote", *out)
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "meet":
		os.WriteFile(*me, nil, 0o644)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(*other); err == nil {
				os.WriteFile(*out, []byte("met"), 0o644)
				return 0
			}
		}
		fmt.Fprintln(os.Stderr, "meet: the other step never started")
		return 1
	}
	return 2
}

type runEnv struct {
	t       *testing.T
	dir     string
	execlog string
	cache   *Cache
}

func newRunEnv(t *testing.T) *runEnv {
	// No goroutine of the runner outlives the test.
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > base; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
				return
			}
		}
	})
	dir := t.TempDir()
	t.Setenv("PIPELINE_TEST_CHILD", "1")
	// Under -race a child would sleep 1 s at exit waiting for reports.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	return &runEnv{t: t, dir: dir, execlog: filepath.Join(dir, "exec.log"), cache: &Cache{Dir: filepath.Join(dir, "cache")}}
}

// run parses, validates and runs src, and returns each step's state by
// name and the steps whose processes ran, sorted.
func (e *runEnv) run(src string, mod func(*Runner)) (*Result, map[string]State, []string) {
	e.t.Helper()
	os.Remove(e.execlog)
	p, err := Parse("p.yaml", []byte(src), ParseOptions{Dir: e.dir})
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := Validate(p, ValidateOptions{Kinds: testKinds, Exists: func(p string) bool { _, err := os.Stat(p); return err == nil }})
	if err != nil {
		e.t.Fatal(err)
	}
	exe, _ := os.Executable()
	rec := &memRecorder{}
	r := &Runner{Exe: exe, Dir: e.dir, Jobs: 2, Cache: e.cache, Env: []string{"PIPELINE_TEST_EXECLOG=" + e.execlog},
		LogDir: filepath.Join(e.dir, "logs"), Recorder: rec}
	if mod != nil {
		mod(r)
	}
	res, err := r.Run(context.Background(), g)
	if err != nil {
		e.t.Fatal(err)
	}
	states := map[string]State{}
	for _, s := range res.Steps {
		states[s.Name] = s.State
	}
	var ran []string
	b, _ := os.ReadFile(e.execlog)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			ran = append(ran, f[0])
			if f[1] != res.RunID {
				e.t.Errorf("step %s ran with %s=%q, want the run id %q", f[0], EnvParentRun, f[1], res.RunID)
			}
		}
	}
	sort.Strings(ran)
	if r.Recorder == rec {
		rec.check(e.t, res)
	}
	return res, states, ran
}

// memRecorder keeps what the runner records, to check it against the
// result.
type memRecorder struct {
	mu            sync.Mutex
	started, ends int
	steps         map[string]State
	status        string
}

func (m *memRecorder) StartPipeline(ctx context.Context, r PipelineStart) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started++
	m.steps = map[string]State{}
	return fmt.Sprintf("run-%d", time.Now().UnixNano()), nil
}

func (m *memRecorder) RecordStep(ctx context.Context, runID string, s StepResult) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, dup := m.steps[s.Name]; dup {
		return fmt.Errorf("step %s recorded twice", s.Name)
	}
	m.steps[s.Name] = s.State
	return nil
}

func (m *memRecorder) EndPipeline(ctx context.Context, runID, status string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	m.ends++
	m.status = status
	return nil
}

func (m *memRecorder) check(t *testing.T, res *Result) {
	t.Helper()
	if m.started != 1 || m.ends != 1 || m.status != res.Status || len(m.steps) != len(res.Steps) {
		t.Errorf("recorder: %d starts, %d ends, status %q (want %q), %d steps of %d", m.started, m.ends, m.status, res.Status, len(m.steps), len(res.Steps))
	}
	for _, s := range res.Steps {
		if m.steps[s.Name] != s.State {
			t.Errorf("recorder: step %s recorded %v, result %v", s.Name, m.steps[s.Name], s.State)
		}
	}
}

// chain: a ─► b ─► c, and d ─► e (e also reads a); f is on its own.
const chainSrc = `steps:
  a:
    kind: write
    params: {text: A}
    outputs: {out: a.txt}
  b:
    kind: write
    params: {text: %s}
    inputs: {in: a.txt}
    outputs: {out: b.txt}
  c:
    kind: write
    params: {text: C}
    inputs: {in: b.txt}
    outputs: {out: c.txt}
  d:
    kind: write
    params: {text: D}
    outputs: {out: d.txt}
  e:
    kind: write
    args: [--in, '${inputs.a}', --text=E]
    inputs: {a: a.txt, d: d.txt}
    outputs: {out: e.txt}
  f:
    kind: write
    args: [--out, '${outputs.x}']
    outputs: {x: f.txt}
    stdout: f.log
`

// TestRerunChangedStep is the must-show: changing one step's
// configuration re-runs exactly that step and the steps downstream of
// it, as real processes, and skips every other step.
func TestRerunChangedStep(t *testing.T) {
	e := newRunEnv(t)
	all := []string{"a", "b", "c", "d", "e", "f"}
	res, states, ran := e.run(fmt.Sprintf(chainSrc, "B"), nil)
	if res.Status != "succeeded" || !reflect.DeepEqual(ran, all) {
		t.Fatalf("first run: status %s, ran %v, states %v", res.Status, ran, states)
	}
	if b, _ := os.ReadFile(filepath.Join(e.dir, "c.txt")); string(b) != "CBA" {
		t.Fatalf("c.txt = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(e.dir, "f.log")); !strings.Contains(string(b), "wrote "+filepath.Join(e.dir, "f.txt")) {
		t.Fatalf("captured stdout f.log = %q", b)
	}
	// Unchanged: every step is skipped, no process starts.
	res, states, ran = e.run(fmt.Sprintf(chainSrc, "B"), nil)
	if res.Status != "succeeded" || len(ran) != 0 {
		t.Fatalf("second run ran %v", ran)
	}
	for _, n := range all {
		if states[n] != Cached {
			t.Errorf("second run: step %s %v, want cached", n, states[n])
		}
	}
	// b's param changes: b and c (which reads b) run; a, d, e, f do not.
	res, states, ran = e.run(fmt.Sprintf(chainSrc, "B2"), nil)
	if !reflect.DeepEqual(ran, []string{"b", "c"}) {
		t.Fatalf("after changing b: ran %v (states %v), want [b c]", ran, states)
	}
	for n, want := range map[string]State{"a": Cached, "b": Done, "c": Done, "d": Cached, "e": Cached, "f": Cached} {
		if states[n] != want {
			t.Errorf("after changing b: step %s %v, want %v", n, states[n], want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(e.dir, "c.txt")); string(b) != "CB2A" {
		t.Fatalf("c.txt = %q", b)
	}
	// Going back to the first configuration reuses the first results'
	// keys, but b.txt now holds B2's output, so b runs again; c's input
	// is then what it was in the first run, and c is... re-run, since
	// c.txt holds CB2A, not the recorded CBA.
	_, _, ran = e.run(fmt.Sprintf(chainSrc, "B"), nil)
	if !reflect.DeepEqual(ran, []string{"b", "c"}) {
		t.Fatalf("back to B: ran %v", ran)
	}
	// An output edited by hand re-runs its producer only; the restored
	// content equals what d read before... d reads nothing, and e reads
	// d.txt, which after the re-run holds the same bytes: e is cached.
	os.WriteFile(filepath.Join(e.dir, "d.txt"), []byte("tampered"), 0o644)
	_, states, ran = e.run(fmt.Sprintf(chainSrc, "B"), nil)
	if !reflect.DeepEqual(ran, []string{"d"}) || states["e"] != Cached {
		t.Fatalf("tampered d.txt: ran %v, e %v", ran, states["e"])
	}
	// A deleted output re-runs its producer too.
	os.Remove(filepath.Join(e.dir, "f.log"))
	if _, _, ran = e.run(fmt.Sprintf(chainSrc, "B"), nil); !reflect.DeepEqual(ran, []string{"f"}) {
		t.Fatalf("deleted f.log: ran %v", ran)
	}
	// --force runs everything; ForceOutputs (kiln's --retrain-stale) runs
	// the producer of a path and what is downstream of it.
	if _, _, ran = e.run(fmt.Sprintf(chainSrc, "B"), func(r *Runner) { r.Force = true }); !reflect.DeepEqual(ran, all) {
		t.Fatalf("force: ran %v", ran)
	}
	_, _, ran = e.run(fmt.Sprintf(chainSrc, "B"), func(r *Runner) { r.ForceOutputs = []string{filepath.Join(e.dir, "a.txt")} })
	if !reflect.DeepEqual(ran, []string{"a", "b", "c", "e"}) {
		t.Fatalf("force outputs a.txt: ran %v", ran)
	}
	// A different code version invalidates every result.
	if _, _, ran = e.run(fmt.Sprintf(chainSrc, "B"), func(r *Runner) { r.Code = CodeVersion{Binary: "sha256:other"} }); !reflect.DeepEqual(ran, all) {
		t.Fatalf("new code version: ran %v", ran)
	}
}

// TestFailedStepStopsDependents: a failing step blocks what reads its
// outputs; independent steps still run, and the run fails.
func TestFailedStepStopsDependents(t *testing.T) {
	e := newRunEnv(t)
	src := strings.Replace(fmt.Sprintf(chainSrc, "B"), "  b:\n    kind: write\n", "  b:\n    kind: fail\n", 1)
	res, states, ran := e.run(src, func(r *Runner) { r.Jobs = 1 })
	if res.Status != "failed" {
		t.Fatalf("status %s", res.Status)
	}
	if !reflect.DeepEqual(ran, []string{"a", "b", "d", "e", "f"}) {
		t.Fatalf("ran %v", ran)
	}
	for n, want := range map[string]State{"a": Done, "b": Failed, "c": Blocked, "d": Done, "e": Done, "f": Done} {
		if states[n] != want {
			t.Errorf("step %s %v, want %v", n, states[n], want)
		}
	}
	b := res.Steps[1]
	if b.ExitCode != 1 || !strings.Contains(b.Error, "boom: this step always fails") || !strings.Contains(res.Steps[2].Reason, "step b failed") {
		t.Fatalf("b: %+v; c: %+v", b, res.Steps[2])
	}
	if log, _ := os.ReadFile(b.Log); !strings.Contains(string(log), "boom") {
		t.Fatalf("log %s: %q", b.Log, log)
	}
	// The successful steps were cached; the failed one was not.
	_, states, ran = e.run(src, nil)
	if !reflect.DeepEqual(ran, []string{"b"}) || states["a"] != Cached || states["c"] != Blocked {
		t.Fatalf("second run: ran %v, states %v", ran, states)
	}
}

// TestIndependentStepsRunTogether: two steps that each wait for the
// other to start finish only if they run at the same time.
func TestIndependentStepsRunTogether(t *testing.T) {
	e := newRunEnv(t)
	src := `steps:
  x:
    kind: meet
    args: [--me, x.started, --other, y.started]
    outputs: {out: x.txt}
  y:
    kind: meet
    args: [--me, y.started, --other, x.started]
    outputs: {out: y.txt}
  z:
    kind: write
    inputs: {in: x.txt, y: y.txt}
    args: [--in, '${inputs.in}', --out, '${outputs.o}']
    outputs: {o: z.txt}
`
	var snapshots int
	res, states, _ := e.run(src, func(r *Runner) { r.OnChange = func([]StepResult) { snapshots++ } })
	if res.Status != "succeeded" || states["z"] != Done {
		t.Fatalf("status %s, states %v: %+v", res.Status, states, res.Steps)
	}
	if snapshots < 4 {
		t.Fatalf("OnChange called %d times", snapshots)
	}
}

func TestStepErrors(t *testing.T) {
	e := newRunEnv(t)
	// A step that succeeds without writing its declared output fails.
	src := "steps:\n  a:\n    kind: write\n    args: [--out, elsewhere.txt, --text, '${outputs.o}']\n    outputs: {o: declared.txt}\n"
	res, states, _ := e.run(src, nil)
	if states["a"] != Failed || !strings.Contains(res.Steps[0].Error, "did not write its output o") {
		t.Fatalf("%+v", res.Steps[0])
	}
	// A program that cannot start fails the step, not the run.
	res, states, _ = e.run("steps:\n  a:\n    kind: write\n    outputs: {out: a.txt}\n", func(r *Runner) { r.Exe = filepath.Join(e.dir, "no-such-kiln") })
	if states["a"] != Failed || res.Status != "failed" {
		t.Fatalf("%+v", res.Steps[0])
	}
}

func TestDisplayPlain(t *testing.T) {
	var b strings.Builder
	d := NewDisplay(&b, false)
	steps := []StepResult{{Name: "a", Kind: "write", State: Pending}, {Name: "b", Kind: "write", State: Pending}}
	d.Update(steps)
	steps[0].State = Running
	d.Update(append([]StepResult(nil), steps...))
	steps[0].State, steps[0].Seconds = Done, 1.25
	steps[1].State, steps[1].Reason = Blocked, "not run: step x failed"
	d.Update(append([]StepResult(nil), steps...))
	want := "pipeline: a (write) running\npipeline: a (write) done in 1.2s\npipeline: b (write) blocked: not run: step x failed\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestAmendedOutput: an output file rewritten by a recorded deletion is
// kept (its producer stays cached, its consumer re-runs); any other
// change to the output re-runs the producer.
func TestAmendedOutput(t *testing.T) {
	e := newRunEnv(t)
	src := `steps:
  make:
    kind: write
    params: {text: "a,b\n1,2\n3,4\n"}
    outputs: {out: rows.csv}
  use:
    kind: write
    inputs: {in: rows.csv}
    outputs: {out: used.txt}
`
	if _, _, ran := e.run(src, nil); !reflect.DeepEqual(ran, []string{"make", "use"}) {
		t.Fatalf("first run: %v", ran)
	}
	csv := filepath.Join(e.dir, "rows.csv")
	old, _, _ := filehash.File(csv)
	os.WriteFile(csv, []byte("a,b\n3,4\n"), 0o644) // row 1 deleted
	now, _, _ := filehash.File(csv)
	var asked []string
	amended := func(file, o, n string, since time.Time) bool {
		asked = append(asked, file)
		return file == csv && o == old && n == now && !since.IsZero()
	}
	_, states, ran := e.run(src, func(r *Runner) { r.Amended = amended })
	if !reflect.DeepEqual(ran, []string{"use"}) || states["make"] != Cached || !reflect.DeepEqual(asked, []string{csv}) {
		t.Fatalf("after the deletion: ran %v, states %v, asked %v", ran, states, asked)
	}
	if b, _ := os.ReadFile(filepath.Join(e.dir, "used.txt")); string(b) != "a,b\n3,4\n" {
		t.Fatalf("used.txt = %q", b)
	}
	// The amended entry was rewritten: no question the next time.
	asked = nil
	if _, _, ran = e.run(src, func(r *Runner) { r.Amended = amended }); len(ran) != 0 || len(asked) != 0 {
		t.Fatalf("third run: ran %v, asked %v", ran, asked)
	}
	// A change nobody recorded re-makes the file (and so its consumer,
	// which now reads the rows of the first run again).
	os.WriteFile(csv, []byte("tampered\n"), 0o644)
	if _, _, ran = e.run(src, func(r *Runner) { r.Amended = amended }); !reflect.DeepEqual(ran, []string{"make", "use"}) {
		t.Fatalf("tampered: ran %v", ran)
	}
}

func TestDisplayTerminal(t *testing.T) {
	var b strings.Builder
	d := NewDisplay(&b, true)
	t0 := time.Now()
	d.now = func() time.Time { return t0.Add(2 * time.Second) }
	d.Update([]StepResult{{Name: "a", Kind: "train", State: Running, Started: t0}})
	first := b.String()
	if first != "\r\033[KSTEP  KIND   STATE       TIME\n\r\033[Ka     train  running     2.0s\n" {
		t.Fatalf("first draw %q", first)
	}
	d.Redraw()
	// The second draw moves up over the two lines and redraws them.
	if again := strings.TrimPrefix(b.String(), first); again != "\033[2A"+first {
		t.Fatalf("redraw %q", again)
	}
}

// TestInterrupt: cancelling the run stops the running step's process
// (SIGINT), fails that step and blocks the rest, without waiting for the
// step to end by itself.
func TestInterrupt(t *testing.T) {
	e := newRunEnv(t)
	src := `steps:
  wait:
    kind: meet
    args: [--me, w.started, --other, never]
    outputs: {out: w.txt}
  after:
    kind: write
    inputs: {in: w.txt}
    outputs: {out: a.txt}
`
	p, err := Parse("p.yaml", []byte(src), ParseOptions{Dir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Validate(p, ValidateOptions{Kinds: testKinds})
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			if _, err := os.Stat(filepath.Join(e.dir, "w.started")); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t0 := time.Now()
	rec := &memRecorder{}
	res, err := (&Runner{Exe: exe, Dir: e.dir, Jobs: 2, Cache: e.cache, Recorder: rec}).Run(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	rec.check(t, res) // recorded to the end despite the cancelled context
	if time.Since(t0) > 10*time.Second {
		t.Fatalf("the run took %v after the interrupt", time.Since(t0))
	}
	if res.Status != "failed" || res.Steps[0].State != Failed || !strings.Contains(res.Steps[0].Error, "interrupted") || res.Steps[1].State != Blocked {
		t.Fatalf("%+v", res.Steps)
	}
}

// TestResultCarriesFileHashes: a step's result holds the content hash of
// every input and output file it hashed, when it ran and when it was
// cached, so that a recorder need not read them again.
func TestResultCarriesFileHashes(t *testing.T) {
	e := newRunEnv(t)
	for _, want := range []State{Done, Cached} {
		res, _, _ := e.run(fmt.Sprintf(chainSrc, "B"), nil)
		var b *StepResult
		for i := range res.Steps {
			if res.Steps[i].Name == "b" {
				b = &res.Steps[i]
			}
		}
		if b == nil || b.State != want || len(b.Inputs) != 1 || len(b.Outputs) != 1 {
			t.Fatalf("step b: %+v, want state %v with one input and one output", b, want)
		}
		for _, ph := range []PortHash{b.Inputs[0], b.Outputs[0]} {
			h, _, err := filehash.File(ph.Path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ph.Files, map[string]string{"": h}) {
				t.Errorf("%v step b, %s: Files %v, want {\"\": %s}", want, ph.Name, ph.Files, h)
			}
		}
	}
}
