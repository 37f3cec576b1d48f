package authn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

// RemoteJWKS is a JWKS URL whose keys are fetched at start, refreshed on
// an interval, and refetched when a token names a key id it does not know
// yet, at most once per min_refresh_interval and single-flight. The keys
// survive config reloads: configs that name the same URL with the same
// settings share one cache and one refresh loop.
type RemoteJWKS struct {
	// The URL of the JWKS document, such as Keycloak's
	// https://idp.example.com/realms/<realm>/protocol/openid-connect/certs
	// or Auth0's https://<tenant>.auth0.com/.well-known/jwks.json.
	URL string `json:"url"`

	// How often the keys are refetched while all is well. Default: 5m.
	RefreshInterval caddy.Duration `json:"refresh_interval,omitempty"`

	// The shortest time between two fetches caused by unknown key ids, and
	// how long an unknown key id is remembered as unknown. Default: 30s.
	MinRefreshInterval caddy.Duration `json:"min_refresh_interval,omitempty"`

	// How long one fetch may take. A request that waits for a fetch (its
	// token names a key id not seen yet) waits at most this long; requests
	// with known keys never wait. Default: 2s.
	FetchTimeout caddy.Duration `json:"fetch_timeout,omitempty"`
}

// check refuses settings a refresh loop cannot run with; it runs before
// the set is taken from the pool, so a refused config starts nothing.
func (rj RemoteJWKS) check() error {
	if !strings.HasPrefix(rj.URL, "https://") && !strings.HasPrefix(rj.URL, "http://") {
		return fmt.Errorf("jwks url %q: must be an http or https URL", rj.URL)
	}
	if rj.RefreshInterval < 0 || rj.MinRefreshInterval < 0 || rj.FetchTimeout < 0 {
		return fmt.Errorf("jwks %s: intervals and timeouts must not be negative", rj.URL)
	}
	return nil
}

func (rj RemoteJWKS) withDefaults() RemoteJWKS {
	if rj.RefreshInterval == 0 {
		rj.RefreshInterval = caddy.Duration(5 * time.Minute)
	}
	if rj.MinRefreshInterval == 0 {
		rj.MinRefreshInterval = caddy.Duration(30 * time.Second)
	}
	if rj.FetchTimeout == 0 {
		rj.FetchTimeout = caddy.Duration(2 * time.Second)
	}
	return rj
}

// maxJWKSBytes bounds the size of a JWKS document.
const maxJWKSBytes = 1 << 20

// maxUnknownKIDs bounds the negative cache of one JWKS set; when it is
// full, it starts over.
const maxUnknownKIDs = 10_000

// remoteSets holds every remote JWKS set across config loads, keyed by
// URL and settings.
var remoteSets = caddy.NewUsagePool()

// jwksSnapshot is one fetched state of a remote set.
type jwksSnapshot struct {
	// keys are every key of the document, pinned to an algorithm from the
	// asymmetric algorithms; providers filter them by their own allowlist.
	keys  map[string][]*verifyKey
	count int
	// generation grows when the set of keys changes, which invalidates
	// tokens cached as verified by an earlier generation.
	generation uint64
	digest     [sha256.Size]byte
	fetchedAt  time.Time
}

