package harness

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// JWKS is an identity provider's key endpoint: a real HTTP server on
// loopback serving a JWKS document whose keys, status and speed a test
// changes while it runs, and which counts the fetches.
type JWKS struct {
	// URL is the address of the document.
	URL string

	srv     *httptest.Server
	mu      sync.Mutex
	doc     []byte
	status  int
	hang    <-chan struct{}
	fetches atomic.Int64
}

// StartJWKS serves keys as a JWKS document until the test ends.
func StartJWKS(t testing.TB, keys ...jose.JSONWebKey) *JWKS {
	t.Helper()
	j := &JWKS{status: http.StatusOK}
	j.SetKeys(keys...)
	j.srv = httptest.NewServer(http.HandlerFunc(j.serve))
	j.URL = j.srv.URL
	t.Cleanup(j.srv.Close)
	return j
}

func (j *JWKS) serve(w http.ResponseWriter, r *http.Request) {
	j.fetches.Add(1)
	j.mu.Lock()
	doc, status, hang := j.doc, j.status, j.hang
	j.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(doc)
}

// SetKeys serves keys from now on, with status 200.
func (j *JWKS) SetKeys(keys ...jose.JSONWebKey) {
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		panic(err) // keys a test made always marshal
	}
	j.mu.Lock()
	j.doc, j.status = doc, http.StatusOK
	j.mu.Unlock()
}

// SetAnswer serves status and body from now on, instead of the keys.
func (j *JWKS) SetAnswer(status int, body string) {
	j.mu.Lock()
	j.status, j.doc = status, []byte(body)
	j.mu.Unlock()
}

// Hang makes every fetch wait until release is closed (or the client
// gives up); nil ends that.
func (j *JWKS) Hang(release <-chan struct{}) {
	j.mu.Lock()
	j.hang = release
	j.mu.Unlock()
}

// Fetches counts the requests for the document so far.
func (j *JWKS) Fetches() int64 { return j.fetches.Load() }

// SignJWT signs claims with key as a compact JWS of algorithm alg, with
// the given protected header values (such as "kid"); a token as an
// identity provider would issue it.
func SignJWT(t testing.TB, alg jose.SignatureAlgorithm, key any, headers map[string]any, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range headers {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("signing a JWT: %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("signing a JWT: %v", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("signing a JWT: %v", err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatalf("signing a JWT: %v", err)
	}
	return tok
}
