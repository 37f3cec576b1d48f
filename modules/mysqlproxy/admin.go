package mysqlproxy

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(adminAPI{})
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
	return []caddy.AdminRoute{{Pattern: "/mysql/servers", Handler: caddy.AdminHandlerFunc(serveServers)}}
}

func serveServers(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(allStatus())
}

var _ caddy.AdminRouter = adminAPI{}
