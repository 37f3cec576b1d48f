package healthlb

import (
	"fmt"
	"math"
	"time"
)

// Defaults of Config. Each names the system and setting it comes from.
const (
	// DefaultDecayTime is the Peak-EWMA decay time constant τ: Finagle's
	// decayTime as defaulted by Linkerd 1 (linkerd/docs/load_balancer.md).
	// The half-life is τ·ln2 ≈ 6.9s.
	DefaultDecayTime = 10 * time.Second

	// DefaultUnknownLatency is Finagle's PeakEwma Penalty (Long.MaxValue >> 16
	// nanoseconds, about 39h): so large that an upstream which has never
	// answered gets no second request until its first one comes back.
	DefaultUnknownLatency = time.Duration(math.MaxInt64 >> 16)

	// DefaultFailureLatency is the latency charged for a 429 (and here also
	// for a gateway error): the penalty of Linkerd2's load biaser
	// (linkerd.io/2-edge/reference/load-balancing). brpc charges failures at
	// least the RPC timeout for the same reason: a fast failure must not
	// attract traffic.
	DefaultFailureLatency = 5 * time.Second

	// DefaultMaxRetryAfter caps how long a Retry-After is honoured: Linkerd2's
	// load biaser honours it up to 300s.
	DefaultMaxRetryAfter = 300 * time.Second

	// DefaultWindow is the length of the rolling outcome window: Envoy's
	// outlier detection interval (outlier_detection.proto, interval 10s).
	DefaultWindow = 10 * time.Second

	// DefaultConsecutive5xx is Envoy's consecutive_5xx (outlier_detection.proto).
	DefaultConsecutive5xx = 5

	// DefaultConsecutiveGatewayErrors is Envoy's consecutive_gateway_failure
	// (outlier_detection.proto). Envoy ships it unenforced; here it is on,
	// because dial errors are the clearest sign of a dead upstream.
	DefaultConsecutiveGatewayErrors = 5

	// DefaultBaseEjectionTime is Envoy's base_ejection_time
	// (outlier_detection.proto).
	DefaultBaseEjectionTime = 30 * time.Second

	// DefaultMaxEjectionTime is Envoy's max_ejection_time
	// (outlier_detection.proto).
	DefaultMaxEjectionTime = 300 * time.Second

	// DefaultMaxEjectionPercent is Envoy's max_ejection_percent
	// (outlier_detection.proto). Unlike Envoy, at least one upstream of a
	// pool of two or more may always be ejected (Envoy's opt-in
	// always_eject_one_host, envoy#34796), or else any pool of fewer than
	// ten upstreams could never eject anything.
	DefaultMaxEjectionPercent = 10.0

	// DefaultEjectionDecay is how long an upstream must stay in service for
	// its ejection multiplier to drop by one: Envoy's outlier detection
	// interval (outlier_detection.proto, interval 10s).
	DefaultEjectionDecay = 10 * time.Second

	// DefaultSlowStartWindow is the slow-start ramp length. Envoy has no
	// default (slow start is off unless configured); 20s is the slowstart of
	// HAProxy's own passive-health recipe (haproxytechblog gist 946eb67b).
	DefaultSlowStartWindow = 20 * time.Second

	// DefaultSlowStartMinPercent is Envoy's slow-start min_weight_percent
	// (load_balancing/slow_start.rst).
	DefaultSlowStartMinPercent = 10.0

	// DefaultSlowStartAggression is Envoy's slow-start aggression
	// (load_balancing/slow_start.rst); 1.0 ramps linearly.
	DefaultSlowStartAggression = 1.0

	// DefaultPanicThreshold is Envoy's healthy_panic_threshold
	// (load_balancing/panic_threshold.rst).
	DefaultPanicThreshold = 50.0
)

