package integration

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// benchPolicy is one reverse_proxy configuration of the balancing benchmark.
type benchPolicy struct {
	name string
	// block is the inside of the reverse_proxy block; {scope} is replaced
	// by a scope of its own.
	block string
}

// The policies compared, all with the same retry budget (lb_retries 3), so
// that the difference is the choice of upstream. Ours run with default
// settings plus the recommended breaker and retries; stock Caddy's passive
// health checks are hand-tuned as in the issue.
var benchPolicies = []benchPolicy{
	{"round_robin", "lb_policy round_robin\n\t\tlb_retries 3"},
	{"least_conn", "lb_policy least_conn\n\t\tlb_retries 3"},
	{"round_robin+passive", "lb_policy round_robin\n\t\tlb_retries 3\n\t\tfail_duration 10s\n\t\tunhealthy_latency 50ms\n\t\tunhealthy_status 5xx"},
	{"least_conn+passive", "lb_policy least_conn\n\t\tlb_retries 3\n\t\tfail_duration 10s\n\t\tunhealthy_latency 50ms\n\t\tunhealthy_status 5xx"},
	{"peak_ewma", "lb_policy peak_ewma\n\t\tlb_retries 3\n\t\ttransport observed_http {\n\t\t\tscope {scope}\n\t\t\tbreaker\n\t\t\tretry_status 500 502 503 504\n\t\t}"},
	{"least_requests", "lb_policy least_requests\n\t\tlb_retries 3\n\t\ttransport observed_http {\n\t\t\tscope {scope}\n\t\t\tbreaker\n\t\t\tretry_status 500 502 503 504\n\t\t}"},
}

// observerOnly is stock round_robin behind the observing transport, to
// measure what observing costs by itself.
var observerOnly = benchPolicy{"round_robin+observer", "lb_policy round_robin\n\t\tlb_retries 3\n\t\ttransport observed_http {\n\t\t\tscope {scope}\n\t\t}"}

// benchScenario breaks the first of four backends in one way.
type benchScenario struct {
	name    string
	breakIt func(b *harness.Backend)
}

var benchScenarios = []benchScenario{
	{"healthy", func(*harness.Backend) {}},
	{"slow", func(b *harness.Backend) { b.SetLatency(100 * time.Millisecond) }},
	{"flaky", func(b *harness.Backend) { b.SetErrorRate(0.5) }},
	{"dead", func(b *harness.Backend) { b.Kill() }},
}

// benchDuration is the length of each run: 30s, or FRONTDESK_BENCH_DURATION.
func benchDuration(t *testing.T) time.Duration {
	if v := os.Getenv("FRONTDESK_BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("FRONTDESK_BENCH_DURATION: %v", err)
		}
		return d
	}
	return 30 * time.Second
}

// TestBenchHTTPBalancing measures, in one run and one binary, stock
// Caddy's round_robin and least_conn (plain and with hand-tuned passive
// health checks) against peak_ewma and least_requests with default
// settings, over four backends of which the first is healthy, slowed by
// 100ms, failing half its requests with 500, or dead; 32 connections. It
// prints requests/s, p50, p99, non-2xx, errors and requests per backend,
// with ratios against round_robin in the same scenario, and the cost of
// the observer alone in the healthy scenario.
func TestBenchHTTPBalancing(t *testing.T) {
	benchEnabled(t)
	d := benchDuration(t)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, proxyCaddyfile(listen, harness.StartBackends(t, "warm", 1)), harness.Caddyfile)

	var table []string
	table = append(table, fmt.Sprintf("%-8s %-21s %9s %9s %9s %7s %6s %6s %6s  %s",
		"scenario", "policy", "req/s", "p50", "p99", "non2xx", "errors", "rps/rr", "p99/rr", "requests per backend (app1 is the broken one)"))
	for _, sc := range benchScenarios {
		policies := benchPolicies
		if sc.name == "healthy" {
			policies = append(slices.Clone(policies), observerOnly)
		}
		var baseline harness.LoadResult
		for i, p := range policies {
			backends := harness.StartBackends(t, "app", 4)
			sc.breakIt(backends[0])
			scope := fmt.Sprintf("bench-%s-%d", sc.name, i)
			if err := fd.Load(proxySite(listen, backends, "", strings.ReplaceAll(p.block, "{scope}", scope)), harness.Caddyfile); err != nil {
				t.Fatalf("%s/%s: loading the config: %v", sc.name, p.name, err)
			}
			res := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 32, Duration: d})
			if i == 0 {
				baseline = res
			}
			table = append(table, fmt.Sprintf("%-8s %-21s %9.0f %9s %9s %7d %6d %6.2f %6.2f  %s",
				sc.name, p.name, res.RPS(), res.P50.Round(10*time.Microsecond), res.P99.Round(10*time.Microsecond),
				res.Non2xx, res.Errors(), res.RPS()/baseline.RPS(), ratio(res.P99, baseline.P99), perBackend(res)))
			for _, b := range backends {
				b.Kill()
			}
		}
	}
	t.Logf("balancing over 4 backends, 32 connections, %s per run:\n%s", d, strings.Join(table, "\n"))
}

// perBackend formats the answers by backend, in backend order.
func perBackend(res harness.LoadResult) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(res.ByBackend)) {
		parts = append(parts, fmt.Sprintf("%s:%d", name, res.ByBackend[name]))
	}
	return strings.Join(parts, " ")
}
