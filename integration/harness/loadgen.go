package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig describes a load run. Like wrk, the generator holds keep-alive
// connections, sends one request at a time on each, never retries, and
// opens a new connection only when the old one is closed or broken.
type LoadConfig struct {
	// Target is the host:port to connect to.
	Target string
	// Path is the request path. Default: "/".
	Path string
	// Host is the Host header. Default: Target.
	Host string
	// Connections is the number of concurrent connections. Default: 32.
	Connections int
	// Duration bounds the run. Default: 10s.
	Duration time.Duration
	// MaxRequests bounds the number of requests of the run. Default: 5,000,000.
	MaxRequests int64
	// Timeout bounds each request, from connect to the end of the body.
	// Default: 10s.
	Timeout time.Duration
	// Header holds extra request headers sent with every request (an
	// Authorization header, say).
	Header http.Header
}

// LoadResult counts what happened in a load run. Every request ends in
// exactly one of OK, Non2xx, FreshConnErrors or ReusedConnErrors; failed
// connection attempts are counted in ConnectErrors.
type LoadResult struct {
	// OK counts 2xx answers, Non2xx every other status.
	OK, Non2xx int64
	// Statuses counts answers by status code.
	Statuses map[int]int64
	// ConnectErrors counts connection attempts that failed (refused, timed out).
	ConnectErrors int64
	// FreshConnErrors counts requests that failed on a new connection before
	// it gave any answer (reset, closed).
	FreshConnErrors int64
	// ReusedConnErrors counts requests that failed on a keep-alive connection
	// that had answered before: the server closed or reset it under the client.
	ReusedConnErrors int64
	// Conns counts connections opened.
	Conns int64
	// ByBackend counts answers by their X-Backend header.
	ByBackend map[string]int64
	// P50, P95 and P99 are latencies of answered requests.
	P50, P95, P99 time.Duration
	// Elapsed is the run's duration.
	Elapsed time.Duration
}

// Requests is the number of requests that got an answer.
func (r LoadResult) Requests() int64 { return r.OK + r.Non2xx }

// Errors is the number of requests without an answer plus failed connects.
func (r LoadResult) Errors() int64 {
	return r.ConnectErrors + r.FreshConnErrors + r.ReusedConnErrors
}

// RPS is answered requests per second.
func (r LoadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests()) / r.Elapsed.Seconds()
}

func (r LoadResult) String() string {
	return fmt.Sprintf("%d answered (%d ok, %d non-2xx %v) in %s = %.0f req/s; p50 %s p95 %s p99 %s; "+
		"%d conns, %d connect errors, %d errors on fresh conns, %d errors on reused conns; by backend %v",
		r.Requests(), r.OK, r.Non2xx, r.Statuses, r.Elapsed.Round(time.Millisecond), r.RPS(),
		r.P50, r.P95, r.P99, r.Conns, r.ConnectErrors, r.FreshConnErrors, r.ReusedConnErrors, r.ByBackend)
}

// Load is a load run in progress.
type Load struct {
	cfg     LoadConfig
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	start   time.Time
	sent    atomic.Int64
	mu      sync.Mutex
	res     LoadResult
	samples []time.Duration
}

// StartLoad starts a load run in the background; Stop (or the end of its
// Duration) ends it.
func StartLoad(cfg LoadConfig) *Load {
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.Host == "" {
		cfg.Host = cfg.Target
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 32
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 5_000_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration)
	l := &Load{cfg: cfg, cancel: cancel, start: time.Now(),
		res: LoadResult{Statuses: map[int]int64{}, ByBackend: map[string]int64{}}}
	for range cfg.Connections {
		l.wg.Add(1)
		go l.worker(ctx)
	}
	return l
}

// RunLoad runs a load for its whole Duration and returns the result.
func RunLoad(cfg LoadConfig) LoadResult {
	l := StartLoad(cfg)
	l.wg.Wait()
	return l.Stop()
}

// Stop ends the run, waits for requests in flight, and returns the result.
func (l *Load) Stop() LoadResult {
	l.cancel()
	l.wg.Wait()
	res := l.Snapshot()
	res.Elapsed = time.Since(l.start)
	if d := l.cfg.Duration; res.Elapsed > d {
		res.Elapsed = d
	}
	return res
}

// Snapshot returns the counts so far, without stopping the run.
func (l *Load) Snapshot() LoadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	res := l.res
	res.Statuses = maps(l.res.Statuses)
	res.ByBackend = maps(l.res.ByBackend)
	res.Elapsed = time.Since(l.start)
	s := slices.Clone(l.samples)
	slices.Sort(s)
	res.P50, res.P95, res.P99 = quantile(s, 0.50), quantile(s, 0.95), quantile(s, 0.99)
	return res
}

func maps[K comparable](m map[K]int64) map[K]int64 {
	c := make(map[K]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}

// maxSamples bounds the memory the latency samples take.
const maxSamples = 2_000_000

func (l *Load) worker(ctx context.Context) {
	defer l.wg.Done()
	var extra strings.Builder
	if err := l.cfg.Header.Write(&extra); err != nil {
		panic(err) // an http.Header always writes to a strings.Builder
	}
	raw := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: frontdesk-loadgen\r\n%s\r\n", l.cfg.Path, l.cfg.Host, extra.String())
	req, _ := http.NewRequest(http.MethodGet, "http://"+l.cfg.Host+l.cfg.Path, nil)
	var (
		conn  net.Conn
		br    *bufio.Reader
		fresh bool
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	dialer := net.Dialer{Timeout: l.cfg.Timeout}
	for ctx.Err() == nil && l.sent.Add(1) <= l.cfg.MaxRequests {
		if conn == nil {
			c, err := dialer.DialContext(ctx, "tcp", l.cfg.Target)
			if err != nil {
				if ctx.Err() == nil {
					l.count(func(r *LoadResult) { r.ConnectErrors++ })
					time.Sleep(10 * time.Millisecond) // a refused port answers at once; don't spin
				}
				continue
			}
			l.count(func(r *LoadResult) { r.Conns++ })
			conn, br, fresh = c, bufio.NewReader(c), true
		}
		began := time.Now()
		conn.SetDeadline(began.Add(l.cfg.Timeout))
		status, backend, closeAfter, err := roundTrip(conn, br, raw, req)
		took := time.Since(began)
		if err != nil {
			conn.Close()
			conn = nil
			l.count(func(r *LoadResult) {
				if fresh {
					r.FreshConnErrors++
				} else {
					r.ReusedConnErrors++
				}
			})
			continue
		}
		fresh = false
		l.count(func(r *LoadResult) {
			if status >= 200 && status < 300 {
				r.OK++
			} else {
				r.Non2xx++
			}
			r.Statuses[status]++
			if backend != "" {
				r.ByBackend[backend]++
			}
			if len(l.samples) < maxSamples {
				l.samples = append(l.samples, took)
			}
		})
		if closeAfter {
			conn.Close()
			conn = nil
		}
	}
}

func (l *Load) count(f func(*LoadResult)) {
	l.mu.Lock()
	f(&l.res)
	l.mu.Unlock()
}

// roundTrip writes one request and reads its whole answer.
func roundTrip(conn net.Conn, br *bufio.Reader, raw string, req *http.Request) (status int, backend string, closeAfter bool, err error) {
	if _, err = io.WriteString(conn, raw); err != nil {
		return 0, "", false, err
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return 0, "", false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", false, err
	}
	return resp.StatusCode, resp.Header.Get("X-Backend"), resp.Close, nil
}
