package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/internal/friendly"
	"github.com/frontdesk-proxy/frontdesk/internal/promreg"
)

func init() {
	caddy.RegisterModule(RequestLimit{})
}

// RequestLimit limits how fast, and how many at once, the requests of one
// key (a client IP, a user, an API key) may come. Each zone is one limit;
// a request passes when every zone lets it (a zone whose key is empty for
// the request does not apply). A request over a rate limit gets 429 Too
// Many Requests with Retry-After; one over a concurrency limit 429 or 503.
// Both come with a short body (JSON, or HTML for browsers), and a request
// that passes a rate zone carries RateLimit-Policy and RateLimit headers.
//
// Rate limits use GCRA: one timestamp per key, exact under any contention.
// Keys live in memory, at most max_keys per zone, and survive config
// reloads while the zone's name and settings stay the same; with Redis
// configured, rate limits are shared by every instance using it.
//
// The answers are the proxy's own, given before the request reaches
// reverse_proxy, so they never count against an upstream's health.
//
// It is named request_limit: `rate_limit` is mholt/caddy-ratelimit's, and
// two registrations of one name panic when built together.
type RequestLimit struct {
	// Zones are the limits, checked in order.
	Zones []*Zone `json:"zones"`

	// Redis, when set, keeps the rate limits' state in Redis.
	Redis *Redis `json:"redis,omitempty"`

	redisKey string
	redis    []*redisZone // by zone index; nil entries: local
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (RequestLimit) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.request_limit",
		New: func() caddy.Module { return new(RequestLimit) },
	}
}

// Provision sets up the zones and takes their state from the pool.
func (h *RequestLimit) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := promreg.Register(ctx, collectors...); err != nil {
		return err
	}
	if len(h.Zones) == 0 {
		return fmt.Errorf("no zones: a request_limit needs at least one")
	}
	names := map[string]bool{}
	for i, z := range h.Zones {
		if z == nil {
			return fmt.Errorf("zone %d is empty", i+1)
		}
		if names[z.Name] {
			return fmt.Errorf("zone %s appears twice", z.Name)
		}
		names[z.Name] = true
		if err := z.provision(); err != nil {
			return err
		}
	}
	if h.Redis == nil {
		return nil
	}
	if err := h.Redis.provision(); err != nil {
		return err
	}
	client, key, err := h.Redis.acquire()
	if err != nil {
		return err
	}
	h.redisKey = key
	h.redis = make([]*redisZone, len(h.Zones))
	for i, z := range h.Zones {
		if z.rate == nil {
			continue
		}
		if z.rate.interval < int64(time.Microsecond) {
			return fmt.Errorf("zone %s: over a million events per second cannot be kept in Redis", z.Name)
		}
		h.redis[i] = &redisZone{client: client, key: h.Redis.KeyPrefix + z.Name + ":", timeout: time.Duration(h.Redis.Timeout)}
	}
	return nil
}

// Cleanup lets go of the zones' state and the Redis client.
func (h *RequestLimit) Cleanup() error {
	for _, z := range h.Zones {
		if z != nil {
			z.release()
		}
	}
	if h.redisKey != "" {
		_, _ = redisClients.Delete(h.redisKey)
		h.redisKey = ""
	}
	return nil
}

// verdict is one zone's answer for a request.
type verdict struct {
	decision
	inFlightFull bool
	unavailable  bool // Redis did not answer and the fallback is closed
	noHeaders    bool // let through by the open fallback: nothing to tell
	held         *entry
}

// slot is an in-flight slot a request holds in a zone.
type slot struct {
	store *store
	entry *entry
}

