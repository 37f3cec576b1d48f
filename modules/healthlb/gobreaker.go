package healthlb

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/sony/gobreaker/v2"
)

// Defaults of BreakerConfig.
const (
	// DefaultBreakerFailureRatio and DefaultBreakerMinRequests are the
	// rate-based trip rule of reference/http.md §2.3 (Requests ≥ 20 and
	// failures/requests ≥ 0.5).
	DefaultBreakerFailureRatio = 0.5
	DefaultBreakerMinRequests  = 20
	// DefaultBreakerConsecutiveFailures is gobreaker's default ReadyToTrip
	// (more than 5 consecutive failures), made inclusive.
	DefaultBreakerConsecutiveFailures = 5
	// DefaultBreakerWindow is the rolling window: Envoy's outlier interval.
	DefaultBreakerWindow = 10 * time.Second
	// DefaultBreakerOpenTime is Traefik's fallbackDuration.
	DefaultBreakerOpenTime = 10 * time.Second
	// DefaultBreakerHalfOpenRequests probes close a half-open breaker when
	// they all succeed; one failure opens it again.
	DefaultBreakerHalfOpenRequests = 3
)

// BreakerConfig configures a circuit breaker (sony/gobreaker/v2, two-step).
// A breaker is closed while things go well, opens when its trip rule fires,
// refuses everything while open, and after OpenTime lets HalfOpenRequests
// probes through: it closes if they all succeed and opens again at the
// first failure. Transport errors and timeouts always count as failures;
// a request the client cancelled, a 429 and any status that FailStatus does
// not name count as neither success nor failure.
type BreakerConfig struct {
	// The breaker trips when at least this share of the attempts counted in
	// the rolling window failed, once MinRequests were counted. Default: 0.5.
	FailureRatio float64 `json:"failure_ratio,omitempty"`

	// The volume of attempts in the window below which FailureRatio does
	// not trip the breaker. Default: 20.
	MinRequests int `json:"min_requests,omitempty"`

	// The breaker also trips after this many failures in a row, whatever
	// the volume. -1 disables this rule. Default: 5.
	ConsecutiveFailures int `json:"consecutive_failures,omitempty"`

	// The length of the rolling window the counts are kept over, in ten
	// buckets. Default: 10s.
	Window caddy.Duration `json:"window,omitempty"`

	// How long an open breaker refuses everything before it lets probes
	// through. Default: 10s.
	OpenTime caddy.Duration `json:"open_time,omitempty"`

	// How many probes a half-open breaker lets through. Default: 3.
	HalfOpenRequests int `json:"half_open_requests,omitempty"`

	// The response statuses that count as failures: a code, or a class
	// given by its first digit (5 for every 5xx; "5xx" in the Caddyfile).
	// Default: [5].
	FailStatus []int `json:"fail_status,omitempty"`
}

// withDefaults returns c with every zero field set to its default.
func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.FailureRatio == 0 {
		c.FailureRatio = DefaultBreakerFailureRatio
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultBreakerMinRequests
	}
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = DefaultBreakerConsecutiveFailures
	}
	if c.Window == 0 {
		c.Window = caddy.Duration(DefaultBreakerWindow)
	}
	if c.OpenTime == 0 {
		c.OpenTime = caddy.Duration(DefaultBreakerOpenTime)
	}
	if c.HalfOpenRequests == 0 {
		c.HalfOpenRequests = DefaultBreakerHalfOpenRequests
	}
	if len(c.FailStatus) == 0 {
		c.FailStatus = []int{5}
	}
	return c
}

// Validate reports the first field that has an invalid value.
func (c BreakerConfig) Validate() error {
	switch {
	case c.FailureRatio < 0 || c.FailureRatio > 1:
		return fmt.Errorf("failure_ratio must be within 0-1: %v", c.FailureRatio)
	case c.MinRequests < 0:
		return fmt.Errorf("min_requests must not be negative: %d", c.MinRequests)
	case c.ConsecutiveFailures < -1:
		return fmt.Errorf("consecutive_failures must be -1 (off) or more: %d", c.ConsecutiveFailures)
	case c.Window < 0:
		return fmt.Errorf("window must not be negative: %v", time.Duration(c.Window))
	case c.OpenTime < 0:
		return fmt.Errorf("open_time must not be negative: %v", time.Duration(c.OpenTime))
	case c.HalfOpenRequests < 0 || c.HalfOpenRequests > math.MaxUint32:
		return fmt.Errorf("half_open_requests must be within 0-%d: %d", uint32(math.MaxUint32), c.HalfOpenRequests)
	}
	for _, s := range c.FailStatus {
		if s < 1 || s > 5 && (s < 100 || s > 599) {
			return fmt.Errorf("fail_status must hold status codes or classes 1-5: %d", s)
		}
	}
	return nil
}

// equal reports whether two configs (with defaults applied) describe the
// same breaker.
func (c BreakerConfig) equal(o BreakerConfig) bool {
	return c.FailureRatio == o.FailureRatio && c.MinRequests == o.MinRequests &&
		c.ConsecutiveFailures == o.ConsecutiveFailures && c.Window == o.Window &&
		c.OpenTime == o.OpenTime && c.HalfOpenRequests == o.HalfOpenRequests &&
		slices.Equal(c.FailStatus, o.FailStatus)
}

