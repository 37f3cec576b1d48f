package healthlb

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func newRouteBreaker(t *testing.T, cfg BreakerConfig) *RouteBreaker {
	t.Helper()
	rb := &RouteBreaker{BreakerConfig: cfg}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := rb.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rb.Validate(); err != nil {
		t.Fatal(err)
	}
	return rb
}

// answer is a next handler that writes status, or returns it as an error
// when asError is set (as reverse_proxy does for a dial error).
func answer(status int, asError bool) caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if asError {
			return caddyhttp.Error(status, nil)
		}
		w.WriteHeader(status)
		return nil
	})
}

func TestRouteBreakerFailsFastWhileOpen(t *testing.T) {
	rb := newRouteBreaker(t, BreakerConfig{ConsecutiveFailures: 3, OpenTime: caddy.Duration(90 * time.Second)})
	serve := func(next caddyhttp.Handler) (*httptest.ResponseRecorder, error) {
		w := httptest.NewRecorder()
		return w, rb.ServeHTTP(w, httptest.NewRequest("GET", "/", nil), next)
	}
	for range 5 {
		serve(answer(http.StatusNotFound, false)) // the client's business
	}
	serve(answer(http.StatusInternalServerError, false))
	serve(answer(http.StatusBadGateway, true))
	if s := rb.breaker.State(); s != BreakerClosed {
		t.Fatalf("state %s after two failures, want closed", s)
	}
	serve(answer(http.StatusServiceUnavailable, false))

	called := false
	w, err := serve(caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { called = true; return nil }))
	if called || err != nil || w.Code != http.StatusServiceUnavailable {
		t.Fatalf("while open: next called %v, status %d, error %v; want a 503 without calling next", called, w.Code, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want the friendly JSON answer", ct)
	}
	if ra := w.Header().Get("Retry-After"); ra != "90" {
		t.Errorf("Retry-After %q, want the 90s left open", ra)
	}
}

func TestRouteBreakerIgnoresCancelledRequests(t *testing.T) {
	rb := newRouteBreaker(t, BreakerConfig{ConsecutiveFailures: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	_ = rb.ServeHTTP(httptest.NewRecorder(), req, answer(http.StatusBadGateway, true))
	if s := rb.breaker.State(); s != BreakerClosed {
		t.Errorf("state %s after a request the client cancelled, want closed", s)
	}
}

// TestNamedRouteBreakerSurvivesReload: a new config's route_breaker with the
// same name and settings takes over the open breaker; other settings, or no
// name, start closed; the breaker lives while any config holds it.
func TestNamedRouteBreakerSurvivesReload(t *testing.T) {
	cfg := BreakerConfig{ConsecutiveFailures: 2, OpenTime: caddy.Duration(time.Minute)}
	named := func(name string, cfg BreakerConfig) *RouteBreaker {
		rb := &RouteBreaker{Name: name, BreakerConfig: cfg}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		t.Cleanup(cancel)
		if err := rb.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rb.Cleanup() })
		return rb
	}
	old := named("api-reload-test", cfg)
	for range 2 {
		old.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), answer(http.StatusBadGateway, true))
	}
	if s := old.breaker.State(); s != BreakerOpen {
		t.Fatalf("state %s after two failures, want open", s)
	}

	reloaded := named("api-reload-test", cfg)
	old.Cleanup()
	if s := reloaded.breaker.State(); s != BreakerOpen {
		t.Errorf("the reloaded breaker is %s, want the old one's open state", s)
	}
	w := httptest.NewRecorder()
	if err := reloaded.ServeHTTP(w, httptest.NewRequest("GET", "/", nil), answer(http.StatusOK, false)); err != nil || w.Code != http.StatusServiceUnavailable {
		t.Errorf("request through the reloaded open breaker: %d, %v; want 503", w.Code, err)
	}

	changed := BreakerConfig{ConsecutiveFailures: 5, OpenTime: caddy.Duration(time.Minute)}
	if s := named("api-reload-test", changed).breaker.State(); s != BreakerClosed {
		t.Errorf("same name, other settings: %s, want a fresh closed breaker", s)
	}
	if s := newRouteBreaker(t, cfg).breaker.State(); s != BreakerClosed {
		t.Errorf("unnamed: %s, want closed", s)
	}
	reloaded.Cleanup()
	if s := named("api-reload-test", cfg).breaker.State(); s != BreakerClosed {
		t.Errorf("after every holder let go: %s, want a fresh closed breaker", s)
	}
}
