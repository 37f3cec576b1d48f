// Package metricsreg registers a module's package-level Prometheus
// collectors into the registry of the config being loaded.
package metricsreg

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Register registers collectors into ctx's metrics registry (Caddy makes a
// new one for every config load). Collectors live at package level, so
// that counters survive reloads, and several modules of one config share
// the registry: a collector registered already is fine.
func Register(ctx caddy.Context, collectors ...prometheus.Collector) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}
