package authn

import (
	"cmp"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
	"github.com/frontdesk-proxy/frontdesk/internal/promreg"
)

func init() {
	caddy.RegisterModule(adminAuth{})
	adminjson.Register("auth", func() any { return currentAuthStatus() })
}

// adminAuth is the admin API route /frontdesk/auth: the requests each
// authentication provider let through or refused, by reason; every remote JWKS set
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
	// Results counts the requests of each provider (verify_api_key,
	// verify_jwt) by result: ok, or the reason of the refusal.
	Results []resultCount `json:"results"`
	JWKS    []jwksStatus  `json:"jwks"`
}

// resultCount is one provider's count of one result.
type resultCount struct {
	Provider string `json:"provider"`
	Result   string `json:"result"`
	Requests int64  `json:"requests"`
}

// currentAuthStatus describes every pooled remote JWKS set, by URL.
func currentAuthStatus() authStatus {
	st := authStatus{Results: []resultCount{}, JWKS: []jwksStatus{}}
	for _, s := range promreg.Samples(authResults) {
		st.Results = append(st.Results, resultCount{Provider: s.Labels["provider"], Result: s.Labels["result"], Requests: int64(s.Value)})
	}
	slices.SortFunc(st.Results, func(a, b resultCount) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Result, b.Result))
	})
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
