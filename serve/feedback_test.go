package serve

import "testing"

// An ID taken and answered again holds a newer ring position; reusing its
// old position must not evict the newer entry.
func TestFeedbackLogReaddedIDSurvivesOldSlot(t *testing.T) {
	l := newFeedbackLog(3, 1000)
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

// The log holds at most maxRows rows' classes: adding past the bound
// evicts the oldest entries first, never the one just added, and taking
// or replacing an entry gives its rows back.
func TestFeedbackLogBoundsRows(t *testing.T) {
	l := newFeedbackLog(100, 10)
	rows := func(n int) feedbackEntry { return feedbackEntry{version: "1", classes: make([]int64, n)} }
	l.add("a", rows(4))
	l.add("b", rows(4))
	l.add("c", rows(4)) // 12 > 10: a goes
	if _, ok := l.get("a"); ok || l.rows != 8 {
		t.Fatalf("after a, b, c of 4 rows each with a bound of 10: a held %v, %d rows", ok, l.rows)
	}
	l.add("big", rows(25)) // bigger than the bound alone: it stays, all others go
	if _, ok := l.get("big"); !ok || l.rows != 25 || len(l.byID) != 1 {
		t.Fatalf("a 25-row entry: held %d entries, %d rows; want it alone", len(l.byID), l.rows)
	}
	l.take("big")
	l.add("d", rows(3))
	l.add("d", rows(5)) // answered again: its rows replace the old ones
	if l.rows != 5 {
		t.Fatalf("after take and a re-added entry: %d rows, want 5", l.rows)
	}
	for i := range 50 {
		l.add(string(rune('A'+i)), rows(1))
		if l.rows > 10 {
			t.Fatalf("%d rows held after %d adds, bound 10", l.rows, i+1)
		}
	}
}
