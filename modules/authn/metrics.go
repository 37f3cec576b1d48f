package authn

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// The collectors live at package level, so counters survive reloads; every
// Provision registers them into its config's registry.
var (
	authResults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "frontdesk_auth",
		Name: "requests_total",
		Help: "Requests seen by a Frontdesk authentication provider, by result (ok or the reason of the failure).",
	}, []string{"provider", "result"})
	jwksFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "frontdesk_auth",
		Name: "jwks_fetches_total",
		Help: "Fetches of remote JWKS sets, by URL and result (ok or error).",
	}, []string{"url", "result"})
	collectors = []prometheus.Collector{authResults, jwksFetches}
)

// registerMetrics registers the package's collectors into the config's
// registry; several modules share it, so an existing registration is fine.
func registerMetrics(ctx caddy.Context) error {
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
