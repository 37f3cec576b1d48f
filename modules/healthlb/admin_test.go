package healthlb

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestAdminUpstreams(t *testing.T) {
	tr := newTransport(t, func(tr *ObservedTransport) { tr.Breaker = &BreakerConfig{} }, retryBudget{})
	tr.entry("10.0.0.9:80").StartRequest()
	var h adminUpstreams
	route := h.Routes()[0]
	if route.Pattern != "/frontdesk/upstreams" {
		t.Fatalf("pattern %q", route.Pattern)
	}

	w := httptest.NewRecorder()
	if err := route.Handler.ServeHTTP(w, httptest.NewRequest("GET", route.Pattern, nil)); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Scope     string
		Upstreams []struct {
			Address  string
			InFlight int `json:"in_flight"`
			Breaker  string
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	found := false
	for _, s := range got {
		for _, u := range s.Upstreams {
			if s.Scope == tr.Scope && u.Address == "10.0.0.9:80" {
				found = u.InFlight == 1 && u.Breaker == "closed"
			}
		}
	}
	if !found {
		t.Errorf("scope %s upstream 10.0.0.9:80 (1 in flight, breaker closed) missing: %s", tr.Scope, w.Body)
	}

	err := route.Handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", route.Pattern, nil))
	if apiErr, ok := err.(caddy.APIError); !ok || apiErr.HTTPStatus != http.StatusMethodNotAllowed {
		t.Errorf("POST: got %v, want 405", err)
	}
}
