package dashboard

import (
	"encoding/json"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
)

// Snapshot is the answer of snapshot.json and the data of every event.
type Snapshot struct {
	// Time is when the snapshot was taken. Rates are the differences of
	// two snapshots' counters divided by the difference of their times.
	Time time.Time `json:"time"`
	// ConfigLoaded is when the running config was loaded, as Caddy's
	// caddy_config_last_reload_success_timestamp_seconds says; absent
	// until the config has started.
	ConfigLoaded time.Time `json:"config_loaded,omitzero"`
	// Modules holds each module's state, by name, exactly as its admin
	// route answers: upstreams (/frontdesk/upstreams), route_breakers
	// (/frontdesk/route_breakers), mysql (/mysql/servers), auth
	// (/frontdesk/auth), firewall (/frontdesk/firewall), rate_limits
	// (/frontdesk/rate_limits) and reload_safe (/reload_safe/generations).
	// A module that is not configured answers with an empty list or map.
	Modules map[string]any `json:"modules"`
}

// maxAge is how long a snapshot is served again instead of taking a new
// one: every open page and JSON reader shares one per interval.
const maxAge = updateInterval / 2

// snapshotCache is the latest snapshot, encoded.
type snapshotCache struct {
	mu   sync.Mutex
	at   time.Time
	body []byte
}

// shared is the process's snapshot cache: the state it shows is the
// process's, whichever dashboard asks.
var shared snapshotCache

// get returns the cached snapshot if it is recent, or takes a new one.
// Callers that arrive while a snapshot is taken wait for it and share it.
func (c *snapshotCache) get(now time.Time, loaded *configLoaded) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil && now.Sub(c.at) >= 0 && now.Sub(c.at) < maxAge {
		return c.body, nil
	}
	body, err := json.Marshal(Snapshot{Time: now, ConfigLoaded: loaded.get(), Modules: adminjson.States()})
	if err != nil {
		return nil, err
	}
	c.at, c.body = now, body
	return body, nil
}

// reloadMetric is Caddy's gauge of when the last config load succeeded.
const reloadMetric = "caddy_config_last_reload_success_timestamp_seconds"

// configLoaded finds when the config of one handler was loaded. Caddy
// sets its gauge once the config has started, after the handler was
// provisioned; the registry is gathered until the gauge is at least the
// provisioning time, and the answer kept from then on.
type configLoaded struct {
	reg         prometheus.Gatherer
	provisioned time.Time
	at          atomic.Int64 // unix nanoseconds once known
}

func newConfigLoaded(reg prometheus.Gatherer, provisioned time.Time) *configLoaded {
	return &configLoaded{reg: reg, provisioned: provisioned}
}

// get returns the load time, or zero while the config has not started.
func (l *configLoaded) get() time.Time {
	if ns := l.at.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	if l.reg == nil {
		return time.Time{}
	}
	families, err := l.reg.Gather()
	if err != nil {
		return time.Time{}
	}
	for _, f := range families {
		if f.GetName() != reloadMetric || len(f.GetMetric()) == 0 {
			continue
		}
		secs := f.GetMetric()[0].GetGauge().GetValue()
		whole, frac := math.Modf(secs)
		t := time.Unix(int64(whole), int64(frac*1e9))
		if t.Before(l.provisioned) {
			return time.Time{}
		}
		l.at.Store(t.UnixNano())
		return t
	}
	return time.Time{}
}
