package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// balancedCaddyfile is a site on listen that spreads over backends with
// the recommended health-aware settings of caddyfile/examples/
// balancing.Caddyfile: policy, per-upstream breakers and retries of
// idempotent requests. front holds directives placed before the proxy.
func balancedCaddyfile(listen, policy, front string, backends []*harness.Backend) string {
	return proxySite(listen, backends, front, `lb_policy `+policy+`
		lb_retries 3
		transport observed_http {
			breaker
			retry_status 500 502 503 504
		}`)
}

// upstreamState is what the tests read of /frontdesk/upstreams.
type upstreamState struct {
	Address string `json:"address"`
	Breaker string `json:"breaker"`
	Ejected bool   `json:"ejected"`
	Window  struct {
		Success         int `json:"success"`
		ServerErrors    int `json:"server_errors"`
		GatewayErrors   int `json:"gateway_errors"`
		TooManyRequests int `json:"too_many_requests"`
	} `json:"window"`
}

// upstreams returns the scoreboard entries of the default scope by address.
func upstreams(t *testing.T, fd *harness.Frontdesk) map[string]upstreamState {
	t.Helper()
	body, err := fd.AdminGet("/frontdesk/upstreams")
	if err != nil {
		t.Fatalf("GET /frontdesk/upstreams: %v", err)
	}
	var scopes []struct {
		Scope     string          `json:"scope"`
		Upstreams []upstreamState `json:"upstreams"`
	}
	if err := json.Unmarshal(body, &scopes); err != nil {
		t.Fatalf("decoding /frontdesk/upstreams: %v\n%s", err, body)
	}
	out := map[string]upstreamState{}
	for _, s := range scopes {
		for _, u := range s.Upstreams {
			out[u.Address] = u
		}
	}
	return out
}

// shareSince returns the share of the answers since before that backend
// gave, and how many answers there were.
func shareSince(before, now harness.LoadResult, backend string) (float64, int64) {
	total := now.Requests() - before.Requests()
	if total <= 0 {
		return 0, 0
	}
	return float64(now.ByBackend[backend]-before.ByBackend[backend]) / float64(total), total
}

