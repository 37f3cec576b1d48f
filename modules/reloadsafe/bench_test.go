package reloadsafe

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

// startBenchServer starts a net/http server on loopback, on a plain
// listener or on the wrapper's, and returns a kept connection to it.
func startBenchServer(b *testing.B, wrapped bool) *keptConn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})}
	var served net.Listener = ln
	if wrapped {
		key := fmt.Sprintf("bench-%d", time.Now().UnixNano())
		addr := acquireAddress(key)
		l := newListener(ln, key, addr, newGeneration(time.Minute), false)
		l.gen.addListener(l)
		addr.add(l)
		served, srv.ConnState = l, sendState
	}
	go srv.Serve(served)
	b.Cleanup(func() { srv.Close() })
	return dialKept(b, ln.Addr().String())
}

// round sends n requests one after the other and returns the time taken.
func round(b *testing.B, k *keptConn, n int) time.Duration {
	start := time.Now()
	for range n {
		k.get(b)
	}
	return time.Since(start)
}

// BenchmarkKeepAliveRequest measures requests on a kept HTTP/1.1
// connection over loopback, served by net/http on a plain listener (stock)
// and on the wrapper's listener, in alternating rounds of 200 (one round of
// each per op, so that the machine's slow spells hit both), and reports the
// median of the rounds' time ratios, wrapper over stock.
func BenchmarkKeepAliveRequest(b *testing.B) {
	stock, safe := startBenchServer(b, false), startBenchServer(b, true)
	var ratios []float64
	for b.Loop() {
		s := round(b, stock, 200)
		w := round(b, safe, 200)
		ratios = append(ratios, float64(w)/float64(s))
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "reload_safe/stock")
}
