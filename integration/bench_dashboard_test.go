package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// openPages holds n dashboard event streams open, as n open pages would,
// each reading every event, until stop; it returns the events read.
func openPages(t *testing.T, url string, n int) (stop func() int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var events atomic.Int64
	var wg sync.WaitGroup
	for range n {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("opening the event stream: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					events.Add(1)
				}
			}
		}()
	}
	return func() int64 {
		cancel()
		wg.Wait()
		return events.Load()
	}
}

// TestBenchDashboard measures what an open dashboard costs the proxy: the
// dashboard example (peak_ewma over four healthy backends, 32
// connections) with no page open, one page open and ten pages open (each
// an event stream read as the page reads it: one snapshot a second),
// interleaved, three rounds. It prints requests/s, p99 and the proxy's CPU
// per request with ratios against no page open.
func TestBenchDashboard(t *testing.T) {
	benchEnabled(t)
	round := benchDuration(t) / 3
	backends := harness.StartBackends(t, "app", 4)
	addrs := make([]string, len(backends))
	for i, b := range backends {
		addrs[i] = b.Addr
	}
	listen, dashboard := harness.FreeAddr(t), harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, readExample(t, "dashboard.Caddyfile"), harness.Caddyfile,
		"FRONTDESK_LISTEN="+listen, "FRONTDESK_UPSTREAMS="+strings.Join(addrs, " "),
		"FRONTDESK_DASHBOARD_LISTEN="+dashboard)
	// Warm up: every upstream past its slow start.
	harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 32, Duration: 2 * time.Second})

	pages := []int{0, 1, 10}
	results := make([][]harness.LoadResult, len(pages))
	cpu := make([]time.Duration, len(pages))
	events := make([]int64, len(pages))
	for r := range 3 {
		for i, n := range pages {
			stop := openPages(t, "http://"+dashboard+"/events", n)
			cpuBefore := processCPU(t, fd.PID())
			res := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 32, Duration: round})
			cpu[i] += processCPU(t, fd.PID()) - cpuBefore
			events[i] += stop()
			if res.Non2xx+res.Errors() != 0 {
				t.Errorf("%d pages, round %d: failures: %s", n, r+1, res)
			}
			results[i] = append(results[i], res)
		}
	}
	mean := func(rs []harness.LoadResult) (rps float64, p99 time.Duration, n int64) {
		for _, r := range rs {
			rps += r.RPS() / float64(len(rs))
			p99 += r.P99 / time.Duration(len(rs))
			n += r.Requests()
		}
		return rps, p99, n
	}
	baseRPS, baseP99, baseN := mean(results[0])
	baseCPU := cpu[0] / time.Duration(max(baseN, 1))
	lines := []string{fmt.Sprintf("%-14s %9s %9s %9s %8s %10s %8s %7s  %s", "pages open", "req/s", "p99", "rps/none", "p99/none", "cpu/req", "cpu/none", "events", "req/s per round")}
	for i, n := range pages {
		rps, p99, reqs := mean(results[i])
		perReq := cpu[i] / time.Duration(max(reqs, 1))
		var rounds []string
		for _, r := range results[i] {
			rounds = append(rounds, fmt.Sprintf("%.0f", r.RPS()))
		}
		lines = append(lines, fmt.Sprintf("%-14d %9.0f %9s %9.3f %8.2f %10s %8.3f %7d  %s",
			n, rps, p99.Round(10*time.Microsecond), rps/baseRPS, ratio(p99, baseP99),
			perReq.Round(100*time.Nanosecond), ratio(perReq, baseCPU), events[i], strings.Join(rounds, " ")))
	}
	t.Logf("dashboard pages open vs none, 4 healthy backends, 32 connections, 3 interleaved rounds of %s:\n%s",
		round, strings.Join(lines, "\n"))
}