// TestBalancingSlowBackend slows one of four backends by 100ms under load:
// peak_ewma must send it under 10% of the requests within 5s, and send it
// its share again after it heals.
func TestBalancingSlowBackend(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	harness.StartFrontdesk(t, balancedCaddyfile(listen, "peak_ewma", "", backends), harness.Caddyfile)
	load := harness.StartLoad(harness.LoadConfig{Target: listen, Connections: 16, Duration: time.Minute})
	defer load.Stop()
	slow := backends[0]

	time.Sleep(time.Second)
	slow.SetLatency(100 * time.Millisecond)
	const window = 500 * time.Millisecond
	prev := load.Snapshot()
	err := harness.Eventually(5*time.Second, window, func() error {
		now := load.Snapshot()
		share, n := shareSince(prev, now, slow.Name)
		prev = now
		if n < 50 || share >= 0.10 {
			return fmt.Errorf("slow backend got %.1f%% of the last %d answers", share*100, n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("within 5s of slowing down: %v", err)
	}

	slow.SetLatency(0)
	prev = load.Snapshot()
	err = harness.Eventually(40*time.Second, time.Second, func() error {
		now := load.Snapshot()
		share, n := shareSince(prev, now, slow.Name)
		prev = now
		if share < 0.15 {
			return fmt.Errorf("healed backend got %.1f%% of the last %d answers", share*100, n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after healing: %v", err)
	}
	if res := load.Stop(); res.Non2xx+res.Errors() != 0 {
		t.Errorf("clients saw failures: %s", res)
	}
}

// TestBalancingFlakyBackendEjected makes one of four backends fail half of
// its requests with 500: its breaker must take it out, and with retries on
// fewer than 1% of the client's requests may fail.
func TestBalancingFlakyBackendEjected(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, balancedCaddyfile(listen, "peak_ewma", "", backends), harness.Caddyfile)
	flaky := backends[0]
	flaky.SetErrorRate(0.5)

	load := harness.StartLoad(harness.LoadConfig{Target: listen, Connections: 16, Duration: time.Minute})
	defer load.Stop()
	err := harness.Eventually(4*time.Second, 50*time.Millisecond, func() error {
		if u := upstreams(t, fd)[flaky.Addr]; u.Breaker != "open" && u.Breaker != "half-open" && !u.Ejected {
			return fmt.Errorf("flaky backend still in service: %+v", u)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // and through the breaker's half-open probes
	res := load.Stop()
	t.Logf("flaky backend failed %d, served %d; clients: %s", flaky.Failed(), flaky.Served(), res)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests() == 0 || float64(res.Non2xx+res.Errors()) >= 0.01*float64(res.Requests()) {
		t.Errorf("clients saw %d failures of %d requests, want under 1%%", res.Non2xx+res.Errors(), res.Requests())
	}
}

// TestBalancingKilledBackend kills one of four backends under load: once
// the proxy has noticed (a gateway error on its scoreboard), clients see
// no errors. (peak_ewma charges the failure 5s of latency, so the backend
// is not picked again for long; its breaker may never see enough failures
// to open.)
func TestBalancingKilledBackend(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, balancedCaddyfile(listen, "peak_ewma", "", backends), harness.Caddyfile)
	load := harness.StartLoad(harness.LoadConfig{Target: listen, Connections: 16, Duration: time.Minute})
	defer load.Stop()
	dead := backends[0]

	time.Sleep(500 * time.Millisecond)
	dead.Kill()
	err := harness.Eventually(5*time.Second, 20*time.Millisecond, func() error {
		if u := upstreams(t, fd)[dead.Addr]; u.Window.GatewayErrors == 0 {
			return fmt.Errorf("killed backend not noticed yet: %+v", u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before := load.Snapshot()
	time.Sleep(2 * time.Second)
	after := load.Snapshot()
	failures := after.Non2xx + after.Errors() - before.Non2xx - before.Errors()
	if n := after.Requests() - before.Requests(); n == 0 || failures != 0 {
		t.Errorf("after detection: %d failures of %d requests, want none; %s", failures, n, after)
	}
	if total := load.Stop(); total.Non2xx+total.Errors() != 0 {
		t.Logf("before detection (retried dial errors should leave none): %s", total)
	}
}

// TestBalancingAllFailing kills every backend: requests never hang, and
// once the breakers are open they get a fast 503 with Retry-After.
func TestBalancingAllFailing(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	harness.StartFrontdesk(t, balancedCaddyfile(listen, "peak_ewma", "route_breaker", backends), harness.Caddyfile)
	for _, b := range backends {
		b.Kill()
	}
	res := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 8, Duration: 2 * time.Second, Timeout: 2 * time.Second})
	t.Logf("all backends down: %s", res)
	if res.Errors() != 0 || res.OK != 0 || res.Requests() == 0 {
		t.Errorf("want only error answers and no hung or broken requests: %s", res)
	}
	if res.Statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 among the answers: %v", res.Statuses)
	}

	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + listen + "/")
	if err != nil {
		t.Fatalf("a request after the breakers opened: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("got %d with Retry-After %q, want 503 with a Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestBalancingStateSurvivesReload opens a backend's breaker, then reloads
// a config that keeps that backend (and drops another) through the admin
// API: the breaker stays open and the outcome window keeps its counts.
// least_requests keeps sending the dead backend its share until the breaker
// opens (peak_ewma would shun it after the first failure).
func TestBalancingStateSurvivesReload(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, balancedCaddyfile(listen, "least_requests", "", backends), harness.Caddyfile)
	dead := backends[0]
	dead.Kill()
	harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 4, Duration: 500 * time.Millisecond})
	before := upstreams(t, fd)[dead.Addr]
	if before.Breaker != "open" || before.Window.GatewayErrors == 0 {
		t.Fatalf("before the reload the dead backend shows %+v, want an open breaker and gateway errors", before)
	}

	if err := fd.Load(balancedCaddyfile(listen, "least_requests", "", backends[:3]), harness.Caddyfile); err != nil {
		t.Fatalf("reload: %v", err)
	}
	state := upstreams(t, fd)
	after := state[dead.Addr]
	if after.Breaker != "open" || after.Window.GatewayErrors < before.Window.GatewayErrors {
		t.Errorf("after the reload the dead backend shows %+v, want its breaker open and at least %d gateway errors",
			after, before.Window.GatewayErrors)
	}
	if _, ok := state[backends[3].Addr]; ok {
		t.Errorf("the dropped backend %s is still on the scoreboard", backends[3].Addr)
	}
	res := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 4, Duration: 500 * time.Millisecond})
	if res.OK == 0 || res.Non2xx+res.Errors() != 0 || res.ByBackend[dead.Name] != 0 {
		t.Errorf("after the reload: %s", res)
	}
}

// TestBalancingProxy429NotScored answers 429 from the proxy itself (as a
// rate limit in front would): no upstream is charged for it, while a 429
// that an upstream sends is scored.
func TestBalancingProxy429NotScored(t *testing.T) {
	backends := harness.StartBackends(t, "app", 2)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, balancedCaddyfile(listen, "peak_ewma", "respond /limited 429", backends), harness.Caddyfile)

	res := harness.RunLoad(harness.LoadConfig{Target: listen, Path: "/limited", Connections: 4, Duration: 500 * time.Millisecond})
	if res.Statuses[http.StatusTooManyRequests] == 0 {
		t.Fatalf("the proxy did not answer 429: %s", res)
	}
	for addr, u := range upstreams(t, fd) {
		if u.Window.TooManyRequests != 0 || u.Window.ServerErrors+u.Window.GatewayErrors != 0 {
			t.Errorf("upstream %s was charged for the proxy's own 429s: %+v", addr, u)
		}
	}

	backends[1].SetErrorStatus(http.StatusTooManyRequests)
	backends[1].SetErrorRate(1)
	harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 4, MaxRequests: 40, Duration: 2 * time.Second})
	if u := upstreams(t, fd)[backends[1].Addr]; u.Window.TooManyRequests == 0 {
		t.Errorf("an upstream's own 429s were not scored: %+v", u)
	}
}

// TestBalancingExample runs caddyfile/examples/balancing.Caddyfile as is,
// configured only through its environment variables, in front of four
// backends: every backend takes traffic and every request succeeds, also
// after one backend is killed.
func TestBalancingExample(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	addrs := make([]string, len(backends))
	for i, b := range backends {
		addrs[i] = b.Addr
	}
	listen := harness.FreeAddr(t)
	harness.StartFrontdesk(t, readExample(t, "balancing.Caddyfile"), harness.Caddyfile,
		"FRONTDESK_LISTEN="+listen, "FRONTDESK_UPSTREAMS="+strings.Join(addrs, " "))

	res := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 8, Duration: time.Second})
	if res.OK == 0 || res.Non2xx+res.Errors() != 0 || len(res.ByBackend) != len(backends) {
		t.Errorf("want every request answered and every backend used: %s", res)
	}
	backends[0].Kill()
	res = harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 8, Duration: time.Second})
	if res.OK == 0 || res.Non2xx+res.Errors() != 0 {
		t.Errorf("after killing %s: %s", backends[0].Name, res)
	}
}

