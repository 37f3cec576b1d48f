// Package metricsreg registers a module's Prometheus collectors into the
// registry of the config being loaded. Collectors live at package level,
// so their counts survive reloads; every config load gets a new registry,
// which every Provision registers them into again.
package metricsreg

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Register adds collectors to ctx's metrics registry (served on the admin
// API's /metrics). Several modules of one config share that registry, so
// a collector already registered is not an error.
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
