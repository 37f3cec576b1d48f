package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// The demo key of caddyfile/examples/auth.keys.
const demoAPIKey = "fdk_demo_partner_key_do_not_use_in_production"

const (
	testIssuer   = "https://idp.test/"
	testAudience = "api://orders"
)

// signer signs tokens with one key.
type signer struct {
	alg jose.SignatureAlgorithm
	key any
	kid string
}

func (s signer) public() jose.JSONWebKey {
	var pub any
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	}
	return jose.JSONWebKey{Key: pub, KeyID: s.kid, Algorithm: string(s.alg), Use: "sig"}
}

// token signs claims for sub, valid for an hour, for the test issuer and
// audience; extra claims are added.
func (s signer) token(t *testing.T, sub string, extra map[string]any) string {
	t.Helper()
	claims := map[string]any{"iss": testIssuer, "aud": testAudience, "sub": sub,
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	return harness.SignJWT(t, s.alg, s.key, map[string]any{"kid": s.kid}, claims)
}

func newRSASigner(t *testing.T, kid string) signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signer{jose.RS256, k, kid}
}

func newECSigner(t *testing.T, kid string) signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{jose.ES256, k, kid}
}

// call sends a GET to url with the given headers and returns the status,
// the WWW-Authenticate header and the body.
func call(t *testing.T, url string, header map[string][]string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
}

