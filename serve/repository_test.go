package serve

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond until it holds or two seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func versionOf(t *testing.T, ts *testServer, path string, body []byte) string {
	t.Helper()
	code, b, _ := ts.do(t, "POST", path, body)
	if code != 200 {
		t.Fatalf("POST %s: %d %s", path, code, b)
	}
	var r struct {
		ModelVersion string `json:"model_version"`
	}
	json.Unmarshal(b, &r)
	return r.ModelVersion
}

// Versions load and unload while the server runs, without a restart; a
// version whose files are replaced is reloaded and its cached answers
// dropped; a broken version is left out and the rest keep serving.
func TestRepositoryHotReload(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{8}, 1, confident(1))
	ts := startServer(t, Config{Repository: repo, CacheRows: 100})
	x := images(1, 1)
	body := inferBody(t, "", x, 1)
	if v := versionOf(t, ts, "/v2/models/mnist/infer", body); v != "1" {
		t.Fatalf("version %q", v)
	}
	// Traffic that names no version runs through every change below and
	// must never see an error: a version retired under a request is
	// looked up again.
	stop := make(chan struct{})
	var bad []string
	var served int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(100); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			code, b, _ := ts.do(t, "POST", "/v2/models/mnist/infer", inferBody(t, "", images(1, i), 1))
			if code != 200 {
				bad = append(bad, fmt.Sprintf("%d %s", code, b))
			}
			served++
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		if len(bad) > 0 {
			t.Errorf("%d of %d requests during the changes failed: %v", len(bad), served, bad)
		}
		if served == 0 {
			t.Error("no traffic ran during the changes")
		}
	}()

	saveMLP(t, repo, "mnist", "2", []int{8}, 2, confident(2))
	waitFor(t, "version 2 to load", func() bool { return ts.ModelReady("mnist", "2") })
	if v := versionOf(t, ts, "/v2/models/mnist/infer", body); v != "2" {
		t.Errorf("after adding version 2, the latest policy answered with %q", v)
	}

	// A new model appears.
	saveMLP(t, repo, "other", "1", []int{8}, 3, nil)
	waitFor(t, "model other", func() bool { return ts.ModelReady("other", "") })

	// Replace version 1's weights: the cached answer must not survive.
	classOf := func() int64 {
		code, b, _ := ts.do(t, "POST", "/v2/models/mnist/versions/1/infer", body)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var r struct{ Outputs []struct{ Data []float64 } }
		json.Unmarshal(b, &r)
		return int64(r.Outputs[1].Data[0])
	}
	if c := classOf(); c != 1 {
		t.Fatalf("class %d, want 1", c)
	}
	classOf()                         // now cached
	time.Sleep(20 * time.Millisecond) // a new modification time
	saveMLP(t, repo, "mnist", "1", []int{8}, 1, confident(7))
	waitFor(t, "version 1 to reload", func() bool { return classOf() == 7 })

	// Remove version 2: requests go back to 1, and 2 is a 404.
	if err := os.RemoveAll(filepath.Join(repo, "mnist", "2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "version 2 to unload", func() bool { return !ts.ModelReady("mnist", "2") })
	if v := versionOf(t, ts, "/v2/models/mnist/infer", body); v != "1" {
		t.Errorf("after removing version 2: %q", v)
	}
	if code, _, _ := ts.do(t, "POST", "/v2/models/mnist/versions/2/infer", body); code != 404 {
		t.Errorf("removed version answered %d", code)
	}

	// A broken version 3 is skipped; the model keeps serving.
	os.MkdirAll(filepath.Join(repo, "mnist", "3"), 0o755)
	os.WriteFile(filepath.Join(repo, "mnist", "3", "model.json"), []byte("{not json"), 0o644)
	os.WriteFile(filepath.Join(repo, "mnist", "3", "model.safetensors"), []byte("x"), 0o644)
	if err := ts.Sync(); err != nil {
		t.Fatal(err)
	}
	if ts.ModelReady("mnist", "3") {
		t.Error("a broken version is ready")
	}
	if v := versionOf(t, ts, "/v2/models/mnist/infer", body); v != "1" {
		t.Errorf("with a broken version 3: %q", v)
	}

	// Remove the whole model.
	os.RemoveAll(filepath.Join(repo, "other"))
	waitFor(t, "model other to unload", func() bool { return !ts.ModelReady("other", "") })
	code, b, _ := ts.do(t, "GET", "/metrics", nil)
	if code != 200 || !strings.Contains(string(b), `kiln_serve_model_versions_loaded{model="mnist"} 1`) {
		t.Errorf("metrics do not show one mnist version loaded: %d", code)
	}
}

func TestPolicyFileErrors(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{8}, 1, nil)
	os.WriteFile(filepath.Join(repo, "mnist", PolicyFile), []byte("policy: [unclosed"), 0o644)
	if _, err := NewServer(Config{Repository: repo}); err == nil || !strings.Contains(err.Error(), PolicyFile) {
		t.Errorf("a policy file that does not parse: %v, want an error naming it", err)
	}
	for _, pc := range []PolicyConfig{{Policy: "random"}, {Policy: "pinned", Version: "9"}, {Policy: "canary", Weights: map[string]float64{"9": 1}}, {Policy: "exp3", Gamma: 2}} {
		if _, _, _, err := buildSelector(pc, []string{"1", "2"}); err == nil {
			t.Errorf("policy %+v accepted", pc)
		}
	}
	if _, err := NewServer(Config{Repository: filepath.Join(repo, "missing")}); err == nil {
		t.Error("a missing repository was accepted")
	}
}

// A policy file that stops parsing while the server runs holds back only
// its own model's policy: that model keeps the policy it had, and other
// models' new versions still load. Sync reports the file.
func TestBadPolicyHoldsBackOnlyItsModel(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "a", "1", []int{8}, 1, nil)
	saveMLP(t, repo, "a", "2", []int{8}, 2, nil)
	saveMLP(t, repo, "b", "1", []int{8}, 3, nil)
	writePolicy(t, repo, "a", "policy: pinned\nversion: \"1\"\n")
	ts := startServer(t, Config{Repository: repo, Poll: time.Hour})
	body := inferBody(t, "", images(1, 1), 1)
	if v := versionOf(t, ts, "/v2/models/a/infer", body); v != "1" {
		t.Fatalf("pinned to 1, answered by %s", v)
	}
	writePolicy(t, repo, "a", "policy: [unclosed")
	saveMLP(t, repo, "b", "2", []int{8}, 4, nil)
	err := ts.Sync()
	if err == nil || !strings.Contains(err.Error(), filepath.Join(repo, "a", PolicyFile)) {
		t.Fatalf("Sync with a bad policy file: %v, want an error naming it", err)
	}
	if !ts.ModelReady("b", "2") {
		t.Error("model b's new version 2 did not load while a's policy file was bad")
	}
	if v := versionOf(t, ts, "/v2/models/a/infer", body); v != "1" {
		t.Errorf("model a answered by version %s with its policy file unreadable, want its previous policy (pinned to 1)", v)
	}
	time.Sleep(20 * time.Millisecond) // a new modification time
	writePolicy(t, repo, "a", "policy: latest\n")
	if err := ts.Sync(); err != nil {
		t.Fatal(err)
	}
	if v := versionOf(t, ts, "/v2/models/a/infer", body); v != "2" {
		t.Errorf("after the policy file was mended to latest, answered by %s, want 2", v)
	}
}
