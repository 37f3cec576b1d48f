package healthlb

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Dynamic upstreams (from reverse_proxy's dynamic upstream sources) are
// taken when first seen; like Caddy's own dynamic hosts, an entry unused
// for dynamicIdleExpiry is let go, checked every dynamicSweepInterval.
const (
	dynamicIdleExpiry    = time.Hour
	dynamicSweepInterval = 5 * time.Minute
)

// heldEntries are the scoreboard entries a transport holds a reference to.
type heldEntries struct {
	mu      sync.Mutex // serialises taking and releasing
	m       sync.Map   // dial address → *heldEntry
	cleaned bool
	// committed is set by the first proxied request: from then on this
	// config's settings (breakers, policy configuration) apply to the
	// shared scoreboard.
	committed bool
	commit    sync.Once
	stop      chan struct{} // ends the dynamic entries' sweeper
}

// heldEntry is one entry a transport holds.
type heldEntry struct {
	u *Upstream
	// static entries are the handler's configured upstreams, held until
	// Cleanup; the others are dynamic and expire.
	static  bool
	lastUse atomic.Int64 // unix nanoseconds, for dynamic entries
}

// takeStatic takes the entry of a configured upstream, at Provision.
func (h *heldEntries) takeStatic(t *ObservedTransport, dial string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.m.Load(dial); !ok {
		h.m.Store(dial, &heldEntry{u: t.scope.sb.Acquire(dial), static: true})
	}
}

// entry returns the scoreboard entry of the upstream dial address, taking
// a reference for this transport the first time (dynamic upstreams are
// taken when first seen), and gives it a breaker if one is configured and
// it has none with the same settings.
func (t *ObservedTransport) entry(dial string) *Upstream {
	h := t.held
	if v, ok := h.m.Load(dial); ok {
		e := v.(*heldEntry)
		if !e.static {
			e.lastUse.Store(time.Now().UnixNano())
		}
		return e.u
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := h.m.Load(dial); ok || h.cleaned {
		e, _ := v.(*heldEntry)
		if e == nil {
			return nil
		}
		return e.u
	}
	e := &heldEntry{u: t.scope.sb.Acquire(dial)}
	e.lastUse.Store(time.Now().UnixNano())
	h.m.Store(dial, e)
	if h.committed {
		t.attachBreaker(e.u)
	}
	return e.u
}

// commit applies this config's settings to the scoreboard it shares with
// the running config: the policy's configuration, the breakers of the
// entries held and the logger of the scope, and starts the sweeper of
// dynamic entries. It runs once, on the first proxied request, and not in
// Provision: a config that is refused after Provision (another module's
// Validate, an app's Start) must leave the running config's settings as
// they were.
func (t *ObservedTransport) commit() {
	h := t.held
	h.commit.Do(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.cleaned {
			return
		}
		if t.policyConfig != nil {
			t.scope.sb.setValidConfig(*t.policyConfig)
		}
		t.scope.logger.Store(t.logger)
		h.committed = true
		h.m.Range(func(_, v any) bool {
			t.attachBreaker(v.(*heldEntry).u)
			return true
		})
		h.stop = make(chan struct{})
		go t.sweepDynamic(h.stop)
	})
}

// sweepDynamic lets go of dynamic entries unused for dynamicIdleExpiry
// until stop is closed.
func (t *ObservedTransport) sweepDynamic(stop chan struct{}) {
	defer func() {
		if err := recover(); err != nil {
			t.logger.Error("dynamic upstream sweep panicked", zap.Any("error", err))
		}
	}()
	tick := time.NewTicker(dynamicSweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			t.held.expire(t.scope.sb, now.Add(-dynamicIdleExpiry))
		}
	}
}

// expire releases the dynamic entries last used before cutoff; an entry
// released by its last user leaves the scoreboard, with its metric series.
func (h *heldEntries) expire(sb *Scoreboard, cutoff time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m.Range(func(dial, v any) bool {
		if e := v.(*heldEntry); !e.static && e.lastUse.Load() < cutoff.UnixNano() {
			h.m.Delete(dial)
			sb.Release(dial.(string))
		}
		return true
	})
}

// releaseAll releases every entry, at Cleanup, and stops the sweeper.
func (h *heldEntries) releaseAll(sb *Scoreboard) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m.Range(func(dial, _ any) bool {
		sb.Release(dial.(string))
		h.m.Delete(dial)
		return true
	})
	h.cleaned = true
	if h.stop != nil {
		close(h.stop)
	}
}