// TestAuthExample runs caddyfile/examples/auth.Caddyfile as is, configured
// only through its environment variables, in front of a real backend and
// a real JWKS server: JWTs on /api/*, API keys on /partner/*, and what the
// upstream sees of both.
func TestAuthExample(t *testing.T) {
	rs := newRSASigner(t, "k1")
	provider := harness.StartJWKS(t, rs.public())
	backend := harness.StartBackend(t, "app")
	backend.RecordHeaders()
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, readExample(t, "auth.Caddyfile"), harness.Caddyfile,
		"FRONTDESK_LISTEN="+listen,
		"FRONTDESK_UPSTREAMS="+backend.Addr,
		"FRONTDESK_JWKS_URL="+provider.URL,
		"FRONTDESK_JWT_ISSUER="+testIssuer,
		"FRONTDESK_JWT_AUDIENCE="+testAudience,
		"FRONTDESK_API_KEYS_FILE="+filepath.Join(harness.RepoRoot(), "caddyfile", "examples", "auth.keys"))
	base := "http://" + listen

	t.Run("no token", func(t *testing.T) {
		status, challenge, body := call(t, base+"/api/orders", nil)
		if status != 401 || challenge != `Bearer realm="restricted"` || !strings.Contains(body, `"status":401`) {
			t.Fatalf("got %d %q %s", status, challenge, body)
		}
	})
	t.Run("valid token; the client's X-User-Id is replaced", func(t *testing.T) {
		status, _, body := call(t, base+"/api/orders", map[string][]string{
			"Authorization": {"Bearer " + rs.token(t, "bob", nil)},
			"X-User-Id":     {"admin", "root"},
			"x-user-id":     {"sneaky"},
		})
		if status != 200 {
			t.Fatalf("got %d %s", status, body)
		}
		if got := backend.LastHeader().Values("X-User-Id"); len(got) != 1 || got[0] != "bob" {
			t.Fatalf("the upstream saw X-User-Id %q, want only bob", got)
		}
	})
	t.Run("wrong audience", func(t *testing.T) {
		status, challenge, _ := call(t, base+"/api/orders", map[string][]string{
			"Authorization": {"Bearer " + rs.token(t, "bob", map[string]any{"aud": "api://other"})},
		})
		if status != 401 || !strings.Contains(challenge, `error="invalid_token"`) {
			t.Fatalf("got %d %q", status, challenge)
		}
	})
	t.Run("API key; the key never reaches the upstream", func(t *testing.T) {
		status, _, body := call(t, base+"/partner/orders", map[string][]string{
			"X-API-Key":   {demoAPIKey},
			"X-Client-Id": {"someone-else"},
		})
		if status != 200 {
			t.Fatalf("got %d %s", status, body)
		}
		seen := backend.LastHeader()
		if got := seen.Values("X-Client-Id"); len(got) != 1 || got[0] != "demo-partner" {
			t.Fatalf("the upstream saw X-Client-Id %q, want only demo-partner", got)
		}
		for name, vals := range seen {
			for _, v := range vals {
				if strings.Contains(v, demoAPIKey) {
					t.Fatalf("the upstream saw the key in %s", name)
				}
			}
		}
	})
	t.Run("API key twice", func(t *testing.T) {
		status, challenge, _ := call(t, base+"/partner/orders", map[string][]string{"X-API-Key": {demoAPIKey, "other"}})
		if status != 401 || !strings.Contains(challenge, `error="invalid_request"`) {
			t.Fatalf("got %d %q", status, challenge)
		}
	})
	t.Run("wrong API key, HTML for a browser", func(t *testing.T) {
		status, _, body := call(t, base+"/partner/orders", map[string][]string{
			"X-API-Key": {demoAPIKey[:len(demoAPIKey)-1] + "X"}, "Accept": {"text/html"},
		})
		if status != 401 || !strings.Contains(body, "<h1>401 Unauthorized</h1>") {
			t.Fatalf("got %d %s", status, body)
		}
	})
	t.Run("no credential in the logs", func(t *testing.T) {
		logs, err := os.ReadFile(fd.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(logs), `"uri":"/partner/orders"`) {
			t.Fatalf("no access log lines for /partner/orders; the check proves nothing:\n%s", logs)
		}
		if strings.Contains(string(logs), demoAPIKey) || strings.Contains(string(logs), "Bearer ey") {
			t.Fatal("a credential is in the logs")
		}
	})
	t.Run("admin status", func(t *testing.T) {
		out, err := fd.AdminGet("/frontdesk/auth")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"url":"`+provider.URL+`"`) || !strings.Contains(string(out), `"kid":"k1"`) {
			t.Fatalf("/frontdesk/auth: %s", out)
		}
	})
}

// jwksSite is a Caddyfile with one JWT-protected site over backend, with a
// short min_refresh_interval so a rotation is fetched within the test.
func jwksSite(listen, jwksURL string, backend *harness.Backend) string {
	return fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	auto_https off
}

http://%s {
	verify_jwt {
		jwks_url %s {
			refresh_interval 1h
			min_refresh_interval 300ms
			fetch_timeout 500ms
		}
		issuer %s
		audience %s
		forward sub X-User-Id
	}
	reverse_proxy %s
}
`, listen, jwksURL, testIssuer, testAudience, backend.Addr)
}

