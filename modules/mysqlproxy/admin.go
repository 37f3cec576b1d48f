package mysqlproxy

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
)

func init() {
	caddy.RegisterModule(adminAPI{})
	adminjson.Register("mysql", func() any { return allStatus() })
}

// adminAPI serves the mysql app's state on the admin API:
//
//	GET /mysql/servers   every server's counters and backends, by server name
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.mysql",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes of the mysql app.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{adminjson.Route("/mysql/servers", func() any { return allStatus() })}
}

var _ caddy.AdminRouter = adminAPI{}