// failsOn reports whether a response status counts as a failure. The
// receiver has its defaults applied.
func (c *BreakerConfig) failsOn(status int) bool {
	for _, s := range c.FailStatus {
		if caddyhttp.StatusCodeMatches(status, s) {
			return true
		}
	}
	return false
}

// unmarshalBlock parses the breaker settings of a Caddyfile block; the
// dispenser is on the token that opens it.
func (c *BreakerConfig) unmarshalBlock(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		if key == "fail_status" {
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				code, err := parseStatus(a)
				if err != nil {
					return d.Errf("fail_status: %v", err)
				}
				c.FailStatus = append(c.FailStatus, code)
			}
			continue
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		var err error
		switch key {
		case "failure_ratio":
			c.FailureRatio, err = strconv.ParseFloat(val, 64)
		case "min_requests":
			c.MinRequests, err = strconv.Atoi(val)
		case "consecutive_failures":
			c.ConsecutiveFailures, err = strconv.Atoi(val)
		case "window":
			c.Window, err = parseDuration(val)
		case "open_time":
			c.OpenTime, err = parseDuration(val)
		case "half_open_requests":
			c.HalfOpenRequests, err = strconv.Atoi(val)
		default:
			return d.Errf("unrecognized breaker setting %s", key)
		}
		if err != nil {
			return d.Errf("%s: %v", key, err)
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

// parseStatus reads a status code or a class such as "5xx".
func parseStatus(s string) (int, error) {
	if len(s) == 3 && s[1:] == "xx" {
		s = s[:1]
	}
	return strconv.Atoi(s)
}

func parseDuration(s string) (caddy.Duration, error) {
	d, err := caddy.ParseDuration(s)
	return caddy.Duration(d), err
}

// Outcomes reported to a breaker's done func.
var (
	errBreakerFailure  = errors.New("failure")
	errBreakerExcluded = errors.New("excluded")
)

// breaker is a gobreaker TwoStepCircuitBreaker with a lock-free fast path
// for State, which runs for every candidate of every selection: a closed
// breaker, or an open one whose open time has not run out, is answered from
// atomics; only the open-to-half-open edge asks gobreaker (which performs
// the transition).
type breaker struct {
	cfg       BreakerConfig // with defaults
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	state     atomic.Uint32 // BreakerState
	openUntil atomic.Int64  // unix nanoseconds
}

// newBreaker returns a closed breaker; onChange runs on every transition,
// under gobreaker's lock, so it must not call back into the breaker.
func newBreaker(name string, cfg BreakerConfig, onChange func(from, to BreakerState)) *breaker {
	cfg = cfg.withDefaults()
	b := &breaker{cfg: cfg}
	b.state.Store(uint32(BreakerClosed))
	window := time.Duration(cfg.Window)
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  uint32(cfg.HalfOpenRequests),
		Interval:     window,
		BucketPeriod: window / 10,
		Timeout:      time.Duration(cfg.OpenTime),
		ReadyToTrip:  cfg.readyToTrip,
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return errors.Is(err, errBreakerExcluded) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.openUntil.Store(time.Now().Add(time.Duration(cfg.OpenTime)).UnixNano())
			}
			b.state.Store(uint32(fromGobreaker(to)))
			if onChange != nil {
				onChange(fromGobreaker(from), fromGobreaker(to))
			}
		},
	})
	return b
}

// readyToTrip is the trip rule: FailureRatio over at least MinRequests, or
// ConsecutiveFailures in a row.
func (c BreakerConfig) readyToTrip(n gobreaker.Counts) bool {
	if c.ConsecutiveFailures > 0 && n.ConsecutiveFailures >= uint32(c.ConsecutiveFailures) {
		return true
	}
	counted := n.TotalSuccesses + n.TotalFailures
	return counted > 0 && counted >= uint32(c.MinRequests) &&
		float64(n.TotalFailures) >= c.FailureRatio*float64(counted)
}

func fromGobreaker(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

// State implements Breaker.
func (b *breaker) State() BreakerState {
	s := BreakerState(b.state.Load())
	if s == BreakerClosed || s == BreakerOpen && time.Now().UnixNano() < b.openUntil.Load() {
		return s
	}
	return fromGobreaker(b.cb.State())
}

// allow asks the breaker to let one attempt through. On success, done must
// be called exactly once with the attempt's outcome: nil,
// errBreakerFailure or errBreakerExcluded.
func (b *breaker) allow() (done func(error), err error) { return b.cb.Allow() }

// retryAfter returns how long the breaker stays open from now, at least one
// second (half-open breakers that refuse ask for a second too).
func (b *breaker) retryAfter(now time.Time) time.Duration {
	return max(time.Duration(b.openUntil.Load()-now.UnixNano()), time.Second)
}

// outcome returns what a response status means to the breaker.
func (b *breaker) outcome(status int) error {
	switch {
	case b.cfg.failsOn(status):
		return errBreakerFailure
	case status >= 400 && status < 500: // the client's business, 429 included
		return errBreakerExcluded
	}
	return nil
}

// Interface guard
var _ Breaker = (*breaker)(nil)
