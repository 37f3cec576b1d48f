package healthlb

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/frontdesk-proxy/frontdesk/internal/friendly"
)

func init() {
	caddy.RegisterModule(PeakEWMASelection{})
	caddy.RegisterModule(LeastRequestsSelection{})
}

// PeakEWMASelection chooses, out of two random upstreams, the one with the
// lower Peak-EWMA cost: latency estimate × (requests in flight + 1), raised
// for recent 5xx and gateway errors and while a 429 or 503's Retry-After
// runs, divided by the static weight and the slow-start factor. Peaks of
// latency count at once; recoveries decay over decay_time.
//
// Upstreams that Caddy's health checks mark down, that are full
// (max_requests), whose breaker is open or that are ejected are skipped;
// when fewer than panic_threshold percent are left, it spreads over all of
// them. A retry avoids the upstreams the request already tried, if it can.
//
// It learns latencies and outcomes from the `observed_http` transport,
// which the same reverse_proxy must use: provisioning fails otherwise.
type PeakEWMASelection struct {
	ScoreboardSettings
	policy
}

// CaddyModule returns the Caddy module information.
func (PeakEWMASelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.selection_policies.peak_ewma",
		New: func() caddy.Module { return new(PeakEWMASelection) },
	}
}

// Provision finds the handler's observing transport and configures the
// scoreboard.
func (p *PeakEWMASelection) Provision(ctx caddy.Context) error {
	return p.provision(ctx, "peak_ewma", p.ScoreboardSettings)
}

// Select returns the chosen upstream, or nil if none is available.
func (p *PeakEWMASelection) Select(pool reverseproxy.UpstreamPool, r *http.Request, w http.ResponseWriter) *reverseproxy.Upstream {
	return p.choose(pool, r, w, p.Weights, (*Scoreboard).PickP2C)
}

// LeastRequestsSelection is PeakEWMASelection without the latency signal:
// of two random upstreams it chooses the one with fewer requests in flight
// relative to its weight (Envoy's least_request). Health, breakers,
// ejection, slow start and panic mode work as in peak_ewma, and it also
// requires the `observed_http` transport.
type LeastRequestsSelection struct {
	ScoreboardSettings
	policy
}

// CaddyModule returns the Caddy module information.
func (LeastRequestsSelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.selection_policies.least_requests",
		New: func() caddy.Module { return new(LeastRequestsSelection) },
	}
}

// Provision finds the handler's observing transport and configures the
// scoreboard.
func (p *LeastRequestsSelection) Provision(ctx caddy.Context) error {
	return p.provision(ctx, "least_requests", p.ScoreboardSettings)
}

// Select returns the chosen upstream, or nil if none is available.
func (p *LeastRequestsSelection) Select(pool reverseproxy.UpstreamPool, r *http.Request, w http.ResponseWriter) *reverseproxy.Upstream {
	return p.choose(pool, r, w, p.Weights, (*Scoreboard).PickLeastRequests)
}

// policy is what both selection policies share: the handler's observing
// transport, whose scope's scoreboard they read.
type policy struct {
	transport *ObservedTransport
}

// provision checks that the parent reverse_proxy uses the observing
// transport (a health-aware policy must never run blind) and applies the
// settings to the scoreboard of its scope.
func (p *policy) provision(ctx caddy.Context, name string, s ScoreboardSettings) error {
	h := parentHandler(ctx)
	if h == nil {
		return fmt.Errorf("%s must be the selection policy of a reverse_proxy handler", name)
	}
	t, ok := h.Transport.(*ObservedTransport)
	if !ok {
		return fmt.Errorf("%s learns latencies and errors from the observing transport, which this "+
			"reverse_proxy lacks: add `transport observed_http` to its Caddyfile block "+
			`(JSON: "transport": {"protocol": "observed_http"}); all options of the http transport work there`, name)
	}
	// The settings reach the shared scoreboard with the transport's
	// commit, at the first request: see ObservedTransport.commit.
	cfg := s.config()
	if err := cfg.Validate(); err != nil {
		return err
	}
	t.policyConfig = &cfg
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	p.transport = t
	return nil
}

// selection is the reusable scratch space of one Select.
type selection struct {
	entries []*Upstream
	pool    reverseproxy.UpstreamPool
	tried   []string
	usable  func(int) bool
}

var selections = sync.Pool{New: func() any {
	s := new(selection)
	s.usable = s.isUsable
	return s
}}

// isUsable applies Caddy's own view (health checks, max_requests) and
// skips upstreams this request already tried.
func (s *selection) isUsable(i int) bool {
	u := s.pool[i]
	return u.Available() && !slices.Contains(s.tried, u.Dial)
}

// choose runs pick over the pool's scoreboard entries. If every usable
// upstream was tried already, it picks again among the tried ones rather
// than fail the retry. If there is none to choose because breakers are
// open, the response (Caddy's 503) gets a Retry-After of the time until the
// first of them lets probes through.
func (p *policy) choose(pool reverseproxy.UpstreamPool, r *http.Request, w http.ResponseWriter, weights []int, pick func(*Scoreboard, Pool) int) *reverseproxy.Upstream {
	t := p.transport
	t.commit()
	s := selections.Get().(*selection)
	defer func() {
		clear(s.entries)
		s.entries, s.pool, s.tried = s.entries[:0], nil, nil
		selections.Put(s)
	}()
	for _, u := range pool {
		s.entries = append(s.entries, t.entry(u.Dial))
	}
	s.pool, s.tried = pool, triedUpstreams(r)
	sb := t.scope.sb
	i := pick(sb, Pool{Upstreams: s.entries, Weights: weights, Usable: s.usable})
	if i < 0 && len(s.tried) > 0 {
		s.tried = nil
		i = pick(sb, Pool{Upstreams: s.entries, Weights: weights, Usable: s.usable})
	}
	if i < 0 {
		setRetryAfter(w, s.entries)
		return nil
	}
	return pool[i]
}

// setRetryAfter sets Retry-After to the shortest time any open breaker of
// the entries stays open, if one is.
func setRetryAfter(w http.ResponseWriter, entries []*Upstream) {
	now := time.Now()
	var soonest time.Duration
	for _, u := range entries {
		if b, ok := breakerOf(u); ok && b.State() == BreakerOpen {
			if d := b.retryAfter(now); soonest == 0 || d < soonest {
				soonest = d
			}
		}
	}
	if soonest > 0 {
		w.Header().Set("Retry-After", friendly.RetryAfterSeconds(soonest))
	}
}

// Interface guards
var (
	_ reverseproxy.Selector = (*PeakEWMASelection)(nil)
	_ caddy.Provisioner     = (*PeakEWMASelection)(nil)
	_ reverseproxy.Selector = (*LeastRequestsSelection)(nil)
	_ caddy.Provisioner     = (*LeastRequestsSelection)(nil)
)
