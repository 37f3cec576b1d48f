package healthlb

// countStreak updates the upstream's consecutive-failure counters with o
// and reports whether a threshold was crossed, and which one. Gateway errors
// are 5xx too, so they count in both streaks; anything that is not 5xx ends
// both. An upstream that is already ejected (and still gets traffic in panic
// mode) keeps counting but does not trip again. The caller holds u.mu.
func (u *Upstream) countStreak(o Outcome, cfg *Config) (reason Outcome, trip bool) {
	switch o {
	case OutcomeGatewayError:
		u.consec5xx++
		u.consecGateway++
	case OutcomeServerError:
		u.consec5xx++
		u.consecGateway = 0
	default:
		u.consec5xx, u.consecGateway = 0, 0
		return o, false
	}
	if u.ejected {
		return o, false
	}
	if cfg.ConsecutiveGatewayErrors > 0 && u.consecGateway >= cfg.ConsecutiveGatewayErrors {
		return OutcomeGatewayError, true
	}
	if cfg.Consecutive5xx > 0 && u.consec5xx >= cfg.Consecutive5xx {
		return OutcomeServerError, true
	}
	return o, false
}

// advance brings the upstream's ejection state up to now: it notices that
// an ejection ran out (the upstream rejoins, with fresh streak counters and
// in slow start) and lets the ejection multiplier decay by one for every
// Config.EjectionDecay spent in service, as Envoy does. The caller holds
// u.mu.
func (u *Upstream) advance(now int64, cfg *Config, evs *events) {
	if u.ejected {
		until := u.ejectedUntil.Load()
		if now < until {
			return
		}
		u.ejected = false
		u.consec5xx, u.consecGateway = 0, 0
		u.lastDecay = until
		evs.add(Event{
			Kind:      EventRejoined,
			Upstream:  u.addr,
			Time:      u.sb.timeAt(until),
			Ejections: u.ejections,
		})
	}
	if u.ejections == 0 {
		return
	}
	decay := int64(cfg.EjectionDecay)
	steps := (now - u.lastDecay) / decay
	switch {
	case steps >= int64(u.ejections):
		u.ejections = 0
	case steps > 0:
		u.ejections -= int(steps)
		u.lastDecay += steps * decay
	}
}

// eject takes u out of selection after it crossed the threshold of reason,
// unless that would eject more than Config.MaxEjectionPercent of the pool.
// The n-th ejection in a row lasts n·BaseEjectionTime, capped at
// MaxEjectionTime; the multiplier stops growing at the cap, so it decays
// back in a bounded time. The caller holds u.mu (lock order: u.mu, then
// sb.ejectMu; other upstreams are only read through atomics).
func (sb *Scoreboard) eject(u *Upstream, now int64, cfg *Config, reason Outcome, evs *events) {
	u.consec5xx, u.consecGateway = 0, 0

	sb.ejectMu.Lock()
	defer sb.ejectMu.Unlock()
	members := *sb.index.Load()
	pool := int(sb.poolSize.Load())
	if pool <= 0 {
		pool = len(members)
	}
	ejected := 0
	for _, m := range members {
		if m != u && now < m.ejectedUntil.Load() {
			ejected++
		}
	}
	if ejected+1 > maxEjected(pool, cfg.MaxEjectionPercent) {
		evs.add(Event{
			Kind:      EventEjectionCapped,
			Upstream:  u.addr,
			Time:      sb.timeAt(now),
			Ejections: u.ejections,
			Reason:    reason,
		})
		return
	}

	base, limit := int64(cfg.BaseEjectionTime), int64(cfg.MaxEjectionTime)
	maxMultiplier := int((limit + base - 1) / base)
	u.ejections = min(u.ejections+1, maxMultiplier)
	until := now + min(int64(u.ejections)*base, limit)
	u.ejected = true
	u.ejectedUntil.Store(until)
	evs.add(Event{
		Kind:      EventEjected,
		Upstream:  u.addr,
		Time:      sb.timeAt(now),
		Until:     sb.timeAt(until),
		Ejections: u.ejections,
		Reason:    reason,
	})
}

// maxEjected returns how many upstreams of a pool of the given size may be
// ejected at once: percent of it, rounded down, but at least one if the
// pool has two or more.
func maxEjected(pool int, percent float64) int {
	n := int(float64(pool)*percent/100 + 1e-9)
	if n < 1 && pool >= 2 {
		n = 1
	}
	return n
}
