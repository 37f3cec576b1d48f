package mysqlproxy

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// checkHTTPClash refuses a listen address that a server of the config's
// http app also listens on. Caddy binds TCP listeners with SO_REUSEPORT (so
// that reloads can rebind), so the two would not fail with "address in
// use": both would bind, and the kernel would split the connections between
// HTTP and MySQL.
func (a *App) checkHTTPClash(ctx caddy.Context) error {
	app, err := ctx.AppIfConfigured("http")
	if err != nil {
		// No http app, or one that failed to load and reports it itself.
		return nil
	}
	httpApp, ok := app.(*caddyhttp.App)
	if !ok {
		return nil
	}
	type httpListener struct {
		server, listen string
		addr           caddy.NetworkAddress
	}
	var theirs []httpListener
	repl := caddy.NewReplacer()
	for srvName, srv := range httpApp.Servers {
		for _, l := range srv.Listen {
			if na, err := caddy.ParseNetworkAddress(repl.ReplaceAll(l, "")); err == nil {
				theirs = append(theirs, httpListener{srvName, l, na})
			}
		}
	}
	for _, name := range a.names() {
		s := a.Servers[name]
		for i, ours := range s.addrs {
			for _, h := range theirs {
				if sameSocket(ours, h.addr) {
					return fmt.Errorf("server %q: listen[%d] %q: the http app's server %q listens on %q too; "+
						"Caddy binds both with SO_REUSEPORT, so they would split the connections", name, i, s.Listen[i], h.server, h.listen)
				}
			}
		}
	}
	return nil
}

// sameSocket reports whether two listen addresses take the same
// connections: unix sockets at one path, or TCP addresses whose ports
// overlap on the same host or with a wildcard host on either side.
func sameSocket(a, b caddy.NetworkAddress) bool {
	if a.IsUnixNetwork() || b.IsUnixNetwork() {
		return a.IsUnixNetwork() && b.IsUnixNetwork() && a.Host == b.Host
	}
	if !strings.HasPrefix(a.Network, "tcp") || !strings.HasPrefix(b.Network, "tcp") {
		return false // HTTP/3 listens on UDP
	}
	if a.EndPort < b.StartPort || b.EndPort < a.StartPort {
		return false
	}
	return a.Host == b.Host || anyHost(a.Host) || anyHost(b.Host)
}

// anyHost reports whether a listen host is a wildcard.
func anyHost(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
