// Package promreg registers a package's Prometheus collectors into the
// metrics registry of each config load. Collectors live at package level,
// so counters survive reloads; Caddy makes a new registry per load, shared
// by every module of that config, so an earlier registration of the same
// collector is fine.
package promreg

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Register registers collectors into ctx's metrics registry.
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
