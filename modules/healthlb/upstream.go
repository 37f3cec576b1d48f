package healthlb

import (
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

// Upstream is the scoreboard entry of one upstream, identified by its dial
// address. Get one from Scoreboard.Acquire; all its methods are safe for
// concurrent use.
//
// The in-flight counter, the ejection deadline, the slow-start start and the
// breaker are atomics, so availability checks and least-requests selection
// take no lock. The latency estimate, the outcome window and the ejection
// bookkeeping sit behind a small per-upstream mutex that is held for a few
// arithmetic operations at a time and never while calling out.
type Upstream struct {
	addr string
	sb   *Scoreboard

	inFlight      atomic.Int64
	ejectedUntil  atomic.Int64 // end of the latest ejection; 0 if never ejected
	slowStartFrom atomic.Int64 // creation or last BeginSlowStart
	breaker       atomic.Pointer[breakerRef]

	mu             sync.Mutex
	ewma           peakEWMA
	win            window
	totals         Counts // every outcome since the upstream joined
	winLength      int64  // the Config.Window that win was set up for
	throttledUntil int64  // end of the latest Retry-After
	consec5xx      int
	consecGateway  int
	ejected        bool // an ejection is running or not yet noticed as over
	ejections      int  // ejection multiplier
	lastDecay      int64
}

func newUpstream(sb *Scoreboard, addr string) *Upstream {
	now := sb.nanos()
	u := &Upstream{addr: addr, sb: sb}
	u.slowStartFrom.Store(now)
	u.winLength = int64(sb.config().Window)
	u.win.reset(u.winLength)
	return u
}

// Address returns the upstream's dial address.
func (u *Upstream) Address() string { return u.addr }

// StartRequest counts one more request in flight. Call it when the request
// is dispatched to the upstream, and FinishRequest exactly once when it is
// done.
func (u *Upstream) StartRequest() { u.inFlight.Add(1) }

// FinishRequest counts one fewer request in flight.
func (u *Upstream) FinishRequest() { u.inFlight.Add(-1) }

// InFlight returns the number of requests in flight.
func (u *Upstream) InFlight() int { return int(max(u.inFlight.Load(), 0)) }

// SetBreaker attaches the upstream's circuit breaker; nil detaches it.
func (u *Upstream) SetBreaker(b Breaker) {
	if b == nil {
		u.breaker.Store(nil)
		return
	}
	u.breaker.Store(&breakerRef{b: b})
}

// BreakerState returns the state of the upstream's breaker, or BreakerNone.
func (u *Upstream) BreakerState() BreakerState {
	if ref := u.breaker.Load(); ref != nil {
		return ref.b.State()
	}
	return BreakerNone
}

// Ejected reports whether the upstream is ejected right now.
func (u *Upstream) Ejected() bool { return u.sb.nanos() < u.ejectedUntil.Load() }

// Available reports whether selection may choose the upstream outside panic
// mode, as far as the scoreboard knows: it is not ejected and its breaker is
// not open. Caddy's own health is the caller's to add.
func (u *Upstream) Available() bool { return u.available(u.sb.nanos()) }

func (u *Upstream) available(now int64) bool {
	return now >= u.ejectedUntil.Load() && u.BreakerState() != BreakerOpen
}

// Record feeds one finished attempt into the upstream's latency estimate,
// outcome window, penalties and ejection counters. It may eject the upstream
// and report events to the scoreboard's event handler (after its lock is
// released). Don't record attempts that say nothing about the upstream, such
// as ones the client cancelled.
func (u *Upstream) Record(r Result) {
	sb := u.sb
	cfg := sb.config()
	now := sb.nanos()
	var evs events

	u.mu.Lock()
	u.advance(now, cfg, &evs)
	u.observe(now, cfg, r)
	if reason, trip := u.countStreak(r.Outcome, cfg); trip {
		sb.eject(u, now, cfg, reason, &evs)
	}
	u.mu.Unlock()

	sb.emit(&evs)
}

// observe updates the window, the latency estimate and the Retry-After
// deadline. A gateway error or a 429 is charged at least FailureLatency, so
// that a fast failure never makes the upstream look fast. The caller holds
// u.mu.
func (u *Upstream) observe(now int64, cfg *Config, r Result) {
	if u.winLength != int64(cfg.Window) {
		u.winLength = int64(cfg.Window)
		u.win.reset(u.winLength)
	}
	u.win.add(now, r.Outcome)
	u.totals.add(r.Outcome)

	sample := float64(max(r.Latency, 0))
	if cfg.FailureLatency > 0 &&
		(r.Outcome == OutcomeGatewayError || r.Outcome == OutcomeTooManyRequests) {
		sample = max(sample, float64(cfg.FailureLatency))
	}
	u.ewma.observe(now, sample, float64(cfg.DecayTime))

	if r.RetryAfter > 0 && cfg.MaxRetryAfter > 0 {
		u.throttledUntil = max(u.throttledUntil, now+int64(min(r.RetryAfter, cfg.MaxRetryAfter)))
	}
}

// Cost returns the upstream's Peak-EWMA selection cost at a static weight of
// 1 (see Scoreboard.PickP2C).
func (u *Upstream) Cost() float64 {
	return u.cost(u.sb.nanos(), u.sb.config())
}

// cost returns
//
//	latency × (in_flight + 1) × error_factor / weight_factor
//
// where latency is the decayed Peak-EWMA estimate (UnknownLatency if there
// is none yet but a request is in flight, zero if nothing is in flight),
// raised to at least FailureLatency while a Retry-After runs; error_factor
// is (n+1)/(n+1-e) for n responses of which e were 5xx or gateway errors in
// the window (Envoy's error-rate-weighted cost, 1 with no errors); and
// weight_factor is the slow-start or half-open factor.
func (u *Upstream) cost(now int64, cfg *Config) float64 {
	inFlight := u.inFlight.Load()
	pending := float64(max(inFlight, 0) + 1)
	weight := u.weightFactor(now, cfg)

	u.mu.Lock()
	lat, known := u.ewma.value(now, float64(cfg.DecayTime))
	if !known && inFlight > 0 {
		lat = float64(cfg.UnknownLatency)
	}
	if cfg.FailureLatency > 0 && now < u.throttledUntil {
		lat = max(lat, float64(cfg.FailureLatency))
	}
	counts := u.win.sum(now)
	u.mu.Unlock()

	n := float64(counts.Success + counts.Errors() + 1)
	errorFactor := n / (n - float64(counts.Errors()))
	return lat * pending * errorFactor / weight
}

// loadCost returns the least-requests cost: (in_flight + 1) / weight_factor.
func (u *Upstream) loadCost(now int64, cfg *Config) float64 {
	return float64(u.InFlight()+1) / u.weightFactor(now, cfg)
}

// Destruct removes the upstream from its scoreboard's index. The
// scoreboard's usage pool calls it when the last user releases the address.
func (u *Upstream) Destruct() error {
	u.sb.unindex(u)
	return nil
}

// Interface guard
var _ caddy.Destructor = (*Upstream)(nil)
