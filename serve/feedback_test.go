package serve

import "testing"

// An ID taken and answered again holds a newer ring position; reusing its
// old position must not evict the newer entry.
func TestFeedbackLogReaddedIDSurvivesOldSlot(t *testing.T) {
	l := newFeedbackLog(3)
	l.add("a", feedbackEntry{version: "1"})
	if !l.take("a") {
		t.Fatal("take(a) = false after add")
	}
	l.add("a", feedbackEntry{version: "2"}) // position 1
	l.add("b", feedbackEntry{version: "1"}) // position 2
	l.add("c", feedbackEntry{version: "1"}) // reuses position 0, a's old one
	e, ok := l.get("a")
	if !ok || e.version != "2" {
		t.Fatalf("get(a) = %+v, %v; want version 2 still held", e, ok)
	}
	l.add("d", feedbackEntry{version: "1"}) // reuses position 1: now a goes
	if _, ok := l.get("a"); ok {
		t.Fatal("a outlived its own ring position")
	}
	if l.take("a") {
		t.Fatal("take(a) = true after eviction")
	}
}

// Feedback that is refused (a reward out of range, labels of the wrong
// count) leaves the request open for valid feedback, which is then taken
// once.
func TestFeedbackRefusedKeepsRequestOpen(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{8}, 1, confident(1))
	saveMLP(t, repo, "mnist", "2", []int{8}, 2, confident(2))
	writePolicy(t, repo, "mnist", "policy: exp3\n")
	ts := startServer(t, Config{Repository: repo, Seed: 5})
	versionOf(t, ts, "/v2/models/mnist/infer", inferBody(t, "r1", images(1, 9), 1))
	for _, body := range []string{`{"id":"r1","reward":2}`, `{"id":"r1","labels":[1,2]}`} {
		if code, b, _ := ts.do(t, "POST", "/v2/models/mnist/feedback", []byte(body)); code != 400 {
			t.Fatalf("feedback %s: %d %s, want 400", body, code, b)
		}
	}
	if code, b, _ := ts.do(t, "POST", "/v2/models/mnist/feedback", []byte(`{"id":"r1","reward":1}`)); code != 200 {
		t.Fatalf("valid feedback after refused ones: %d %s, want 200", code, b)
	}
	if code, _, _ := ts.do(t, "POST", "/v2/models/mnist/feedback", []byte(`{"id":"r1","reward":1}`)); code != 404 {
		t.Errorf("second valid feedback: %d, want 404", code)
	}
}
