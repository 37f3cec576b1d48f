package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() struct {
	rsa  *rsa.PrivateKey
	rsa2 *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	ed   ed25519.PrivateKey
} {
	r1, _ := rsa.GenerateKey(rand.Reader, 2048)
	r2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return struct {
		rsa  *rsa.PrivateKey
		rsa2 *rsa.PrivateKey
		ec   *ecdsa.PrivateKey
		ed   ed25519.PrivateKey
	}{r1, r2, ec, ed}
})

const testSecret = "0123456789abcdef0123456789abcdef" // 32 bytes: HS256's minimum

// pemOf encodes a public key as PKIX PEM.
func pemOf(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// sign makes a compact JWS of claims with key, alg and the given protected
// header values (such as "kid").
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, headers map[string]any, claims map[string]any) string {
	t.Helper()
	if claims == nil {
		return harness.SignJWT(t, alg, key, headers, []any{})
	}
	return harness.SignJWT(t, alg, key, headers, claims)
}

// raw assembles a token from a header and payload as given, and a
// signature of any bytes: for tokens no well-behaved signer makes.
func raw(header, payload string, sig []byte) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(header)) + "." + e([]byte(payload)) + "." + e(sig)
}

// validClaims are the claims of a token the test provider accepts.
func validClaims(extra map[string]any) map[string]any {
	c := map[string]any{
		"iss": "https://idp.test", "aud": "api://orders", "sub": "bob",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
		"scope": "orders:read profile",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// provision provisions and validates a provider.
func provision(t testing.TB, m interface {
	Provision(caddy.Context) error
	Validate() error
}) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatalf("provision: %v", err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if c, ok := m.(caddy.CleanerUpper); ok {
		t.Cleanup(func() { _ = c.Cleanup() })
	}
}

// testJWT is the provider of the reference's acceptance examples:
// iss https://idp.test, aud api://orders, RS256 (kid k1), ES256 (kid k2),
// EdDSA (kid k3), HS256 (kid h1), leeway 30s, exp required.
func testJWT(t testing.TB, mod func(*JWTAuth)) *JWTAuth {
	t.Helper()
	k := testKeys()
	j := &JWTAuth{
		Keys: []StaticKey{
			{ID: "k1", Algorithm: "RS256", PublicKey: pemOf(t, &k.rsa.PublicKey)},
			{ID: "k2", Algorithm: "ES256", PublicKey: pemOf(t, &k.ec.PublicKey)},
			{ID: "k3", Algorithm: "EdDSA", PublicKey: pemOf(t, k.ed.Public())},
			{ID: "h1", Algorithm: "HS256", Secret: testSecret},
		},
		Issuers:   []string{"https://idp.test"},
		Audiences: []string{"api://orders"},
		Forward:   map[string]string{"sub": "X-Jwt-Sub"},
	}
	if mod != nil {
		mod(j)
	}
	provision(t, j)
	return j
}

// result is the outcome of one Authenticate call.
type result struct {
	authed bool
	user   string
	meta   map[string]string
	rec    *httptest.ResponseRecorder
	req    *http.Request
}

func (r result) status() int {
	if r.authed {
		return http.StatusOK
	}
	return r.rec.Code
}

// try runs req through p.
func try(t testing.TB, p interface {
	Authenticate(http.ResponseWriter, *http.Request) (caddyauth.User, bool, error)
}, req *http.Request) result {
	t.Helper()
	rec := httptest.NewRecorder()
	u, ok, err := p.Authenticate(rec, req)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return result{authed: ok, user: u.ID, meta: u.Metadata, rec: rec, req: req}
}

// bearer is a GET with the token in the Authorization header.
func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://front.test/api/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// jwk is the public JWK of key with kid and alg.
func jwk(pub any, kid, alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"}
}

func newTestContext() (caddy.Context, context.CancelFunc) {
	return caddy.NewContext(caddy.Context{Context: context.Background()})
}
