// Package ratelimit is Frontdesk's rate and concurrency limiter, the
// request_limit handler (http.handlers.request_limit): zones of GCRA rate
// limits and in-flight limits keyed by any placeholder, bounded in memory,
// kept across config reloads, optionally shared through Redis (one Lua
// script per decision), with RateLimit headers and friendly 429s. The
// admin route /frontdesk/rate_limits shows every zone's state.
package ratelimit
