package authn

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// remoteJWT is a provider with one remote JWKS at srv.
func remoteJWT(t testing.TB, srv *harness.JWKS, mod func(*RemoteJWKS)) *JWTAuth {
	t.Helper()
	rj := RemoteJWKS{URL: srv.URL, FetchTimeout: caddy.Duration(300 * time.Millisecond)}
	if mod != nil {
		mod(&rj)
	}
	j := &JWTAuth{JWKS: []RemoteJWKS{rj}, Issuers: []string{"https://idp.test"}, Audiences: []string{"api://orders"}}
	provision(t, j)
	return j
}

// allowFetchNow lets the next unknown kid fetch at once, as if
// min_refresh_interval had passed since the last fetch.
func allowFetchNow(s *remoteSet) {
	s.mu.Lock()
	s.lastAttempt = time.Time{}
	clear(s.unknown)
	s.mu.Unlock()
}

func TestRemoteJWKSFetchedAtStart(t *testing.T) {
	k := testKeys()
	srv := harness.StartJWKS(t, jwk(&k.rsa.PublicKey, "k1", "RS256"))
	j := remoteJWT(t, srv, nil)
	if res := try(t, j, bearer(sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(nil)))); !res.authed {
		t.Fatalf("refused right after start: %d", res.status())
	}
	if n := srv.Fetches(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// TestRemoteJWKSRotation is J11: a token with a new kid causes exactly one
// fetch, then passes; later tokens of that kid cause none.
func TestRemoteJWKSRotation(t *testing.T) {
	k := testKeys()
	srv := harness.StartJWKS(t, jwk(&k.rsa.PublicKey, "k1", "RS256"))
	j := remoteJWT(t, srv, nil)
	srv.SetKeys(jwk(&k.rsa.PublicKey, "k1", "RS256"), jwk(&k.ec.PublicKey, "k3", "ES256"))
	allowFetchNow(j.remote[0])

	for i := range 5 {
		tok := sign(t, jose.ES256, k.ec, map[string]any{"kid": "k3"}, validClaims(map[string]any{"jti": fmt.Sprint(i)}))
		if res := try(t, j, bearer(tok)); !res.authed {
			t.Fatalf("token %d with the new kid refused: %d %s", i, res.status(), res.rec.Body)
		}
	}
	if n := srv.Fetches(); n != 2 {
		t.Fatalf("%d fetches, want 2 (start and the new kid)", n)
	}
}

// TestRemoteJWKSUnknownKidStorm is J10 and the concurrency test:
// 1000 parallel requests, each with a different unknown kid, cause one
// fetch (single flight, then min_refresh_interval), and all get 401.
func TestRemoteJWKSUnknownKidStorm(t *testing.T) {
	k := testKeys()
	srv := harness.StartJWKS(t, jwk(&k.rsa.PublicKey, "k1", "RS256"))
	j := remoteJWT(t, srv, nil)
	allowFetchNow(j.remote[0])
	before := srv.Fetches()

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 1000 {
		tok := sign(t, jose.RS256, k.rsa, map[string]any{"kid": fmt.Sprintf("rnd-%d", i)}, validClaims(nil))
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := try(t, j, bearer(tok))
			mu.Lock()
			statuses[res.status()]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[401] != 1000 {
		t.Fatalf("statuses %v, want 1000 × 401", statuses)
	}
	if n := srv.Fetches() - before; n != 1 {
		t.Fatalf("%d fetches for 1000 unknown kids, want 1", n)
	}
	// The same kids again: remembered as unknown, no fetch even once the
	// interval would allow one.
	j.remote[0].mu.Lock()
	j.remote[0].lastAttempt = time.Time{}
	j.remote[0].mu.Unlock()
	for i := range 50 {
		try(t, j, bearer(sign(t, jose.RS256, k.rsa, map[string]any{"kid": fmt.Sprintf("rnd-%d", i)}, validClaims(nil))))
	}
	if n := srv.Fetches() - before; n != 1 {
		t.Fatalf("%d fetches after repeating known-unknown kids, want still 1", n)
	}
}

// TestRemoteJWKSPathKid is J7 with a remote JWKS: a kid shaped like a
// path is refused without a fetch, even when a fetch would be allowed.
func TestRemoteJWKSPathKid(t *testing.T) {
	k := testKeys()
	srv := harness.StartJWKS(t, jwk(&k.rsa.PublicKey, "k1", "RS256"))
	j := remoteJWT(t, srv, nil)
	allowFetchNow(j.remote[0])
	before := srv.Fetches()
	if res := try(t, j, bearer(sign(t, jose.RS256, k.rsa, map[string]any{"kid": "../../../../dev/null"}, validClaims(nil)))); res.authed {
		t.Fatal("a path-shaped kid passed")
	}
	if n := srv.Fetches() - before; n != 0 {
		t.Fatalf("a path-shaped kid caused %d fetches", n)
	}
}

// TestRemoteJWKSDown is J12: while the JWKS endpoint fails, hangs or
// returns garbage, tokens of known keys keep passing, without waiting.
func TestRemoteJWKSDown(t *testing.T) {
	k := testKeys()
	srv := harness.StartJWKS(t, jwk(&k.rsa.PublicKey, "k1", "RS256"))
	j := remoteJWT(t, srv, nil)
	s := j.remote[0]
	known := func(i int) result {
		return try(t, j, bearer(sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"jti": fmt.Sprint(i)}))))
	}
	for name, breakIt := range map[string]func(){
		"500":          func() { srv.SetAnswer(http.StatusInternalServerError, "oops") },
		"invalid JSON": func() { srv.SetAnswer(http.StatusOK, "{not json") },
		"no keys":      func() { srv.SetAnswer(http.StatusOK, `{"keys":[]}`) },
	} {
		t.Run(name, func(t *testing.T) {
			breakIt()
			<-s.refresh("test", true)
			if st := s.describe().Status; st.LastError == "" {
				t.Fatalf("the failed fetch left no error: %+v", st)
			}
			if res := known(1); !res.authed {
				t.Fatalf("known key refused while the JWKS is broken: %d", res.status())
			}
		})
	}

	t.Run("hanging", func(t *testing.T) {
		// A fetch timeout far longer than the test, so the fetch hangs
		// until the test releases it, however slow the machine.
		srv := harness.StartJWKS(t, jwk(&k.rsa.PublicKey, "k1", "RS256"))
		j := remoteJWT(t, srv, func(rj *RemoteJWKS) { rj.FetchTimeout = caddy.Duration(time.Hour) })
		release := make(chan struct{})
		srv.Hang(release)
		fetch := j.remote[0].refresh("test", true)
		// Requests with the known kid finish while the fetch hangs.
		for i := range 20 {
			tok := sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(map[string]any{"jti": fmt.Sprint(i)}))
			if res := try(t, j, bearer(tok)); !res.authed {
				t.Fatalf("known key refused during a hanging fetch: %d", res.status())
			}
		}
		select {
		case <-fetch:
			t.Fatal("the fetch ended while the endpoint still hung")
		default:
		}
		close(release)
		<-fetch
	})
}

