package healthlb

import "time"

// Snapshot is a read-only copy of one upstream's scoreboard entry, for admin
// routes and metrics.
type Snapshot struct {
	// Address is the upstream's dial address.
	Address string `json:"address"`
	// Cost is the Peak-EWMA selection cost at a static weight of 1.
	Cost float64 `json:"cost"`
	// Latency is the decayed Peak-EWMA latency estimate (in nanoseconds in
	// JSON).
	Latency time.Duration `json:"latency_ns"`
	// LatencyKnown is false until the first attempt is recorded.
	LatencyKnown bool `json:"latency_known"`
	// InFlight is the number of requests in flight.
	InFlight int `json:"in_flight"`
	// Window holds the outcomes of the rolling window.
	Window Counts `json:"window"`
	// Totals holds every outcome since the upstream joined the scoreboard;
	// request and error rates are the differences of successive snapshots.
	Totals Counts `json:"totals"`
	// Consecutive5xx is the current streak of 5xx (gateway errors included).
	Consecutive5xx int `json:"consecutive_5xx"`
	// ConsecutiveGatewayErrors is the current streak of gateway errors.
	ConsecutiveGatewayErrors int `json:"consecutive_gateway_errors"`
	// Ejected reports whether the upstream is ejected.
	Ejected bool `json:"ejected"`
	// EjectedUntil is the end of the running ejection (zero if none).
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	// Ejections is the ejection multiplier: the next ejection lasts
	// Ejections+1 times the base ejection time, up to the maximum.
	Ejections int `json:"ejections"`
	// RetryAfterUntil is the end of the running Retry-After (zero if none).
	RetryAfterUntil time.Time `json:"retry_after_until,omitzero"`
	// WeightFactor is the slow-start (or half-open) factor of the static
	// weight, in (0, 1].
	WeightFactor float64 `json:"weight_factor"`
	// Breaker is the state of the upstream's circuit breaker.
	Breaker BreakerState `json:"breaker"`
	// State sums the above up in one word, the first that applies:
	// "breaker_open", "ejected", "breaker_half_open", "down" (its latest
	// attempt ended in a gateway error: refused, timed out, 502, 503 or
	// 504), "slow_start" (weight factor below 1) or "healthy".
	State string `json:"state"`
}

// state returns the one-word summary of Snapshot.State.
func (s *Snapshot) state() string {
	switch {
	case s.Breaker == BreakerOpen:
		return "breaker_open"
	case s.Ejected:
		return "ejected"
	case s.Breaker == BreakerHalfOpen:
		return "breaker_half_open"
	case s.ConsecutiveGatewayErrors > 0:
		return "down"
	case s.WeightFactor < 1:
		return "slow_start"
	}
	return "healthy"
}

// Snapshot returns a copy of the upstream's state. Like Record, it notices
// an ejection that ran out and reports the rejoin.
func (u *Upstream) Snapshot() Snapshot {
	sb := u.sb
	cfg := sb.config()
	now := sb.nanos()
	var evs events

	s := Snapshot{
		Address:      u.addr,
		Cost:         u.cost(now, cfg),
		InFlight:     u.InFlight(),
		WeightFactor: u.weightFactor(now, cfg),
		Breaker:      u.BreakerState(),
	}
	u.mu.Lock()
	u.advance(now, cfg, &evs)
	lat, known := u.ewma.value(now, float64(cfg.DecayTime))
	s.Latency, s.LatencyKnown = time.Duration(lat), known
	s.Window = u.win.sum(now)
	s.Totals = u.totals
	s.Consecutive5xx, s.ConsecutiveGatewayErrors = u.consec5xx, u.consecGateway
	s.Ejections = u.ejections
	if u.ejected {
		s.Ejected = true
		s.EjectedUntil = sb.timeAt(u.ejectedUntil.Load())
	}
	if now < u.throttledUntil {
		s.RetryAfterUntil = sb.timeAt(u.throttledUntil)
	}
	u.mu.Unlock()
	s.State = s.state()

	sb.emit(&evs)
	return s
}
