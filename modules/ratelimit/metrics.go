package ratelimit

import "github.com/prometheus/client_golang/prometheus"

// The collectors live at package level, so counters survive reloads; every
// Provision registers them into its config's registry.
var (
	decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "frontdesk_rate_limit",
		Name: "decisions_total",
		Help: "Requests decided per zone, by outcome (allowed, limited, in_flight_limited, no_key, fallback).",
	}, []string{"zone", "outcome"})
	redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "frontdesk_rate_limit",
		Name: "redis_errors_total",
		Help: "Decisions Redis did not answer in time or at all (the zone's fallback decided instead).",
	}, []string{"zone"})
	collectors = []prometheus.Collector{decisions, redisErrors, keysCollector{}}
)

var (
	descKeys      = zoneDesc("keys", "Keys a zone holds in memory.")
	descEvictions = zoneDesc("evictions_total", "Keys evicted to stay within max_keys.")
	descLive      = zoneDesc("evicted_live_total", "Evicted keys that were still holding back traffic.")
)

func zoneDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName("caddy", "frontdesk_rate_limit", name), help, []string{"zone"}, nil)
}

// keysCollector reads each zone's memory use at scrape time.
type keysCollector struct{}

func (keysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descKeys
	ch <- descEvictions
	ch <- descLive
}

func (keysCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	zones.Range(func(_, v any) bool {
		zs := v.(*zoneState)
		if seen[zs.name] {
			return true // a second state of one name (other settings): the scrape shows the first
		}
		seen[zs.name] = true
		ch <- prometheus.MustNewConstMetric(descKeys, prometheus.GaugeValue, float64(zs.store.size()), zs.name)
		ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(zs.store.evictions.Load()), zs.name)
		ch <- prometheus.MustNewConstMetric(descLive, prometheus.CounterValue, float64(zs.store.evictedLive.Load()), zs.name)
		return true
	})
}
