package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdesk-proxy/frontdesk/internal/adminjson"
)

func init() {
	adminjson.Register("test_upstreams", func() any {
		return []map[string]any{{"scope": "default", "upstreams": []map[string]any{{"address": "10.0.0.1:80", "state": "healthy"}}}}
	})
}

// provisioned returns a handler provisioned in a fresh Caddy context.
func provisioned(t *testing.T, h *Handler) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(t *testing.T, h *Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, httptest.NewRequest(method, target, nil), caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Fatal("the dashboard called the next handler")
		return nil
	})); err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return rec
}

func TestSnapshotEndpoint(t *testing.T) {
	h := provisioned(t, new(Handler))
	rec := serve(t, h, http.MethodGet, "/ops/snapshot.json")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Header().Get("Cache-Control") != "no-store" || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("missing no-store or CSP: %v", rec.Header())
	}
	var snap struct {
		Time    time.Time `json:"time"`
		Modules map[string][]struct {
			Scope     string `json:"scope"`
			Upstreams []struct {
				Address string `json:"address"`
				State   string `json:"state"`
			} `json:"upstreams"`
		} `json:"modules"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	ups := snap.Modules["test_upstreams"]
	if snap.Time.IsZero() || len(ups) != 1 || ups[0].Upstreams[0].Address != "10.0.0.1:80" || ups[0].Upstreams[0].State != "healthy" {
		t.Fatalf("snapshot lacks the registered state: %s", rec.Body)
	}
}

func TestSnapshotShared(t *testing.T) {
	var c snapshotCache
	loaded := newConfigLoaded(nil, time.Now())
	now := time.Now()
	a, err := c.get(now, loaded)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get(now.Add(maxAge/2), loaded)
	if &a[0] != &b[0] {
		t.Fatal("a second reader within maxAge got a new snapshot")
	}
	if d, _ := c.get(now.Add(maxAge), loaded); &a[0] == &d[0] {
		t.Fatal("a reader after maxAge got the old snapshot")
	}
}

func TestPageAndFiles(t *testing.T) {
	h := provisioned(t, &Handler{Title: `<script>alert(1)</script>`, History: caddy.Duration(2 * time.Minute)})
	rec := serve(t, h, http.MethodGet, "/")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("the title is not escaped: %d %s", rec.Code, body)
	}
	if !strings.Contains(body, `data-history="120"`) || !strings.Contains(body, `src="script.js"`) {
		t.Fatalf("page: %s", body)
	}
	for target, ctype := range map[string]string{"/x/style.css": "text/css", "/x/script.js": "text/javascript", "/x/favicon.svg": "image/svg+xml"} {
		if rec := serve(t, h, http.MethodGet, target); rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %q", target, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	if rec := serve(t, h, http.MethodGet, "/dashboard"); rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != "/dashboard/" {
		t.Errorf("/dashboard: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec := serve(t, h, http.MethodGet, "/favicon.ico"); rec.Code != http.StatusNotFound {
		t.Errorf("/favicon.ico: %d", rec.Code)
	}
	if rec := serve(t, h, http.MethodPost, "/snapshot.json"); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestEventsEndWithTheClient(t *testing.T) {
	h := provisioned(t, new(Handler))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = h.ServeHTTP(w, r, nil)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	events := 0
	for events < 2 && sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if !json.Valid([]byte(data)) || !strings.Contains(data, "test_upstreams") {
				t.Fatalf("event data %q", data)
			}
			events++
		}
	}
	if events != 2 {
		t.Fatalf("got %d events: %v", events, sc.Err())
	}
	cancel()
	// The handler's loop ends with the request; the server closes with no
	// stream left.
	srv.Close()
}

func TestValidate(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 2 * time.Hour} {
		h := &Handler{History: caddy.Duration(d)}
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "history") {
			t.Errorf("history %s: %v", d, err)
		}
	}
}

func TestConfigLoaded(t *testing.T) {
	reg := prometheus.NewRegistry()
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: reloadMetric})
	reg.MustRegister(gauge)
	provisioned := time.Now()
	l := newConfigLoaded(reg, provisioned)
	gauge.Set(float64(provisioned.Add(-time.Minute).Unix())) // the previous config's load
	if got := l.get(); !got.IsZero() {
		t.Fatalf("before the config started: %v", got)
	}
	gauge.Set(float64(provisioned.Add(time.Second).UnixNano()) / 1e9)
	if got := l.get(); got.Before(provisioned) {
		t.Fatalf("after the config started: %v", got)
	}
	gauge.Set(0)
	if got := l.get(); got.Before(provisioned) {
		t.Fatalf("the load time was not kept: %v", got)
	}
}
