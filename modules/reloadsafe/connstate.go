package reloadsafe

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The HTTP server knows when a connection waits between requests; a conn
// of this package must know it too. Caddy wraps the conns our listener
// returns (for HTTP/2 detection and TLS state) in types that pass on only
// net.Conn's methods, so the server's ConnState hook reaches the conn with
// SetReadDeadline and a time that stands for the state: an instant in 1970
// that no code sets as a deadline.
var signalBase = time.Unix(2, 718_281_828)

// signalTime is the read deadline that carries state s.
func signalTime(s http.ConnState) time.Time {
	return signalBase.Add(time.Duration(s))
}

// signalState returns the state that t carries, if it is a state signal.
func signalState(t time.Time) (http.ConnState, bool) {
	d := t.Sub(signalBase)
	if d < 0 || d > time.Duration(http.StateClosed) {
		return 0, false
	}
	return http.ConnState(d), true
}

// sendState is the ConnState hook of every server that lists the wrapper:
// it tells the conn below what the server just did with it.
func sendState(c net.Conn, s http.ConnState) {
	if s == http.StateClosed {
		return
	}
	_ = c.SetReadDeadline(signalTime(s))
}

// hookedApps holds the http apps whose servers got the hook, so that the
// wrappers of several servers of one app register it once per server.
var hookedApps sync.Map // *caddyhttp.App -> struct{}

// hookServers registers sendState on every server of the http app being
// provisioned (the nearest one in ctx's lineage) that lists the wrapper.
// It returns the app, or nil when the wrapper is not used by the http app
// (a conn then never learns it is between requests and is never handed off).
func hookServers(ctx caddy.Context) *caddyhttp.App {
	mods := ctx.Modules()
	for i := len(mods) - 1; i >= 0; i-- {
		app, ok := mods[i].(*caddyhttp.App)
		if !ok {
			continue
		}
		if _, loaded := hookedApps.LoadOrStore(app, struct{}{}); !loaded {
			for _, srv := range app.Servers {
				if listsWrapper(srv.ListenerWrappersRaw) {
					srv.RegisterConnState(sendState)
				}
			}
		}
		return app
	}
	return nil
}

// listsWrapper reports whether a server's listener_wrappers include ours.
func listsWrapper(raws []json.RawMessage) bool {
	for _, raw := range raws {
		var w struct {
			Wrapper string `json:"wrapper"`
		}
		if json.Unmarshal(raw, &w) == nil && w.Wrapper == wrapperName {
			return true
		}
	}
	return false
}
