package healthlb

import (
	"context"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// watchRecoveries restarts an upstream's slow start when Caddy's active
// health checks find it healthy again (the "healthy" event that
// reverse_proxy emits on that transition), so that a recovered upstream is
// ramped up rather than handed its full share at once. Only handlers with
// active health checks emit it.
func (t *ObservedTransport) watchRecoveries(ctx caddy.Context, h *reverseproxy.Handler) error {
	if h.HealthChecks == nil || h.HealthChecks.Active == nil {
		return nil
	}
	app, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("events app: %v", err)
	}
	r := recoveryHandler{sb: t.scope.sb, dials: map[string][]string{}}
	for _, u := range h.Upstreams {
		if host, ok := healthEventHost(u.Dial, h.HealthChecks.Active.Port); ok {
			r.dials[host] = append(r.dials[host], u.Dial)
		}
	}
	return app.(*caddyevents.App).On("healthy", r)
}

// healthEventHost is the "host" that reverse_proxy's health events give
// the upstream with this dial address: its host and port, with the
// health_port instead if one is set, and "localhost" for unix sockets (as
// Caddy's active health checker computes it). A dial address with
// placeholders has none.
func healthEventHost(dial string, healthPort int) (string, bool) {
	if strings.Contains(dial, "{") {
		return "", false
	}
	addr, err := caddy.ParseNetworkAddress(dial)
	if err != nil || addr.PortRangeSize() != 1 && healthPort == 0 {
		return "", false
	}
	if healthPort != 0 {
		if addr.IsUnixNetwork() || addr.IsFdNetwork() {
			addr.Network = "tcp"
		}
		addr.StartPort, addr.EndPort = uint(healthPort), uint(healthPort)
	}
	if addr.IsUnixNetwork() || addr.IsFdNetwork() {
		return "localhost", true
	}
	return addr.JoinHostPort(0), true
}

// recoveryHandler begins the slow start of the upstream an event names.
// dials maps an event's host to the dial addresses of the handler's
// upstreams that have it (several for unix sockets, which all have
// "localhost": each of them begins its slow start).
type recoveryHandler struct {
	sb    *Scoreboard
	dials map[string][]string
}

// Handle implements caddyevents.Handler.
func (r recoveryHandler) Handle(_ context.Context, e caddy.Event) error {
	host, ok := e.Data["host"].(string)
	if !ok {
		return nil
	}
	dials, ok := r.dials[host]
	if !ok {
		dials = []string{host}
	}
	for _, dial := range dials {
		if u := r.sb.Get(dial); u != nil {
			u.BeginSlowStart()
		}
	}
	return nil
}

// Interface guard
var _ caddyevents.Handler = recoveryHandler{}
