package authn

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestJWTAcceptsEachKeyType(t *testing.T) {
	k := testKeys()
	j := testJWT(t, nil)
	for _, tc := range []struct {
		name string
		alg  jose.SignatureAlgorithm
		key  any
		kid  string
	}{
		{"RS256", jose.RS256, k.rsa, "k1"},
		{"ES256", jose.ES256, k.ec, "k2"},
		{"EdDSA", jose.EdDSA, k.ed, "k3"},
		{"HS256", jose.HS256, []byte(testSecret), "h1"},
		{"HS256 without kid", jose.HS256, []byte(testSecret), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]any{}
			if tc.kid != "" {
				h["kid"] = tc.kid
			}
			res := try(t, j, bearer(sign(t, tc.alg, tc.key, h, validClaims(nil))))
			if !res.authed || res.user != "bob" {
				t.Fatalf("got %d %q, want bob authenticated; body %s", res.status(), res.user, res.rec.Body)
			}
		})
	}
}

// TestJWTAttacks runs the reference's JWT attack classes (§8, J1-J28) and
// variants of them: each must get 401 (or 403) and never authenticate.
func TestJWTAttacks(t *testing.T) {
	k := testKeys()
	j := testJWT(t, nil)
	hs := func(key []byte, header, payload string) string {
		unsigned := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(unsigned))
		return unsigned + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	claims, _ := json.Marshal(validClaims(nil))
	pemBytes := []byte(pemOf(t, &k.rsa.PublicKey))
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	valid := sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(nil))
	parts := strings.Split(valid, ".")
	now := time.Now()

	cases := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		// J1: alg none.
		{"J1 alg none, empty signature", raw(`{"alg":"none","kid":"k1"}`, string(claims), nil), 401, "invalid_token"},
		{"J1 alg None", raw(`{"alg":"None"}`, string(claims), nil), 401, "invalid_token"},
		{"J1 alg none, no kid", raw(`{"alg":"none"}`, string(claims), nil), 401, "invalid_token"},
		// J4: RS256→HS256 confusion with the RSA key's bytes as HMAC secret.
		{"J4 HS256 keyed with k1's PEM", hs(pemBytes, `{"alg":"HS256","kid":"k1"}`, string(claims)), 401, "invalid_token"},
		{"J4 HS256 keyed with k1's DER", hs(der, `{"alg":"HS256","kid":"k1"}`, string(claims)), 401, "invalid_token"},
		{"J4 HS256 keyed with k1's n", hs(k.rsa.N.Bytes(), `{"alg":"HS256","kid":"k1"}`, string(claims)), 401, "invalid_token"},
		{"J4 HS256 keyed with PEM, no kid", hs(pemBytes, `{"alg":"HS256"}`, string(claims)), 401, "invalid_token"},
		{"J4 RS256 token under the HMAC key's kid", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "h1"}, validClaims(nil)), 401, "invalid_token"},
		{"alg of another key (ES256 under k1)", sign(t, jose.ES256, k.ec, map[string]any{"kid": "k1"}, validClaims(nil)), 401, "invalid_token"},
		{"PS256 under an RS256 key", sign(t, jose.PS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(nil)), 401, "invalid_token"},
		{"signed by a key not configured", sign(t, jose.RS256, k.rsa2, map[string]any{"kid": "k1"}, validClaims(nil)), 401, "invalid_token"},
		// J7: kid injection.
		{"J7 kid path", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "../../../../dev/null"}, validClaims(nil)), 401, "invalid_token"},
		{"kid SQL", sign(t, jose.HS256, []byte(testSecret), map[string]any{"kid": "x' UNION SELECT 'a"}, validClaims(nil)), 401, "invalid_token"},
		{"kid URL", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "http://evil.test/k"}, validClaims(nil)), 401, "invalid_token"},
		{"unknown kid", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k9"}, validClaims(nil)), 401, "invalid_token"},
		// Embedded and pointed-at keys, crit.
		{"embedded jwk", sign(t, jose.RS256, k.rsa2, map[string]any{"jwk": jwk(&k.rsa2.PublicKey, "", "RS256")}, validClaims(nil)), 401, "invalid_token"},
		{"embedded jwk with kid k1", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1", "jwk": jwk(&k.rsa.PublicKey, "k1", "RS256")}, validClaims(nil)), 401, "invalid_token"},
		{"jku", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1", "jku": "http://evil.test/jwks"}, validClaims(nil)), 401, "invalid_token"},
		{"x5u", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1", "x5u": "http://evil.test/cert"}, validClaims(nil)), 401, "invalid_token"},
		{"crit unknown", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1", "crit": []string{"exp"}, "exp": 1}, validClaims(nil)), 401, "invalid_token"},
		// J20: shapes.
		{"J20 empty signature", parts[0] + "." + parts[1] + ".", 401, "invalid_token"},
		{"J20 two segments", parts[0] + "." + parts[1], 401, "invalid_request"},
		{"J20 four segments", valid + ".x", 401, "invalid_request"},
		{"J20 five-segment JWE", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", 401, "invalid_request"},
		{"signature of garbage", parts[0] + "." + parts[1] + ".!!!", 401, "invalid_request"},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], 401, "invalid_request"},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), "bob", "admin", 1))) + "." + parts[2], 401, "invalid_token"},
		{"oversized", strings.Repeat("a", maxTokenBytes) + ".b.c", 401, "invalid_request"},
		// CVE-2022-21449: ECDSA r = s = 0.
		{"ES256 psychic signature", raw(`{"alg":"ES256","kid":"k2"}`, string(claims), make([]byte, 64)), 401, "invalid_token"},
		// J15: exp with 30s leeway.
		{"J15 exp now-31s", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"exp": now.Add(-31 * time.Second).Unix()})), 401, "invalid_token"},
		{"missing exp", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"exp": nil})), 401, "invalid_token"},
		{"exp as string", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"exp": "9999999999"})), 401, "invalid_token"},
		{"exp as bool", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"exp": true})), 401, "invalid_token"},
		{"nbf in the future", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"nbf": now.Add(time.Minute).Unix()})), 401, "invalid_token"},
		{"iat in the future", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"iat": now.Add(time.Hour).Unix()})), 401, "invalid_token"},
		// J18: audience (CVE-2020-26160 class) and issuer.
		{"J18 aud [other]", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"aud": []string{"other"}})), 401, "invalid_token"},
		{"J18 aud []", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"aud": []string{}})), 401, "invalid_token"},
		{"J18 aud missing", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"aud": nil})), 401, "invalid_token"},
		{"J18 aud with trailing space", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"aud": "api://orders "})), 401, "invalid_token"},
		{"aud as number", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"aud": 7})), 401, "invalid_token"},
		{"aud array with a number", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"aud": []any{"api://orders", 7}})), 401, "invalid_token"},
		{"iss with trailing slash", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"iss": "https://idp.test/"})), 401, "invalid_token"},
		{"iss as array", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"iss": []string{"https://idp.test"}})), 401, "invalid_token"},
		{"iss missing", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"iss": nil})), 401, "invalid_token"},
		{"sub as number", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"sub": 42})), 401, "invalid_token"},
		{"sub missing", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"sub": nil})), 401, "invalid_token"},
		{"sub with a newline", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"sub": "bob\r\nX-Admin: 1"})), 401, "invalid_token"},
		{"payload an array", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, nil), 401, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := try(t, j, bearer(tc.token))
			if res.authed {
				t.Fatalf("authenticated as %q", res.user)
			}
			if res.status() != tc.status {
				t.Fatalf("status %d, want %d; body %s", res.status(), tc.status, res.rec.Body)
			}
			if got := res.rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="`+tc.code+`"`) || !strings.HasPrefix(got, `Bearer realm="restricted"`) {
				t.Fatalf("WWW-Authenticate %q, want error %q", got, tc.code)
			}
		})
	}
}

func TestJWTClaimRules(t *testing.T) {
	k := testKeys()
	now := time.Now()
	tok := func(extra map[string]any) string {
		return sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(extra))
	}
	j := testJWT(t, nil)
	for _, tc := range []struct {
		name  string
		extra map[string]any
	}{
		{"J15 exp now-29s within the leeway", map[string]any{"exp": now.Add(-29 * time.Second).Unix()}},
		{"J18 aud array holding ours", map[string]any{"aud": []string{"other", "api://orders"}}},
		{"exp with a fraction", map[string]any{"exp": float64(now.Add(time.Hour).Unix()) + 0.5}},
		{"nbf within the leeway", map[string]any{"nbf": now.Add(20 * time.Second).Unix()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := try(t, j, bearer(tok(tc.extra))); !res.authed {
				t.Fatalf("refused with %d: %s", res.status(), res.rec.Body)
			}
		})
	}

	t.Run("allow_missing_exp", func(t *testing.T) {
		j := testJWT(t, func(j *JWTAuth) { j.AllowMissingExp = true })
		if res := try(t, j, bearer(tok(map[string]any{"exp": nil}))); !res.authed {
			t.Fatalf("refused with %d", res.status())
		}
	})

	t.Run("require: 403 insufficient_scope when a value is missing", func(t *testing.T) {
		j := testJWT(t, func(j *JWTAuth) {
			j.Require = map[string][]string{"scope": {"orders:read"}, "roles": {"clerk"}}
		})
		ok := try(t, j, bearer(tok(map[string]any{"roles": []string{"clerk", "x"}})))
		if !ok.authed {
			t.Fatalf("refused with %d: %s", ok.status(), ok.rec.Body)
		}
		for name, extra := range map[string]map[string]any{
			"role missing":        {"roles": []string{"guest"}},
			"roles absent":        nil,
			"scope a prefix":      {"scope": "orders:readonly", "roles": []string{"clerk"}},
			"roles as wrong type": {"roles": 1},
			"role in a substring": {"roles": "clerks"},
		} {
			res := try(t, j, bearer(tok(extra)))
			if res.authed || res.status() != http.StatusForbidden {
				t.Errorf("%s: got %d, want 403", name, res.status())
			}
			if got := res.rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) {
				t.Errorf("%s: WWW-Authenticate %q", name, got)
			}
		}
	})
}

func TestJWTTokenSources(t *testing.T) {
	k := testKeys()
	good := sign(t, jose.ES256, k.ec, map[string]any{"kid": "k2"}, validClaims(nil))
	j := testJWT(t, func(j *JWTAuth) { j.FromCookie, j.FromQuery = "session", "access_token" })
	req := func(mod func(r *http.Request)) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "http://front.test/api", nil)
		mod(r)
		return r
	}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"scheme in lower case", req(func(r *http.Request) { r.Header.Set("Authorization", "bearer "+good) }), 200, ""},
		{"scheme in upper case", req(func(r *http.Request) { r.Header.Set("Authorization", "BEARER "+good) }), 200, ""},
		{"cookie", req(func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "session", Value: good}) }), 200, ""},
		{"query", req(func(r *http.Request) { r.URL.RawQuery = "access_token=" + good }), 200, ""},
		{"no credentials: no error code", req(func(r *http.Request) {}), 401, ""},
		{"basic auth is not a token", req(func(r *http.Request) { r.SetBasicAuth("a", "b") }), 401, ""},
		{"empty bearer", req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }), 401, "invalid_request"},
		{"two Authorization headers", req(func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+good)
			r.Header.Add("Authorization", "Bearer "+good)
		}), 401, "invalid_request"},
		{"two cookies", req(func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: "session", Value: good})
			r.AddCookie(&http.Cookie{Name: "session", Value: "x.y.z"})
		}), 401, "invalid_request"},
		{"header wins over a good cookie", req(func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer x.y.z")
			r.AddCookie(&http.Cookie{Name: "session", Value: good})
		}), 401, "invalid_request"},
		{"cookie wins over a good query", req(func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: "session", Value: "x.y.z"})
			r.URL.RawQuery = "access_token=" + good
		}), 401, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := try(t, j, tc.req)
			if res.status() != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status(), tc.status, res.rec.Body)
			}
			if tc.status == 401 {
				got := res.rec.Header().Get("WWW-Authenticate")
				if tc.code == "" && strings.Contains(got, "error=") || tc.code != "" && !strings.Contains(got, `error="`+tc.code+`"`) {
					t.Fatalf("WWW-Authenticate %q, want code %q", got, tc.code)
				}
			}
		})
	}
}

// TestJWTIdentityOut checks the placeholders and J25: the upstream sees
// the forwarded claim from the token, never the client's header of that
// name, also when the token lacks the claim.
func TestJWTIdentityOut(t *testing.T) {
	k := testKeys()
	j := testJWT(t, func(j *JWTAuth) {
		j.Claims = []string{"scope", "roles"}
		j.Forward = map[string]string{"sub": "X-Jwt-Sub", "tenant": "x-tenant"}
	})
	r := bearer(sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"roles": []string{"a", "b"}})))
	r.Header["X-Jwt-Sub"] = []string{"admin"}
	r.Header.Add("X-Tenant", "evil")
	res := try(t, j, r)
	if !res.authed {
		t.Fatalf("refused: %d", res.status())
	}
	if got := r.Header.Values("X-Jwt-Sub"); len(got) != 1 || got[0] != "bob" {
		t.Errorf("X-Jwt-Sub %q, want only bob", got)
	}
	if got := r.Header.Values("X-Tenant"); len(got) != 0 {
		t.Errorf("X-Tenant %q, want it removed (the token has no tenant)", got)
	}
	if res.meta["scope"] != "orders:read profile" || res.meta["roles"] != "a b" || res.meta["sub"] != "bob" {
		t.Errorf("metadata %v", res.meta)
	}
	// The same again, from the cache.
	r2 := bearer(r.Header.Get("Authorization")[len("Bearer "):])
	r2.Header.Set("X-Jwt-Sub", "admin")
	if res := try(t, j, r2); !res.authed || r2.Header.Get("X-Jwt-Sub") != "bob" {
		t.Errorf("cached: authed %v, X-Jwt-Sub %q", res.authed, r2.Header.Get("X-Jwt-Sub"))
	}
}

// TestJWTCacheHoldsUntilExp is J28: a token cached as valid is refused
// once exp (plus leeway) has passed.
func TestJWTCacheHoldsUntilExp(t *testing.T) {
	k := testKeys()
	j := testJWT(t, nil)
	now := time.Now()
	tok := sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"exp": now.Add(10 * time.Second).Unix()}))
	if res := try(t, j, bearer(tok)); !res.authed {
		t.Fatalf("refused: %d", res.status())
	}
	if j.cache.len() != 1 {
		t.Fatalf("cache holds %d tokens, want 1", j.cache.len())
	}
	j.clock = func() time.Time { return now.Add(10*time.Second + 31*time.Second) }
	if res := try(t, j, bearer(tok)); res.authed {
		t.Fatal("an expired token was let through from the cache")
	}
}

func TestJWTAnswerFormat(t *testing.T) {
	j := testJWT(t, nil)
	r := bearer("x.y.z")
	r.Header.Set("Accept", "text/html")
	res := try(t, j, r)
	if ct := res.rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q for a browser", ct)
	}
	res = try(t, j, bearer("x.y.z"))
	var body map[string]any
	if err := json.Unmarshal(res.rec.Body.Bytes(), &body); err != nil || body["error"] != "invalid_request" || body["status"] != float64(401) {
		t.Errorf("JSON body %s (%v)", res.rec.Body, err)
	}
	if strings.Contains(res.rec.Body.String(), "x.y.z") {
		t.Error("the answer repeats the token")
	}
}

func TestJWTConfigErrors(t *testing.T) {
	k := testKeys()
	for name, cfg := range map[string]JWTAuth{
		"short HMAC secret":       {Keys: []StaticKey{{Algorithm: "HS256", Secret: "short"}}},
		"HS512 secret of 32":      {Keys: []StaticKey{{Algorithm: "HS512", Secret: testSecret}}},
		"alg none":                {Keys: []StaticKey{{Algorithm: "none", Secret: testSecret}}},
		"RSA key for ES256":       {Keys: []StaticKey{{Algorithm: "ES256", PublicKey: pemOf(t, &k.rsa.PublicKey)}}},
		"secret with RS256":       {Keys: []StaticKey{{Algorithm: "RS256", Secret: testSecret}}},
		"two sources":             {Keys: []StaticKey{{Algorithm: "HS256", Secret: testSecret, PublicKey: "x"}}},
		"private key PEM":         {Keys: []StaticKey{{Algorithm: "RS256", PublicKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}}},
		"no keys":                 {},
		"bad forward header name": {Keys: []StaticKey{{Algorithm: "HS256", Secret: testSecret}}, Forward: map[string]string{"sub": "X User"}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := newTestContext()
			defer cancel()
			err := cfg.Provision(ctx)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestJWTRefusedConfigStartsNothing checks that JWKS settings a refresh
// loop cannot run with are refused before a set is taken from the pool.
func TestJWTRefusedConfigStartsNothing(t *testing.T) {
	for name, rj := range map[string]RemoteJWKS{
		"not http":         {URL: "file:///etc/passwd"},
		"negative refresh": {URL: "http://127.0.0.1:1/jwks", RefreshInterval: -1},
	} {
		t.Run(name, func(t *testing.T) {
			j := &JWTAuth{JWKS: []RemoteJWKS{rj}}
			ctx, cancel := newTestContext()
			defer cancel()
			if err := j.Provision(ctx); err == nil {
				t.Fatal("accepted")
			}
			if len(j.remoteKeys) != 0 {
				t.Fatal("a JWKS set was taken from the pool")
			}
		})
	}
}
