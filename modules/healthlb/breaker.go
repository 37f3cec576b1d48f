package healthlb

// BreakerState is the state of an upstream's circuit breaker.
type BreakerState uint8

// Breaker states, as in gobreaker. BreakerNone means the upstream has no
// breaker.
const (
	BreakerNone BreakerState = iota
	BreakerClosed
	BreakerHalfOpen
	BreakerOpen
)

// String returns the state's name as used in logs, admin routes and metrics.
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "none"
}

// MarshalText implements encoding.TextMarshaler.
func (s BreakerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Breaker is the view the scoreboard needs of an upstream's circuit breaker
// (a gobreaker TwoStepCircuitBreaker in the Caddy layer, which also calls
// Allow and done around each attempt). Selection skips an upstream whose
// breaker is open and gives one whose breaker is half-open the weight of the
// start of slow start. When a breaker closes again, its owner should call
// Upstream.BeginSlowStart.
type Breaker interface {
	// State returns the breaker's current state. It is called on the
	// selection path, so it must be cheap and safe for concurrent use.
	State() BreakerState
}

// breakerRef boxes a Breaker so it can sit in an atomic.Pointer.
type breakerRef struct{ b Breaker }
