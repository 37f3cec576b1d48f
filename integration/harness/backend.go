package harness

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Backend is a real HTTP server on loopback whose latency, error rate and
// liveness a test changes while traffic flows. Every answer carries the
// header X-Backend with the backend's name and the name as its body.
type Backend struct {
	Name string
	Addr string

	latency     atomic.Int64 // nanoseconds added before every answer
	errorRate   atomic.Uint64
	errorStatus atomic.Int64
	served      atomic.Int64
	failed      atomic.Int64
	// counted numbers the requests that may fail, for shouldFail.
	counted atomic.Int64
	// lastHeader is the request header of the latest request other than
	// a health check, while recordHeaders is set.
	recordHeaders atomic.Bool
	lastHeader    atomic.Pointer[http.Header]

	mu  sync.Mutex
	srv *http.Server
}

// StartBackend starts a backend on a free loopback port; it is closed when
// the test ends.
func StartBackend(t testing.TB, name string) *Backend {
	t.Helper()
	b := &Backend{Name: name, Addr: FreeAddr(t)}
	b.errorStatus.Store(http.StatusInternalServerError)
	if err := b.listen(); err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	t.Cleanup(b.Kill)
	return b
}

// StartBackends starts n backends named prefix1..prefixN.
func StartBackends(t testing.TB, prefix string, n int) []*Backend {
	t.Helper()
	bs := make([]*Backend, n)
	for i := range bs {
		bs[i] = StartBackend(t, fmt.Sprintf("%s%d", prefix, i+1))
	}
	return bs
}

func (b *Backend) listen() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", b.Addr)
	if err != nil {
		return err
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	return nil
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	if d := time.Duration(b.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("X-Backend", b.Name)
	if r.URL.Path != "/healthz" && b.recordHeaders.Load() {
		h := r.Header.Clone()
		h.Set("X-Request-Uri", r.RequestURI)
		b.lastHeader.Store(&h)
	}
	if r.URL.Path != "/healthz" && b.shouldFail() {
		b.failed.Add(1)
		w.WriteHeader(int(b.errorStatus.Load()))
		fmt.Fprintf(w, "%s failed on purpose\n", b.Name)
		return
	}
	b.served.Add(1)
	fmt.Fprintln(w, b.Name)
}

// shouldFail spreads failures evenly at the configured rate: the n-th request
// fails when floor(n*rate) steps up, so a rate of 0.5 fails every second one,
// however many connections the requests come on.
func (b *Backend) shouldFail() bool {
	rate := float64(b.errorRate.Load()) / 1e6
	if rate <= 0 {
		return false
	}
	n := float64(b.counted.Add(1))
	return int64(n*rate) > int64((n-1)*rate)
}

// SetLatency makes every answer wait d first.
func (b *Backend) SetLatency(d time.Duration) { b.latency.Store(int64(d)) }

// SetErrorRate makes the given share (0..1) of requests, except /healthz,
// answer with the error status (500 unless SetErrorStatus changed it).
func (b *Backend) SetErrorRate(rate float64) { b.errorRate.Store(uint64(rate * 1e6)) }

// SetErrorStatus sets the status of failed answers.
func (b *Backend) SetErrorStatus(code int) { b.errorStatus.Store(int64(code)) }

// RecordHeaders makes the backend keep the request header of its latest
// request, for LastHeader. It is off by default, to keep the copy out of
// load tests.
func (b *Backend) RecordHeaders() { b.recordHeaders.Store(true) }

// LastHeader returns the request header of the latest request the
// backend got since RecordHeaders (except health checks), with its request
// URI as X-Request-Uri; nil before the first. It shows what a proxy
// passed on.
func (b *Backend) LastHeader() http.Header {
	if h := b.lastHeader.Load(); h != nil {
		return *h
	}
	return nil
}

// Served counts requests answered with 200; Failed those failed on purpose.
func (b *Backend) Served() int64 { return b.served.Load() }

// Failed counts requests answered with the error status.
func (b *Backend) Failed() int64 { return b.failed.Load() }

// Kill closes the listener and every open connection at once, so new
// connections are refused and requests in flight break.
func (b *Backend) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

// Revive listens again on the same address after Kill.
func (b *Backend) Revive(t testing.TB) {
	t.Helper()
	if err := b.listen(); err != nil {
		t.Fatalf("reviving backend %s on %s: %v", b.Name, b.Addr, err)
	}
}
