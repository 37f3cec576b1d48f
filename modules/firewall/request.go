package firewall

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// setCanonicalPath replaces the request's path with its canonical form.
// It reads the path as the client sent it (the request target), not Go's
// re-encoding of the decoded path, which loses the difference between
// "/" and "%2F".
func setCanonicalPath(r *http.Request) error {
	escaped := r.URL.EscapedPath()
	if target := r.RequestURI; strings.HasPrefix(target, "/") {
		escaped, _, _ = strings.Cut(target, "?")
	}
	if !strings.HasPrefix(escaped, "/") {
		return nil // "*" of OPTIONS, or no path at all
	}
	raw, decoded, err := canonicalPath(escaped)
	if err != nil {
		return err
	}
	if raw == escaped && decoded == r.URL.Path {
		return nil
	}
	r.URL.Path, r.URL.RawPath = decoded, raw
	r.RequestURI = r.URL.RequestURI()
	return nil
}

// clientAddr is the normalised client address Caddy determined for the
// request (from its trusted proxies), or the zero Addr if it has none.
func clientAddr(r *http.Request) netip.Addr {
	a, err := netip.ParseAddr(clientIPString(r))
	if err != nil {
		return netip.Addr{}
	}
	return normalizeAddr(a)
}

func clientIPString(r *http.Request) string {
	s, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return s
}
