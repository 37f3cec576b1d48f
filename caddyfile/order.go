// Package caddyfile is Frontdesk's Caddyfile surface as a whole: it is the one
// place that places Frontdesk's handler directives in Caddy's directive order,
// and it holds the example Caddyfiles and the golden adapt tests.
package caddyfile

import "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

// init registers the position of every Frontdesk handler directive relative
// to Caddy's standard directives. All registrations live in this one function
// so that their relative order is fixed: several directives placed before the
// same standard directive keep the order in which they are registered here.
func init() {
	// route_breaker wraps what serves the route from backends
	// (reverse_proxy, php_fastcgi, file_server), and comes after the
	// directives that answer on the proxy's own behalf (respond, error),
	// whose statuses say nothing about the backends.
	httpcaddyfile.RegisterDirectiveOrder("route_breaker", httpcaddyfile.Before, "reverse_proxy")

	// access_rules (the firewall) and then request_limit come before
	// authentication (basic_auth, forward_auth, and Frontdesk's own auth
	// directives, which are registered after these two, before basic_auth):
	// a denied network or an exhausted limit is answered before any
	// credential is checked, so neither costs a signature check and a
	// per-IP limit also guards the credential check against guessing.
	// They come after rewrite, uri and try_files, so their rules see the
	// path the route will serve. Rules and zones on the authenticated
	// user need authentication to have run: put them in a route block
	// after the auth directive (see the README).
	httpcaddyfile.RegisterDirectiveOrder("access_rules", httpcaddyfile.Before, "basic_auth")
	httpcaddyfile.RegisterDirectiveOrder("request_limit", httpcaddyfile.Before, "basic_auth")
	// The authentication directives sit between Caddy's basic_auth and
	// forward_auth: after the rewrites (so they see the final path),
	// before request_header and before anything that answers or proxies.
	// A route with both checks a JWT first.
	httpcaddyfile.RegisterDirectiveOrder("verify_jwt", httpcaddyfile.Before, "forward_auth")
	httpcaddyfile.RegisterDirectiveOrder("verify_api_key", httpcaddyfile.Before, "forward_auth")

	// frontdesk_dashboard answers on its own, like Caddy's metrics
	// handler, so it sits right after metrics: after the firewall, rate
	// limits and authentication (which guard it like any route), before
	// route_breaker and reverse_proxy (its answers say nothing about the
	// backends).
	httpcaddyfile.RegisterDirectiveOrder("frontdesk_dashboard", httpcaddyfile.After, "metrics")
}
