package healthlb

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Scoreboard is the registry of Upstream entries of one pool, keyed by dial
// address. It is what selection policies, the observing transport, breakers,
// admin routes and metrics share.
//
// Entries are reference counted in a caddy.UsagePool: every module that uses
// an address calls Acquire in Provision and Release in Cleanup, so an
// upstream that appears in both the old and the new config keeps its state
// across a reload (the new config is provisioned before the old one is
// cleaned up). Lookups by address on the request path (Get) read a
// copy-on-write index without locking.
//
// Config.MaxEjectionPercent counts the ejected entries of the whole
// scoreboard, so one scoreboard should serve one pool: one reverse_proxy
// handler, or handlers that share their upstreams. A Scoreboard is meant to
// outlive config reloads (at package level, or in a UsagePool of its own
// keyed by scope); it owns no goroutines.
type Scoreboard struct {
	clock Clock
	rand  Rand
	epoch time.Time // scoreboard nanoseconds count from here

	cfg      atomic.Pointer[Config] // with defaults applied
	onEvent  atomic.Pointer[func(Event)]
	onDrop   atomic.Pointer[func(addr string)]
	poolSize atomic.Int64

	pool    *caddy.UsagePool
	indexMu sync.Mutex // serialises index writes
	index   atomic.Pointer[map[string]*Upstream]
	ejectMu sync.Mutex // serialises ejection decisions
}

// NewScoreboard returns an empty scoreboard. A nil clock means SystemClock,
// a nil rnd means the runtime's random source (goroutine-safe); a Rand
// given here must be safe for concurrent use if the scoreboard is.
func NewScoreboard(cfg Config, clock Clock, rnd Rand) (*Scoreboard, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	if rnd == nil {
		rnd = runtimeRand{}
	}
	sb := &Scoreboard{
		clock: clock,
		rand:  rnd,
		epoch: clock.Now(),
		pool:  caddy.NewUsagePool(),
	}
	if err := sb.SetConfig(cfg); err != nil {
		return nil, err
	}
	sb.index.Store(&map[string]*Upstream{})
	return sb, nil
}

// SetConfig validates cfg and makes it the scoreboard's configuration. It
// takes effect for every entry at once; the state of existing entries is
// kept (an outcome window whose length changed starts empty).
func (sb *Scoreboard) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	sb.setValidConfig(cfg)
	return nil
}

// setValidConfig makes cfg, already validated, the configuration.
func (sb *Scoreboard) setValidConfig(cfg Config) {
	cfg = cfg.withDefaults()
	sb.cfg.Store(&cfg)
}

// Config returns the configuration in effect, with defaults filled in.
func (sb *Scoreboard) Config() Config { return *sb.config() }

func (sb *Scoreboard) config() *Config { return sb.cfg.Load() }

// SetEventHandler makes fn receive the scoreboard's events (see Event); nil
// stops reporting them.
func (sb *Scoreboard) SetEventHandler(fn func(Event)) {
	if fn == nil {
		sb.onEvent.Store(nil)
		return
	}
	sb.onEvent.Store(&fn)
}

func (sb *Scoreboard) emit(evs *events) {
	if evs.n == 0 {
		return
	}
	fn := sb.onEvent.Load()
	if fn == nil {
		return
	}
	for _, ev := range evs.list[:evs.n] {
		(*fn)(ev)
	}
}

// SetPoolSize tells the scoreboard how many upstreams its pool has, for
// Config.MaxEjectionPercent. Zero or less means the number of entries.
func (sb *Scoreboard) SetPoolSize(n int) {
	sb.poolSize.Store(int64(n))
}

// Acquire returns the entry for addr, creating it (in slow start) if no one
// holds it, and counts one more user. Each Acquire must be paired with one
// Release of the same address.
func (sb *Scoreboard) Acquire(addr string) *Upstream {
	v, _, _ := sb.pool.LoadOrNew(addr, func() (caddy.Destructor, error) {
		u := newUpstream(sb, addr)
		sb.reindex(func(m map[string]*Upstream) { m[addr] = u })
		return u, nil
	})
	u, _ := v.(*Upstream)
	return u
}

// Release counts one fewer user of addr and reports whether that was the
// last, in which case the entry and its history are dropped.
func (sb *Scoreboard) Release(addr string) bool {
	deleted, _ := sb.pool.Delete(addr)
	return deleted
}

// Get returns the entry for addr, or nil if no one holds it. It does not
// count a user, takes no lock and does not allocate.
func (sb *Scoreboard) Get(addr string) *Upstream {
	return (*sb.index.Load())[addr]
}

// Len returns the number of entries.
func (sb *Scoreboard) Len() int { return len(*sb.index.Load()) }

// Snapshots returns a snapshot of every entry, ordered by address.
func (sb *Scoreboard) Snapshots() []Snapshot {
	ups := slices.Collect(maps.Values(*sb.index.Load()))
	slices.SortFunc(ups, func(a, b *Upstream) int { return cmp.Compare(a.addr, b.addr) })
	snaps := make([]Snapshot, len(ups))
	for i, u := range ups {
		snaps[i] = u.Snapshot()
	}
	return snaps
}

// Sweep brings every entry's ejection state up to date, so rejoins are
// reported when they happen rather than at the upstream's next use. The
// Caddy layer may call it from a ticker owned by the pooled scoreboard.
func (sb *Scoreboard) Sweep() {
	cfg := sb.config()
	now := sb.nanos()
	for _, u := range *sb.index.Load() {
		var evs events
		u.mu.Lock()
		u.advance(now, cfg, &evs)
		u.mu.Unlock()
		sb.emit(&evs)
	}
}

// unindex removes u from the index if it is still the entry of its address.
func (sb *Scoreboard) unindex(u *Upstream) {
	sb.reindex(func(m map[string]*Upstream) {
		if m[u.addr] == u {
			delete(m, u.addr)
		}
	})
	if fn := sb.onDrop.Load(); fn != nil {
		(*fn)(u.addr)
	}
}

// SetDropHandler makes fn learn the address of every entry that leaves
// the scoreboard (its last user released it).
func (sb *Scoreboard) SetDropHandler(fn func(addr string)) { sb.onDrop.Store(&fn) }

// reindex replaces the index with an edited copy.
func (sb *Scoreboard) reindex(edit func(map[string]*Upstream)) {
	sb.indexMu.Lock()
	defer sb.indexMu.Unlock()
	m := maps.Clone(*sb.index.Load())
	edit(m)
	sb.index.Store(&m)
}

// nanos returns the time since the scoreboard's epoch, never negative.
func (sb *Scoreboard) nanos() int64 {
	return max(int64(sb.clock.Now().Sub(sb.epoch)), 0)
}

// timeAt converts scoreboard nanoseconds back to a time.
func (sb *Scoreboard) timeAt(ns int64) time.Time {
	return sb.epoch.Add(time.Duration(ns))
}
