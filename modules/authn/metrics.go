package authn

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdesk-proxy/frontdesk/internal/promreg"
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
)

// registerMetrics registers the package's collectors into the config's
// registry.
func registerMetrics(ctx caddy.Context) error {
	return promreg.Register(ctx, authResults, jwksFetches)
}
