package authn

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	acmeKey  = "fdk_acme-0123456789abcdefghijklmnopqrstuv"
	otherKey = "fdk_other-0123456789abcdefghijklmnopqrstu"
)

func testAPIKeys(t testing.TB, mod func(*APIKeyAuth)) *APIKeyAuth {
	t.Helper()
	a := &APIKeyAuth{
		Keys: []APIKey{
			{ID: "acme", Hash: hashKey(acmeKey), Scopes: []string{"orders:read", "orders:write"}, Owner: "ACME Inc."},
			{ID: "other", Hash: hashKey(otherKey)},
		},
		Forward: map[string]string{"id": "X-Client-Id"},
	}
	if mod != nil {
		mod(a)
	}
	provision(t, a)
	return a
}

func keyRequest(keys ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://front.test/partner/orders", nil)
	for _, k := range keys {
		r.Header.Add("X-API-Key", k)
	}
	return r
}

func TestAPIKeyAccepts(t *testing.T) {
	a := testAPIKeys(t, nil)
	r := keyRequest(acmeKey)
	r.Header.Set("X-Client-Id", "admin") // K8: a client-sent id is dropped
	res := try(t, a, r)
	if !res.authed || res.user != "acme" {
		t.Fatalf("got %d %q", res.status(), res.user)
	}
	if res.meta["owner"] != "ACME Inc." || res.meta["scopes"] != "orders:read orders:write" {
		t.Errorf("metadata %v", res.meta)
	}
	if v := r.Header.Values("X-Api-Key"); len(v) != 0 {
		t.Errorf("the key goes on to the upstream: %q", v)
	}
	if v := r.Header.Values("X-Client-Id"); len(v) != 1 || v[0] != "acme" {
		t.Errorf("X-Client-Id %q, want only acme", v)
	}
}

// TestAPIKeyAttacks runs the reference's API key cases (K1, K5, K8) and
// variants.
func TestAPIKeyAttacks(t *testing.T) {
	a := testAPIKeys(t, func(a *APIKeyAuth) { a.FromQuery = "api_key" })
	wrongSameLength := acmeKey[:len(acmeKey)-1] + "x"
	for _, tc := range []struct {
		name   string
		req    *http.Request
		reason string
	}{
		{"K1 no key", keyRequest(), "missing"},
		{"K1 wrong key of the same length", keyRequest(wrongSameLength), "invalid"},
		{"the hash instead of the key", keyRequest(hashKey(acmeKey)), "invalid"},
		{"the hash's hex alone", keyRequest(strings.TrimPrefix(hashKey(acmeKey), "sha256:")), "invalid"},
		{"empty key", keyRequest(""), "missing"},
		{"K5 two headers, valid and invalid", keyRequest(acmeKey, "nope"), "ambiguous"},
		{"K5 two valid keys of two clients", keyRequest(acmeKey, otherKey), "ambiguous"},
		{"K5 the same valid key twice", keyRequest(acmeKey, acmeKey), "ambiguous"},
		{"header and query parameter", func() *http.Request {
			r := keyRequest(acmeKey)
			r.URL.RawQuery = "api_key=" + otherKey
			return r
		}(), "ambiguous"},
		{"key with a trailing space", keyRequest(acmeKey + " "), "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := try(t, a, tc.req)
			if res.authed || res.status() != http.StatusUnauthorized {
				t.Fatalf("got %d (authed %v), want 401", res.status(), res.authed)
			}
			wa := res.rec.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, `APIKey realm="restricted", header="X-API-Key"`) {
				t.Fatalf("WWW-Authenticate %q", wa)
			}
			if v := tc.req.Header.Values("X-Api-Key"); len(v) != 0 {
				t.Fatalf("the key stays on the request: %q", v)
			}
			if strings.Contains(res.rec.Body.String(), "fdk_") {
				t.Fatal("the answer repeats the key")
			}
		})
	}
}

func TestAPIKeyQueryParameterRemoved(t *testing.T) {
	a := testAPIKeys(t, func(a *APIKeyAuth) { a.FromQuery = "api_key" })
	r := httptest.NewRequest(http.MethodGet, "http://front.test/partner/orders?page=2&api_key="+acmeKey, nil)
	if res := try(t, a, r); !res.authed {
		t.Fatalf("refused: %d", res.status())
	}
	if strings.Contains(r.URL.RawQuery, "fdk_") || strings.Contains(r.RequestURI, "fdk_") || r.URL.Query().Get("page") != "2" {
		t.Fatalf("query after the check: %q, request URI %q", r.URL.RawQuery, r.RequestURI)
	}
}