// TestRemoteJWKSSharedAcrossReloads checks that a new config with the same
// JWKS URL and settings takes over the running set (no fetch), and that a
// refused reload leaves it as it was.
func TestRemoteJWKSSharedAcrossReloads(t *testing.T) {
	k := testKeys()
	srv := harness.StartJWKS(t, jwk(&k.rsa.PublicKey, "k1", "RS256"))
	old := remoteJWT(t, srv, nil)
	next := remoteJWT(t, srv, nil)
	if old.remote[0] != next.remote[0] {
		t.Fatal("the new config fetched its own JWKS set")
	}
	// A config that fails after taking the set must not end it.
	bad := &JWTAuth{JWKS: []RemoteJWKS{{URL: srv.URL, FetchTimeout: caddy.Duration(300 * time.Millisecond)}}, Forward: map[string]string{"sub": "bad header"}}
	ctx, cancel := newTestContext()
	if err := bad.Provision(ctx); err == nil {
		t.Fatal("a bad forward header was accepted")
	}
	_ = bad.Cleanup()
	cancel()
	_ = old.Cleanup()
	if res := try(t, next, bearer(sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(nil)))); !res.authed {
		t.Fatalf("refused after the old config let go: %d", res.status())
	}
	if n := srv.Fetches(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// TestRemoteJWKSRemovedKey checks that a token cached as verified is
// refused once its key left the JWKS.
func TestRemoteJWKSRemovedKey(t *testing.T) {
	k := testKeys()
	srv := harness.StartJWKS(t, jwk(&k.rsa.PublicKey, "k1", "RS256"), jwk(&k.ec.PublicKey, "k2", "ES256"))
	j := remoteJWT(t, srv, nil)
	tok := sign(t, jose.RS256, k.rsa, map[string]any{"kid": "k1"}, validClaims(nil))
	if res := try(t, j, bearer(tok)); !res.authed {
		t.Fatalf("refused: %d", res.status())
	}
	srv.SetKeys(jwk(&k.ec.PublicKey, "k2", "ES256"))
	<-j.remote[0].refresh("test", true)
	if res := try(t, j, bearer(tok)); res.authed {
		t.Fatal("a token of a removed key passed from the cache")
	}
}

func TestRemoteJWKSPinning(t *testing.T) {
	k := testKeys()
	srv := harness.StartJWKS(t,
		jwk(&k.rsa.PublicKey, "rs", ""),                                            // no alg: pinned to RS256 by type
		jose.JSONWebKey{Key: []byte(testSecret), KeyID: "oct", Algorithm: "HS256"}, // symmetric: refused
		jwk(&k.ec.PublicKey, "ec", "ES256"),
		jose.JSONWebKey{Key: &k.rsa2.PublicKey, KeyID: "enc", Algorithm: "RSA-OAEP", Use: "enc"},
	)
	j := remoteJWT(t, srv, nil)
	for _, tc := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"RS256 with an alg-less RSA key", sign(t, jose.RS256, k.rsa, map[string]any{"kid": "rs"}, validClaims(nil)), true},
		{"PS256 with an alg-less RSA key", sign(t, jose.PS256, k.rsa, map[string]any{"kid": "rs"}, validClaims(nil)), false},
		{"HS256 with a symmetric key from a URL", sign(t, jose.HS256, []byte(testSecret), map[string]any{"kid": "oct"}, validClaims(nil)), false},
		{"ES256", sign(t, jose.ES256, k.ec, map[string]any{"kid": "ec"}, validClaims(nil)), true},
		{"an encryption key", sign(t, jose.RS256, k.rsa2, map[string]any{"kid": "enc"}, validClaims(nil)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := try(t, j, bearer(tc.tok)); res.authed != tc.ok {
				t.Fatalf("authed %v, want %v (%d)", res.authed, tc.ok, res.status())
			}
		})
	}

	t.Run("algorithms narrows what JWKS keys may do", func(t *testing.T) {
		j := &JWTAuth{JWKS: []RemoteJWKS{{URL: srv.URL}}, Algorithms: []string{"ES256"}}
		provision(t, j)
		if res := try(t, j, bearer(sign(t, jose.RS256, k.rsa, map[string]any{"kid": "rs"}, validClaims(nil)))); res.authed {
			t.Fatal("RS256 passed with algorithms ES256")
		}
		if res := try(t, j, bearer(sign(t, jose.ES256, k.ec, map[string]any{"kid": "ec"}, validClaims(nil)))); !res.authed {
			t.Fatalf("ES256 refused: %d", res.status())
		}
	})
}
