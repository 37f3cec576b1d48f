package healthlb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(ObservedTransport{})
}

// ObservedTransport is Caddy's HTTP transport (every option of the `http`
// transport works here too) that reports every proxied attempt to the
// per-upstream scoreboard of Frontdesk's health-aware balancing: latency to
// the response headers, requests in flight until the body is done, and the
// outcome (success, 5xx, gateway error such as a dial error or timeout, or
// 429 with its Retry-After). The `peak_ewma` and `least_requests` selection
// policies require it.
//
// It can also give each upstream a circuit breaker (`breaker`): an
// upstream whose breaker is open is skipped by the policies, and an attempt
// that reaches a breaker that refuses fails at once as a dial error, so
// Caddy retries it on another upstream (with lb_retries or lb_try_duration
// set). Nothing ever waits for a breaker.
//
// With `retry_status`, a response with one of those statuses to an
// idempotent request whose body is empty or replayable is turned into a
// dial error, so Caddy tries another upstream within lb_retries and
// lb_try_duration. On the last attempt the budget allows, the response goes
// to the client as the upstream sent it.
//
// Active health checks pass through the transport but are not counted.
type ObservedTransport struct {
	*reverseproxy.HTTPTransport

	// Upstreams of transports with the same scope share one scoreboard
	// (latency, ejections, breakers), which also survives config reloads
	// for the upstreams that stay. Give each pool its own scope when the
	// ejection cap or the policy settings should apply per pool.
	// Default: "default".
	Scope string `json:"scope,omitempty"`

	// Per-upstream circuit breakers; none unless set.
	Breaker *BreakerConfig `json:"breaker,omitempty"`

	// Response statuses that make an idempotent request try another
	// upstream: codes, or classes by their first digit. None unless set;
	// `retry_status` with no arguments in the Caddyfile means 502, 503 and
	// 504. Retries happen only within the handler's lb_retries and
	// lb_try_duration.
	RetryStatus []int `json:"retry_status,omitempty"`

	// The request methods that may be retried on RetryStatus. Default: the
	// idempotent methods of RFC 9110 (GET, HEAD, OPTIONS, TRACE, PUT,
	// DELETE).
	RetryMethods []string `json:"retry_methods,omitempty"`

	scope  *scope
	budget retryBudget
	logger *zap.Logger
	held   *heldEntries
	// policyConfig is the scoreboard configuration of the handler's
	// selection policy, validated at Provision and applied by commit.
	policyConfig *Config
}

// CaddyModule returns the Caddy module information. It must be declared
// here: the embedded HTTPTransport's would be promoted otherwise.
func (ObservedTransport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID: "http.reverse_proxy.transport.observed_http",
		New: func() caddy.Module {
			return &ObservedTransport{HTTPTransport: new(reverseproxy.HTTPTransport)}
		},
	}
}

// Provision sets up the scoreboard entries of the handler's upstreams and
// then the HTTP transport.
func (t *ObservedTransport) Provision(ctx caddy.Context) error {
	t.logger = ctx.Logger()
	if t.Scope == "" {
		t.Scope = DefaultScope
	}
	if t.Breaker != nil {
		if err := t.Breaker.Validate(); err != nil {
			return fmt.Errorf("breaker: %v", err)
		}
	}
	for _, s := range t.RetryStatus {
		if s < 1 || s > 5 && (s < 100 || s > 599) {
			return fmt.Errorf("retry_status must hold status codes or classes 1-5: %d", s)
		}
	}
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	s, err := acquireScope(t.Scope, t.logger)
	if err != nil {
		return err
	}
	t.scope = s
	t.held = new(heldEntries)
	if h := parentHandler(ctx); h != nil {
		t.budget = budgetOf(h.LoadBalancing)
		for _, u := range h.Upstreams {
			t.held.takeStatic(t, u.Dial)
		}
		if err := t.watchRecoveries(ctx, h); err != nil {
			return err
		}
	}
	if err := t.HTTPTransport.Provision(ctx); err != nil {
		return fmt.Errorf("http transport: %v", err)
	}
	return nil
}

