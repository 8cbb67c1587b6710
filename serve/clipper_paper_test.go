package serve

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// Clipper §4.3, "Adaptive Batching": AIMD — increase the batch size by a
// fixed amount while batches meet the latency objective, back off by a
// small multiplicative factor (10%) as soon as one misses it.
func TestClipper43AIMDTable(t *testing.T) {
	ms := time.Millisecond
	a := NewAIMD(10*ms, 4, 0.9, 32)
	steps := []struct {
		size    int
		latency time.Duration
		full    bool
		want    int
		why     string
	}{
		{1, 1 * ms, false, 5, "full batch within the objective: +4"},
		{5, 2 * ms, false, 9, "+4"},
		{3, 1 * ms, false, 9, "a smaller batch says nothing about the limit"},
		{9, 3 * ms, false, 13, "+4"},
		{13, 11 * ms, false, 11, "over the objective: ⌊13 × 0.9⌋ = 11"},
		{11, 10 * ms, false, 15, "exactly the objective is within it"},
		{15, 30 * ms, false, 13, "⌊15 × 0.9⌋ = 13"},
		{13, 9 * ms, false, 17, "+4"},
		{17, 9 * ms, false, 21, "+4"},
		{21, 9 * ms, false, 25, ""},
		{25, 9 * ms, false, 29, ""},
		{29, 9 * ms, false, 32, "capped at Max"},
		{32, 9 * ms, false, 32, "stays at Max"},
		{2, 50 * ms, false, 1, "a slow small batch cuts the limit to below it: max(⌊2 × 0.9⌋, 1) = 1"},
		{1, 50 * ms, false, 1, "never below 1"},
		{1, 1 * ms, false, 5, "+4"},
		{4, 1 * ms, true, 9, "not at the limit, but requests were left waiting that did not fit: +4"},
		{4, 1 * ms, false, 9, "not full, nobody waiting: unchanged"},
	}
	for i, s := range steps {
		if got := a.Observe(s.size, s.latency, s.full); got != s.want {
			t.Fatalf("step %d (batch %d in %v; %s): limit %d, want %d", i, s.size, s.latency, s.why, got, s.want)
		}
	}
}

// Clipper §4.3: the multiplicative decrease always shrinks (a batch of 5
// with backoff 0.9 gives ⌊4.5⌋ = 4, and a batch of 9 gives 8, not 9).
func TestClipper43AIMDDecreaseAlwaysShrinks(t *testing.T) {
	for _, size := range []int{2, 5, 9, 10, 11, 100} {
		a := NewAIMD(time.Millisecond, 1, 0.95, 1000)
		a.limit = size
		got := a.Observe(size, time.Second, true)
		if got >= size || got < 1 {
			t.Errorf("batch %d over the objective: limit %d, want in [1, %d)", size, got, size)
		}
	}
}

// Clipper §4.3, delayed batching: a batch runs when it is full, when the
// next request would overflow it, or when its oldest request has waited
// the maximum delay; otherwise the batcher waits for the rest of that delay.
func TestClipper43PlanBatchTable(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	q := func(rows ...int) []queued {
		out := make([]queued, len(rows))
		for i, r := range rows {
			out[i] = queued{rows: r, arrived: t0.Add(time.Duration(i) * ms)}
		}
		return out
	}
	cases := []struct {
		name     string
		q        []queued
		limit    int
		now      time.Time
		take     int
		waitWant time.Duration
		fill     int // 0: the limit
	}{
		{"empty queue", nil, 8, t0, 0, 0, 0},
		{"one row, fresh: wait out the delay", q(1), 8, t0.Add(ms), 0, 1 * ms, 0},
		{"one row, waited the delay: run", q(1), 8, t0.Add(2 * ms), 1, 0, 0},
		{"full batch runs at once", q(4, 4), 8, t0.Add(ms), 2, 0, 0},
		{"next request would overflow: run the ones that fit", q(4, 3, 2), 8, t0, 2, 0, 0},
		{"a request bigger than the limit runs alone", q(20, 1), 8, t0, 1, 0, 0},
		{"limit 1 (no batching) runs each request at once", q(1, 1, 1), 1, t0, 1, 0, 0},
		{"half full and fresh: wait", q(2, 2), 8, t0.Add(500 * time.Microsecond), 0, 1500 * time.Microsecond, 0},
		{"holds the rows worth waiting for: run before the limit", q(2, 2), 8, t0.Add(500 * time.Microsecond), 2, 0, 4},
		{"short of the fill target and fresh: wait", q(2), 8, t0.Add(500 * time.Microsecond), 0, 1500 * time.Microsecond, 4},
		{"fill target 1 (nothing more expected) runs at once", q(1), 8, t0, 1, 0, 1},
	}
	for _, c := range cases {
		fill := c.fill
		if fill == 0 {
			fill = c.limit
		}
		take, wait := planBatch(c.q, c.limit, fill, 2*ms, c.now)
		if take != c.take || wait != c.waitWant {
			t.Errorf("%s: take %d wait %v, want take %d wait %v", c.name, take, wait, c.take, c.waitWant)
		}
	}
}

