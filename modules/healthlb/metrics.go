package healthlb

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdesk-proxy/frontdesk/internal/promreg"
)

const (
	metricsNamespace = "caddy"
	metricsSubsystem = "frontdesk_upstream"
)

// The collectors live at package level, so counters survive reloads; every
// Provision registers them into its config's registry.
var (
	attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "attempts_total",
		Help: "Proxied attempts per upstream, by outcome (success, 5xx, gateway_error, 429).",
	}, []string{"scope", "upstream", "outcome"})
	breakerRejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "breaker_rejections_total",
		Help: "Attempts refused by the upstream's circuit breaker (retried elsewhere as dial errors).",
	}, []string{"scope", "upstream"})
	breakerTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "breaker_transitions_total",
		Help: "Circuit breaker transitions, by the state entered (scope \"route\" for route_breaker, upstream its name).",
	}, []string{"scope", "upstream", "to"})
	ejectionEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "ejection_events_total",
		Help: "Outlier ejection events (ejected, rejoined, ejection_capped).",
	}, []string{"scope", "upstream", "event"})
	statusRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "status_retries_total",
		Help: "Responses of a retry_status turned into a retry on another upstream.",
	}, []string{"scope", "upstream"})
	collectors = []prometheus.Collector{
		attempts, breakerRejections, breakerTransitions, ejectionEvents, statusRetries, stateCollector{},
	}
)

// count increments the counter of upstream in the scope, unless the
// upstream has left the scoreboard: a request of a replaced config that
// ends after its entry was dropped must not bring the deleted series back.
// The counters have one label at most besides scope and upstream.
func (s *scope) count(c *prometheus.CounterVec, upstream string, label ...string) {
	if s.sb.Get(upstream) == nil {
		return
	}
	if len(label) == 0 {
		c.WithLabelValues(s.name, upstream).Inc()
		return
	}
	c.WithLabelValues(s.name, upstream, label[0]).Inc()
}

// forgetUpstreamSeries deletes the counters of an upstream that left its
// scope's scoreboard, so that label sets do not pile up as upstreams come
// and go (dynamic upstreams, reloads).
func forgetUpstreamSeries(scope, upstream string) {
	labels := prometheus.Labels{"scope": scope, "upstream": upstream}
	for _, c := range []*prometheus.CounterVec{attempts, breakerRejections, breakerTransitions, ejectionEvents, statusRetries} {
		c.DeletePartialMatch(labels)
	}
}

// registerMetrics registers the package's collectors into the config's
// registry.
func registerMetrics(ctx caddy.Context) error { return promreg.Register(ctx, collectors...) }

// The gauges of stateCollector, read from the scoreboards at scrape time.
var (
	descCost     = stateDesc("cost", "Peak-EWMA selection cost (nanoseconds x load) at a static weight of 1.")
	descLatency  = stateDesc("latency_seconds", "Decayed Peak-EWMA latency estimate.")
	descInFlight = stateDesc("in_flight", "Requests in flight.")
	descBreaker  = stateDesc("breaker_state", "Circuit breaker state: 0 none, 1 closed, 2 half-open, 3 open.")
	descEjected  = stateDesc("ejected", "1 while the upstream is ejected.")
	descEjects   = stateDesc("ejection_multiplier", "Ejection multiplier: the next ejection lasts that many plus one base times.")
	descWeight   = stateDesc("weight_factor", "Slow-start (or half-open) factor of the static weight, in (0, 1].")
)

func stateDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, name),
		help, []string{"scope", "upstream"}, nil)
}

// stateCollector exports every scoreboard entry as gauges.
type stateCollector struct{}

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCost, descLatency, descInFlight, descBreaker, descEjected, descEjects, descWeight} {
		ch <- d
	}
}

func (stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sc := range allScopes() {
		for _, s := range sc.Upstreams {
			gauge := func(d *prometheus.Desc, v float64) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, sc.Scope, s.Address)
			}
			ejected := 0.0
			if s.Ejected {
				ejected = 1
			}
			gauge(descCost, s.Cost)
			gauge(descLatency, s.Latency.Seconds())
			gauge(descInFlight, float64(s.InFlight))
			gauge(descBreaker, float64(s.Breaker))
			gauge(descEjected, ejected)
			gauge(descEjects, float64(s.Ejections))
			gauge(descWeight, s.WeightFactor)
		}
	}
}
