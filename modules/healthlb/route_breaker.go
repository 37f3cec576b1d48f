package healthlb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
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
// Its state starts closed with every config load.
type RouteBreaker struct {
	BreakerConfig

	breaker *breaker
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (RouteBreaker) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.route_breaker",
		New: func() caddy.Module { return new(RouteBreaker) },
	}
}

// Provision sets up the breaker.
func (rb *RouteBreaker) Provision(ctx caddy.Context) error {
	rb.logger = ctx.Logger()
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	rb.breaker = newBreaker("route", rb.BreakerConfig, func(from, to BreakerState) {
		breakerTransitions.WithLabelValues("route", "", to.String()).Inc()
		rb.logger.Warn("route circuit breaker "+to.String(), zap.String("from", from.String()))
	})
	return nil
}

// Validate checks the breaker settings.
func (rb *RouteBreaker) Validate() error { return rb.BreakerConfig.Validate() }

// ServeHTTP lets the request through if the breaker allows it and reports
// how it ended.
func (rb *RouteBreaker) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	done, err := rb.breaker.allow()
	if err != nil {
		w.Header().Set("Retry-After", retryAfterSeconds(rb.breaker.retryAfter(time.Now())))
		return caddyhttp.Error(http.StatusServiceUnavailable, fmt.Errorf("route circuit breaker: %w", err))
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
//	route_breaker [<matcher>] {
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
	_ caddyfile.Unmarshaler       = (*RouteBreaker)(nil)
)
