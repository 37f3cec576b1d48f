package reloadsafe

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdesk-proxy/frontdesk/internal/promreg"
)

const (
	metricsNamespace = "caddy"
	metricsSubsystem = "frontdesk_reload"
)

// The collectors live at package level, so counters survive reloads; every
// Provision registers them into its config's registry.
var (
	handoffs = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "handoffs_total",
		Help: "Connections a replaced config handed to a newer one between requests.",
	})
	drainTimeouts = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "drain_timeout_closes_total",
		Help: "Connections of a replaced config closed because drain_timeout ended.",
	})
	descConnections = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "connections"),
		"Open connections per config generation; state \"draining\" once a reload replaced it.",
		[]string{"generation", "state"}, nil)
	collectors = []prometheus.Collector{handoffs, drainTimeouts, generationCollector{}}
)

// registerMetrics registers the package's collectors into the config's
// registry.
func registerMetrics(ctx caddy.Context) error { return promreg.Register(ctx, collectors...) }

// generationCollector exports the open connections of every live
// generation; a generation's series goes away with its last connection.
type generationCollector struct{}

func (generationCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descConnections }

func (generationCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range allGenerations() {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue,
			float64(g.Connections), strconv.FormatUint(g.Generation, 10), g.State)
	}
}
