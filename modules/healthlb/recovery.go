package healthlb

import (
	"context"
	"fmt"

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
	return app.(*caddyevents.App).On("healthy", recoveryHandler{sb: t.scope.sb})
}

// recoveryHandler begins the slow start of the upstream an event names.
type recoveryHandler struct{ sb *Scoreboard }

// Handle implements caddyevents.Handler.
func (r recoveryHandler) Handle(_ context.Context, e caddy.Event) error {
	if host, ok := e.Data["host"].(string); ok {
		if u := r.sb.Get(host); u != nil {
			u.BeginSlowStart()
		}
	}
	return nil
}

// Interface guard
var _ caddyevents.Handler = recoveryHandler{}
