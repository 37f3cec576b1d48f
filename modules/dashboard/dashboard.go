package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdesk-proxy/frontdesk/internal/friendly"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// defaultHistory is how far back the sparklines reach unless configured.
const defaultHistory = 5 * time.Minute

// updateInterval is how often the page gets a new snapshot.
const updateInterval = time.Second

//go:embed assets
var assets embed.FS

// indexTemplate is the page; the script fills it in from the event stream.
var indexTemplate = template.Must(template.ParseFS(assets, "assets/index.html"))

// securityHeaders go on every answer: nothing is cached, the page runs
// only its own script and style (no inline code), talks only to its own
// origin and cannot be framed.
var securityHeaders = map[string]string{
	"Cache-Control":           "no-store",
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
}

// Handler serves the dashboard: the page at any path that ends in "/",
// its style.css, script.js and favicon.svg, the JSON snapshot at snapshot.json and the
// live stream of snapshots (server-sent events, one a second) at events,
// all relative to the page. It is read-only and answers GET and HEAD.
//
// It shows what every module of the running process knows, not only the
// site it is on, so put it behind authentication (verify_api_key,
// verify_jwt) or access_rules like any route that must stay private.
type Handler struct {
	// Title is the page's heading and title. Default: "Frontdesk".
	Title string `json:"title,omitempty"`
	// History is how far back the page's sparklines reach. The page keeps
	// the samples itself, from the moment it was opened. Default: 5m.
	History caddy.Duration `json:"history,omitempty"`

	index     []byte
	loaded    *configLoaded
	stopping  <-chan struct{}
	configEnd <-chan struct{}
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.frontdesk_dashboard",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision renders the page and hooks the event streams to the server's
// shutdown, so that a reload ends them (the page reconnects to the new
// config) instead of holding the old server open.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.Title == "" {
		h.Title = "Frontdesk"
	}
	if h.History == 0 {
		h.History = caddy.Duration(defaultHistory)
	}
	var buf bytes.Buffer
	err := indexTemplate.Execute(&buf, map[string]any{
		"Title":          h.Title,
		"HistorySeconds": int(time.Duration(h.History) / time.Second),
	})
	if err != nil {
		return err
	}
	h.index = buf.Bytes()
	h.loaded = newConfigLoaded(ctx.GetMetricsRegistry(), time.Now())
	h.configEnd = ctx.Done()
	if srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok {
		stopping := make(chan struct{})
		srv.RegisterOnShutdown(func() { close(stopping) })
		h.stopping = stopping
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if time.Duration(h.History) < 10*time.Second || time.Duration(h.History) > time.Hour {
		return fmt.Errorf("history %s: must be between 10s and 1h", time.Duration(h.History))
	}
	return nil
}

// ServeHTTP serves the page, its files, the snapshot and the event stream.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return friendly.Write(w, r, friendly.Answer{
			Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "The dashboard is read-only.",
		})
	}
	p := r.URL.Path
	switch base := path.Base(p); {
	case strings.HasSuffix(p, "/"):
		return serveBytes(w, "text/html; charset=utf-8", h.index)
	case base == "style.css":
		return serveAsset(w, "text/css; charset=utf-8", "assets/style.css")
	case base == "script.js":
		return serveAsset(w, "text/javascript; charset=utf-8", "assets/script.js")
	case base == "favicon.svg":
		return serveAsset(w, "image/svg+xml", "assets/favicon.svg")
	case base == "snapshot.json":
		body, err := shared.get(time.Now(), h.loaded)
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		return serveBytes(w, "application/json", body)
	case base == "events":
		return h.serveEvents(w, r)
	case !strings.Contains(base, "."):
		// The page's files are relative to it: /dashboard must be
		// /dashboard/ for them to resolve under it.
		http.Redirect(w, r, p+"/", http.StatusPermanentRedirect)
		return nil
	}
	return friendly.Write(w, r, friendly.Answer{
		Status: http.StatusNotFound, Code: "not_found", Message: "The dashboard has no such page.",
	})
}

func serveAsset(w http.ResponseWriter, ctype, name string) error {
	data, err := assets.ReadFile(name)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	return serveBytes(w, ctype, data)
}

func serveBytes(w http.ResponseWriter, ctype string, body []byte) error {
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// serveEvents streams a snapshot every second until the client leaves,
// the server shuts down (a reload) or the config ends. Every stream reads
// the shared snapshot, so many open pages cost one snapshot a second.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	// The stream outlives the server's write timeout, if one is set.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	tick := time.NewTicker(updateInterval)
	defer tick.Stop()
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return nil
	}
	for {
		body, err := shared.get(time.Now(), h.loaded)
		if err != nil {
			return err
		}
		if err := writeEvent(w, body); err != nil || rc.Flush() != nil {
			return nil // the client left
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return nil
		case <-h.stopping:
			return nil
		case <-h.configEnd:
			return nil
		}
	}
}

// writeEvent writes one server-sent event whose data is body (JSON
// without newlines).
func writeEvent(w http.ResponseWriter, body []byte) error {
	if _, err := w.Write([]byte("data: ")); err != nil {
		return err
	}
	if _, err := w.Write(bytes.TrimRight(body, "\n")); err != nil {
		return err
	}
	_, err := w.Write([]byte("\n\n"))
	return err
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
)
