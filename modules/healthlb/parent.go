package healthlb

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// parentHandler returns the reverse_proxy handler whose module is being
// provisioned with ctx, or nil. Caddy lists the modules being loaded from
// the outermost down (caddy.Context.Modules), so the handler is the nearest
// one above the current module. reverse_proxy loads its transport before its
// selection policy, so a policy finds the handler's transport loaded.
func parentHandler(ctx caddy.Context) *reverseproxy.Handler {
	mods := ctx.Modules()
	for i := len(mods) - 1; i >= 0; i-- {
		if h, ok := mods[i].(*reverseproxy.Handler); ok {
			return h
		}
	}
	return nil
}
