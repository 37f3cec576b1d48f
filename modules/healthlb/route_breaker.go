package healthlb

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/internal/friendly"
)

func init() {
	caddy.RegisterModule(RouteBreaker{})
	httpcaddyfile.RegisterHandlerDirective("route_breaker", parseRouteBreaker)
}

// RouteBreaker is a circuit breaker for everything behind it in the route
// (a reverse_proxy as a whole, say): while it is open, requests fail at
// once with 503 Service Unavailable and a Retry-After of the time left
// open, instead of waiting on a backend that is down. It counts the status
// that the rest of the route answers with, or the status of its error;
// requests the client cancelled do not count.
//
// It is named route_breaker, not circuit_breaker, because a popular
// plugin (a fork of caddyserver/circuitbreaker) registers both the
// circuit_breaker directive and http.handlers.circuit_breaker, and two
// registrations of one name panic when built together. For breakers per
// upstream, use the `breaker` of the observed_http transport.
//
// Unnamed, its state starts closed with every config load; named, it
// carries over (see Name).
type RouteBreaker struct {
	// Name keeps the breaker's state across config loads: the route_breaker
	// of a new config with the same name and the same settings takes over
	// the running breaker, open or not, with its counts, so a reload during
	// an outage does not let a burst of requests through to a backend known
	// to be down. With other settings it starts afresh. Names are global:
	// route_breakers with one name and one set of settings share a breaker.
	// The name is also the upstream label of its transition metrics.
	Name string `json:"name,omitempty"`

	BreakerConfig

	breaker *breaker
	logger  *zap.Logger
	poolKey string
	// commit gives a named breaker this config's logger at the first
	// request, not in Provision, so that a refused config changes nothing.
	commit func()
}

// routeBreakers holds the named route breakers across config loads. A new
// config acquires its breakers before the old config releases them.
var routeBreakers = caddy.NewUsagePool()

// liveRouteBreakers holds every provisioned route_breaker until its
// Cleanup, for the admin route /frontdesk/route_breakers.
var liveRouteBreakers sync.Map // *RouteBreaker -> struct{}

// routeBreakerStatus is one route breaker in the answer of
// /frontdesk/route_breakers.
type routeBreakerStatus struct {
	// Name is the breaker's name; empty for an unnamed one.
	Name string `json:"name"`
	// State is "closed", "half-open" or "open".
	State BreakerState `json:"state"`
}

// routeBreakersState returns every route breaker once (the configs of a
// reload share their named breakers), by name (unnamed ones first).
func routeBreakersState() []routeBreakerStatus {
	out := []routeBreakerStatus{}
	seen := map[*breaker]bool{}
	liveRouteBreakers.Range(func(k, _ any) bool {
		rb := k.(*RouteBreaker)
		if !seen[rb.breaker] {
			seen[rb.breaker] = true
			out = append(out, routeBreakerStatus{Name: rb.Name, State: rb.breaker.State()})
		}
		return true
	})
	slices.SortStableFunc(out, func(a, b routeBreakerStatus) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// pooledBreaker is a named route breaker; its transitions are logged by
// the latest config's logger.
type pooledBreaker struct {
	breaker *breaker
	logger  atomic.Pointer[zap.Logger]
}

// Destruct implements caddy.Destructor; a breaker holds no resources.
func (*pooledBreaker) Destruct() error { return nil }

// CaddyModule returns the Caddy module information.
func (RouteBreaker) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.route_breaker",
		New: func() caddy.Module { return new(RouteBreaker) },
	}
}

