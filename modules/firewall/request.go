package firewall

import (
	"net/http"
	"strings"
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
