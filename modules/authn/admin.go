package authn

import (
	"cmp"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
)

func init() {
	caddy.RegisterModule(adminAuth{})
}

// adminAuth is the admin API route /frontdesk/auth: every remote JWKS set
// held by a config, with its keys (ids, algorithms and types, never key
// material), the generation of its key set, and its fetch history (fetches,
// failures, the last error, fetches caused by unknown key ids, and how many
// unknown key ids are remembered). Like /frontdesk/upstreams it reads
// package-level state, so it answers during reloads too.
type adminAuth struct{}

// CaddyModule returns the Caddy module information.
func (adminAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.frontdesk_auth",
		New: func() caddy.Module { return new(adminAuth) },
	}
}

// Routes returns the route of the /frontdesk/auth endpoint.
func (adminAuth) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{adminjson.Route("/frontdesk/auth", func() any { return currentAuthStatus() })}
}

// authStatus is the answer of /frontdesk/auth.
type authStatus struct {
	JWKS []jwksStatus `json:"jwks"`
}

// currentAuthStatus describes every pooled remote JWKS set, by URL.
func currentAuthStatus() authStatus {
	st := authStatus{JWKS: []jwksStatus{}}
	remoteSets.Range(func(_, v any) bool {
		ks := v.(*remoteSet).describe()
		slices.SortFunc(ks.Keys, func(a, b keyStatus) int { return cmp.Compare(a.KID, b.KID) })
		st.JWKS = append(st.JWKS, ks)
		return true
	})
	slices.SortFunc(st.JWKS, func(a, b jwksStatus) int { return cmp.Compare(a.URL, b.URL) })
	return st
}

// Interface guard
var _ caddy.AdminRouter = (*adminAuth)(nil)
