package ratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// newLimiter provisions a request_limit from its JSON config.
func newLimiter(t testing.TB, config string) (*RequestLimit, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	h := new(RequestLimit)
	if err := json.Unmarshal([]byte(config), h); err != nil {
		t.Fatalf("decoding %s: %v", config, err)
	}
	t.Cleanup(func() { h.Cleanup() })
	return h, h.Provision(ctx)
}

func mustLimiter(t testing.TB, config string) *RequestLimit {
	t.Helper()
	h, err := newLimiter(t, config)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// request sends one request from clientIP (and with the given header
// pairs) through h to next, and returns the recorded answer.
func request(h *RequestLimit, clientIP string, next caddyhttp.Handler, header ...string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, clientIP)
	if err := h.ServeHTTP(w, r, next); err != nil {
		w.Code = caddyhttp.Error(0, err).StatusCode
	}
	return w
}

var ok = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

func TestGCRABurstThenRate(t *testing.T) {
	g := newGCRA(10, time.Second, 20)
	var tat int64
	admitted := 0
	for range 25 {
		var d decision
		tat, d = g.take(tat, 0)
		if d.allowed {
			admitted++
		}
	}
	if admitted != 20 {
		t.Fatalf("at one instant: %d admitted, want the burst of 20", admitted)
	}
	_, d := g.take(tat, 0)
	if d.allowed || d.retryAfter != 100*time.Millisecond {
		t.Fatalf("21st at once: %+v, want refused with 100ms to wait", d)
	}
	if _, d := g.take(tat, int64(100*time.Millisecond)); !d.allowed || d.remaining != 0 {
		t.Fatalf("after one interval: %+v, want one admitted and none left", d)
	}
}

// TestRateLimitSample is the reference's R1: 21 requests at once from one
// IP against 10/s with burst 20: 20 pass, the 21st gets 429 with an
// integer Retry-After of at least 1 and the RateLimit headers.
func TestRateLimitSample(t *testing.T) {
	h := mustLimiter(t, `{"zones": [{"name": "per_ip", "events": 10, "window": "1s", "burst": 20}]}`)
	for i := range 20 {
		if w := request(h, "203.0.113.5", ok); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
	}
	w := request(h, "203.0.113.5", ok)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("21st: %d, Retry-After %q; want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), `"rate_limited"`) {
		t.Errorf("body %q", w.Body)
	}
	if p := w.Header().Get("RateLimit-Policy"); p != `"per_ip";q=10;w=1` {
		t.Errorf("RateLimit-Policy %q", p)
	}
	if s := w.Header().Get("RateLimit"); !strings.HasPrefix(s, `"per_ip";r=0;t=`) {
		t.Errorf("RateLimit %q", s)
	}
	if w := request(h, "203.0.113.6", ok); w.Code != http.StatusOK || w.Header().Get("RateLimit") != `"per_ip";r=19;t=1` {
		t.Errorf("another client: %d, RateLimit %q", w.Code, w.Header().Get("RateLimit"))
	}
}

// TestRateLimitGroupsAddresses is R3 and R4: addresses of one IPv6 /64
// share a bucket, and so do the IPv4 and ::ffff: forms of one client.
func TestRateLimitGroupsAddresses(t *testing.T) {
	h := mustLimiter(t, `{"zones": [{"name": "per_ip", "events": 1, "window": "1m", "burst": 3}]}`)
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2:abcd:1:2:3"} {
		if w := request(h, ip, ok); w.Code != http.StatusOK {
			t.Fatalf("address %d of the /64: %d", i+1, w.Code)
		}
	}
	if w := request(h, "2001:db8:1:2::42", ok); w.Code != http.StatusTooManyRequests {
		t.Errorf("4th address of the same /64: %d, want 429", w.Code)
	}
	if w := request(h, "2001:db8:1:3::1", ok); w.Code != http.StatusOK {
		t.Errorf("the next /64: %d, want 200", w.Code)
	}
	for _, ip := range []string{"198.51.100.7", "::ffff:198.51.100.7", "::ffff:c633:6407"} {
		request(h, ip, ok)
	}
	if w := request(h, "198.51.100.7", ok); w.Code != http.StatusTooManyRequests {
		t.Errorf("IPv4 and mapped forms of one client: %d, want one bucket, so 429", w.Code)
	}
}

func TestRateLimitZonesAndKeys(t *testing.T) {
	h := mustLimiter(t, `{"zones": [
		{"name": "per_ip", "events": 100, "window": "1s"},
		{"name": "per_key", "key": "{http.request.header.X-Api-Key}", "events": 2, "window": "1m"}
	]}`)
	for range 2 {
		request(h, "10.0.0.1", ok, "X-Api-Key", "k1")
	}
	w := request(h, "10.0.0.2", ok, "X-Api-Key", "k1")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("third use of one API key from another IP: %d, want 429", w.Code)
	}
	if r := w.Header().Get("RateLimit"); !strings.Contains(r, `"per_ip";r=99`) || !strings.Contains(r, `"per_key";r=0`) {
		t.Errorf("RateLimit %q should list both zones", r)
	}
	// No key: the zone does not apply, and anonymous requests share nothing.
	for range 5 {
		if w := request(h, "10.0.0.3", ok); w.Code != http.StatusOK {
			t.Fatalf("request without an API key: %d", w.Code)
		}
	}
	if n := h.Zones[1].state.counts[outcomeNoKey].Load(); n != 5 {
		t.Errorf("no_key count %d, want 5", n)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	h := mustLimiter(t, `{"zones": [{"name": "conc", "max_in_flight": 2, "in_flight_status": 503}]}`)
	release := make(chan struct{})
	var inside sync.WaitGroup
	inside.Add(2)
	blocking := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		inside.Done()
		<-release
		return nil
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); request(h, "10.0.0.1", blocking) }()
	}
	inside.Wait()
	if w := request(h, "10.0.0.1", ok); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("third in flight: %d, want 503 with Retry-After", w.Code)
	}
	if w := request(h, "10.0.0.2", ok); w.Code != http.StatusOK {
		t.Errorf("another client: %d", w.Code)
	}
	close(release)
	wg.Wait()
	if w := request(h, "10.0.0.1", ok); w.Code != http.StatusOK {
		t.Errorf("after the first two ended: %d", w.Code)
	}
}