// TestAuthJWKSThroughBinary drives the remote JWKS cache through the built
// binary: a rotated-in key is fetched exactly once; 1000 parallel requests
// with unknown kids cause at most one fetch; a config reload keeps the
// fetched keys (no fetch); and while the JWKS endpoint fails or hangs,
// tokens of known keys keep passing.
func TestAuthJWKSThroughBinary(t *testing.T) {
	k1, k2 := newRSASigner(t, "k1"), newECSigner(t, "k2")
	provider := harness.StartJWKS(t, k1.public())
	backend := harness.StartBackend(t, "app")
	listen := harness.FreeAddr(t)
	config := jwksSite(listen, provider.URL, backend)
	fd := harness.StartFrontdesk(t, config, harness.Caddyfile)
	url := "http://" + listen + "/orders"
	get := func(tok string) int {
		status, _, _ := call(t, url, map[string][]string{"Authorization": {"Bearer " + tok}})
		return status
	}
	if s := get(k1.token(t, "bob", nil)); s != 200 {
		t.Fatalf("k1 token: %d", s)
	}
	if n := provider.Fetches(); n != 1 {
		t.Fatalf("%d JWKS fetches at start, want 1", n)
	}

	// J11: the IdP rotates k2 in.
	provider.SetKeys(k1.public(), k2.public())
	err := harness.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		if s := get(k2.token(t, "carol", nil)); s != 200 {
			return fmt.Errorf("k2 token: %d", s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if s := get(k2.token(t, "carol", map[string]any{"jti": i})); s != 200 {
			t.Fatalf("k2 token %d: %d", i, s)
		}
	}
	if n := provider.Fetches(); n != 2 {
		t.Fatalf("%d JWKS fetches after the rotation, want 2 (start, new kid)", n)
	}

	// J10: 1000 parallel requests, each with an unknown kid. The tokens
	// are signed first, so the storm is as short as the machine allows.
	time.Sleep(400 * time.Millisecond) // past min_refresh_interval: one fetch is allowed
	stranger := newRSASigner(t, "")
	storm := make([]string, 1000)
	for i := range storm {
		stranger.kid = fmt.Sprintf("unknown-%d", i)
		storm[i] = stranger.token(t, "mallory", nil)
	}
	before := provider.Fetches()
	began := time.Now()
	var wg sync.WaitGroup
	var refused atomic.Int64
	sem := make(chan struct{}, 64)
	for _, tok := range storm {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 401 {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	lasted := time.Since(began)
	if refused.Load() != 1000 {
		t.Fatalf("%d of 1000 unknown-kid requests refused", refused.Load())
	}
	// The promise: at most one fetch per min_refresh_interval (300ms),
	// however many unknown kids arrive; never one per request.
	allowed := 1 + int64(lasted/(300*time.Millisecond))
	if n := provider.Fetches() - before; n < 1 || n > allowed {
		t.Fatalf("%d JWKS fetches for 1000 unknown kids in %s; at most %d allowed", n, lasted, allowed)
	}

	// A reload with the same JWKS settings keeps the keys: no fetch.
	before = provider.Fetches()
	if err := fd.Load(config, harness.Caddyfile); err != nil {
		t.Fatal(err)
	}
	if s := get(k2.token(t, "carol", map[string]any{"jti": "after-reload"})); s != 200 {
		t.Fatalf("k2 after a reload: %d", s)
	}
	if n := provider.Fetches() - before; n != 0 {
		t.Fatalf("%d JWKS fetches caused by a reload, want 0", n)
	}

	// J12: the JWKS endpoint fails, then hangs.
	provider.SetAnswer(http.StatusInternalServerError, "down")
	if s := get(k1.token(t, "bob", map[string]any{"jti": "during-500"})); s != 200 {
		t.Fatalf("k1 while the JWKS answers 500: %d", s)
	}
	hang := make(chan struct{})
	defer close(hang)
	provider.SetKeys(k1.public(), k2.public())
	provider.Hang(hang)
	time.Sleep(400 * time.Millisecond)
	stranger.kid = "trigger-a-fetch"
	get(stranger.token(t, "mallory", nil)) // waits at most fetch_timeout
	for i := range 20 {
		if s := get(k1.token(t, "bob", map[string]any{"jti": fmt.Sprint("hang-", i)})); s != 200 {
			t.Fatalf("k1 while the JWKS hangs: %d", s)
		}
	}
	out, err := fd.AdminGet("/frontdesk/auth")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		JWKS []struct {
			Keys   []struct{ KID string } `json:"keys"`
			Status struct {
				Failures int64  `json:"failures"`
				LastErr  string `json:"last_error"`
			} `json:"status"`
		} `json:"jwks"`
	}
	if err := json.Unmarshal(out, &st); err != nil || len(st.JWKS) != 1 || len(st.JWKS[0].Keys) != 2 || st.JWKS[0].Status.Failures == 0 {
		t.Fatalf("/frontdesk/auth: %s (%v)", out, err)
	}
}

// TestAuthJSONConfig loads the providers as JSON, the way an admin API
// client would: Caddy's authentication handler with hashed_api_key, then
// with signed_jwt and a static key.
func TestAuthJSONConfig(t *testing.T) {
	listen := harness.FreeAddr(t)
	signer := newECSigner(t, "es1")
	pemKey, err := x509.MarshalPKIXPublicKey(signer.public().Key)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pemKey}))
	site := func(provider string, cfg any) string {
		c, _ := json.Marshal(map[string]any{
			"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"front": map[string]any{
				"listen": []string{listen},
				"routes": []any{map[string]any{"handle": []any{
					map[string]any{"handler": "authentication", "providers": map[string]any{provider: cfg}},
					map[string]any{"handler": "static_response", "body": "hello {http.auth.user.id}"},
				}}},
			}}}},
		})
		return string(c)
	}
	fd := harness.StartFrontdesk(t, site("hashed_api_key", map[string]any{
		"keys": []any{map[string]any{"id": "json-client", "hash": "sha256:1db4ea20596e5b46afb54385f2dd5af80e39f7a70db3d424aaa5577369ecafe3"}},
	}), harness.JSON)
	url := "http://" + listen + "/"
	if status, _, body := call(t, url, map[string][]string{"X-API-Key": {demoAPIKey}}); status != 200 || body != "hello json-client" {
		t.Fatalf("API key: %d %q", status, body)
	}
	if status, _, _ := call(t, url, nil); status != 401 {
		t.Fatalf("no key: %d", status)
	}
	err = fd.Load(site("signed_jwt", map[string]any{
		"keys":      []any{map[string]any{"kid": "es1", "alg": "ES256", "public_key": pemText}},
		"issuers":   []string{testIssuer},
		"audiences": []string{testAudience},
	}), harness.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := call(t, url, map[string][]string{"Authorization": {"Bearer " + signer.token(t, "dana", nil)}}); status != 200 || body != "hello dana" {
		t.Fatalf("JWT: %d %q", status, body)
	}
	// A config the provider refuses leaves the running one serving.
	if err := fd.Load(site("signed_jwt", map[string]any{"keys": []any{map[string]any{"alg": "HS256", "secret": "short"}}}), harness.JSON); err == nil {
		t.Fatal("a 5-byte HS256 secret was accepted")
	}
	if status, _, _ := call(t, url, map[string][]string{"Authorization": {"Bearer " + signer.token(t, "dana", nil)}}); status != 200 {
		t.Fatalf("after a refused reload: %d", status)
	}
}