// Config holds the tunables of a Scoreboard. The zero value of every field
// selects its default, so Config{} is a complete configuration. Fields whose
// doc says so can be disabled with a negative value.
type Config struct {
	// DecayTime is the Peak-EWMA time constant τ. A sample below the current
	// estimate is blended in with weight 1-exp(-elapsed/τ), where elapsed is
	// the time since the previous sample; an idle upstream's estimate decays
	// toward zero at the same rate. Default: 10s.
	DecayTime time.Duration

	// UnknownLatency is the latency assumed for an upstream that has never
	// completed a request but already has one in flight. An upstream with
	// no sample and nothing in flight costs nothing, so it is probed at once.
	// Default: about 39h (Finagle's Penalty).
	UnknownLatency time.Duration

	// FailureLatency is the smallest latency sample recorded for a gateway
	// error or a 429, and the latency floor of an upstream while a
	// Retry-After it sent is pending. A negative value turns both off.
	// Default: 5s.
	FailureLatency time.Duration

	// MaxRetryAfter caps how long a Retry-After keeps an upstream's cost up.
	// A negative value ignores Retry-After. Default: 300s.
	MaxRetryAfter time.Duration

	// Window is the length of the rolling outcome window, kept as ten
	// buckets of Window/10. Default: 10s.
	Window time.Duration

	// Consecutive5xx is how many 5xx in a row (gateway errors included) eject
	// an upstream. A negative value disables it. Default: 5.
	Consecutive5xx int

	// ConsecutiveGatewayErrors is how many gateway errors in a row (dial
	// errors, timeouts, 502, 503, 504) eject an upstream. A negative value
	// disables it. Default: 5.
	ConsecutiveGatewayErrors int

	// BaseEjectionTime is the length of a first ejection; the n-th ejection
	// lasts n times as long, up to MaxEjectionTime. Default: 30s.
	BaseEjectionTime time.Duration

	// MaxEjectionTime caps the length of an ejection. If it is smaller than
	// BaseEjectionTime, BaseEjectionTime is the cap. Default: 300s.
	MaxEjectionTime time.Duration

	// MaxEjectionPercent caps the share of the pool that may be ejected at
	// once, in percent; one upstream of a pool of two or more may always be
	// ejected. Default: 10.
	MaxEjectionPercent float64

	// EjectionDecay is how long an upstream must stay in service for its
	// ejection multiplier to drop by one. Default: 10s.
	EjectionDecay time.Duration

	// SlowStartWindow is how long the weight of a new or recovered upstream
	// takes to ramp up to its full value. A negative value disables slow
	// start. Default: 20s.
	SlowStartWindow time.Duration

	// SlowStartMinPercent is the weight, in percent of the full weight, that
	// an upstream starts its ramp with. It is also the weight of an upstream
	// whose breaker is half-open. Default: 10.
	SlowStartMinPercent float64

	// SlowStartAggression shapes the ramp as Envoy's does: the weight factor
	// is (t/window)^(1/aggression), so 1 is linear and larger values ramp up
	// faster at first. Default: 1.
	SlowStartAggression float64

	// PanicThreshold is the share of available upstreams, in percent, below
	// which selection ignores health and ejection and balances over the whole
	// pool. A negative value disables panic mode. Default: 50.
	PanicThreshold float64
}

// Validate reports the first field that has an invalid value.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		val  time.Duration
	}{
		{"decay_time", c.DecayTime},
		{"unknown_latency", c.UnknownLatency},
		{"window", c.Window},
		{"base_ejection_time", c.BaseEjectionTime},
		{"max_ejection_time", c.MaxEjectionTime},
		{"ejection_decay", c.EjectionDecay},
	} {
		if d.val < 0 {
			return fmt.Errorf("%s must not be negative: %v", d.name, d.val)
		}
	}
	if c.MaxEjectionPercent < 0 || c.MaxEjectionPercent > 100 {
		return fmt.Errorf("max_ejection_percent must be within 0-100: %v", c.MaxEjectionPercent)
	}
	if c.SlowStartMinPercent < 0 || c.SlowStartMinPercent > 100 {
		return fmt.Errorf("slow_start_min_percent must be within 0-100: %v", c.SlowStartMinPercent)
	}
	if c.SlowStartAggression < 0 {
		return fmt.Errorf("slow_start_aggression must not be negative: %v", c.SlowStartAggression)
	}
	if c.PanicThreshold > 100 {
		return fmt.Errorf("panic_threshold must not exceed 100: %v", c.PanicThreshold)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setDuration(&c.DecayTime, DefaultDecayTime)
	setDuration(&c.UnknownLatency, DefaultUnknownLatency)
	setDuration(&c.FailureLatency, DefaultFailureLatency)
	setDuration(&c.MaxRetryAfter, DefaultMaxRetryAfter)
	setDuration(&c.Window, DefaultWindow)
	setDuration(&c.BaseEjectionTime, DefaultBaseEjectionTime)
	setDuration(&c.MaxEjectionTime, DefaultMaxEjectionTime)
	setDuration(&c.EjectionDecay, DefaultEjectionDecay)
	setDuration(&c.SlowStartWindow, DefaultSlowStartWindow)
	if c.Consecutive5xx == 0 {
		c.Consecutive5xx = DefaultConsecutive5xx
	}
	if c.ConsecutiveGatewayErrors == 0 {
		c.ConsecutiveGatewayErrors = DefaultConsecutiveGatewayErrors
	}
	setFloat(&c.MaxEjectionPercent, DefaultMaxEjectionPercent)
	setFloat(&c.SlowStartMinPercent, DefaultSlowStartMinPercent)
	setFloat(&c.SlowStartAggression, DefaultSlowStartAggression)
	setFloat(&c.PanicThreshold, DefaultPanicThreshold)
	c.MaxEjectionTime = max(c.MaxEjectionTime, c.BaseEjectionTime)
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func setFloat(f *float64, def float64) {
	if *f == 0 {
		*f = def
	}
}
