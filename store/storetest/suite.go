package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
	"github.com/kiln-ml/kiln/store"
)

// Opener returns the options of a new, empty store (a fresh KILN_HOME and,
// for PostgreSQL, a fresh database). Every call must give a store of its
// own.
type Opener func(t *testing.T) store.Options

// Suite runs every backend-independent test against stores from open.
func Suite(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"RunsParamsMetrics", testRuns},
		{"ReopenMigrations", testReopen},
		{"Artifacts", testArtifacts},
		{"ArtifactWritesFailingHalfWay", testArtifactFaults},
		{"Models", testModels},
		{"ConcurrentPromotions", testConcurrentPromotions},
		{"Datasets", testDatasets},
		{"LineageAndUses", testLineage},
		{"EightProcesses", testEightProcesses},
		{"KilledRunMarkedFailed", testKilled},
		{"SilentHostMarkedFailed", testSilentHost},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func mustOpen(t *testing.T, o store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testRuns(t *testing.T, open Opener) {
	ctx := context.Background()
	o := open(t)
	o.Heartbeat = time.Hour // only End and Flush write metrics here
	s := mustOpen(t, o)
	parent, err := s.StartRun(ctx, store.RunSpec{Kind: "pipeline", Command: []string{"kiln", "pipeline", "run", "p.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"lr": 0.05, "hidden": []int{256, 128}}
	r, err := s.StartRun(ctx, store.RunSpec{Kind: "train", Name: "fit", Command: []string{"kiln", "train", "--lr", "0.05"}, Config: cfg,
		Parent: parent.ID(), CacheKey: "k1", Code: store.CodeVersion{Commit: "abc123", Dirty: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetParams(ctx, map[string]string{"lr": "0.05", "model": "mlp"}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetParams(ctx, map[string]string{"lr": "0.01"}); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := 0; i < n; i++ {
		r.LogMetric("loss", int64(i), 1/float64(i+1))
	}
	r.LogMetric("test_accuracy", 1, 0.97)
	info, err := s.GetRun(ctx, r.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != store.Running || info.PID != os.Getpid() || info.Parent != parent.ID() || info.Code.Commit != "abc123" || !info.Code.Dirty {
		t.Fatalf("running run recorded as %+v", info)
	}
	if err := r.End(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.End(ctx, nil); err == nil {
		t.Fatal("a second End succeeded")
	}
	if err := parent.End(ctx, errors.New("step fit failed")); err != nil {
		t.Fatal(err)
	}
	info, err = s.GetRun(ctx, r.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != store.Succeeded || info.Ended.Before(info.Started) || info.Params["lr"] != "0.01" || info.Params["model"] != "mlp" ||
		info.Name != "fit" || strings.Join(info.Command, " ") != "kiln train --lr 0.05" || string(info.Config) != `{"hidden":[256,128],"lr":0.05}` {
		t.Fatalf("ended run recorded as %+v config %s", info, info.Config)
	}
	ms, err := s.Metrics(ctx, r.ID(), "loss")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != n {
		t.Fatalf("%d loss values recorded, want %d", len(ms), n)
	}
	for i, m := range ms {
		if m.Step != int64(i) || m.Value != 1/float64(i+1) {
			t.Fatalf("loss %d = step %d value %v", i, m.Step, m.Value)
		}
	}
	all, _ := s.Metrics(ctx, r.ID(), "")
	if len(all) != n+1 {
		t.Fatalf("%d metrics in all, want %d", len(all), n+1)
	}
	pi, _ := s.GetRun(ctx, parent.ID())
	if pi.Status != store.Failed || pi.Error != "step fit failed" {
		t.Fatalf("failed run recorded as %+v", pi)
	}
	runs, err := s.ListRuns(ctx, store.RunFilter{Parent: parent.ID()})
	if err != nil || len(runs) != 1 || runs[0].ID != r.ID() {
		t.Fatalf("children of %d: %+v, %v", parent.ID(), runs, err)
	}
	runs, _ = s.ListRuns(ctx, store.RunFilter{Status: store.Failed})
	if len(runs) != 1 || runs[0].ID != parent.ID() {
		t.Fatalf("failed runs: %+v", runs)
	}
	c, err := s.FindCached(ctx, "k1")
	if err != nil || c == nil || c.ID != r.ID() {
		t.Fatalf("FindCached(k1) = %+v, %v", c, err)
	}
	if c, _ := s.FindCached(ctx, "other"); c != nil {
		t.Fatalf("FindCached(other) = %+v", c)
	}
	if _, err := s.GetRun(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRun(9999): %v", err)
	}
}

func testReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	o := open(t)
	s := mustOpen(t, o)
	r, err := s.StartRun(ctx, store.RunSpec{Kind: "eval"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.End(ctx, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := mustOpen(t, o) // migrations already applied: nothing to do, data kept
	if info, err := s2.GetRun(ctx, r.ID()); err != nil || info.Status != store.Succeeded {
		t.Fatalf("after reopening: %+v, %v", info, err)
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func testArtifacts(t *testing.T, open Opener) {
	ctx := context.Background()
	s := mustOpen(t, open(t))
	src := filepath.Join(t.TempDir(), "model")
	writeTree(t, src, map[string]string{"model.json": `{"name":"mlp"}`, "model.safetensors": "weights", "sub/extra.txt": "x"})
	rec, err := s.RecordPath(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kind != "dir" || rec.Files != 3 || rec.Size != int64(len(`{"name":"mlp"}`)+len("weights")+1) || rec.Stored || rec.Path != src {
		t.Fatalf("recorded %+v", rec)
	}
	again, _ := s.RecordPath(ctx, src)
	if again.ID != rec.ID {
		t.Fatalf("recording the same folder twice gave artifacts %d and %d", rec.ID, again.ID)
	}
	put, err := s.PutPath(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if put.Hash != rec.Hash || !put.Stored || !strings.HasPrefix(put.Path, s.ArtifactDir()) {
		t.Fatalf("stored %+v, recorded %+v", put, rec)
	}
	b, err := os.ReadFile(filepath.Join(put.Path, "sub", "extra.txt"))
	if err != nil || string(b) != "x" {
		t.Fatalf("stored copy: %q, %v", b, err)
	}
	if err := s.VerifyArtifact(put); err != nil {
		t.Fatal(err)
	}
	// Changing the source makes a new artifact at the same path; the
	// stored copy is unaffected.
	writeTree(t, src, map[string]string{"model.safetensors": "new weights"})
	rec2, err := s.RecordPath(ctx, src)
	if err != nil || rec2.ID == rec.ID || rec2.Hash == rec.Hash {
		t.Fatalf("after a change: %+v (was %+v), %v", rec2, rec, err)
	}
	if err := s.VerifyArtifact(rec); err == nil {
		t.Fatal("VerifyArtifact accepted a folder whose content changed")
	}
	if err := s.VerifyArtifact(put); err != nil {
		t.Fatal(err)
	}
	at, err := s.ArtifactsAt(ctx, src)
	if err != nil || len(at) != 2 {
		t.Fatalf("ArtifactsAt: %+v, %v", at, err)
	}
	// A single file.
	f := filepath.Join(t.TempDir(), "data.csv")
	os.WriteFile(f, []byte("a,b\n1,2\n"), 0o644)
	fa, err := s.PutPath(ctx, f)
	want := sha256.Sum256([]byte("a,b\n1,2\n"))
	if err != nil || fa.Hash != hex.EncodeToString(want[:]) || fa.Kind != "file" {
		t.Fatalf("PutPath(file) = %+v, %v", fa, err)
	}
	if b, _ := os.ReadFile(fa.Path); string(b) != "a,b\n1,2\n" {
		t.Fatalf("stored file holds %q", b)
	}
}

// testArtifactFaults makes every filesystem operation of PutPath fail in
// turn and checks that no half-written artifact is ever visible: no
// temporary file is left, every blob's name is its content's hash, every
// stored folder is complete, and no artifact row exists for a failed put.
func testArtifactFaults(t *testing.T, open Opener) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "model")
	writeTree(t, src, map[string]string{"model.json": strings.Repeat("j", 5000), "model.safetensors": strings.Repeat("w", 70000)})
	wantHash, _, _, _, err := store.HashPath(src)
	if err != nil {
		t.Fatal(err)
	}
	o := open(t)
	for failAt := 0; ; failAt++ {
		efs := errorfs.New(failAt)
		o.FS = efs
		s := mustOpen(t, o)
		a, err := s.PutPath(ctx, src)
		checkArtifactDir(t, s.ArtifactDir())
		if err == nil {
			if a.Hash != wantHash {
				t.Fatalf("stored hash %s, want %s", a.Hash, wantHash)
			}
			if failAt < 3 {
				t.Fatalf("PutPath succeeded with failure injected at op %d of %d", failAt, efs.Ops())
			}
			break
		}
		if !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("failAt %d: %v", failAt, err)
		}
		if as, _ := s.ArtifactsByHash(ctx, wantHash); len(as) != 0 {
			t.Fatalf("failAt %d (%v): a failed put recorded %+v", failAt, efs.Log, as)
		}
		s.Close()
		if failAt > 100 {
			t.Fatal("PutPath never succeeded")
		}
	}
}

func checkArtifactDir(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".tmp") {
			t.Errorf("temporary left behind: %s", p)
		}
		if !d.IsDir() && filepath.Base(filepath.Dir(filepath.Dir(p))) == "blobs" {
			b, _ := os.ReadFile(p)
			h := sha256.Sum256(b)
			if hex.EncodeToString(h[:]) != d.Name() {
				t.Errorf("blob %s holds content hashing to %x: half-written", p, h)
			}
		}
		if d.IsDir() && filepath.Base(filepath.Dir(p)) == "trees" {
			if h, _, _, _, err := store.HashPath(p); err != nil || h != d.Name() {
				t.Errorf("tree %s hashes to %s (%v): incomplete", p, h, err)
			}
		}
		return nil
	})
}

func testModels(t *testing.T, open Opener) {
	ctx := context.Background()
	s := mustOpen(t, open(t))
	var arts []store.Artifact
	for i := 0; i < 3; i++ {
		d := filepath.Join(t.TempDir(), "m")
		writeTree(t, d, map[string]string{"w": fmt.Sprint(i)})
		a, err := s.PutPath(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, a)
	}
	for i, a := range arts {
		m, err := s.RegisterModel(ctx, "mnist", a, 0)
		if err != nil || m.Version != int64(i+1) || m.Stage != store.StageNone || m.Hash != a.Hash {
			t.Fatalf("register %d: %+v, %v", i, m, err)
		}
	}
	if _, err := s.RegisterModel(ctx, "bad@name", arts[0], 0); err == nil {
		t.Fatal("registered a name holding '@'")
	}
	if _, err := s.PromoteModel(ctx, "mnist", 1, store.StageProduction); err != nil {
		t.Fatal(err)
	}
	m2, err := s.PromoteModel(ctx, "mnist", 2, store.StageProduction)
	if err != nil || m2.Stage != store.StageProduction {
		t.Fatalf("promote 2: %+v, %v", m2, err)
	}
	if m1, _ := s.GetModel(ctx, "mnist", 1); m1.Stage != store.StageArchived {
		t.Fatalf("the former production version is %q, want archived", m1.Stage)
	}
	if _, err := s.PromoteModel(ctx, "mnist", 3, "prod"); err == nil || !strings.Contains(err.Error(), "unknown stage") {
		t.Fatalf("promote to an unknown stage: %v", err)
	}
	if _, err := s.PromoteModel(ctx, "mnist", 9, store.StageStaging); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("promote a missing version: %v", err)
	}
	latest, err := s.GetModel(ctx, "mnist", 0)
	if err != nil || latest.Version != 3 {
		t.Fatalf("latest: %+v, %v", latest, err)
	}
	// Stale versions stay listed until a fresh version supersedes them.
	if err := s.MarkStale(ctx, []int64{latest.ID}, "rows deleted"); err != nil {
		t.Fatal(err)
	}
	st, _ := s.StaleModels(ctx)
	if len(st) != 1 || st[0].Version != 3 || st[0].StaleReason != "rows deleted" {
		t.Fatalf("stale: %+v", st)
	}
	// The stale weights registered again, under its name or another, are
	// stale too: nothing was retrained.
	for _, name := range []string{"mnist", "copy"} {
		m, err := s.RegisterModel(ctx, name, arts[2], 0)
		if err != nil || !m.Stale || !strings.Contains(m.StaleReason, "mnist@3") || !strings.Contains(m.StaleReason, "rows deleted") {
			t.Fatalf("stale content registered as %s: %+v, %v", name, m, err)
		}
	}
	if st, _ := s.StaleModels(ctx); len(st) != 3 {
		t.Fatalf("stale after registering stale content: %+v", st)
	}
	if m, err := s.RegisterModel(ctx, "mnist", arts[0], 0); err != nil || m.Stale {
		t.Fatalf("fresh content: %+v, %v", m, err)
	}
	if st, _ := s.StaleModels(ctx); len(st) != 1 || st[0].Name != "copy" {
		t.Fatalf("stale after retraining: %+v", st)
	}
	all, _ := s.ListModels(ctx, "")
	if len(all) != 6 {
		t.Fatalf("%d versions listed", len(all))
	}
	for _, c := range []struct {
		ref  string
		name string
		v    int64
		ok   bool
	}{{"m@3", "m", 3, true}, {"m", "m", 0, true}, {"m@0", "", 0, false}, {"m@x", "", 0, false}, {"@1", "", 0, false}, {"m@01", "", 0, false}} {
		n, v, err := store.ParseModelRef(c.ref)
		if (err == nil) != c.ok || n != c.name || v != c.v {
			t.Errorf("ParseModelRef(%q) = %q, %d, %v", c.ref, n, v, err)
		}
	}
}

// testConcurrentPromotions promotes eight versions of one model to
// production at the same time: afterwards exactly one is in production
// and the others are archived.
func testConcurrentPromotions(t *testing.T, open Opener) {
	ctx := context.Background()
	s := mustOpen(t, open(t))
	const n = 8
	for i := 0; i < n; i++ {
		d := filepath.Join(t.TempDir(), "m")
		writeTree(t, d, map[string]string{"w": fmt.Sprint(i)})
		a, err := s.PutPath(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RegisterModel(ctx, "m", a, 0); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = s.PromoteModel(ctx, "m", int64(i+1), store.StageProduction)
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: promote m@%d: %v", round, i+1, err)
			}
		}
		ms, _ := s.ListModels(ctx, "m")
		prod := 0
		for _, m := range ms {
			switch m.Stage {
			case store.StageProduction:
				prod++
			case store.StageArchived:
			default:
				t.Fatalf("round %d: %s is %s", round, m.Ref(), m.Stage)
			}
		}
		if prod != 1 {
			t.Fatalf("round %d: %d versions in production", round, prod)
		}
	}
}

func testDatasets(t *testing.T, open Opener) {
	ctx := context.Background()
	s := mustOpen(t, open(t))
	f := filepath.Join(t.TempDir(), "people.csv")
	os.WriteFile(f, []byte("name,age\nann,30\n"), 0o644)
	a1, _ := s.RecordPath(ctx, f)
	d1, err := s.RecordDataset(ctx, store.Dataset{Name: "people", ArtifactID: a1.ID, Rows: 1, Schema: []byte(`{"columns":["name","age"]}`)})
	if err != nil || d1.Version != 1 || d1.Hash != a1.Hash || d1.Rows != 1 {
		t.Fatalf("v1: %+v, %v", d1, err)
	}
	same, _ := s.RecordDataset(ctx, store.Dataset{Name: "people", ArtifactID: a1.ID})
	if same.ID != d1.ID {
		t.Fatalf("recording the same content made version %d", same.Version)
	}
	os.WriteFile(f, []byte("name,age\nann,30\nbob,40\n"), 0o644)
	a2, _ := s.RecordPath(ctx, f)
	d2, err := s.RecordDataset(ctx, store.Dataset{Name: "people", ArtifactID: a2.ID, Rows: 2})
	if err != nil || d2.Version != 2 {
		t.Fatalf("v2: %+v, %v", d2, err)
	}
	if got, _ := s.GetDataset(ctx, "people", 0); got.ID != d2.ID {
		t.Fatalf("latest is %+v", got)
	}
	if got, _ := s.GetDataset(ctx, "people", 1); string(got.Schema) != `{"columns":["name","age"]}` {
		t.Fatalf("v1 schema %s", got.Schema)
	}
	if _, err := s.GetDataset(ctx, "nobody", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}

// testLineage records pull → train → register and checks the graph both
// ways, and that marking the data's derived models stale reaches the
// registered model.
func testLineage(t *testing.T, open Opener) {
	ctx := context.Background()
	s := mustOpen(t, open(t))
	root := t.TempDir()
	raw := filepath.Join(root, "datasets", "mnist")
	writeTree(t, raw, map[string]string{"train-images": "pixels", "train-labels": "labels"})
	pull, _ := s.StartRun(ctx, store.RunSpec{Kind: "data.pull"})
	rawA, err := pull.ProducePath(ctx, raw, "data")
	if err != nil {
		t.Fatal(err)
	}
	s.RecordDataset(ctx, store.Dataset{Name: "mnist", ArtifactID: rawA.ID, RunID: pull.ID()})
	pull.End(ctx, nil)

	tr, _ := s.StartRun(ctx, store.RunSpec{Kind: "train"})
	if _, err := tr.UsePath(ctx, raw, "data"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "models", "q")
	writeTree(t, out, map[string]string{"model.safetensors": "w"})
	if _, err := tr.ProducePath(ctx, out, "model"); err != nil {
		t.Fatal(err)
	}
	tr.End(ctx, nil)
	m, err := s.RegisterModelDir(ctx, "quick", out, store.RunSpec{Command: []string{"kiln", "models", "register", "quick", out}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != out || m.Version != 1 {
		t.Fatalf("registered %+v", m)
	}
	// An unrelated run on other data.
	other, _ := s.StartRun(ctx, store.RunSpec{Kind: "eval"})
	os.WriteFile(filepath.Join(root, "other.csv"), []byte("x"), 0o644)
	other.UsePath(ctx, filepath.Join(root, "other.csv"), "data")
	other.End(ctx, nil)

	g, err := s.Lineage(ctx, "quick", 1)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, n := range g.Nodes {
		kinds[n.Kind]++
		if n.Kind == "run" && n.Run.ID == other.ID() {
			t.Fatal("lineage holds an unrelated run")
		}
	}
	// model; stored copy, out dir, raw dir; register, train, pull runs.
	if kinds["model"] != 1 || kinds["artifact"] != 3 || kinds["run"] != 3 || len(g.Edges) != 6 {
		t.Fatalf("lineage graph: %v nodes, %d edges: %+v", kinds, len(g.Edges), g.Edges)
	}
	if n, ok := g.Node("artifact:" + fmt.Sprint(rawA.ID)); !ok || len(n.Datasets) != 1 || n.Datasets[0].Name != "mnist" {
		t.Fatalf("raw data node %+v", n)
	}
	src, err := s.Sources(ctx, "mnist")
	if err != nil || len(src) != 1 || src[0].ID != rawA.ID {
		t.Fatalf("Sources(mnist) = %+v, %v", src, err)
	}
	// A file inside the recorded folder resolves to the folder.
	if src2, err := s.Sources(ctx, filepath.Join(raw, "train-images")); err != nil || len(src2) != 1 || src2[0].ID != rawA.ID {
		t.Fatalf("Sources(file in folder) = %+v, %v", src2, err)
	}
	if _, err := s.Sources(ctx, filepath.Join(root, "never")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Sources(unknown): %v", err)
	}
	derived, err := s.DerivedModels(ctx, src)
	if err != nil || len(derived) != 1 || derived[0].ID != m.ID {
		t.Fatalf("derived models %+v, %v", derived, err)
	}
	up, _ := s.Uses(ctx, src)
	if len(up.Kinds("run")) != 2 { // train, register
		t.Fatalf("downstream runs: %+v", up.Kinds("run"))
	}
	var sb strings.Builder
	if err := g.WriteTree(&sb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "quick@1") || !strings.Contains(sb.String(), raw) {
		t.Fatalf("tree:\n%s", sb.String())
	}
	sb.Reset()
	if err := g.WriteDOT(&sb); err != nil || !strings.HasPrefix(sb.String(), "digraph lineage {") || strings.Count(sb.String(), "->") != 6 {
		t.Fatalf("dot (%v):\n%s", err, sb.String())
	}
}

// testEightProcesses runs eight child processes that record at once and
// checks that nothing was lost.
func testEightProcesses(t *testing.T, open Opener) {
	ctx := context.Background()
	o := open(t)
	os.WriteFile(filepath.Join(o.Home, "shared-input.txt"), []byte("shared"), 0o644)
	const procs, metrics = 8, 3000
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for i := 0; i < procs; i++ {
		cmd := startChild(t, childOrders{Mode: "record", Home: o.Home, DSN: o.DSN, Index: i, Metrics: metrics})
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cmd.Run()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	s := mustOpen(t, o)
	runs, err := s.ListRuns(ctx, store.RunFilter{Kind: "train"})
	if err != nil || len(runs) != procs {
		t.Fatalf("%d runs recorded, want %d (%v)", len(runs), procs, err)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if r.Status != store.Succeeded {
			t.Fatalf("run %d is %s: %s", r.ID, r.Status, r.Error)
		}
		info, _ := s.GetRun(ctx, r.ID)
		idx := info.Params["index"]
		if seen[idx] {
			t.Fatalf("index %s recorded twice", idx)
		}
		seen[idx] = true
		for _, name := range []string{"loss", "lr"} {
			ms, err := s.Metrics(ctx, r.ID, name)
			if err != nil || len(ms) != metrics {
				t.Fatalf("run %d: %d %s values, want %d (%v)", r.ID, len(ms), name, metrics, err)
			}
			for j, m := range ms {
				if m.Step != int64(j) {
					t.Fatalf("run %d %s: value %d has step %d", r.ID, name, j, m.Step)
				}
			}
		}
		ins, _ := s.RunInputs(ctx, r.ID)
		outs, _ := s.RunOutputs(ctx, r.ID)
		if len(ins) != 1 || len(outs) != 1 {
			t.Fatalf("run %d: inputs %+v outputs %+v", r.ID, ins, outs)
		}
	}
	ms, err := s.ListModels(ctx, "shared")
	if err != nil || len(ms) != procs {
		t.Fatalf("%d model versions, want %d (%v)", len(ms), procs, err)
	}
	for i, m := range ms {
		if m.Version != int64(i+1) {
			t.Fatalf("versions %+v are not 1..%d", ms, procs)
		}
	}
	if as, _ := s.ArtifactsAt(ctx, filepath.Join(o.Home, "shared-input.txt")); len(as) != 1 {
		t.Fatalf("the shared input was recorded as %d artifacts", len(as))
	}
}

// testKilled kills a child in the middle of its run and checks that the
// next Open marks the run failed and keeps the metrics it had flushed.
func testKilled(t *testing.T, open Opener) {
	ctx := context.Background()
	o := open(t)
	cmd := startChild(t, childOrders{Mode: "hang", Home: o.Home, DSN: o.DSN})
	id := readRunLine(t, cmd)
	s := mustOpen(t, o)
	if info, _ := s.GetRun(ctx, id); info.Status != store.Running {
		t.Fatalf("live child's run is %s", info.Status)
	}
	s.Close()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	s = mustOpen(t, o)
	info, err := s.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != store.Failed || !strings.Contains(info.Error, "ended without ending the run") {
		t.Fatalf("killed run is %s: %q", info.Status, info.Error)
	}
	if ms, _ := s.Metrics(ctx, id, "loss"); len(ms) != 10 {
		t.Fatalf("killed run kept %d metric values, want the 10 it flushed", len(ms))
	}
}

// testSilentHost records runs as another host: one that stops sending
// heartbeats is marked failed once its heartbeat is older than
// StaleAfter; one whose heartbeat is fresh stays running.
func testSilentHost(t *testing.T, open Opener) {
	ctx := context.Background()
	o := open(t)
	far := o
	far.Host, far.Heartbeat = "elsewhere.example", time.Hour // no heartbeat after the start
	fs := mustOpen(t, far)
	silent, err := fs.StartRun(ctx, store.RunSpec{Kind: "train"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	alive := o
	alive.Host, alive.Heartbeat = "elsewhere.example", 20*time.Millisecond
	as := mustOpen(t, alive)
	live, err := as.StartRun(ctx, store.RunSpec{Kind: "train"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a few heartbeats
	o.StaleAfter = 200 * time.Millisecond
	s := mustOpen(t, o)
	if r, _ := s.GetRun(ctx, silent.ID()); r.Status != store.Failed || !strings.Contains(r.Error, "no heartbeat from process") {
		t.Fatalf("silent run: %s %q", r.Status, r.Error)
	}
	if r, _ := s.GetRun(ctx, live.ID()); r.Status != store.Running {
		t.Fatalf("run with a fresh heartbeat: %s %q", r.Status, r.Error)
	}
	if err := live.End(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// A process that was only silent (suspended, cut off) and ends its run
	// after all has the last word.
	if err := silent.End(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetRun(ctx, silent.ID()); r.Status != store.Succeeded {
		t.Fatalf("silent run ended by its process: %s", r.Status)
	}
}
