package healthlb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// dialInfoKey is reverse_proxy's context key for the DialInfo of an attempt
// (hosts.go, dialInfoCtxKey); the tests set it as the handler does.
const dialInfoKey caddy.CtxKey = "reverse_proxy.dial_info"

var scopeSeq atomic.Int64

// newTransport provisions an ObservedTransport in a scope of its own, with
// the given retry budget, and cleans it up with the test.
func newTransport(t *testing.T, edit func(*ObservedTransport), budget retryBudget) *ObservedTransport {
	t.Helper()
	tr := &ObservedTransport{HTTPTransport: new(reverseproxy.HTTPTransport)}
	tr.Scope = fmt.Sprintf("test-%s-%d", t.Name(), scopeSeq.Add(1))
	if edit != nil {
		edit(tr)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := tr.Provision(ctx); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	tr.budget = budget
	t.Cleanup(func() { _ = tr.Cleanup() })
	tr.commit() // the config was accepted
	return tr
}

// proxiedRequest is a request as reverse_proxy hands it to its transport:
// with the request vars and the DialInfo of the chosen upstream.
func proxiedRequest(t *testing.T, method, url string, vars map[string]any) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, url, nil)
	req.RequestURI = ""
	host := req.URL.Host
	ctx := context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars)
	ctx = context.WithValue(ctx, dialInfoKey, reverseproxy.DialInfo{
		Upstream: &reverseproxy.Upstream{Dial: host}, Network: "tcp", Address: host,
	})
	return req.WithContext(ctx)
}

// statusServer answers /<code> with that status, a Retry-After of 7s for
// 429 and 503.
func statusServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/"), "%d", &code)
		if code == 0 {
			code = http.StatusOK
		}
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func roundTrip(t *testing.T, tr *ObservedTransport, req *http.Request) (*http.Response, error) {
	t.Helper()
	res, err := tr.RoundTrip(req)
	if res != nil {
		res.Body.Close()
	}
	return res, err
}

func TestTransportClassifiesOutcomes(t *testing.T) {
	srv := statusServer(t)
	tr := newTransport(t, nil, retryBudget{})
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, path := range []string{"/200", "/404", "/500", "/502", "/503", "/429"} {
		if _, err := roundTrip(t, tr, proxiedRequest(t, "GET", srv.URL+path, map[string]any{})); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	snap := tr.scope.sb.Get(addr).Snapshot()
	want := Counts{Success: 2, ServerErrors: 1, GatewayErrors: 2, TooManyRequests: 1}
	if snap.Window != want {
		t.Errorf("window %+v, want %+v", snap.Window, want)
	}
	if snap.RetryAfterUntil.IsZero() {
		t.Error("the Retry-After of the 429 was not honoured")
	}
	if snap.InFlight != 0 {
		t.Errorf("%d requests still in flight after their bodies were closed", snap.InFlight)
	}

	// A dial error is a gateway error of that upstream.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	if _, err := roundTrip(t, tr, proxiedRequest(t, "GET", "http://"+dead+"/", map[string]any{})); err == nil {
		t.Fatal("a closed port answered")
	}
	if w := tr.scope.sb.Get(dead).Snapshot().Window; w.GatewayErrors != 1 {
		t.Errorf("dial error recorded as %+v, want one gateway error", w)
	}
}

func TestTransportSkipsHealthChecksAndCancelledRequests(t *testing.T) {
	srv := statusServer(t)
	tr := newTransport(t, nil, retryBudget{})
	addr := strings.TrimPrefix(srv.URL, "http://")
	tr.entry(addr)

	// An active health check carries DialInfo but no request vars.
	hc := proxiedRequest(t, "GET", srv.URL+"/500", nil)
	hc = hc.WithContext(context.WithValue(hc.Context(), caddyhttp.VarsCtxKey, nil))
	if _, err := roundTrip(t, tr, hc); err != nil {
		t.Fatal(err)
	}
	// A request whose client went away says nothing about the upstream.
	req := proxiedRequest(t, "GET", srv.URL+"/200", map[string]any{})
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	if _, err := roundTrip(t, tr, req.WithContext(ctx)); err == nil {
		t.Fatal("a cancelled request succeeded")
	}
	if w := tr.scope.sb.Get(addr).Snapshot().Window; w.Total() != 0 {
		t.Errorf("recorded %+v, want nothing", w)
	}
}

func TestTransportRetriesStatusWithinBudget(t *testing.T) {
	srv := statusServer(t)
	tr := newTransport(t, func(tr *ObservedTransport) { tr.RetryStatus = defaultRetryStatus }, retryBudget{retries: 2})
	vars := map[string]any{}

	for attempt := 1; attempt <= 3; attempt++ {
		res, err := roundTrip(t, tr, proxiedRequest(t, "GET", srv.URL+"/503", vars))
		var dialErr reverseproxy.DialError
		switch {
		case attempt <= 2 && !errors.As(err, &dialErr):
			t.Fatalf("attempt %d: got %v, want a dial error so Caddy retries", attempt, err)
		case attempt == 3 && (err != nil || res.StatusCode != http.StatusServiceUnavailable):
			t.Fatalf("last attempt: got %v, %v; want the upstream's 503 for the client", res, err)
		}
	}
	if tried := triedUpstreams(proxiedRequest(t, "GET", srv.URL, vars)); len(tried) != 1 {
		t.Errorf("tried %v, want the one upstream", tried)
	}

	for _, tc := range []struct {
		name, method, path string
	}{
		{"POST is not idempotent", "POST", "/503"},
		{"500 is not in the list", "GET", "/500"},
	} {
		res, err := roundTrip(t, tr, proxiedRequest(t, tc.method, srv.URL+tc.path, map[string]any{}))
		if err != nil || res == nil {
			t.Errorf("%s: got %v, want the upstream's answer", tc.name, err)
		}
	}
	body := proxiedRequest(t, "PUT", srv.URL+"/503", map[string]any{})
	body.Body, body.ContentLength = io.NopCloser(strings.NewReader("payload")), 7
	if res, err := roundTrip(t, tr, body); err != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a PUT with a body: got %v, %v; want its 503 passed through, never replayed", res, err)
	}
}