// The fill target is what arrives within the delay at the recent rate,
// between one row and the limit.
func TestFillTargetTable(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		rate  float64
		delay time.Duration
		limit int
		want  int
	}{
		{0, 2 * ms, 64, 1},
		{400, 2 * ms, 64, 1},    // 0.8 rows expected: do not wait
		{10000, 2 * ms, 64, 20}, // 20 rows arrive within the delay
		{1e6, 2 * ms, 64, 64},   // capped at the limit
		{10000, 0, 64, 1},       // no delay: never wait
		{10000, 2 * ms, 1, 1},   // no batching
	}
	for _, c := range cases {
		if got := fillTarget(c.rate, c.delay, c.limit); got != c.want {
			t.Errorf("fillTarget(%v, %v, %d) = %d, want %d", c.rate, c.delay, c.limit, got, c.want)
		}
	}
}

// Clipper §4.3 / §6: a query that cannot meet its deadline is refused at
// once; a bounded queue refuses the excess of an overload.
func TestClipper43AdmissionTable(t *testing.T) {
	now := time.Unix(1000, 0)
	ms := time.Millisecond
	cases := []struct {
		name     string
		st       admission
		rows     int
		deadline time.Duration
		ok       bool
		reason   string
	}{
		{"idle server always admits", admission{limit: 8, batchTime: time.Second, maxRows: 64}, 1, ms, true, ""},
		{"room and time", admission{queuedRows: 8, busy: true, limit: 8, batchTime: 2 * ms, maxRows: 64}, 1, 20 * ms, true, ""},
		// busy (1) + ⌈(8+1)/8⌉ = 2 batches → 3 × 5 ms = 15 ms > 10 ms.
		{"the queue ahead makes it late", admission{queuedRows: 8, busy: true, limit: 8, batchTime: 5 * ms, maxRows: 64}, 1, 10 * ms, false, rejectDeadline},
		// 2 batches × 5 ms = 10 ms: exactly on time is on time.
		{"exactly on time", admission{queuedRows: 8, limit: 8, batchTime: 5 * ms, maxRows: 64}, 8, 10 * ms, true, ""},
		{"queue full", admission{queuedRows: 60, limit: 8, batchTime: ms, maxRows: 64}, 5, time.Second, false, rejectQueueFull},
		{"a big request into an empty queue is not refused for size", admission{busy: true, limit: 8, batchTime: ms, maxRows: 64}, 100, time.Second, true, ""},
	}
	for _, c := range cases {
		ok, reason := admit(c.st, c.rows, now, now.Add(c.deadline))
		if ok != c.ok || reason != c.reason {
			t.Errorf("%s: admit = %v %q, want %v %q", c.name, ok, reason, c.ok, c.reason)
		}
	}
}

