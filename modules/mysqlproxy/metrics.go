package mysqlproxy

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdesk-proxy/frontdesk/internal/promreg"
)

// collector exposes the mysql app's counters and backend states as
// Prometheus metrics, read at scrape time from the same state the admin API
// shows, so the two never disagree.
type collector struct{}

func metricDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName("caddy", "frontdesk_mysql", name), help, labels, nil)
}

var (
	descSessionsOpen   = metricDesc("sessions_open", "Client sessions open now.", "server")
	descSessionsTotal  = metricDesc("sessions_total", "Client sessions since the process started.", "server")
	descSessionsClosed = metricDesc("sessions_closed_total", "Ended client sessions, by how they ended.", "server", "reason")
	descSessionsPinned = metricDesc("session_pins_total", "Sessions bound to the primary for the rest of their life, by why.", "server", "reason")
	descLoginFailures  = metricDesc("login_failures_total", "Refused client logins.", "server")
	descUnauth         = metricDesc("connections_unauthenticated", "Open client connections that have not logged in yet.", "server")
	descRefused        = metricDesc("connections_refused_total", "Client connections turned away before their greeting, by why.", "server", "reason")
	descStatements     = metricDesc("statements_total", "Commands run, by where they ran.", "server", "target")
	descErrors         = metricDesc("errors_total", "Commands answered with an error, by a backend or the proxy.", "server")
	descUsable         = metricDesc("backend_usable", "1 if the backend takes new work (replicas: reads under the lag limit).", "server", "backend", "role")
	descBreaker        = metricDesc("backend_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", "server", "backend", "role")
	descConns          = metricDesc("backend_open_connections", "Sessions' open connections to the backend.", "server", "backend", "role")
	descInFlight       = metricDesc("backend_in_flight", "Commands running on the backend.", "server", "backend", "role")
	descRouted         = metricDesc("backend_routed_total", "Commands sent to the backend.", "server", "backend", "role")
	descLag            = metricDesc("backend_replication_lag_seconds", "Seconds_Behind_Master as the monitor last saw it (absent when unknown).", "server", "backend", "role")
	descReachable      = metricDesc("backend_reachable", "1 if the monitor reached the backend at its last check.", "server", "backend", "role")
	descPoolConns      = metricDesc("pool_connections", "Pooled connections to the backend, by state: idle or in_use.", "server", "backend", "role", "state")
	descPoolWaiting    = metricDesc("pool_waiting", "Sessions waiting for a pooled connection to the backend.", "server", "backend", "role")
	descMultiplexing   = metricDesc("multiplexing_ratio", "Open client sessions per pooled backend connection.", "server")
	descPoolEvents     = metricDesc("pool_events_total", "Pool events: borrows of idle connections, creates, resets, timeouts.", "server", "backend", "role", "event")
)

// Describe sends the descriptions of every metric.
func (collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(collector{}, ch) }

// Collect sends the current values.
func (collector) Collect(ch chan<- prometheus.Metric) {
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	for name, st := range allStatus() {
		ch <- prometheus.MustNewConstMetric(descSessionsOpen, gauge, float64(st.SessionsOpen), name)
		ch <- prometheus.MustNewConstMetric(descSessionsTotal, counter, float64(st.SessionsTotal), name)
		ch <- prometheus.MustNewConstMetric(descLoginFailures, counter, float64(st.LoginFailures), name)
		ch <- prometheus.MustNewConstMetric(descUnauth, gauge, float64(st.Unauthenticated), name)
		for reason, n := range st.ConnectionsRefused {
			ch <- prometheus.MustNewConstMetric(descRefused, counter, float64(n), name, reason)
		}
		for reason, n := range st.SessionsClosed {
			ch <- prometheus.MustNewConstMetric(descSessionsClosed, counter, float64(n), name, reason)
		}
		for reason, n := range st.SessionsPinned {
			ch <- prometheus.MustNewConstMetric(descSessionsPinned, counter, float64(n), name, reason)
		}
		ch <- prometheus.MustNewConstMetric(descStatements, counter, float64(st.StatementsPrimary), name, "primary")
		ch <- prometheus.MustNewConstMetric(descStatements, counter, float64(st.StatementsReplica), name, "replica")
		ch <- prometheus.MustNewConstMetric(descErrors, counter, float64(st.Errors), name)
		if r := st.MultiplexingRatio; r != nil {
			ch <- prometheus.MustNewConstMetric(descMultiplexing, gauge, *r, name)
		}
		for _, b := range st.Backends {
			labels := []string{name, b.Address, b.Role}
			ch <- prometheus.MustNewConstMetric(descUsable, gauge, boolValue(b.Usable), labels...)
			ch <- prometheus.MustNewConstMetric(descBreaker, gauge, float64(b.breakerState), labels...)
			ch <- prometheus.MustNewConstMetric(descConns, gauge, float64(b.OpenConnections), labels...)
			ch <- prometheus.MustNewConstMetric(descInFlight, gauge, float64(b.InFlight), labels...)
			ch <- prometheus.MustNewConstMetric(descRouted, counter, float64(b.Routed), labels...)
			if p := b.Pool; p != nil {
				ch <- prometheus.MustNewConstMetric(descPoolConns, gauge, float64(p.Idle), append(labels, "idle")...)
				ch <- prometheus.MustNewConstMetric(descPoolConns, gauge, float64(p.InUse), append(labels, "in_use")...)
				ch <- prometheus.MustNewConstMetric(descPoolWaiting, gauge, float64(p.Waiting), labels...)
				for event, n := range map[string]int64{"borrow": p.Borrows, "create": p.Creates, "reset": p.Resets, "timeout": p.Timeouts} {
					ch <- prometheus.MustNewConstMetric(descPoolEvents, counter, float64(n), append(labels, event)...)
				}
			}
			if h := b.Health; h != nil {
				ch <- prometheus.MustNewConstMetric(descReachable, gauge, boolValue(h.Reachable), labels...)
				if h.Lag != nil {
					ch <- prometheus.MustNewConstMetric(descLag, gauge, h.Lag.Seconds(), labels...)
				}
			}
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// registerMetrics adds the collector to the config's metrics registry,
// served on the admin API's /metrics.
func registerMetrics(ctx caddy.Context) error {
	return promreg.Register(ctx, collector{})
}

var _ prometheus.Collector = collector{}
