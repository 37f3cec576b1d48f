package friendly

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWriteJSONByDefault(t *testing.T) {
	for _, accept := range []string{"", "*/*", "application/json", "text/html;q=0.5, application/json", "text/html, application/json"} {
		r := httptest.NewRequest("GET", "/x", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		w.Header().Set("WWW-Authenticate", `Bearer realm="x"`)
		if err := Write(w, r, Answer{Status: 429, Code: "rate_limited", Message: "Too many requests.", RetryAfter: 1500 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		if w.Code != 429 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Retry-After") != "2" {
			t.Fatalf("Accept %q: %d %v", accept, w.Code, w.Header())
		}
		if w.Header().Get("WWW-Authenticate") == "" || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("Accept %q: headers set before Write or no-store lost: %v", accept, w.Header())
		}
		var got jsonBody
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("Accept %q: body %q: %v", accept, w.Body, err)
		}
		if got != (jsonBody{Status: 429, Error: "rate_limited", Message: "Too many requests.", RetryAfterSeconds: 2}) {
			t.Fatalf("Accept %q: body %+v", accept, got)
		}
	}
}

func TestWriteHTMLWhenPreferred(t *testing.T) {
	for _, accept := range []string{"text/html", "text/html,application/xhtml+xml,*/*;q=0.8", "application/json;q=0.2, text/html;q=0.9"} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		if err := Write(w, r, Answer{Status: 403, Code: "forbidden", Message: "<script>x</script>"}); err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		if w.Code != 403 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("Accept %q: %d %v", accept, w.Code, w.Header())
		}
		if strings.Contains(body, "<script>") || !strings.Contains(body, "403 Forbidden") {
			t.Fatalf("Accept %q: body not escaped or without status: %s", accept, body)
		}
		if w.Header().Get("Retry-After") != "" {
			t.Fatalf("Retry-After without a wait: %v", w.Header())
		}
	}
}

func TestWriteHeadHasNoBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodHead, "/x", nil)
	w := httptest.NewRecorder()
	if err := Write(w, r, Answer{Status: 503, Code: "unavailable", Message: "Try again soon."}); err != nil {
		t.Fatal(err)
	}
	if w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Fatalf("HEAD: body %q, headers %v", w.Body, w.Header())
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", time.Minute: "60"} {
		if got := RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %s, want %s", d, got, want)
		}
	}
}