// Clipper §5.1, single-model selection with Exp3: p_i = (1−γ)w_i/Σw + γ/K,
// and a reward x for arm i multiplies w_i by exp(γ·x/(p_i·K)).
func TestClipper51Exp3Update(t *testing.T) {
	e, err := NewExp3(3, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	p := e.Probabilities()
	for i, v := range p {
		if math.Abs(v-1.0/3) > 1e-12 {
			t.Fatalf("initial p[%d] = %v, want 1/3", i, v)
		}
	}
	e.Feedback(1, p[1], 1)
	// w = (1, exp(0.3·1/(1/3)/3), 1) = (1, e^0.3, 1).
	w1 := math.Exp(0.3)
	sum := 2 + w1
	want := []float64{0.7/sum + 0.1, 0.7*w1/sum + 0.1, 0.7/sum + 0.1}
	got := e.Probabilities()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("after reward 1 for arm 1: p[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// Reward 0 changes nothing.
	e.Feedback(0, got[0], 0)
	again := e.Probabilities()
	for i := range got {
		if math.Abs(again[i]-got[i]) > 1e-12 {
			t.Errorf("reward 0 moved p[%d] from %v to %v", i, got[i], again[i])
		}
	}
}

// Clipper §5.1: Exp3 learns to send most queries to the model with the
// highest reward, while exploring the others at rate at least γ/K.
func TestClipper51Exp3FindsBestArm(t *testing.T) {
	e, _ := NewExp3(3, 0.1)
	rng := rand.New(rand.NewPCG(7, 7))
	accuracy := []float64{0.5, 0.9, 0.6}
	for range 5000 {
		arm, p := e.Choose(rng)
		r := 0.0
		if rng.Float64() < accuracy[arm] {
			r = 1
		}
		e.Feedback(arm, p, r)
	}
	p := e.Probabilities()
	if p[1] < 0.8 {
		t.Errorf("after 5000 rounds p = %v, want most mass (≥ 0.8) on arm 1", p)
	}
	for i, v := range p {
		if v < 0.1/3-1e-12 {
			t.Errorf("p[%d] = %v below the exploration floor γ/K", i, v)
		}
		if math.IsNaN(v) {
			t.Fatalf("p[%d] is NaN", i)
		}
	}
}

// Clipper §5: a canary policy splits traffic by its weights.
func TestCanarySplit(t *testing.T) {
	c, err := NewCanary([]float64{9, 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	n := [2]int{}
	for range 20000 {
		a, _ := c.Choose(rng)
		n[a]++
	}
	if f := float64(n[1]) / 20000; math.Abs(f-0.1) > 0.01 {
		t.Errorf("canary share %v, want 0.1 ± 0.01", f)
	}
	for _, bad := range [][]float64{{0, 0}, {-1, 2}, {math.NaN(), 1}} {
		if _, err := NewCanary(bad); err == nil {
			t.Errorf("weights %v accepted", bad)
		}
	}
}

// Clipper §5.2, ensembles and stragglers: the answers in hand decide the
// prediction once no missing member could change the leading class.
func TestClipper52EnsembleDecided(t *testing.T) {
	sure3 := []float32{0, 0, 0, 0.97, 0.01, 0.01, 0.01, 0, 0, 0}
	sure4 := []float32{0, 0, 0, 0.01, 0.97, 0.01, 0.01, 0, 0, 0}
	unsure := []float32{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}
	cases := []struct {
		name     string
		answered [][]float32
		missing  int
		want     bool
	}{
		{"nobody answered", nil, 3, false},
		{"everyone answered", [][]float32{unsure}, 0, true},
		{"one sure member, one missing: 0.96 ≤ 1", [][]float32{sure3}, 1, false},
		{"two sure members agree, one missing: 1.92 > 1", [][]float32{sure3, sure3}, 1, true},
		{"two sure members agree, two missing: 1.92 ≤ 2", [][]float32{sure3, sure3}, 2, false},
		{"two sure members disagree", [][]float32{sure3, sure4}, 1, false},
		{"unsure members never decide early", [][]float32{unsure, unsure, unsure}, 1, false},
	}
	for _, c := range cases {
		if got := ensembleDecided(c.answered, c.missing, 1, 10); got != c.want {
			t.Errorf("%s: decided = %v, want %v", c.name, got, c.want)
		}
	}
	// Two rows: both must be decided.
	two := append(append([]float32(nil), sure3...), unsure...)
	if ensembleDecided([][]float32{two, two}, 1, 2, 10) {
		t.Error("a request whose second row is undecided was decided")
	}
	avg := ensembleAverage([][]float32{sure3, sure4})
	if math.Abs(float64(avg[3])-0.49) > 1e-6 || math.Abs(float64(avg[4])-0.49) > 1e-6 {
		t.Errorf("average %v", avg)
	}
}

// A batcher never calls the model with more than MaxBatch rows: a larger
// request is split, and its answer equals the unsplit one.
func TestBatcherSplitsAtMaxBatch(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{16}, 1, nil)
	m, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	x := images(7, 3)
	want := m.Predict(x, 7)
	b := NewBatcher(m, BatchConfig{Objective: time.Second, MaxBatch: 3, MaxDelay: time.Millisecond}, nil)
	defer b.Stop()
	got, err := b.Predict(context.Background(), x, 7, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("value %d: %v split, %v whole", i, got[i], want[i])
		}
	}
}

// Admission's estimate is per row: a request larger than a batch-1
// server's limit runs alone as one batch, and its time must count as that
// of its rows, not as one row's batch (which made admission refuse 16-row
// requests that the server could serve in time).
func TestBatcherEstimatePerRow(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{16}, 1, nil)
	m, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	// The batcher answers before it reports the batch's statistics, so
	// the test waits for the report rather than reading it after Predict.
	stats := make(chan BatchStats, 1)
	b := NewBatcher(m, BatchConfig{Objective: time.Second, MaxBatch: 1, MaxDelay: time.Millisecond}, func(st BatchStats) { stats <- st })
	defer b.Stop()
	if _, err := b.Predict(context.Background(), images(16, 3), 16, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	var lat time.Duration
	select {
	case st := <-stats:
		lat = st.Latency
	case <-time.After(10 * time.Second):
		t.Fatal("no batch statistics reported within 10 s of the answer")
	}
	b.mu.Lock()
	got := b.batchTime
	b.mu.Unlock()
	if lat == 0 || got != lat/16 {
		t.Fatalf("estimate of a batch of the limit (1 row) is %v after a 16-row batch of %v, want %v", got, lat, lat/16)
	}
}

// Requests that share a batch each get the answer to their own rows, equal
// to the model's answer for those rows alone: the batch is assembled from
// the requests' rows in queue order and the probabilities are handed back
// in the same order. Rounds of concurrent requests run until batches have
// held several requests (the AIMD limit starts small and grows as batches
// fill).
func TestBatcherSharedBatchAnswersEachRequest(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{16}, 1, nil)
	m, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	var mostRows atomic.Int64
	b := NewBatcher(m, BatchConfig{Objective: time.Second, MaxBatch: 64, MaxDelay: 20 * time.Millisecond}, func(st BatchStats) {
		for cur := mostRows.Load(); int64(st.Rows) > cur && !mostRows.CompareAndSwap(cur, int64(st.Rows)); cur = mostRows.Load() {
		}
	})
	defer b.Stop()
	const clients = 12
	type answer struct {
		i   int
		got []float32
		err error
	}
	for round := 0; round < 50 && mostRows.Load() <= 3; round++ {
		answers := make(chan answer, clients)
		inputs := make([][]float32, clients)
		for i := range clients {
			rows := 1 + i%3
			inputs[i] = images(rows, uint64(100*round+i))
			go func() {
				got, err := b.Predict(context.Background(), inputs[i], rows, time.Now().Add(5*time.Second))
				answers <- answer{i, got, err}
			}()
		}
		for range clients {
			a := <-answers
			if a.err != nil {
				t.Fatal(a.err)
			}
			want := ref.Predict(inputs[a.i], len(inputs[a.i])/ref.Features)
			if len(a.got) != len(want) {
				t.Fatalf("round %d client %d: %d values, want %d", round, a.i, len(a.got), len(want))
			}
			for j := range want {
				if math.Abs(float64(a.got[j]-want[j])) > 1e-5 {
					t.Fatalf("round %d client %d value %d: %v in a batch, %v alone", round, a.i, j, a.got[j], want[j])
				}
			}
		}
		time.Sleep(time.Millisecond) // the last batch's statistics follow its answers
	}
	if mostRows.Load() <= 3 {
		t.Fatalf("the largest batch held %d rows (one request has at most 3): the test did not exercise shared batches", mostRows.Load())
	}
}