func TestRetryBudget(t *testing.T) {
	for _, tc := range []struct {
		b       retryBudget
		n       int
		elapsed time.Duration
		want    bool
	}{
		{retryBudget{}, 1, 0, false},
		{retryBudget{retries: 2}, 2, 0, true},
		{retryBudget{retries: 2}, 3, 0, false},
		{retryBudget{tryDuration: time.Second, tryInterval: 250 * time.Millisecond}, 9, 500 * time.Millisecond, true},
		{retryBudget{tryDuration: time.Second, tryInterval: 250 * time.Millisecond}, 1, 800 * time.Millisecond, false},
		{retryBudget{retries: 5, tryDuration: time.Second, tryInterval: 250 * time.Millisecond}, 6, 0, false},
	} {
		if got := tc.b.another(tc.n, tc.elapsed); got != tc.want {
			t.Errorf("%+v.another(%d, %v) = %v, want %v", tc.b, tc.n, tc.elapsed, got, tc.want)
		}
	}
}

func TestTransportBreakerRefusesAsDialError(t *testing.T) {
	srv := statusServer(t)
	tr := newTransport(t, func(tr *ObservedTransport) {
		tr.Breaker = &BreakerConfig{ConsecutiveFailures: 2, OpenTime: caddy.Duration(time.Hour)}
	}, retryBudget{})
	addr := strings.TrimPrefix(srv.URL, "http://")
	for range 2 {
		if _, err := roundTrip(t, tr, proxiedRequest(t, "GET", srv.URL+"/500", map[string]any{})); err != nil {
			t.Fatal(err)
		}
	}
	if s := tr.scope.sb.Get(addr).BreakerState(); s != BreakerOpen {
		t.Fatalf("breaker %s after two 500s, want open", s)
	}
	_, err := roundTrip(t, tr, proxiedRequest(t, "GET", srv.URL+"/200", map[string]any{}))
	var dialErr reverseproxy.DialError
	if !errors.As(err, &dialErr) {
		t.Errorf("got %v, want a dial error so Caddy retries elsewhere", err)
	}
}

func TestRecoveryRestartsSlowStart(t *testing.T) {
	tr := newTransport(t, nil, retryBudget{})
	tr.scope.sb.SetConfig(Config{SlowStartWindow: time.Millisecond})
	u := tr.entry("10.0.0.7:80")
	time.Sleep(5 * time.Millisecond)
	if f := u.Snapshot().WeightFactor; f != 1 {
		t.Fatalf("weight factor %v after the ramp, want 1", f)
	}
	tr.scope.sb.SetConfig(Config{SlowStartWindow: time.Hour})
	err := recoveryHandler{sb: tr.scope.sb}.Handle(context.Background(), caddy.Event{Data: map[string]any{"host": "10.0.0.7:80"}})
	if err != nil {
		t.Fatal(err)
	}
	if f := u.Snapshot().WeightFactor; f >= 1 {
		t.Errorf("weight factor %v after the healthy event, want the start of a new ramp", f)
	}
}

func TestHealthEventHost(t *testing.T) {
	for _, tc := range []struct {
		dial string
		port int
		want string
		ok   bool
	}{
		{"10.0.0.7:80", 0, "10.0.0.7:80", true},
		{"10.0.0.7:80", 8081, "10.0.0.7:8081", true},
		{"unix//run/app.sock", 0, "localhost", true},
		{"{env.APP}:80", 0, "", false},
	} {
		got, ok := healthEventHost(tc.dial, tc.port)
		if got != tc.want || ok != tc.ok {
			t.Errorf("healthEventHost(%q, %d) = %q, %v; want %q, %v", tc.dial, tc.port, got, ok, tc.want, tc.ok)
		}
	}
}

// TestRecoveryOnHealthPort: with a health_port (or a unix socket) the
// healthy event names another host than the dial address; the upstream's
// slow start restarts all the same.
func TestRecoveryOnHealthPort(t *testing.T) {
	tr := newTransport(t, nil, retryBudget{})
	tr.scope.sb.SetConfig(Config{SlowStartWindow: time.Millisecond})
	u := tr.entry("10.0.0.7:80")
	sock := tr.entry("unix//run/app.sock")
	time.Sleep(5 * time.Millisecond)
	tr.scope.sb.SetConfig(Config{SlowStartWindow: time.Hour})
	r := recoveryHandler{sb: tr.scope.sb, dials: map[string][]string{"10.0.0.7:8081": {"10.0.0.7:80"}, "localhost": {"unix//run/app.sock"}}}
	for _, host := range []string{"10.0.0.7:8081", "localhost"} {
		if err := r.Handle(context.Background(), caddy.Event{Data: map[string]any{"host": host}}); err != nil {
			t.Fatal(err)
		}
	}
	if f := u.Snapshot().WeightFactor; f >= 1 {
		t.Errorf("health-port upstream: weight factor %v after the healthy event, want a new ramp", f)
	}
	if f := sock.Snapshot().WeightFactor; f >= 1 {
		t.Errorf("unix-socket upstream: weight factor %v after the healthy event, want a new ramp", f)
	}
}
