package authn

import (
	"fmt"
	"net/http"
	"net/textproto"

	"golang.org/x/net/http/httpguts"
)

// identity is what a provider learned about the caller: the user id and
// metadata that become {http.auth.user.*} placeholders, and the values of
// the request headers it sends upstream. It is immutable once built, so a
// cached identity is shared by every request that presents the same
// credential.
type identity struct {
	id       string
	metadata map[string]string
	// headers maps a canonical header name to its value; a configured
	// header whose source is absent has no entry here and is only
	// removed.
	headers map[string]string
}

// forwarding is a provider's set of upstream identity headers: for every
// configured header, where its value comes from (a claim, or a field of an
// API key).
type forwarding struct {
	// from maps a canonical header name to its source.
	from map[string]string
}

// newForwarding checks the configured source → header map and turns it
// around.
func newForwarding(headers map[string]string) (forwarding, error) {
	f := forwarding{from: make(map[string]string, len(headers))}
	for source, name := range headers {
		if !httpguts.ValidHeaderFieldName(name) {
			return f, fmt.Errorf("forwarding %q: %q is not a valid header name", source, name)
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if other, dup := f.from[canon]; dup {
			return f, fmt.Errorf("header %s is set from both %q and %q", canon, other, source)
		}
		f.from[canon] = source
	}
	return f, nil
}

// values builds the header values of an identity from its sources; a
// value that cannot travel in a header (control characters) is an error.
func (f forwarding) values(value func(source string) (string, bool)) (map[string]string, error) {
	out := make(map[string]string, len(f.from))
	for name, source := range f.from {
		v, ok := value(source)
		if !ok {
			continue
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return nil, fmt.Errorf("the value of %q cannot be sent in header %s", source, name)
		}
		out[name] = v
	}
	return out, nil
}

// apply removes every configured header the client sent, whatever its
// case, and sets those the identity has a value for, so that the upstream
// sees only values the provider vouches for.
func (f forwarding) apply(h http.Header, id *identity) {
	for name := range f.from {
		delete(h, name)
		if v, ok := id.headers[name]; ok {
			h[name] = []string{v}
		}
	}
}
