package reloadsafe

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
)

func init() {
	caddy.RegisterModule(adminGenerations{})
	adminjson.Register("reload_safe", func() any { return allGenerations() })
}

// adminGenerations is the admin API route /reload_safe/generations: every
// config generation of the reload_safe wrapper that still serves or still
// has connections open, with its connections per listener. A generation
// whose state is "draining" was replaced by a reload; its connections are
// the ones still draining.
type adminGenerations struct{}

// CaddyModule returns the Caddy module information.
func (adminGenerations) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.reload_safe",
		New: func() caddy.Module { return new(adminGenerations) },
	}
}

// Routes returns the route of the /reload_safe/generations endpoint.
func (adminGenerations) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{adminjson.Route("/reload_safe/generations", func() any { return allGenerations() })}
}

// Interface guard
var _ caddy.AdminRouter = (*adminGenerations)(nil)