// TestLimiterUnderContention is R9: 64 goroutines hammer one key; the
// admitted requests stay within burst + rate x elapsed x 1.01 (the
// elapsed time is measured, not assumed).
func TestLimiterUnderContention(t *testing.T) {
	const events, burst = 2000, 50
	h := mustLimiter(t, fmt.Sprintf(`{"zones": [{"name": "hot", "events": %d, "window": "1s", "burst": %d}]}`, events, burst))
	st, lim := h.Zones[0].state.store, limits{rate: h.Zones[0].rate}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := monotonic()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3000 {
				if d, _, _ := st.take("10.0.0.1/32", lim); d.allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Duration(monotonic() - start)
	bound := burst + events*elapsed.Seconds()*1.01
	t.Logf("64 goroutines, %v: %d admitted, bound %.0f", elapsed, admitted.Load(), bound)
	if float64(admitted.Load()) > bound {
		t.Errorf("admitted %d, more than burst + rate x %v x 1.01 = %.0f", admitted.Load(), elapsed, bound)
	}
	if admitted.Load() < burst {
		t.Errorf("admitted %d, fewer than the burst", admitted.Load())
	}
}

// TestMemoryBoundMillionKeys is R6: a million distinct keys through a
// zone capped at 10,000 keys leave it at the cap, count the evictions,
// and do not grow the heap beyond what the cap allows.
func TestMemoryBoundMillionKeys(t *testing.T) {
	h := mustLimiter(t, `{"zones": [{"name": "wide", "events": 1, "window": "1h", "max_keys": 10000}]}`)
	z := h.Zones[0]
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 1_000_000
	for i := range n {
		z.state.store.take(fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff), limits{rate: z.rate})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	size, ev := z.state.store.size(), z.state.store.evictions.Load()
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d keys held, %d evicted (%d still limiting), heap grew %d KiB", size, ev, z.state.store.evictedLive.Load(), grown/1024)
	if size > 10000 || ev != int64(n-size) {
		t.Errorf("%d keys held and %d evicted; want at most 10000 held and the rest evicted", size, ev)
	}
	if grown > 16<<20 {
		t.Errorf("heap grew %d MiB for 10000 keys", grown>>20)
	}
}

// TestStateSurvivesReload provisions the same zone again, as a reload
// does: the new handler sees the old one's keys. Other settings start
// afresh.
func TestStateSurvivesReload(t *testing.T) {
	const cfg = `{"zones": [{"name": "kept", "events": 1, "window": "1m"}]}`
	old := mustLimiter(t, cfg)
	request(old, "10.0.0.1", ok)
	reloaded := mustLimiter(t, cfg)
	old.Cleanup()
	if w := request(reloaded, "10.0.0.1", ok); w.Code != http.StatusTooManyRequests {
		t.Errorf("after a reload: %d, want the old state's 429", w.Code)
	}
	changed := mustLimiter(t, `{"zones": [{"name": "kept", "events": 2, "window": "1m"}]}`)
	if w := request(changed, "10.0.0.1", ok); w.Code != http.StatusOK {
		t.Errorf("with new settings: %d, want a fresh zone", w.Code)
	}
}

func TestLimiterBadConfig(t *testing.T) {
	for config, want := range map[string]string{
		`{"zones": []}`:              "no zones",
		`{"zones": [{"events": 1}]}`: "needs a name",
		`{"zones": [{"name": "a"}]}`: "no limit",
		`{"zones": [{"name": "a", "events": 1}, {"name": "a", "events": 1}]}`:                               "twice",
		`{"zones": [{"name": "a", "max_in_flight": 1, "in_flight_status": 500}]}`:                           "want 429 or 503",
		`{"zones": [{"name": "a", "events": 1, "ipv6_prefix": 129}]}`:                                       "ipv6_prefix",
		`{"zones": [{"name": "a", "events": 10, "window": "1ns"}]}`:                                         "too short",
		`{"zones": [{"name": "a", "events": 1}], "redis": {}}`:                                              "address is required",
		`{"zones": [{"name": "a", "events": 1}], "redis": {"address": "127.0.0.1:1", "fallback": "maybe"}}`: `fallback "maybe"`,
	} {
		if _, err := newLimiter(t, config); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", config, err, want)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]string{"10/s": "10/1s", "600/m": "600/1m0s", "5/100ms": "5/100ms", "1000/1h": "1000/1h0m0s"} {
		e, w, err := parseRate(in)
		if got := fmt.Sprintf("%d/%s", e, time.Duration(w)); err != nil || got != want {
			t.Errorf("parseRate(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"10", "x/s", "0/s", "10/", "10/-1s", "10/xyz"} {
		if _, _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q): want an error", bad)
		}
	}
}