// TestAuthKeyCommands runs the binary's hash-api-key and gen-api-key: the
// key from stdin, --key or the argument hashes to its SHA-256, and a
// generated key's keys file line holds that key's hash.
func TestAuthKeyCommands(t *testing.T) {
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(harness.Binary(t), args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("frontdesk %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	want := func(key string) string {
		sum := sha256.Sum256([]byte(key))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	for name, got := range map[string]string{
		"stdin":    run(demoAPIKey+"\n", "hash-api-key"),
		"--key":    run("", "hash-api-key", "--key", demoAPIKey),
		"argument": run("", "hash-api-key", demoAPIKey),
	} {
		if got != want(demoAPIKey) {
			t.Errorf("%s: %q, want %q", name, got, want(demoAPIKey))
		}
	}
	// The example keys file holds the demo key by this hash.
	if keys := readExample(t, "auth.keys"); !strings.Contains(keys, "demo-partner "+want(demoAPIKey)) {
		t.Errorf("auth.keys does not hold the demo key's hash")
	}

	out := run("", "gen-api-key", "--id", "acme", "--scopes", "orders:read", "--owner", "ACME")
	var key, line string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "key:"); ok {
			key = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "line:"); ok {
			line = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(key, "fdk_") || line != "acme "+want(key)+" scopes=orders:read owner=ACME" {
		t.Fatalf("gen-api-key printed:\n%s", out)
	}
}
