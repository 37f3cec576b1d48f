package integration

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestBenchFirewallOverhead measures the cost of access_rules and
// request_limit together on the healthy balancing benchmark (four
// backends, 32 keep-alive connections): the same proxy with them on and
// off, in alternating runs of the same binary, printing the throughput
// and latency ratios. The firewall has a deny file of 1,000,000 random
// prefixes, an /admin* rule and a default; the limiter one per-IP zone
// whose rate the load never reaches, so every request is evaluated and
// passes.
func TestBenchFirewallOverhead(t *testing.T) {
	benchEnabled(t)
	d := 10 * time.Second
	if os.Getenv("FRONTDESK_BENCH_DURATION") != "" {
		d = benchDuration(t)
	}
	denyFile := filepath.Join(t.TempDir(), "deny.txt")
	writeRandomPrefixes(t, denyFile, 1_000_000)
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	guarded := `access_rules {
		deny denylist {
			network_file ` + denyFile + `
		}
		allow admin_inside {
			network 127.0.0.0/8
			match {
				path /admin*
			}
		}
		deny admin_outside {
			match {
				path /admin*
			}
		}
	}
	request_limit {
		zone per_ip {
			key {client_ip}
			rate 1000000/s
		}
	}`
	configs := map[string]string{
		"off": proxySite(listen, backends, "", "lb_policy round_robin"),
		"on":  proxySite(listen, backends, guarded, "lb_policy round_robin"),
	}
	fd := harness.StartFrontdesk(t, configs["off"], harness.Caddyfile)
	results := map[string][]harness.LoadResult{}
	const rounds = 5
	for round := range rounds {
		for _, name := range []string{"off", "on"} {
			if err := fd.Load(configs[name], harness.Caddyfile); err != nil {
				t.Fatalf("loading %s: %v", name, err)
			}
			harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 32, Duration: time.Second}) // warm-up
			res := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 32, Duration: d})
			t.Logf("round %d, firewall+limiter %s: %s", round+1, name, res)
			if res.Non2xx+res.Errors() != 0 {
				t.Errorf("%s: failures: %s", name, res)
			}
			results[name] = append(results[name], res)
		}
	}
	var table []string
	var ratios []float64
	var totalOn, totalOff float64
	for i := range results["off"] {
		off, on := results["off"][i], results["on"][i]
		ratios = append(ratios, on.RPS()/off.RPS())
		totalOn, totalOff = totalOn+on.RPS(), totalOff+off.RPS()
		table = append(table, fmt.Sprintf("round %d: off %.0f req/s p99 %s, on %.0f req/s p99 %s: throughput %.3fx, p99 %.2fx",
			i+1, off.RPS(), off.P99.Round(10*time.Microsecond), on.RPS(), on.P99.Round(10*time.Microsecond),
			on.RPS()/off.RPS(), ratio(on.P99, off.P99)))
	}
	slices.Sort(ratios)
	t.Logf("access_rules (1M-prefix deny file) + request_limit, on vs off, 4 backends, 32 connections, %s per run:\n%s\n"+
		"throughput on/off: median of rounds %.3fx, all rounds together %.3fx",
		d, strings.Join(table, "\n"), ratios[len(ratios)/2], totalOn/totalOff)
}

// writeRandomPrefixes writes n random IPv4 and IPv6 prefixes, none of
// them covering loopback, one per line.
func writeRandomPrefixes(t *testing.T, path string, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 13))
	var b strings.Builder
	for range n {
		var p netip.Prefix
		if rng.IntN(2) == 0 {
			a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(126)), byte(rng.UintN(256)), byte(rng.UintN(256)), byte(rng.UintN(256))})
			p = netip.PrefixFrom(a, 16+rng.IntN(17)).Masked()
		} else {
			var x [16]byte
			x[0], x[1] = 0x20, 0x01
			for i := 2; i < 16; i++ {
				x[i] = byte(rng.UintN(256))
			}
			p = netip.PrefixFrom(netip.AddrFrom16(x), 32+rng.IntN(97)).Masked()
		}
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
