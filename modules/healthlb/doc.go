// Package healthlb keeps the per-upstream scoreboard behind Frontdesk's
// health-aware load balancing: a Peak-EWMA latency estimate, the number of
// requests in flight, rolling outcome windows, error and 429 penalties, outlier
// ejection that grows with repeats, slow start after recovery and a hook for a
// per-upstream circuit breaker.
//
// The scoreboard is fed by an observing transport (every attempt, dial errors
// included) and read by selection policies, admin routes and metrics. Entries
// are keyed by the upstream's dial address and reference counted in a
// [caddy.UsagePool], so an upstream that stays configured keeps its history
// across config reloads.
//
// Everything in this package reads time through a [Clock] and randomness
// through a [Rand], so its behaviour can be tested without sleeping.
//
// A request's life as the scoreboard sees it:
//
//	i := sb.PickP2C(pool)          // selection: cheapest of two random candidates
//	u := pool.Upstreams[i]
//	u.StartRequest()               // dispatch: one more in flight
//	... round trip ...
//	u.Record(Result{Outcome: ClassifyStatus(code), Latency: ttfb})
//	u.FinishRequest()              // completion: one fewer in flight
//
// The Caddy modules around it:
//
//   - http.reverse_proxy.transport.observed_http (ObservedTransport): Caddy's
//     HTTP transport that feeds the scoreboard with every proxied attempt,
//     holds the per-upstream breakers and turns retry_status answers into
//     retries within the handler's retry budget.
//   - http.reverse_proxy.selection_policies.peak_ewma and .least_requests:
//     P2C over the scoreboard; they refuse to provision without the
//     observing transport.
//   - http.handlers.route_breaker (directive route_breaker): a breaker for a
//     whole route, answering 503 with Retry-After while open.
//   - admin.api.frontdesk_upstreams: GET /frontdesk/upstreams.
//
// Scoreboards are kept per scope in a package-level caddy.UsagePool, so
// they survive config reloads; metrics are package-level collectors
// registered into each config's registry.
package healthlb
