package authn

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"
)

func init() {
	caddy.RegisterModule(APIKeyAuth{})
}

// APIKeyAuth authenticates requests by an API key, sent in a header
// (default X-API-Key) or, when configured, a query parameter. Keys are
// stored only as SHA-256 hashes (a high-entropy key needs no slow hash);
// the presented key is hashed and compared in constant time. The key is
// removed from the request before it goes on, so it never reaches the
// upstream or the access log; a request with the key twice (two headers,
// or a header and the parameter) is refused.
//
// On success {http.auth.user.id} is the key's id, {http.auth.user.owner}
// its owner and {http.auth.user.scopes} its scopes, space-separated. The
// forwarded request headers are always removed from what the client sent
// and set from the key. A missing or unknown key gets 401 with
// `WWW-Authenticate: APIKey realm="…", header="X-API-Key"`; a valid key
// without a required scope gets 403.
type APIKeyAuth struct {
	// The accepted keys.
	Keys []APIKey `json:"keys,omitempty"`

	// A file of more accepted keys, read at config load: one key per line,
	// `<id> sha256:<hash> [scopes=<a>,<b>] [owner=<name>]`, with # comments.
	KeysFile string `json:"keys_file,omitempty"`

	// The request header that carries the key. Default: X-API-Key.
	Header string `json:"header,omitempty"`

	// A query parameter that may carry the key instead. Default: none.
	FromQuery string `json:"from_query,omitempty"`

	// Scopes every key must have here; a valid key that lacks one gets 403.
	RequireScopes []string `json:"require_scopes,omitempty"`

	// Fields of the key to send to the upstream as request headers, field
	// (id, owner or scopes) → header name, such as {"id": "X-Client-Id"}.
	// Any header of those names the client sent is removed first.
	Forward map[string]string `json:"forward,omitempty"`

	// The realm of the WWW-Authenticate challenge. Default: "restricted".
	Realm string `json:"realm,omitempty"`

	// headerKey is Header in canonical form, the key of http.Header.
	headerKey  string
	store      *keyStore
	forwarding forwarding
	gate
}

// CaddyModule returns the Caddy module information.
func (APIKeyAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.authentication.providers.hashed_api_key",
		New: func() caddy.Module { return new(APIKeyAuth) },
	}
}

// Provision reads the keys.
func (a *APIKeyAuth) Provision(ctx caddy.Context) error {
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	if a.Header == "" {
		a.Header = "X-API-Key"
	}
	if a.Realm == "" {
		a.Realm = "restricted"
	}
	a.headerKey = textproto.CanonicalMIMEHeaderKey(a.Header)
	a.gate = newGate("hashed_api_key", "APIKey", a.Realm, "header="+strconv.Quote(a.Header), ctx.Logger())
	keys := slices.Clone(a.Keys)
	if a.KeysFile != "" {
		more, err := readKeysFile(a.KeysFile)
		if err != nil {
			return fmt.Errorf("keys_file: %v", err)
		}
		keys = append(keys, more...)
	}
	a.store = newKeyStore()
	ids := map[string]bool{}
	for _, k := range keys {
		if err := a.store.add(k, ids); err != nil {
			return err
		}
	}
	for field := range a.Forward {
		if field != "id" && field != "owner" && field != "scopes" {
			return fmt.Errorf("forward %q: a key has the fields id, owner and scopes", field)
		}
	}
	var err error
	if a.forwarding, err = newForwarding(a.Forward); err != nil {
		return fmt.Errorf("forward: %v", err)
	}
	// The values are fixed per key: build them once.
	for _, ks := range a.store.byPrefix {
		for _, k := range ks {
			if k.id.headers, err = a.forwarding.values(func(field string) (string, bool) {
				if field == "id" {
					return k.id.id, true
				}
				v, ok := k.id.metadata[field]
				return v, ok
			}); err != nil {
				return fmt.Errorf("key %q: %v", k.id.id, err)
			}
		}
	}
	return nil
}

// Validate checks that some key can pass.
func (a *APIKeyAuth) Validate() error {
	if a.store.size == 0 {
		return fmt.Errorf("no keys: give a key or a keys_file")
	}
	if !httpguts.ValidHeaderFieldName(a.Header) {
		return fmt.Errorf("header %q is not a valid header name", a.Header)
	}
	return nil
}

// The failures of API keys.
var (
	errNoKey  = failure{http.StatusUnauthorized, "", "missing_credentials", "This resource needs an API key."}
	errBadKey = failure{http.StatusUnauthorized, "invalid_token", "invalid_key", "The API key is not valid."}
)

// Authenticate checks the request's API key.
func (a *APIKeyAuth) Authenticate(w http.ResponseWriter, r *http.Request) (caddyauth.User, bool, error) {
	key, f := a.take(r)
	if f != nil {
		return a.deny(w, r, *f)
	}
	k := a.store.find(sha256.Sum256([]byte(key)))
	if k == nil {
		return a.deny(w, r, errBadKey)
	}
	for _, s := range a.RequireScopes {
		if !slices.Contains(k.scopes, s) {
			return a.deny(w, r, errForbidden, zap.String("key_id", k.id.id))
		}
	}
	a.forwarding.apply(r.Header, k.id)
	return a.allow(caddyauth.User{ID: k.id.id, Metadata: k.id.metadata})
}

// take removes the key from the request (header and query parameter) and
// returns it; exactly one must have been sent.
func (a *APIKeyAuth) take(r *http.Request) (string, *failure) {
	var found []string
	if vals, ok := r.Header[a.headerKey]; ok {
		found = append(found, vals...)
		delete(r.Header, a.headerKey)
	}
	if a.FromQuery != "" {
		q := r.URL.Query()
		if vals, ok := q[a.FromQuery]; ok {
			found = append(found, vals...)
			q.Del(a.FromQuery)
			r.URL.RawQuery = q.Encode()
			r.RequestURI = r.URL.RequestURI()
		}
	}
	switch {
	case len(found) == 0 || len(found) == 1 && found[0] == "":
		return "", &errNoKey
	case len(found) > 1:
		return "", &errAmbiguous
	}
	return found[0], nil
}

// Interface guards
var (
	_ caddyauth.Authenticator = (*APIKeyAuth)(nil)
	_ caddy.Provisioner       = (*APIKeyAuth)(nil)
	_ caddy.Validator         = (*APIKeyAuth)(nil)
)