// remoteSet is a pooled remote JWKS set and its refresh loop.
type remoteSet struct {
	cfg    RemoteJWKS
	client *http.Client

	snap atomic.Pointer[jwksSnapshot]

	mu          sync.Mutex
	inflight    chan struct{} // closed when the running fetch ends
	lastAttempt time.Time
	unknown     map[string]time.Time // key id → when it may cause a fetch again
	status      fetchStatus

	// first ends with the fetch at start, which a new config waits for
	// (up to the fetch timeout) so that it serves with keys from the
	// start.
	first  <-chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// fetchStatus is the fetch history of a remote set, for the admin API.
type fetchStatus struct {
	Fetches      int64     `json:"fetches"`
	Failures     int64     `json:"failures"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	LastReason   string    `json:"last_reason,omitempty"`
	UnknownKIDs  int       `json:"unknown_kids_cached"`
	UnknownFetch int64     `json:"fetches_for_unknown_kids"`
}

// jwksLogger is the logger of the refresh loops. A set outlives the config
// that started it, so it logs through Caddy's default logger, which follows
// the running config, never through the logger of a config that may be
// refused or already gone.
func jwksLogger() *zap.Logger {
	return caddy.Log().Named("http.authentication.providers.signed_jwt.jwks")
}

// acquireRemoteSet returns the pooled set for cfg, creating and starting it
// if no config holds it yet; release it with releaseRemoteSet.
func acquireRemoteSet(cfg RemoteJWKS) (*remoteSet, string, error) {
	cfg = cfg.withDefaults()
	key := fmt.Sprintf("%s\x00%d\x00%d\x00%d", cfg.URL, cfg.RefreshInterval, cfg.MinRefreshInterval, cfg.FetchTimeout)
	v, _, err := remoteSets.LoadOrNew(key, func() (caddy.Destructor, error) {
		return startRemoteSet(cfg), nil
	})
	if err != nil {
		return nil, "", err
	}
	s := v.(*remoteSet)
	select {
	case <-s.first:
	case <-time.After(time.Duration(cfg.FetchTimeout)):
	}
	return s, key, nil
}

func releaseRemoteSet(key string) { _, _ = remoteSets.Delete(key) }

func startRemoteSet(cfg RemoteJWKS) *remoteSet {
	s := &remoteSet{
		cfg:     cfg,
		client:  &http.Client{Timeout: time.Duration(cfg.FetchTimeout)},
		unknown: map[string]time.Time{},
		done:    make(chan struct{}),
	}
	s.snap.Store(&jwksSnapshot{keys: map[string][]*verifyKey{}})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.first = s.refresh("start", true)
	go s.loop(s.first)
	return s
}

// Destruct stops the refresh loop; it implements caddy.Destructor.
func (s *remoteSet) Destruct() error {
	s.cancel()
	<-s.done
	return nil
}

// loop waits for the first fetch, then fetches every refresh interval;
// after a failure it tries again sooner, backing off from 1s up to the
// refresh interval. Requests keep using the last keys fetched until a
// fetch succeeds.
func (s *remoteSet) loop(first <-chan struct{}) {
	defer close(s.done)
	defer func() {
		if r := recover(); r != nil {
			jwksLogger().Error("JWKS refresh loop panicked", zap.String("url", s.cfg.URL), zap.Any("panic", r))
		}
	}()
	failures := 0
	for ch := first; ; ch = s.refresh("interval", true) {
		select {
		case <-ch:
		case <-s.ctx.Done():
			return
		}
		next := time.Duration(s.cfg.RefreshInterval)
		s.mu.Lock()
		ok := s.status.LastError == ""
		s.mu.Unlock()
		if ok {
			failures = 0
		} else {
			failures++
			next = min(time.Second<<min(failures-1, 20), next)
		}
		// ±10% jitter keeps many proxies from fetching in step.
		next += time.Duration((rand.Float64() - 0.5) * 0.2 * float64(next))
		select {
		case <-time.After(next):
		case <-s.ctx.Done():
			return
		}
	}
}

// refresh starts a fetch unless one is running (whose end it then returns)
// or, when not forced, the last one started less than min_refresh_interval
// ago (then it returns nil).
func (s *remoteSet) refresh(reason string, force bool) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight
	}
	now := time.Now()
	if !force && now.Sub(s.lastAttempt) < time.Duration(s.cfg.MinRefreshInterval) {
		return nil
	}
	ch := make(chan struct{})
	s.inflight, s.lastAttempt = ch, now
	s.status.LastAttempt, s.status.LastReason = now, reason
	s.status.Fetches++
	if reason == "unknown kid" {
		s.status.UnknownFetch++
	}
	go s.fetch(ch)
	return ch
}

// fetch gets and parses the document, and on success publishes its keys.
func (s *remoteSet) fetch(done chan struct{}) {
	keys, skipped, digest, err := s.get()
	s.mu.Lock()
	defer func() {
		s.inflight = nil
		s.mu.Unlock()
		close(done)
	}()
	logger := jwksLogger()
	if err != nil {
		s.status.Failures++
		s.status.LastError = err.Error()
		jwksFetches.WithLabelValues(s.cfg.URL, "error").Inc()
		logger.Warn("fetching JWKS failed; the keys fetched before keep serving",
			zap.String("url", s.cfg.URL), zap.Error(err))
		return
	}
	jwksFetches.WithLabelValues(s.cfg.URL, "ok").Inc()
	s.status.LastError, s.status.LastSuccess = "", time.Now()
	for _, e := range skipped {
		logger.Warn("JWKS key skipped", zap.String("url", s.cfg.URL), zap.Error(e))
	}
	old := s.snap.Load()
	next := &jwksSnapshot{keys: map[string][]*verifyKey{}, count: len(keys), digest: digest,
		generation: old.generation, fetchedAt: time.Now()}
	for _, k := range keys {
		next.keys[k.kid] = append(next.keys[k.kid], k)
	}
	if digest != old.digest {
		next.generation++
		// New keys may be the ones remembered as unknown.
		clear(s.unknown)
	}
	s.snap.Store(next)
}

// get fetches the JWKS document.
func (s *remoteSet) get() ([]*verifyKey, []error, [sha256.Size]byte, error) {
	var digest [sha256.Size]byte
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.cfg.URL, nil)
	if err != nil {
		return nil, nil, digest, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, digest, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, digest, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, nil, digest, err
	}
	if len(body) > maxJWKSBytes {
		return nil, nil, digest, fmt.Errorf("document larger than %d bytes", maxJWKSBytes)
	}
	keys, skipped, err := parseJWKS(body, asymmetricAlgorithms, false)
	if err != nil {
		return nil, nil, digest, err
	}
	if len(keys) == 0 {
		return nil, skipped, digest, fmt.Errorf("no usable signing keys in the document")
	}
	return keys, skipped, sha256.Sum256(body), nil
}

// current returns the keys fetched last.
func (s *remoteSet) current() *jwksSnapshot { return s.snap.Load() }

// lookup returns the keys of kid. A kid not known yet causes one fetch,
// single-flight and at most once per min_refresh_interval, which the
// request waits for (bounded by the fetch timeout and the request's
// context); a kid still unknown after it is remembered as unknown for
// min_refresh_interval and costs no more fetches until then.
func (s *remoteSet) lookup(ctx context.Context, kid string) []*verifyKey {
	if keys := s.current().keys[kid]; keys != nil {
		return keys
	}
	now := time.Now()
	s.mu.Lock()
	if until, ok := s.unknown[kid]; ok && now.Before(until) {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	if ch := s.refresh("unknown kid", false); ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
	}
	if keys := s.current().keys[kid]; keys != nil {
		return keys
	}
	s.mu.Lock()
	if len(s.unknown) >= maxUnknownKIDs {
		clear(s.unknown)
	}
	s.unknown[kid] = time.Now().Add(time.Duration(s.cfg.MinRefreshInterval))
	s.mu.Unlock()
	return nil
}

// jwksStatus is one remote set in the answer of /frontdesk/auth.
type jwksStatus struct {
	URL        string       `json:"url"`
	Keys       []keyStatus  `json:"keys"`
	Generation uint64       `json:"generation"`
	FetchedAt  time.Time    `json:"fetched_at,omitzero"`
	Settings   RemoteJWKS   `json:"settings"`
	Status     *fetchStatus `json:"status"`
}

// keyStatus describes one key without its material.
type keyStatus struct {
	KID       string `json:"kid"`
	Algorithm string `json:"alg"`
	Type      string `json:"type"`
}

func (s *remoteSet) describe() jwksStatus {
	snap := s.current()
	out := jwksStatus{URL: s.cfg.URL, Generation: snap.generation, FetchedAt: snap.fetchedAt, Settings: s.cfg, Keys: []keyStatus{}}
	for _, ks := range snap.keys {
		for _, k := range ks {
			out.Keys = append(out.Keys, keyStatus{KID: k.kid, Algorithm: string(k.alg), Type: keyKind(k.key)})
		}
	}
	s.mu.Lock()
	st := s.status
	st.UnknownKIDs = len(s.unknown)
	s.mu.Unlock()
	out.Status = &st
	return out
}

// Interface guard
var _ caddy.Destructor = (*remoteSet)(nil)

// pinnedFor filters keys by a provider's allowed algorithms.
func pinnedFor(keys []*verifyKey, allowed []jose.SignatureAlgorithm) []*verifyKey {
	out := keys[:0:0]
	for _, k := range keys {
		for _, a := range allowed {
			if k.alg == a {
				out = append(out, k)
				break
			}
		}
	}
	return out
}
