package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// BenchmarkDecision runs the limiter's whole handler in parallel, over
// 10,000 client IPs, for a zone in memory and for the same zone in a
// redis-server on loopback (one Lua script per decision); a handler with
// no zone that applies (no_key) is the baseline.
func BenchmarkDecision(b *testing.B) {
	redis := harness.StartRedis(b, "")
	for _, bc := range []struct{ name, config string }{
		{"baseline_no_key", `{"zones": [{"name": "b0", "key": "{http.request.header.X-None}", "events": 1000000}]}`},
		{"local", `{"zones": [{"name": "b1", "events": 1000000, "window": "1s"}]}`},
		{"redis", `{"zones": [{"name": "b2", "events": 1000000, "window": "1s"}], "redis": {"address": "` + redis.Addr + `", "timeout": "1s"}}`},
	} {
		h := mustLimiter(b, bc.config)
		var clients atomic.Int64
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
				for pb.Next() {
					n := clients.Add(1)
					caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, fmt.Sprintf("10.%d.%d.%d", n%100, n/100%100, n%7))
					if err := h.ServeHTTP(w, r, ok); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		if n := h.Zones[0].state.counts[outcomeFallback].Load(); n != 0 {
			b.Errorf("%s: %d decisions fell back", bc.name, n)
		}
	}
}
