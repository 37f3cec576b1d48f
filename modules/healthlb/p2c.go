package healthlb

import "math/rand/v2"

// Rand is the source of randomness of selection. *rand.Rand from
// math/rand/v2 implements it.
type Rand interface {
	// IntN returns a uniform random int in [0, n); n > 0.
	IntN(n int) int
}

// runtimeRand draws from math/rand/v2's goroutine-safe global source.
type runtimeRand struct{}

func (runtimeRand) IntN(n int) int { return rand.IntN(n) }

// Pool is the candidate list of one selection, index-aligned with the
// caller's own list (Caddy's UpstreamPool, say).
type Pool struct {
	// Upstreams are the candidates' scoreboard entries. A nil entry is never
	// chosen.
	Upstreams []*Upstream

	// Weights are the candidates' static weights, index by index. Missing
	// entries count as 1; a candidate of weight 0 or less is never chosen,
	// as in Caddy's weighted_round_robin.
	Weights []int

	// Usable reports whether candidate i passes the caller's own checks,
	// such as Caddy's Upstream.Available (health, max_requests). Nil means
	// every candidate passes. Panic mode ignores it.
	Usable func(i int) bool
}

// member reports whether candidate i can be chosen at all.
func (p *Pool) member(i int) bool {
	return p.Upstreams[i] != nil && p.weight(i) > 0
}

func (p *Pool) weight(i int) float64 {
	if i < len(p.Weights) {
		return float64(p.Weights[i])
	}
	return 1
}

// healthy reports whether member i is available and usable.
func (p *Pool) healthy(i int, now int64) bool {
	return p.Upstreams[i].available(now) && (p.Usable == nil || p.Usable(i))
}

// eligible reports whether candidate i can be chosen in the current mode:
// in panic mode any member whose breaker is not open (an open breaker would
// refuse the request anyway), otherwise only healthy ones.
func (p *Pool) eligible(i int, now int64, panicking bool) bool {
	if !p.member(i) {
		return false
	}
	if panicking {
		return p.Upstreams[i].BreakerState() != BreakerOpen
	}
	return p.healthy(i, now)
}

// PickP2C chooses a candidate by power of two choices over Peak-EWMA cost
// and returns its index, or -1 if there is none to choose. It draws two
// distinct eligible candidates at random and returns the one with the lower
//
//	cost = latency × (in_flight + 1) × error_factor / (weight × weight_factor)
//
// (see Upstream.Cost), the first drawn on a tie.
//
// A candidate is eligible if it is usable, not ejected and its breaker is
// not open. If fewer than Config.PanicThreshold percent of the candidates
// are eligible, the pool is in panic: every candidate counts as eligible,
// as in Envoy, rather than piling the whole load onto the few that are left
// (except those whose breaker is open: they would refuse it).
//
// PickP2C does not allocate. It scans the pool twice, so it is linear in the
// pool's size, like Caddy's own policies.
func (sb *Scoreboard) PickP2C(p Pool) int { return sb.pick(&p, true) }

// PickLeastRequests is PickP2C with no latency signal: it compares
// (in_flight + 1) / (weight × weight_factor), which is Envoy's least_request
// with two choices and an active_request_bias of 1. Ejection, breakers, slow
// start and panic mode work as in PickP2C.
func (sb *Scoreboard) PickLeastRequests(p Pool) int { return sb.pick(&p, false) }

func (sb *Scoreboard) pick(p *Pool, byLatency bool) int {
	cfg := sb.config()
	now := sb.nanos()

	members, avail, closed := 0, 0, 0
	for i := range p.Upstreams {
		if p.member(i) {
			members++
			if p.healthy(i, now) {
				avail++
			}
			if p.Upstreams[i].BreakerState() != BreakerOpen {
				closed++
			}
		}
	}
	panicking := cfg.PanicThreshold > 0 &&
		float64(avail)*100 < cfg.PanicThreshold*float64(members)
	n := avail
	if panicking {
		n = closed
	}
	if n == 0 {
		return -1
	}

	// Draw two distinct ranks among the eligible candidates, then find them.
	// Eligibility can change between the two scans (another goroutine
	// opening a breaker); then fall back to what the second scan found.
	first, second := sb.rand.IntN(n), -1
	if n > 1 {
		second = sb.rand.IntN(n - 1)
		if second >= first {
			second++
		}
	}
	a, b, last, rank := -1, -1, -1, 0
	for i := range p.Upstreams {
		if !p.eligible(i, now, panicking) {
			continue
		}
		switch rank {
		case first:
			a = i
		case second:
			b = i
		}
		last = i
		rank++
	}
	if a < 0 {
		a, b = b, -1
	}
	switch {
	case a < 0:
		return last
	case b < 0:
		return a
	}
	if p.cost(b, now, cfg, byLatency) < p.cost(a, now, cfg, byLatency) {
		return b
	}
	return a
}

// cost returns candidate i's selection cost, divided by its static weight.
func (p *Pool) cost(i int, now int64, cfg *Config, byLatency bool) float64 {
	u := p.Upstreams[i]
	if byLatency {
		return u.cost(now, cfg) / p.weight(i)
	}
	return u.loadCost(now, cfg) / p.weight(i)
}
