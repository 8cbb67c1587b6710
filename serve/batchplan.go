package serve

import "time"

// queued is what the batching policy needs to know of a waiting request.
type queued struct {
	rows     int
	arrived  time.Time
	deadline time.Time
}

// planBatch decides what the batcher does next with the requests waiting
// in arrival order (Clipper §4.3, "delayed batching"): it returns how many
// requests from the front to run now, or 0 and how long to wait for more
// to arrive. A batch takes requests while their rows fit within limit (the
// first request always goes, however large); it runs at once when it holds
// fill rows (the rows worth waiting for, at most limit), when the next
// request would not fit, or when the oldest request has waited maxDelay;
// otherwise the batcher waits until the oldest has waited maxDelay.
func planBatch(q []queued, limit, fill int, maxDelay time.Duration, now time.Time) (take int, wait time.Duration) {
	if len(q) == 0 {
		return 0, 0
	}
	fill = min(max(fill, 1), limit)
	rows := 0
	for take < len(q) {
		if take > 0 && rows+q[take].rows > limit {
			return take, 0
		}
		rows += q[take].rows
		take++
	}
	if rows >= fill {
		return take, 0
	}
	waited := now.Sub(q[0].arrived)
	if waited >= maxDelay {
		return take, 0
	}
	return 0, maxDelay - waited
}

// fillTarget returns the rows a free model waits for before it runs a
// batch: those expected to arrive within maxDelay at the recent arrival
// rate (rows per second), within [1, limit]. Clipper waits for the batch
// to reach the AIMD limit; once the limit has grown past what arrives
// within the delay, every request would wait out the whole delay, which
// only adds latency at low load and leaves a closed-loop client's CPU
// idle. Waiting for what will come keeps batching where it pays.
func fillTarget(rate float64, maxDelay time.Duration, limit int) int {
	f := int(rate * maxDelay.Seconds())
	return min(max(f, 1), limit)
}

// admission is the batcher's state that decides whether a new request can
// still meet its deadline.
type admission struct {
	// queuedRows are the rows waiting ahead of the new request.
	queuedRows int
	// busy tells whether a batch is running now.
	busy bool
	// limit is the current batch limit.
	limit int
	// batchTime is the recent time to run a batch of limit rows.
	batchTime time.Duration
	// maxRows bounds the queue, in rows.
	maxRows int
}

// Reasons a request is refused before it is queued.
const (
	rejectQueueFull = "queue_full"
	rejectDeadline  = "deadline"
	rejectInFlight  = "in_flight"
)

// admit decides whether a request of rows rows arriving at now with the
// given deadline is queued. It is refused when the queue would exceed its
// bound, or when the batches ahead of it and its own (the running one, the
// queued rows in batches of limit, then its batch) cannot finish before
// the deadline: serving it late would only waste work that requests still
// able to meet theirs need (Clipper §4.3 drops such queries too). The
// estimate is the recent batch time; a request that finds an idle, empty
// queue is always admitted, so that an estimate made under heavy load
// cannot lock the server out once the load is gone.
func admit(s admission, rows int, now, deadline time.Time) (ok bool, reason string) {
	if s.queuedRows+rows > s.maxRows && s.queuedRows > 0 {
		return false, rejectQueueFull
	}
	if s.queuedRows == 0 && !s.busy {
		return true, ""
	}
	limit := max(s.limit, 1)
	batches := (s.queuedRows + rows + limit - 1) / limit
	if s.busy {
		batches++
	}
	if now.Add(time.Duration(batches) * s.batchTime).After(deadline) {
		return false, rejectDeadline
	}
	return true, ""
}