// attachBreaker gives u the configured breaker. An entry that kept a
// breaker with the same settings from the previous config keeps it, state
// and all; other settings replace it with a closed one. The caller holds
// t.held.mu.
func (t *ObservedTransport) attachBreaker(u *Upstream) {
	if t.Breaker == nil {
		u.SetBreaker(nil)
		return
	}
	want := t.Breaker.withDefaults()
	if ref := u.breaker.Load(); ref != nil {
		if b, ok := ref.b.(*breaker); ok && b.cfg.equal(want) {
			return
		}
	}
	s, addr := t.scope, u.Address()
	u.SetBreaker(newBreaker(addr, want, func(from, to BreakerState) {
		s.logBreaker(addr, from, to)
		if to == BreakerClosed {
			u.BeginSlowStart()
		}
	}))
}

// RoundTrip sends the request through the HTTP transport and reports the
// attempt to the upstream's scoreboard entry and breaker.
func (t *ObservedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	vars, proxied := ctx.Value(caddyhttp.VarsCtxKey).(map[string]any)
	di, ok := reverseproxy.GetDialInfo(ctx)
	if !proxied || !ok || di.Upstream == nil {
		// an active health check (or a request from outside
		// reverse_proxy): not traffic, not counted
		return t.HTTPTransport.RoundTrip(req)
	}
	t.commit()
	dial := di.Upstream.Dial
	u := t.entry(dial)
	if u == nil {
		return t.HTTPTransport.RoundTrip(req)
	}
	markTried(vars, dial)
	attempt := countAttempt(vars)

	var done func(error)
	b, _ := breakerOf(u)
	if b != nil {
		d, err := b.allow()
		if err != nil {
			t.scope.count(breakerRejections, dial)
			return nil, reverseproxy.NewDialError(fmt.Errorf("circuit breaker of upstream %s: %w", dial, err))
		}
		done = d
	}

	u.StartRequest()
	start := time.Now()
	res, err := t.HTTPTransport.RoundTrip(req)
	latency := time.Since(start)

	if err != nil {
		u.FinishRequest()
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			// the client went away: says nothing about the upstream
			report(done, errBreakerExcluded)
			return nil, err
		}
		u.Record(Result{Outcome: OutcomeGatewayError, Latency: latency})
		t.scope.count(attempts, dial, OutcomeGatewayError.String())
		report(done, errBreakerFailure)
		return nil, err
	}

	outcome := ClassifyStatus(res.StatusCode)
	r := Result{Outcome: outcome, Latency: latency}
	if ra := res.Header.Get("Retry-After"); ra != "" && (res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable) {
		r.RetryAfter, _ = ParseRetryAfter(ra, time.Now())
	}
	u.Record(r)
	t.scope.count(attempts, dial, outcome.String())
	if b != nil {
		report(done, b.outcome(res.StatusCode))
	}

	if t.shouldRetry(req, res.StatusCode, attempt) {
		u.FinishRequest()
		t.scope.count(statusRetries, dial)
		drainAndClose(res.Body)
		return nil, reverseproxy.NewDialError(fmt.Errorf("upstream %s answered %d; trying another upstream", dial, res.StatusCode))
	}
	res.Body = &trackedBody{ReadCloser: res.Body, u: u}
	return res, nil
}

func breakerOf(u *Upstream) (*breaker, bool) {
	ref := u.breaker.Load()
	if ref == nil {
		return nil, false
	}
	b, ok := ref.b.(*breaker)
	return b, ok
}

func report(done func(error), outcome error) {
	if done != nil {
		done(outcome)
	}
}

// drainAndClose reads a little of a body that will not be used, so its
// connection can be reused, and closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}

// trackedBody keeps its request counted in flight until the body is closed
// (Caddy closes it when it has copied it to the client).
type trackedBody struct {
	io.ReadCloser
	u    *Upstream
	once sync.Once
}

func (b *trackedBody) Close() error {
	b.once.Do(b.u.FinishRequest)
	return b.ReadCloser.Close()
}

// Cleanup releases the scoreboard entries and the scope this transport
// held, and cleans up the HTTP transport.
func (t *ObservedTransport) Cleanup() error {
	if h := t.held; h != nil {
		h.releaseAll(t.scope.sb)
		releaseScope(t.Scope)
	}
	return t.HTTPTransport.Cleanup()
}

// Interface guards
var (
	_ http.RoundTripper         = (*ObservedTransport)(nil)
	_ caddy.Provisioner         = (*ObservedTransport)(nil)
	_ caddy.CleanerUpper        = (*ObservedTransport)(nil)
	_ reverseproxy.TLSTransport = (*ObservedTransport)(nil)
	_ reverseproxy.H2CTransport = (*ObservedTransport)(nil)
)
