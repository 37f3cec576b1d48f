package healthlb

import (
	"cmp"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
)

func init() {
	caddy.RegisterModule(adminUpstreams{})
	adminjson.Register("upstreams", func() any { return allScopes() })
	adminjson.Register("route_breakers", func() any { return routeBreakersState() })
}

// adminUpstreams is the admin API route /frontdesk/upstreams: the
// scoreboard of every scope, with each upstream's cost, latency estimate,
// requests in flight, outcome window and totals, breaker state, ejections,
// slow-start factor and state in a word; and /frontdesk/route_breakers:
// the state of every route_breaker, by name. Like reverse_proxy's /reverse_proxy/upstreams it is
// stateless and reads the package-level scopes, so it answers during
// reloads too.
type adminUpstreams struct{}

// CaddyModule returns the Caddy module information.
func (adminUpstreams) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.frontdesk_upstreams",
		New: func() caddy.Module { return new(adminUpstreams) },
	}
}

// Routes returns the routes of the /frontdesk/upstreams and
// /frontdesk/route_breakers endpoints.
func (adminUpstreams) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		adminjson.Route("/frontdesk/upstreams", func() any { return allScopes() }),
		adminjson.Route("/frontdesk/route_breakers", func() any { return routeBreakersState() }),
	}
}

// scopeStatus is one scope in the answer of /frontdesk/upstreams.
type scopeStatus struct {
	Scope     string     `json:"scope"`
	Upstreams []Snapshot `json:"upstreams"`
}

// allScopes returns the snapshots of every scope, ordered by scope name.
func allScopes() []scopeStatus {
	out := []scopeStatus{}
	scopes.Range(func(_, v any) bool {
		s := v.(*scope)
		out = append(out, scopeStatus{Scope: s.name, Upstreams: s.sb.Snapshots()})
		return true
	})
	slices.SortFunc(out, func(a, b scopeStatus) int { return cmp.Compare(a.Scope, b.Scope) })
	return out
}

// Interface guard
var _ caddy.AdminRouter = (*adminUpstreams)(nil)
