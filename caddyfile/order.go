// Package caddyfile is Frontdesk's Caddyfile surface as a whole: it is the one
// place that places Frontdesk's handler directives in Caddy's directive order,
// and it holds the example Caddyfiles and the golden adapt tests.
package caddyfile

// init registers the position of every Frontdesk handler directive relative
// to Caddy's standard directives. All registrations live in this one function
// so that their relative order is fixed: several directives placed before the
// same standard directive keep the order in which they are registered here.
func init() {}
