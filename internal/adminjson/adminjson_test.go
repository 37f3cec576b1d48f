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
