package ratelimit

import (
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// zones holds every zone's state across config loads, keyed by the zone's
// name and settings: a reload that keeps a zone keeps its keys, so a
// client cannot reset its limit by waiting for a reload.
var zones = caddy.NewUsagePool()

// zoneState is what a zone knows: its keys in memory, and counts of its
// decisions.
type zoneState struct {
	name     string
	settings Zone
	store    *store
	counts   [numOutcomes]atomic.Int64
	metrics  [numOutcomes]prometheus.Counter
}

// outcome is how a zone decided a request.
type outcome int

const (
	outcomeAllowed outcome = iota
	outcomeLimited
	outcomeInFlightLimited
	outcomeNoKey
	outcomeFallback
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"allowed", "limited", "in_flight_limited", "no_key", "fallback"}

func newZoneState(z *Zone) *zoneState {
	zs := &zoneState{name: z.Name, settings: *z, store: newStore(z.MaxKeys)}
	for o := range numOutcomes {
		zs.metrics[o] = decisions.WithLabelValues(z.Name, outcomeNames[o])
	}
	return zs
}

func (zs *zoneState) count(o outcome) {
	zs.counts[o].Add(1)
	zs.metrics[o].Inc()
}

// Destruct implements caddy.Destructor; a zone's memory goes with it.
func (*zoneState) Destruct() error { return nil }

// zoneStatus is a zone as the admin route shows it.
type zoneStatus struct {
	Zone        string           `json:"zone"`
	Key         string           `json:"key"`
	Events      int              `json:"events,omitempty"`
	Window      string           `json:"window,omitempty"`
	Burst       int              `json:"burst,omitempty"`
	MaxInFlight int              `json:"max_in_flight,omitempty"`
	MaxKeys     int              `json:"max_keys"`
	Keys        int              `json:"keys"`
	Evictions   int64            `json:"evictions"`
	EvictedLive int64            `json:"evicted_live"`
	Decisions   map[string]int64 `json:"decisions"`
}

func (zs *zoneState) status() zoneStatus {
	s := zs.settings
	st := zoneStatus{Zone: zs.name, Key: s.Key, Events: s.Events, Burst: s.Burst, MaxInFlight: s.MaxInFlight,
		MaxKeys: s.MaxKeys, Keys: zs.store.size(), Evictions: zs.store.evictions.Load(),
		EvictedLive: zs.store.evictedLive.Load(), Decisions: map[string]int64{}}
	if s.Events > 0 {
		st.Window = time.Duration(s.Window).String()
	}
	for o := range numOutcomes {
		st.Decisions[outcomeNames[o]] = zs.counts[o].Load()
	}
	return st
}

// Interface guard
var _ caddy.Destructor = (*zoneState)(nil)
