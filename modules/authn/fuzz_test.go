package authn

import (
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzJWT feeds arbitrary bearer tokens to the provider: none may panic,
// and none may pass unless it is exactly a token the test signed.
func FuzzJWT(f *testing.F) {
	k := testKeys()
	// Fixed times, so that every fuzzing process (each runs this setup)
	// signs the very same token.
	good := sign(f, jose.HS256, []byte(testSecret), map[string]any{"kid": "h1"},
		validClaims(map[string]any{"iat": 1700000000, "exp": 4102444800}))
	for _, seed := range []string{
		good,
		raw(`{"alg":"none"}`, `{"sub":"x"}`, nil),
		raw(`{"alg":"HS256","kid":"h1","crit":["b64"],"b64":false}`, `{}`, []byte("x")),
		raw(`{"alg":"RS256","kid":"k1"}`, `{"exp":1e400}`, []byte("x")),
		raw(`{"alg":"ES256","kid":"k2"}`, `{"aud":[[]]}`, make([]byte, 64)),
		sign(f, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"exp": -1})),
		"a.b.c", "..", "....", strings.Repeat(".", 3),
	} {
		f.Add(seed)
	}
	j := testJWT(f, nil)
	j.cache = nil // every input is checked, none answered from the cache
	f.Fuzz(func(t *testing.T, token string) {
		res := try(t, j, bearer(token))
		if res.authed && token != good {
			t.Fatalf("an unsigned variant passed: %q", token)
		}
		if !res.authed && res.status() != http.StatusUnauthorized && res.status() != http.StatusForbidden {
			t.Fatalf("status %d", res.status())
		}
	})
}

// FuzzClaims checks the strict claim parser on arbitrary payloads.
func FuzzClaims(f *testing.F) {
	for _, seed := range []string{
		`{"exp":1,"aud":["a"],"sub":"x"}`, `{"exp":"1"}`, `[]`, `{"aud":[]}`, `{"nbf":-0}`,
		`{"exp":1e308}`, `{"iat":null}`, `{"a":1}{"b":2}`, `{"aud":"a","aud":["b"]}`,
	} {
		f.Add([]byte(seed))
	}
	rules := timeRules{leeway: 30 * time.Second, requireExp: true}
	f.Fuzz(func(t *testing.T, payload []byte) {
		cs, err := parseClaims(payload)
		if err != nil {
			return
		}
		rules.window(cs, time.Now())
		cs.strings("aud")
		cs.str("iss")
		cs.has("scope", "a")
		cs.text("sub")
	})
}

// FuzzKeysLine checks the keys file parser on arbitrary lines.
func FuzzKeysLine(f *testing.F) {
	for _, seed := range []string{
		"acme " + hashKey("k") + " scopes=a,b owner=x", "acme sha256:", "a b c", "", "a sha256:" + strings.Repeat("=", 44),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		k, err := parseKeysLine(strings.Fields(line))
		if err != nil {
			return
		}
		parseKeyHash(k.Hash)
	})
}