// ServeHTTP lets the request through if every zone allows it.
func (h *RequestLimit) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	var (
		slotBuf  [4]slot
		zoneBuf  [4]*Zone
		decBuf   [4]decision
		slots    = slotBuf[:0]
		rated    = zoneBuf[:0]
		ratedDec = decBuf[:0]
	)
	defer func() {
		for _, s := range slots {
			s.store.release(s.entry)
		}
	}()
	for i, z := range h.Zones {
		key, ok := z.key(repl)
		if !ok {
			z.state.count(outcomeNoKey)
			continue
		}
		v := h.decide(r.Context(), i, z, key)
		if v.held != nil {
			slots = append(slots, slot{z.state.store, v.held})
		}
		switch {
		case v.unavailable:
			return friendly.Write(w, r, friendly.Answer{
				Status:     http.StatusServiceUnavailable,
				Code:       "limiter_unavailable",
				Message:    "This service is briefly unavailable. Please try again shortly.",
				RetryAfter: time.Second,
			})
		case v.inFlightFull:
			z.state.count(outcomeInFlightLimited)
			return friendly.Write(w, r, friendly.Answer{
				Status:     z.InFlightStatus,
				Code:       "too_many_in_flight",
				Message:    "Too many of your requests are in progress. Please wait for them to finish.",
				RetryAfter: time.Second,
			})
		case !v.allowed:
			z.state.count(outcomeLimited)
			setHeaders(w.Header(), append(rated, z), append(ratedDec, v.decision))
			return friendly.Write(w, r, friendly.Answer{
				Status:     http.StatusTooManyRequests,
				Code:       "rate_limited",
				Message:    "Too many requests. Please slow down and try again later.",
				RetryAfter: v.retryAfter,
			})
		}
		z.state.count(outcomeAllowed)
		if z.rate != nil && !v.noHeaders {
			rated, ratedDec = append(rated, z), append(ratedDec, v.decision)
		}
	}
	if len(rated) > 0 {
		setHeaders(w.Header(), rated, ratedDec)
	}
	return next.ServeHTTP(w, r)
}

// decide asks zone i about key: in memory, or for the rate of a
// distributed zone, Redis (with the concurrency limit still in memory).
func (h *RequestLimit) decide(ctx context.Context, i int, z *Zone, key string) verdict {
	st := z.state.store
	var rz *redisZone
	if h.redis != nil {
		rz = h.redis[i]
	}
	if rz == nil {
		d, full, e := st.take(key, limits{rate: z.rate, maxInFlight: int64(z.MaxInFlight)})
		return verdict{decision: d, inFlightFull: full, held: e}
	}
	var v verdict
	if z.MaxInFlight > 0 {
		if _, v.inFlightFull, v.held = st.take(key, limits{maxInFlight: int64(z.MaxInFlight)}); v.inFlightFull {
			return v
		}
	}
	d, err := rz.take(ctx, z.rate, key)
	if err != nil {
		z.state.count(outcomeFallback)
		h.warnRedis(z, err)
		switch h.Redis.Fallback {
		case FallbackLocal:
			d, _, _ = st.take(key, limits{rate: z.rate})
		case FallbackOpen:
			d, v.noHeaders = decision{allowed: true}, true
		case FallbackClosed:
			v.unavailable = true
		}
	}
	v.decision = d
	if (!d.allowed || v.unavailable) && v.held != nil {
		st.release(v.held)
		v.held = nil
	}
	return v
}

// warnRedis counts a failed Redis decision and logs it, at most once a
// second per handler (the failure repeats for every request until Redis
// is back).
func (h *RequestLimit) warnRedis(z *Zone, err error) {
	if err == errRedisResting {
		return
	}
	redisErrors.WithLabelValues(z.Name).Inc()
	h.logger.Warn("redis did not decide; the fallback did", zap.String("zone", z.Name),
		zap.String("fallback", h.Redis.Fallback), zap.Error(err))
}

// epoch is the start of the limiter's monotonic clock.
var epoch = time.Now()

// monotonic is the time since epoch in nanoseconds, immune to changes of
// the wall clock.
func monotonic() int64 { return int64(time.Since(epoch)) }

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*RequestLimit)(nil)
	_ caddy.Provisioner           = (*RequestLimit)(nil)
	_ caddy.CleanerUpper          = (*RequestLimit)(nil)
)
