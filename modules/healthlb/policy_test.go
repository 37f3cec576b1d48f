package healthlb

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// validate provisions a config with one reverse_proxy handler (without
// running it) and returns the error.
func validate(t *testing.T, handler string) error {
	t.Helper()
	raw := `{"admin": {"disabled": true}, "apps": {"http": {"servers": {"s": {
		"listen": ["127.0.0.1:0"], "routes": [{"handle": [` + handler + `]}]}}}}}`
	var cfg caddy.Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}

func TestPolicyRequiresObservingTransport(t *testing.T) {
	for _, policy := range []string{"peak_ewma", "least_requests"} {
		err := validate(t, `{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:1"}],
			"load_balancing": {"selection_policy": {"policy": "`+policy+`"}}}`)
		if err == nil || !strings.Contains(err.Error(), "transport observed_http") {
			t.Errorf("%s without the observing transport: got %v, want an error saying to add it", policy, err)
		}
		err = validate(t, `{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:1"}],
			"transport": {"protocol": "observed_http", "dial_timeout": "1s"},
			"load_balancing": {"selection_policy": {"policy": "`+policy+`"}}}`)
		if err != nil {
			t.Errorf("%s with the observing transport: %v", policy, err)
		}
	}
	// With active health checks the transport also listens for recoveries.
	err := validate(t, `{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:1"}],
		"health_checks": {"active": {"uri": "/healthz", "interval": "1h"}},
		"transport": {"protocol": "observed_http"},
		"load_balancing": {"selection_policy": {"policy": "peak_ewma"}}}`)
	if err != nil {
		t.Errorf("with active health checks: %v", err)
	}
}

func TestPolicyRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`"decay_time": -5`, "decay_time"},
		{`"max_ejection_percent": 120`, "max_ejection_percent"},
	} {
		err := validate(t, `{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:1"}],
			"transport": {"protocol": "observed_http"},
			"load_balancing": {"selection_policy": {"policy": "peak_ewma", `+tc.json+`}}}`)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.json, err, tc.want)
		}
	}
	err := validate(t, `{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:1"}],
		"transport": {"protocol": "observed_http", "breaker": {"failure_ratio": 2}}}`)
	if err == nil || !strings.Contains(err.Error(), "failure_ratio") {
		t.Errorf("bad breaker: got %v, want an error naming failure_ratio", err)
	}
}

// newPolicy returns a peak_ewma policy reading tr's scoreboard.
func newPolicy(tr *ObservedTransport) *PeakEWMASelection {
	p := new(PeakEWMASelection)
	p.transport = tr
	return p
}

func testPool(n int) reverseproxy.UpstreamPool {
	pool := make(reverseproxy.UpstreamPool, n)
	for i := range pool {
		pool[i] = &reverseproxy.Upstream{Dial: "10.0.0." + string(rune('1'+i)) + ":80"}
	}
	return pool
}

func TestSelectSkipsOpenBreakersAndTriedUpstreams(t *testing.T) {
	tr := newTransport(t, func(tr *ObservedTransport) {
		tr.Breaker = &BreakerConfig{ConsecutiveFailures: 1, OpenTime: caddy.Duration(time.Hour)}
	}, retryBudget{})
	p := newPolicy(tr)
	pool := testPool(4)
	trip := func(dial string) {
		b, _ := breakerOf(tr.entry(dial))
		done, err := b.allow()
		if err != nil {
			t.Fatal(err)
		}
		done(errBreakerFailure)
	}
	trip(pool[0].Dial)

	vars := map[string]any{}
	markTried(vars, pool[1].Dial)
	for range 200 {
		req := proxiedRequest(t, "GET", "http://example.com/", vars)
		got := p.Select(pool, req, httptest.NewRecorder())
		if got == nil || got == pool[0] || got == pool[1] {
			t.Fatalf("selected %v; want neither the open breaker's upstream nor the tried one", got)
		}
	}

	for _, u := range pool[1:] {
		trip(u.Dial)
	}
	w := httptest.NewRecorder()
	if got := p.Select(pool, proxiedRequest(t, "GET", "http://example.com/", map[string]any{}), w); got != nil {
		t.Fatalf("selected %s with every breaker open", got.Dial)
	}
	if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q with every breaker open, want the time left open", ra)
	}
}

func TestSelectHonoursWeights(t *testing.T) {
	tr := newTransport(t, nil, retryBudget{})
	p := newPolicy(tr)
	p.Weights = []int{1, 0, 1}
	pool := testPool(3)
	counts := map[string]int{}
	for range 300 {
		u := p.Select(pool, proxiedRequest(t, "GET", "http://example.com/", map[string]any{}), httptest.NewRecorder())
		counts[u.Dial]++
	}
	if counts[pool[1].Dial] != 0 {
		t.Errorf("an upstream of weight 0 was selected: %v", counts)
	}
	if counts[pool[0].Dial] == 0 || counts[pool[2].Dial] == 0 {
		t.Errorf("not every weighted upstream was selected: %v", counts)
	}
}