func TestAPIKeyScopes(t *testing.T) {
	a := testAPIKeys(t, func(a *APIKeyAuth) { a.RequireScopes = []string{"orders:write"} })
	if res := try(t, a, keyRequest(acmeKey)); !res.authed {
		t.Fatalf("acme refused: %d", res.status())
	}
	res := try(t, a, keyRequest(otherKey))
	if res.authed || res.status() != http.StatusForbidden {
		t.Fatalf("other got %d, want 403", res.status())
	}
	if wa := res.rec.Header().Get("WWW-Authenticate"); !strings.Contains(wa, `error="insufficient_scope"`) {
		t.Fatalf("WWW-Authenticate %q", wa)
	}
}

func TestAPIKeyHashForms(t *testing.T) {
	sum := sha256.Sum256([]byte(acmeKey))
	for _, h := range []string{
		hashKey(acmeKey),
		strings.TrimPrefix(hashKey(acmeKey), "sha256:"),
		"sha256:" + base64.StdEncoding.EncodeToString(sum[:]),
		"sha256:" + base64.URLEncoding.EncodeToString(sum[:]),
		"sha256:" + base64.RawURLEncoding.EncodeToString(sum[:]),
	} {
		got, err := parseKeyHash(h)
		if err != nil || got != sum {
			t.Errorf("%s: %v", h, err)
		}
	}
	for _, h := range []string{"", "sha256:", "sha256:abc", "md5:" + strings.Repeat("0", 32), "sha256:" + strings.Repeat("z", 64), acmeKey} {
		if _, err := parseKeyHash(h); err == nil {
			t.Errorf("%q accepted as a hash", h)
		}
	}
}

func TestAPIKeysFile(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, "keys")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("# partners\n\nacme " + hashKey(acmeKey) + " scopes=orders:read owner=acme\n")
	a := testAPIKeys(t, func(a *APIKeyAuth) { a.Keys, a.KeysFile = nil, good })
	if res := try(t, a, keyRequest(acmeKey)); !res.authed || res.meta["scopes"] != "orders:read" {
		t.Fatalf("refused or wrong metadata: %d %v", res.status(), res.meta)
	}
	for name, content := range map[string]string{
		"bad hash":      "acme sha256:nothex\n",
		"unknown field": "acme " + hashKey(acmeKey) + " role=x\n",
		"no hash":       "acme\n",
		"duplicate id":  "acme " + hashKey(acmeKey) + "\nacme " + hashKey(otherKey) + "\n",
		"duplicate key": "acme " + hashKey(acmeKey) + "\nbeta " + hashKey(acmeKey) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			a := &APIKeyAuth{KeysFile: write(content)}
			ctx, cancel := newTestContext()
			defer cancel()
			err := a.Provision(ctx)
			if err == nil {
				t.Fatal("accepted")
			}
			if name == "bad hash" && !strings.Contains(err.Error(), ":1:") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestHashAPIKeyInput(t *testing.T) {
	for _, tc := range []struct {
		flag  string
		args  []string
		stdin string
		want  string
		fails bool
	}{
		{flag: "k1", want: "k1"},
		{args: []string{"k2"}, want: "k2"},
		{stdin: "k3\n", want: "k3"},
		{stdin: "k4\r\nrest", want: "k4"},
		{stdin: "", fails: true},
		{flag: "a", args: []string{"b"}, fails: true},
	} {
		got, err := keyToHash(tc.flag, tc.args, strings.NewReader(tc.stdin))
		if (err != nil) != tc.fails || got != tc.want {
			t.Errorf("%+v: got %q, %v", tc, got, err)
		}
	}
	k1, k2 := newAPIKey(), newAPIKey()
	if k1 == k2 || !strings.HasPrefix(k1, apiKeyPrefix) || len(k1) != len(apiKeyPrefix)+43 {
		t.Errorf("generated keys %q %q", k1, k2)
	}
	if _, err := parseKeysLine(strings.Fields(keysFileLine("acme", hashKey(k1), "a,b", "ACME"))); err != nil {
		t.Errorf("a generated line does not parse: %v", err)
	}
}
