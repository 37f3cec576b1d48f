package firewall

import "github.com/prometheus/client_golang/prometheus"

// The collectors live at package level, so counters survive reloads; every
// Provision registers them into its config's registry.
var (
	ruleHits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "frontdesk_firewall",
		Name: "rule_hits_total",
		Help: "Requests matched by a firewall rule (rule \"default\": decided by the default action).",
	}, []string{"firewall", "rule", "action"})
	pathRejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "frontdesk_firewall",
		Name: "path_rejections_total",
		Help: "Requests refused with 400 because their path was ambiguous.",
	}, []string{"firewall"})
	listFileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "frontdesk_firewall",
		Name: "network_file_errors_total",
		Help: "Failed re-reads of a network file (the previous list stayed in force).",
	}, []string{"path"})
	collectors = []prometheus.Collector{ruleHits, pathRejections, listFileErrors}
)
