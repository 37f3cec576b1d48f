package dashboard

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("frontdesk_dashboard", parseCaddyfile)
}

// UnmarshalCaddyfile sets up the dashboard from Caddyfile tokens. Syntax:
//
//	frontdesk_dashboard [<matcher>] {
//		title   <text>
//		history <duration>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.Errf("frontdesk_dashboard takes no arguments, got %q; options go in its block", d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "title":
			if !d.AllArgs(&h.Title) {
				return d.Errf("title: want one argument (quote a title with spaces)")
			}
		case "history":
			var s string
			if !d.AllArgs(&s) {
				return d.Errf("history: want one duration, such as 5m")
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil {
				return d.Errf("history %q: %v", s, err)
			}
			h.History = caddy.Duration(dur)
		default:
			return d.Errf("unknown frontdesk_dashboard option %q (want title or history)", opt)
		}
	}
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	dh := new(Handler)
	err := dh.UnmarshalCaddyfile(h.Dispenser)
	return dh, err
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
