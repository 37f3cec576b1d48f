package healthlb

import (
	"math"
	"time"
)

// slowStartFactor returns the weight factor, in (0, 1], of an upstream whose
// slow start began at start (scoreboard nanoseconds). It follows Envoy's
// slow-start curve:
//
//	factor = max(min_percent/100, (max(t, 1s) / window)^(1/aggression))
//
// where t is the time since start: linear with the default aggression of 1,
// faster at first with a larger one.
func slowStartFactor(cfg *Config, start, now int64) float64 {
	window := int64(cfg.SlowStartWindow)
	t := now - start
	if window <= 0 || t >= window {
		return 1
	}
	f := float64(max(t, int64(time.Second))) / float64(window)
	if cfg.SlowStartAggression != 1 {
		f = math.Pow(f, 1/cfg.SlowStartAggression)
	}
	return min(max(f, cfg.SlowStartMinPercent/100), 1)
}

// slowStartBegan returns when the upstream's current slow start began: the
// later of its creation or last BeginSlowStart and the end of its last
// ejection, if that is over. Reading the ejection's end directly (rather
// than waiting for advance to notice the rejoin) keeps this lock-free.
func (u *Upstream) slowStartBegan(now int64) int64 {
	start := u.slowStartFrom.Load()
	if until := u.ejectedUntil.Load(); until <= now {
		start = max(start, until)
	}
	return start
}

// weightFactor returns the factor the upstream's static weight is scaled by
// at now: its slow-start factor, or the ramp's minimum while its breaker is
// half-open.
func (u *Upstream) weightFactor(now int64, cfg *Config) float64 {
	if u.BreakerState() == BreakerHalfOpen {
		return cfg.SlowStartMinPercent / 100
	}
	return slowStartFactor(cfg, u.slowStartBegan(now), now)
}

// BeginSlowStart restarts the upstream's slow start: its weight drops to
// Config.SlowStartMinPercent and ramps up again over Config.SlowStartWindow.
// Call it when the upstream becomes usable again for a reason the
// scoreboard cannot see itself: an active health check found it healthy,
// or its circuit breaker closed. New upstreams and upstreams whose ejection
// ran out start their slow start without help.
func (u *Upstream) BeginSlowStart() {
	u.slowStartFrom.Store(u.sb.nanos())
}
