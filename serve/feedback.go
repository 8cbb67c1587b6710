package serve

import (
	"slices"
	"sync"
)

// feedbackEntry remembers which version answered a request, for feedback.
type feedbackEntry struct {
	version string
	prob    float64
	classes []int64
}

// feedbackLog holds the last few thousand answered request IDs of a model,
// and at most maxRows rows' classes among them: the oldest entries go
// first when either bound is reached.
type feedbackLog struct {
	mu      sync.Mutex
	cap     int
	maxRows int
	rows    int // classes held, over all entries
	byID    map[string]feedbackSlot
	order   []string // ring of the IDs added, oldest at next
	next    int
}

// feedbackSlot is an entry and the ring position it was added at: an ID
// taken and added again holds a newer position, which the old one's reuse
// must not evict.
type feedbackSlot struct {
	feedbackEntry
	pos int
}

// feedbackRows bounds the rows' classes a model's feedback log holds
// (8 MB as int64), whatever the requests' sizes.
const feedbackRows = 1 << 20

func newFeedbackLog(capacity, maxRows int) *feedbackLog {
	return &feedbackLog{cap: capacity, maxRows: maxRows, byID: map[string]feedbackSlot{}, order: make([]string, capacity)}
}

func (l *feedbackLog) add(id string, e feedbackEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.byID[id]; ok {
		l.rows += len(e.classes) - len(cur.classes)
		cur.feedbackEntry = e
		l.byID[id] = cur
		l.trim(id)
		return
	}
	l.evict(l.next)
	l.order[l.next] = id
	l.byID[id] = feedbackSlot{feedbackEntry: e, pos: l.next}
	l.rows += len(e.classes)
	l.next = (l.next + 1) % l.cap
	l.trim(id)
}

// evict removes the entry added at ring position p, if it is still there
// (its ID may have been taken, or added again at a newer position).
func (l *feedbackLog) evict(p int) {
	id := l.order[p]
	if id == "" {
		return
	}
	if sl, ok := l.byID[id]; ok && sl.pos == p {
		l.rows -= len(sl.classes)
		delete(l.byID, id)
	}
	l.order[p] = ""
}

// trim evicts the oldest entries, other than keep, until the log holds at
// most maxRows rows.
func (l *feedbackLog) trim(keep string) {
	for i := 0; l.rows > l.maxRows && i < l.cap; i++ {
		p := (l.next + i) % l.cap
		if l.order[p] != keep {
			l.evict(p)
		}
	}
}

// get returns the entry of id, leaving it in the log.
func (l *feedbackLog) get(id string) (feedbackEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byID[id]
	return e.feedbackEntry, ok
}

// take removes the entry of id, reporting whether it was there.
func (l *feedbackLog) take(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	sl, ok := l.byID[id]
	if ok {
		l.rows -= len(sl.classes)
		delete(l.byID, id)
	}
	return ok
}

// Feedback is what a client reports about an earlier answer.
type Feedback struct {
	// ID is the request's id.
	ID string `json:"id"`
	// Reward in [0, 1], or else Labels: the true class of each row, the
	// reward being the fraction of rows answered right.
	Reward *float64 `json:"reward,omitempty"`
	Labels []int64  `json:"labels,omitempty"`
}

// FeedbackResult tells what the feedback updated.
type FeedbackResult struct {
	// Version is the version that had answered the request.
	Version string `json:"version"`
	// Reward is the reward applied.
	Reward float64 `json:"reward"`
	// Probabilities are the policy's probabilities per version afterwards.
	Probabilities map[string]float64 `json:"probabilities"`
}

// Feedback applies a client's reward for an answered request to the
// model's selection policy (an Exp3 bandit learns from it; pinned and
// canary policies ignore it).
func (s *Server) Feedback(model string, fb Feedback) (*FeedbackResult, error) {
	sm, _, err := s.lookup(model, "")
	if err != nil {
		return nil, err
	}
	if fb.ID == "" {
		return nil, badRequest("id", "missing: feedback names the id of the request it is about")
	}
	e, ok := sm.feedback.get(fb.ID)
	if !ok {
		return nil, errNoFeedback(fb.ID, model)
	}
	var reward float64
	switch {
	case fb.Reward != nil:
		reward = *fb.Reward
		if !(reward >= 0 && reward <= 1) {
			return nil, badRequest("reward", "%v is not in [0, 1]", reward)
		}
	case fb.Labels != nil:
		if len(fb.Labels) != len(e.classes) {
			return nil, badRequest("labels", "%d labels for a request of %d rows", len(fb.Labels), len(e.classes))
		}
		right := 0
		for i, l := range fb.Labels {
			if l == e.classes[i] {
				right++
			}
		}
		reward = float64(right) / float64(len(e.classes))
	default:
		return nil, badRequest("reward", "missing: give reward or labels")
	}
	// The entry is used up only by feedback that was valid, and once.
	if !sm.feedback.take(fb.ID) {
		return nil, errNoFeedback(fb.ID, model)
	}
	sm.selMu.Lock()
	defer sm.selMu.Unlock()
	if sm.selector == nil {
		return nil, notFound("model_name", "model %q: %v", model, errNoVersions)
	}
	out := &FeedbackResult{Version: e.version, Reward: reward, Probabilities: map[string]float64{}}
	// The arm is found by version: the selector may have been rebuilt
	// since the answer (a version loaded or unloaded), keeping its weights,
	// and the answered version may be gone.
	if arm := slices.Index(sm.arms, e.version); arm >= 0 {
		sm.selector.Feedback(arm, e.prob, reward)
	}
	for i, p := range sm.selector.Probabilities() {
		out.Probabilities[sm.arms[i]] = p
	}
	return out, nil
}

func errNoFeedback(id, model string) error {
	return notFound("id", "no answered request %q of model %q awaits feedback (it named a version, was already rated, or is too old)", id, model)
}
