package ratelimit

import (
	"cmp"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
)

func init() {
	caddy.RegisterModule(adminRateLimits{})
	adminjson.Register("rate_limits", func() any { return zonesState() })
}

// adminRateLimits is the admin API route /frontdesk/rate_limits: every
// zone's settings, keys in memory, evictions and decisions by outcome. It
// reads package-level state, so it answers during reloads too.
type adminRateLimits struct{}

// CaddyModule returns the Caddy module information.
func (adminRateLimits) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.frontdesk_rate_limits",
		New: func() caddy.Module { return new(adminRateLimits) },
	}
}

// Routes returns the /frontdesk/rate_limits route.
func (adminRateLimits) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{adminjson.Route("/frontdesk/rate_limits", func() any { return zonesState() })}
}

func zonesState() []zoneStatus {
	out := []zoneStatus{}
	zones.Range(func(_, v any) bool {
		out = append(out, v.(*zoneState).status())
		return true
	})
	slices.SortFunc(out, func(a, b zoneStatus) int { return cmp.Compare(a.Zone, b.Zone) })
	return out
}

// Interface guard
var _ caddy.AdminRouter = (*adminRateLimits)(nil)
