package healthlb

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// ScoreboardSettings are the scoreboard tunables a selection policy
// configures. Every zero field takes the default documented on Config;
// fields whose doc says so are turned off with -1. Handlers whose transports
// share a scope share one scoreboard: the policy provisioned last sets it.
type ScoreboardSettings struct {
	// The Peak-EWMA decay time constant τ: how fast the latency estimate
	// forgets, and how fast an idle upstream's estimate decays toward zero
	// so that it is probed again. Default: 10s.
	DecayTime caddy.Duration `json:"decay_time,omitempty"`

	// The smallest latency charged for a gateway error or a 429, and the
	// latency floor of an upstream while a Retry-After it sent runs, so
	// that fast failures never attract traffic. -1 turns it off.
	// Default: 5s.
	FailureLatency caddy.Duration `json:"failure_latency,omitempty"`

	// How long a Retry-After keeps an upstream's cost up at most. -1
	// ignores Retry-After. Default: 300s.
	MaxRetryAfter caddy.Duration `json:"max_retry_after,omitempty"`

	// How many 5xx in a row eject an upstream. -1 turns it off. Default: 5.
	Consecutive5xx int `json:"consecutive_5xx,omitempty"`

	// How many gateway errors in a row (dial errors, timeouts, 502, 503,
	// 504) eject an upstream. -1 turns it off. Default: 5.
	ConsecutiveGatewayErrors int `json:"consecutive_gateway_errors,omitempty"`

	// The length of a first ejection; the n-th in a row lasts n times as
	// long, up to MaxEjectionTime. Default: 30s.
	BaseEjectionTime caddy.Duration `json:"base_ejection_time,omitempty"`

	// The longest ejection. Default: 300s.
	MaxEjectionTime caddy.Duration `json:"max_ejection_time,omitempty"`

	// The share of the pool, in percent, that may be ejected at once; one
	// upstream of a pool of two or more may always be. Default: 10.
	MaxEjectionPercent float64 `json:"max_ejection_percent,omitempty"`

	// How long the weight of a new, recovered or rejoining upstream takes
	// to ramp up to its full value. -1 turns slow start off. Default: 20s.
	SlowStart caddy.Duration `json:"slow_start,omitempty"`

	// The weight, in percent, that slow start begins with; also the weight
	// of an upstream whose breaker is half-open. Default: 10.
	SlowStartMinPercent float64 `json:"slow_start_min_percent,omitempty"`

	// The share of available upstreams, in percent, below which selection
	// spreads over every upstream instead of hammering the few that are
	// left. -1 turns panic mode off. Default: 50.
	PanicThreshold float64 `json:"panic_threshold,omitempty"`

	// Static weights of the upstreams, in the order they are listed, as in
	// weighted_round_robin. Missing weights count as 1; an upstream of
	// weight 0 gets no traffic. Default: all 1.
	Weights []int `json:"weights,omitempty"`
}

// config returns the scoreboard Config of the settings.
func (s ScoreboardSettings) config() Config {
	return Config{
		DecayTime:                time.Duration(s.DecayTime),
		FailureLatency:           time.Duration(s.FailureLatency),
		MaxRetryAfter:            time.Duration(s.MaxRetryAfter),
		Consecutive5xx:           s.Consecutive5xx,
		ConsecutiveGatewayErrors: s.ConsecutiveGatewayErrors,
		BaseEjectionTime:         time.Duration(s.BaseEjectionTime),
		MaxEjectionTime:          time.Duration(s.MaxEjectionTime),
		MaxEjectionPercent:       s.MaxEjectionPercent,
		SlowStartWindow:          time.Duration(s.SlowStart),
		SlowStartMinPercent:      s.SlowStartMinPercent,
		PanicThreshold:           s.PanicThreshold,
	}
}

// unmarshalSetting parses the setting the dispenser is on and reports
// whether it was one of the scoreboard's.
func (s *ScoreboardSettings) unmarshalSetting(d *caddyfile.Dispenser) (bool, error) {
	key := d.Val()
	if key == "weights" {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		for _, a := range args {
			w, err := strconv.Atoi(a)
			if err != nil || w < 0 {
				return true, d.Errf("weights: %q is not a weight of 0 or more", a)
			}
			s.Weights = append(s.Weights, w)
		}
		return true, nil
	}
	durations := map[string]*caddy.Duration{
		"decay_time":         &s.DecayTime,
		"failure_latency":    &s.FailureLatency,
		"max_retry_after":    &s.MaxRetryAfter,
		"base_ejection_time": &s.BaseEjectionTime,
		"max_ejection_time":  &s.MaxEjectionTime,
		"slow_start":         &s.SlowStart,
	}
	ints := map[string]*int{
		"consecutive_5xx":            &s.Consecutive5xx,
		"consecutive_gateway_errors": &s.ConsecutiveGatewayErrors,
	}
	floats := map[string]*float64{
		"max_ejection_percent":   &s.MaxEjectionPercent,
		"slow_start_min_percent": &s.SlowStartMinPercent,
		"panic_threshold":        &s.PanicThreshold,
	}
	dp, ip, fp := durations[key], ints[key], floats[key]
	if dp == nil && ip == nil && fp == nil {
		return false, nil
	}
	if !d.NextArg() {
		return true, d.ArgErr()
	}
	val := d.Val()
	var err error
	switch {
	case dp != nil && val == "-1":
		*dp = -1
	case dp != nil:
		*dp, err = parseDuration(val)
	case ip != nil:
		*ip, err = strconv.Atoi(val)
	default:
		*fp, err = strconv.ParseFloat(val, 64)
	}
	if err != nil {
		return true, d.Errf("%s: %v", key, err)
	}
	if d.NextArg() {
		return true, d.ArgErr()
	}
	return true, nil
}
