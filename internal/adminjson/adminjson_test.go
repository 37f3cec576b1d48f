package adminjson

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestRoute(t *testing.T) {
	route := Route("/x", func() any { return map[string]int{"a": 1} })
	h := route.Handler.ServeHTTP
	rec := httptest.NewRecorder()
	if err := h(rec, httptest.NewRequest(http.MethodGet, "/x", nil)); err != nil {
		t.Fatal(err)
	}
	if rec.Body.String() != "{\"a\":1}\n" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("got %q %q", rec.Body, rec.Header().Get("Content-Type"))
	}
	err := h(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/x", nil))
	if apiErr, ok := err.(caddy.APIError); !ok || apiErr.HTTPStatus != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	Register("test_state", func() any { return []int{1} })
	if got := States()["test_state"]; len(got.([]int)) != 1 {
		t.Fatalf("States()[test_state] = %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a second registration of a name did not panic")
		}
	}()
	Register("test_state", func() any { return nil })
}
