package ratelimit

import "time"

// gcra is the Generic Cell Rate Algorithm: a key's whole state is one
// theoretical arrival time (TAT), the moment its bucket would be full
// again. A request is admitted when TAT lies at most tolerance ahead of
// now, and moves TAT on by one interval. With interval = window/events
// and tolerance = (burst-1) x interval, burst requests pass at once and
// then one per interval: in any span d, at most burst + d/interval.
type gcra struct {
	interval  int64 // nanoseconds per event
	tolerance int64 // nanoseconds TAT may run ahead of now
	burst     int64
}

func newGCRA(events int, window time.Duration, burst int) gcra {
	interval := int64(window) / int64(events)
	return gcra{interval: interval, tolerance: int64(burst-1) * interval, burst: int64(burst)}
}

// decision is the outcome of one request in one zone.
type decision struct {
	allowed bool
	// remaining is how many more requests would pass right now.
	remaining int64
	// reset is the time until the bucket is full again.
	reset time.Duration
	// retryAfter, when not allowed, is the time until a request passes.
	retryAfter time.Duration
}

// allows reports whether a key at tat admits a request at now, without
// taking it.
func (g gcra) allows(tat, now int64) bool { return max(tat, now)-now <= g.tolerance }

// take admits a request at now if tat allows it, and returns the new TAT
// with the decision.
func (g gcra) take(tat, now int64) (int64, decision) {
	tat = max(tat, now)
	if tat-now > g.tolerance {
		return tat, decision{reset: time.Duration(tat - now), retryAfter: time.Duration(tat - now - g.tolerance)}
	}
	tat += g.interval
	return tat, g.admitted(tat - now)
}

// admitted describes an admitted request after which the TAT lies ahead
// of now by ahead.
func (g gcra) admitted(ahead int64) decision {
	used := (ahead + g.interval - 1) / g.interval
	return decision{allowed: true, remaining: max(g.burst-used, 0), reset: time.Duration(ahead)}
}
