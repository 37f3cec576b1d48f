package authn

import (
	"fmt"
	"net/http/httptest"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkJWT measures one request's check per algorithm: cold (parse,
// signature check and claims, the cache off) and cached (the token seen
// before), including the identity headers set for the upstream.
func BenchmarkJWT(b *testing.B) {
	k := testKeys()
	for _, tc := range []struct {
		alg jose.SignatureAlgorithm
		key any
		kid string
	}{
		{jose.HS256, []byte(testSecret), "h1"},
		{jose.RS256, k.rsa, "k1"},
		{jose.ES256, k.ec, "k2"},
		{jose.EdDSA, k.ed, "k3"},
	} {
		tok := sign(b, tc.alg, tc.key, map[string]any{"kid": tc.kid}, validClaims(nil))
		for _, mode := range []string{"cold", "cached"} {
			b.Run(string(tc.alg)+"/"+mode, func(b *testing.B) {
				j := testJWT(b, nil)
				if mode == "cold" {
					j.cache = nil
				}
				req := bearer(tok)
				rec := httptest.NewRecorder()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, ok, _ := j.Authenticate(rec, req); !ok {
						b.Fatal("refused")
					}
				}
			})
		}
	}
}

// BenchmarkAPIKey measures one request's API key check among 1000 keys.
func BenchmarkAPIKey(b *testing.B) {
	a := testAPIKeys(b, func(a *APIKeyAuth) {
		for i := range 1000 {
			a.Keys = append(a.Keys, APIKey{ID: fmt.Sprintf("k%d", i), Hash: hashKey(newAPIKey())})
		}
	})
	rec := httptest.NewRecorder()
	req := keyRequest()
	b.ReportAllocs()
	for b.Loop() {
		req.Header["X-Api-Key"] = []string{acmeKey}
		if _, ok, _ := a.Authenticate(rec, req); !ok {
			b.Fatal("refused")
		}
	}
}