// Provision sets up the breaker, or takes over the running one of its name.
func (rb *RouteBreaker) Provision(ctx caddy.Context) error {
	rb.logger = ctx.Logger()
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	if rb.Name == "" {
		rb.breaker = newBreaker("route", rb.BreakerConfig, routeBreakerChanged("", func() *zap.Logger { return rb.logger }))
		liveRouteBreakers.Store(rb, struct{}{})
		return nil
	}
	settings, err := json.Marshal(rb.BreakerConfig.withDefaults())
	if err != nil {
		return err
	}
	key := rb.Name + "\x00" + string(settings)
	v, _, err := routeBreakers.LoadOrNew(key, func() (caddy.Destructor, error) {
		p := new(pooledBreaker)
		p.breaker = newBreaker("route "+rb.Name, rb.BreakerConfig, routeBreakerChanged(rb.Name, p.logger.Load))
		return p, nil
	})
	if err != nil {
		return fmt.Errorf("route breaker %q: %v", rb.Name, err)
	}
	p := v.(*pooledBreaker)
	if p.logger.Load() == nil {
		p.logger.Store(rb.logger)
	}
	rb.breaker, rb.poolKey = p.breaker, key
	rb.commit = sync.OnceFunc(func() { p.logger.Store(rb.logger) })
	liveRouteBreakers.Store(rb, struct{}{})
	return nil
}

// routeBreakerChanged logs and counts a route breaker's transitions.
func routeBreakerChanged(name string, logger func() *zap.Logger) func(from, to BreakerState) {
	return func(from, to BreakerState) {
		breakerTransitions.WithLabelValues("route", name, to.String()).Inc()
		logger().Warn("route circuit breaker "+to.String(), zap.String("name", name), zap.String("from", from.String()))
	}
}

// Cleanup lets go of a named breaker, which ends when no config holds it.
func (rb *RouteBreaker) Cleanup() error {
	liveRouteBreakers.Delete(rb)
	if rb.poolKey != "" {
		_, _ = routeBreakers.Delete(rb.poolKey)
		rb.poolKey = ""
	}
	return nil
}

// Validate checks the breaker settings.
func (rb *RouteBreaker) Validate() error { return rb.BreakerConfig.Validate() }

// ServeHTTP lets the request through if the breaker allows it and reports
// how it ended.
func (rb *RouteBreaker) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if rb.commit != nil {
		rb.commit()
	}
	done, err := rb.breaker.allow()
	if err != nil {
		return friendly.Write(w, r, friendly.Answer{
			Status:     http.StatusServiceUnavailable,
			Code:       "service_unavailable",
			Message:    "This service is briefly unavailable. Please try again shortly.",
			RetryAfter: rb.breaker.retryAfter(time.Now()),
		})
	}
	rec := &statusRecorder{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	err = next.ServeHTTP(rec, r)
	done(rb.outcome(r, rec.status, err))
	return err
}

// outcome classifies how the rest of the route ended.
func (rb *RouteBreaker) outcome(r *http.Request, status int, err error) error {
	if r.Context().Err() != nil || errors.Is(err, context.Canceled) {
		return errBreakerExcluded
	}
	if err != nil {
		var herr caddyhttp.HandlerError
		if errors.As(err, &herr) && herr.StatusCode != 0 {
			status = herr.StatusCode
		} else {
			status = http.StatusInternalServerError
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	return rb.breaker.outcome(status)
}

// statusRecorder remembers the status of the response.
type statusRecorder struct {
	*caddyhttp.ResponseWriterWrapper
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriterWrapper.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriterWrapper.Write(b)
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	route_breaker [<matcher>] [<name>] {
//		failure_ratio        <ratio>
//		min_requests         <n>
//		consecutive_failures <n>|-1
//		window               <duration>
//		open_time            <duration>
//		half_open_requests   <n>
//		fail_status          <code|class...>
//	}
func (rb *RouteBreaker) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		rb.Name = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	return rb.BreakerConfig.unmarshalBlock(d)
}

func parseRouteBreaker(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	rb := new(RouteBreaker)
	err := rb.UnmarshalCaddyfile(h.Dispenser)
	return rb, err
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*RouteBreaker)(nil)
	_ caddy.Provisioner           = (*RouteBreaker)(nil)
	_ caddy.Validator             = (*RouteBreaker)(nil)
	_ caddy.CleanerUpper          = (*RouteBreaker)(nil)
	_ caddy.Destructor            = (*pooledBreaker)(nil)
	_ caddyfile.Unmarshaler       = (*RouteBreaker)(nil)
)
