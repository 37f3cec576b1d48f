package firewall

import (
	"net/http"
	"net/url"
	"strings"
)

// setCanonicalPath replaces the request's path with its canonical form.
// It reads the path as the client sent it (the request target), not Go's
// re-encoding of the decoded path, which loses the difference between
// "/" and "%2F"; if a handler before it rewrote the URL without the
// request target (Caddy's own rewrites keep both in step), the URL wins.
func setCanonicalPath(r *http.Request) error {
	escaped := r.URL.EscapedPath()
	if target, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(target, "/") {
		if decoded, err := url.PathUnescape(target); err == nil && decoded == r.URL.Path {
			escaped = target
		}
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
