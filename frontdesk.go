// Package frontdesk is the root of the Frontdesk Caddy distribution.
// Importing it (as `xcaddy build --with github.com/frontdesk-proxy/frontdesk`
// does) plugs every Frontdesk module into Caddy.
package frontdesk

import (
	// The Caddyfile surface: directive order for all Frontdesk directives.
	_ "github.com/frontdesk-proxy/frontdesk/caddyfile"

	// The capabilities, one package each.
	_ "github.com/frontdesk-proxy/frontdesk/modules/authn"
	_ "github.com/frontdesk-proxy/frontdesk/modules/dashboard"
	_ "github.com/frontdesk-proxy/frontdesk/modules/firewall"
	_ "github.com/frontdesk-proxy/frontdesk/modules/healthlb"
	_ "github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy"
	_ "github.com/frontdesk-proxy/frontdesk/modules/ratelimit"
	_ "github.com/frontdesk-proxy/frontdesk/modules/reloadsafe"
)
