package integration

import (
	"os"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// benchEnabled gates the load benchmarks to `make bench`: they measure, they
// do not test, and take minutes.
func benchEnabled(t *testing.T) {
	if os.Getenv("FRONTDESK_BENCH") != "1" {
		t.Skip("a benchmark: run it with make bench")
	}
}

// TestBenchProxyOverhead measures the whole binary as a reverse proxy over
// four backends against the baseline of the same load sent straight to one
// backend, in the same run, and prints the ratios.
func TestBenchProxyOverhead(t *testing.T) {
	benchEnabled(t)
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	harness.StartFrontdesk(t, proxyCaddyfile(listen, backends), harness.Caddyfile)

	const d = 10 * time.Second
	direct := harness.RunLoad(harness.LoadConfig{Target: backends[0].Addr, Connections: 32, Duration: d})
	proxied := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 32, Duration: d})
	t.Logf("direct to one backend: %s", direct)
	t.Logf("through frontdesk:     %s", proxied)
	t.Logf("frontdesk/direct: throughput %.2fx, p50 %.2fx, p99 %.2fx",
		proxied.RPS()/direct.RPS(), ratio(proxied.P50, direct.P50), ratio(proxied.P99, direct.P99))
	if proxied.Errors()+proxied.Non2xx != 0 {
		t.Errorf("the proxied run had failures: %s", proxied)
	}
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
