// Package clientip gives Frontdesk's handlers one view of who the client
// is: the address Caddy determined from its trusted proxies, in one
// normalised form, so that the firewall and the rate limiter can never
// disagree about it and no alternative spelling of an address slips past
// either.
package clientip

import (
	"net/http"
	"net/netip"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Normalize returns the one form of an address that rules and limits are
// keyed on: IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d,
// deprecated) IPv6 addresses become the IPv4 address they carry, and
// zones are dropped. :: and ::1 stay IPv6. NAT64 addresses (64:ff9b::/96)
// stay IPv6: the IPv4 address inside them is the destination a translator
// reaches, not who the client is.
func Normalize(a netip.Addr) netip.Addr {
	a = a.WithZone("").Unmap()
	if a.Is6() {
		b := a.As16()
		if b == [16]byte{} || b == [16]byte{15: 1} {
			return a
		}
		for _, x := range b[:12] {
			if x != 0 {
				return a
			}
		}
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return a
}

// Of is the normalised client address Caddy determined for the request:
// the peer, or when the peer is one of the server's trusted proxies, an
// address from its client IP headers. It is the zero Addr if there is
// none (a Unix socket peer without trusted proxies).
func Of(r *http.Request) netip.Addr {
	a, err := netip.ParseAddr(String(r))
	if err != nil {
		return netip.Addr{}
	}
	return Normalize(a)
}

// String is the client IP as Caddy recorded it, for logs.
func String(r *http.Request) string {
	s, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return s
}