// TestRouteBreakerSurvivesReload: a named route_breaker that opened on a
// failing backend stays open through a reload that changes the rest of the
// config: the next request gets its 503 and never reaches the backend.
func TestRouteBreakerSurvivesReload(t *testing.T) {
	backend := harness.StartBackend(t, "app")
	backend.SetErrorRate(1)
	listen := harness.FreeAddr(t)
	config := func(tag string) string {
		front := "header X-Config " + tag + "\n\troute_breaker app {\n\t\tconsecutive_failures 3\n\t\topen_time 1m\n\t}"
		return proxySite(listen, []*harness.Backend{backend}, front, "")
	}
	fd := harness.StartFrontdesk(t, config("one"), harness.Caddyfile)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func() *http.Response {
		t.Helper()
		resp, err := client.Get("http://" + listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for range 3 {
		if resp := get(); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("from the failing backend: %d, want 500", resp.StatusCode)
		}
	}
	wantOpen := func(when string) {
		t.Helper()
		before := backend.Failed() + backend.Served()
		resp := get()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d with Retry-After %q, want 503 with a Retry-After", when, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if n := backend.Failed() + backend.Served() - before; n != 0 {
			t.Errorf("%s: the backend got %d requests, want none while the breaker is open", when, n)
		}
	}
	wantOpen("after three failures")
	if err := fd.Load(config("two"), harness.Caddyfile); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if resp := get(); resp.Header.Get("X-Config") != "two" {
		t.Fatalf("the reload did not take: X-Config %q", resp.Header.Get("X-Config"))
	}
	wantOpen("after a reload")
}
