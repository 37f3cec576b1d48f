package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// reloadSafeSite is proxySite with the reload_safe wrapper on.
func reloadSafeSite(listen string, upstreams []*harness.Backend, block string) string {
	return withGlobal(proxySite(listen, upstreams, "", block), reloadSafeOptions)
}

// TestReloadSafe measures stock Caddy and the reload_safe wrapper in the
// same run: 20 reloads that each change the upstream set, under 32
// keep-alive connections that never retry. Stock Caddy's failures (errors
// on reused keep-alive connections) are reported. With the wrapper no
// request may fail in any way: no failed connect, no error on a new or a
// kept connection, no error status. (On Linux the address's first socket
// takes every new connection, so closing a replaced config's socket
// resets none; see the README.)
func TestReloadSafe(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	const reloads = 20
	run := func(options string) harness.LoadResult {
		listen := harness.FreeAddr(t)
		site := func(bs []*harness.Backend) string { return withGlobal(proxyCaddyfile(listen, bs), options) }
		fd := harness.StartFrontdesk(t, site(backends), harness.Caddyfile)
		defer fd.Stop(5 * time.Second)
		res, _ := reloadUnderLoad(t, fd, listen, backends, reloads, site)
		return res
	}
	stock := run("")
	safe := run(reloadSafeOptions)
	t.Logf("stock Caddy under %d reloads: %s", reloads, stock)
	t.Logf("reload_safe under %d reloads: %s", reloads, safe)
	t.Logf("failed requests per 10 reloads: stock %.1f, reload_safe %.1f",
		float64(stock.Errors()+stock.Non2xx)*10/reloads, float64(safe.Errors()+safe.Non2xx)*10/reloads)
	if safe.Requests() == 0 {
		t.Fatal("no request was answered")
	}
	if safe.Errors() != 0 || safe.Non2xx != 0 {
		t.Errorf("reload_safe: %d failed connects, %d errors on new connections, %d on kept connections, %d error statuses; want none",
			safe.ConnectErrors, safe.FreshConnErrors, safe.ReusedConnErrors, safe.Non2xx)
	}
}

// TestReloadSafeNewConnections aims at the socket race directly: 16
// clients that open a new connection for every request (Connection:
// close) across 20 reloads 30ms apart and for 3s after them, stock Caddy
// and the wrapper in the same run. Stock Caddy resets connections queued on a replaced socket
// when it closes (reported); with the wrapper no request may fail.
func TestReloadSafeNewConnections(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	run := func(options string) harness.LoadResult {
		listen := harness.FreeAddr(t)
		site := func(bs []*harness.Backend) string { return withGlobal(proxyCaddyfile(listen, bs), options) }
		fd := harness.StartFrontdesk(t, site(backends), harness.Caddyfile)
		defer fd.Stop(5 * time.Second)
		load := harness.StartLoad(harness.LoadConfig{Target: listen, Connections: 16, Duration: time.Minute,
			Header: http.Header{"Connection": {"close"}}})
		for i := range 20 {
			// Caddy replaces its admin server on every load; a request
			// sent at once can meet the old one closing.
			time.Sleep(30 * time.Millisecond)
			if err := fd.Load(site(slices.Delete(slices.Clone(backends), i%4, i%4+1)), harness.Caddyfile); err != nil {
				t.Fatalf("reload %d: %v", i+1, err)
			}
		}
		// Go on connecting a while, so that a replaced socket whose
		// close is put off (as reload_safe did before it shared the
		// first socket: up to 2s) closes under load too.
		time.Sleep(3 * time.Second)
		return load.Stop()
	}
	stock := run("")
	safe := run(reloadSafeOptions)
	t.Logf("stock Caddy, a new connection per request, 20 reloads: %s", stock)
	t.Logf("reload_safe, a new connection per request, 20 reloads: %s", safe)
	if safe.Requests() == 0 {
		t.Fatal("no request was answered")
	}
	if safe.Errors() != 0 || safe.Non2xx != 0 {
		t.Errorf("reload_safe: %d failed connects, %d errors on new connections, %d on kept connections, %d error statuses; want none",
			safe.ConnectErrors, safe.FreshConnErrors, safe.ReusedConnErrors, safe.Non2xx)
	}
}

// generations reads /reload_safe/generations.
func generations(t *testing.T, fd *harness.Frontdesk) []struct {
	Generation  uint64 `json:"generation"`
	State       string `json:"state"`
	Connections int    `json:"connections"`
} {
	t.Helper()
	body, err := fd.AdminGet("/reload_safe/generations")
	if err != nil {
		t.Fatal(err)
	}
	var gens []struct {
		Generation  uint64 `json:"generation"`
		State       string `json:"state"`
		Connections int    `json:"connections"`
	}
	if err := json.Unmarshal(body, &gens); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return gens
}

// waitOneServing waits until only one generation serves: the old one has
// closed its listener and drains.
func waitOneServing(t *testing.T, fd *harness.Frontdesk) {
	t.Helper()
	err := harness.Eventually(10*time.Second, 10*time.Millisecond, func() error {
		serving := 0
		for _, g := range generations(t, fd) {
			if g.State == "serving" {
				serving++
			}
		}
		if serving != 1 {
			return fmt.Errorf("%d generations serving", serving)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// keptGet sends a GET on a kept connection and returns the X-Backend of
// its answer, which must be a 200 that keeps the connection.
func keptGet(t *testing.T, c net.Conn, br *bufio.Reader, host string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("request on the kept connection: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("status %d, Connection: close %v; want 200 and keep-alive", resp.StatusCode, resp.Close)
	}
	return resp.Header.Get("X-Backend")
}

// TestReloadSafeHandsOff keeps one keep-alive connection across 5 reloads,
// each of which removes one backend: after each, the requests on that same
// connection are served by the new config (never by the removed backend),
// and the connection is never closed. The admin route shows the draining
// generations go away.
func TestReloadSafeHandsOff(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, reloadSafeSite(listen, backends, ""), harness.Caddyfile)

	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() string { return keptGet(t, c, br, listen) }
	get()
	for i := range 5 {
		removed := backends[i%4]
		if err := fd.Load(reloadSafeSite(listen, slices.Delete(slices.Clone(backends), i%4, i%4+1), ""), harness.Caddyfile); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		waitOneServing(t, fd)
		for range 20 {
			if got := get(); got == removed.Name {
				t.Fatalf("after reload %d the kept connection reached %s, which the new config removed", i+1, got)
			}
		}
	}
	err = harness.Eventually(10*time.Second, 20*time.Millisecond, func() error {
		if gens := generations(t, fd); len(gens) != 1 || gens[0].Connections != 1 {
			return fmt.Errorf("generations %+v; want one, serving the kept connection", gens)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestReloadSafeHTTP2 sends requests over HTTP/2 (h2c, Go's client, which
// follows GOAWAY) from 8 goroutines across 20 reloads: zero errors.
func TestReloadSafeHTTP2(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	config := func(bs []*harness.Backend) string {
		return withGlobal(proxySite(listen, bs, "", ""), `servers {
		protocols h1 h2c
		listener_wrappers {
			reload_safe
		}
	}
`)
	}
	fd := harness.StartFrontdesk(t, config(backends), harness.Caddyfile)

	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: protocols}}
	defer client.CloseIdleConnections()

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := client.Get("http://" + listen + "/")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2) {
						err = fmt.Errorf("status %d over %s", resp.StatusCode, resp.Proto)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		})
	}
	for i := range 20 {
		time.Sleep(100 * time.Millisecond)
		if err := fd.Load(config(slices.Delete(slices.Clone(backends), i%4, i%4+1)), harness.Caddyfile); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	wg.Wait()
	t.Logf("HTTP/2 across 20 reloads: %d ok, %d failed", ok.Load(), failed.Load())
	if ok.Load() == 0 || failed.Load() != 0 {
		t.Errorf("%d ok and %d failed requests (first error: %v); want some and none", ok.Load(), failed.Load(), firstErr.Load())
	}
}

// longLivedBackend serves a WebSocket echo at /ws and, at /stream, a slow
// download of chunks lines, one every 50ms.
func longLivedBackend(t *testing.T, chunks int) string {
	addr := harness.FreeAddr(t)
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := range chunks {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return addr
}

// TestReloadSafeLongLived opens a WebSocket echo session and a slow
// streaming download through the proxy, then reloads 5 times (each reload
// changing the site's upstreams): the session echoes every message
// between reloads and the download arrives whole.
func TestReloadSafeLongLived(t *testing.T) {
	const chunks = 60
	ll := longLivedBackend(t, chunks)
	others := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	config := func(i int) string {
		return withGlobal(fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	auto_https off
}

http://%s {
	@long path /ws /stream
	reverse_proxy @long %s {
		stream_close_delay 1m
	}
	reverse_proxy %s
}
`, listen, ll, others[i%4].Addr), reloadSafeOptions)
	}
	fd := harness.StartFrontdesk(t, config(0), harness.Caddyfile)

	ws, err := websocket.Dial("ws://"+listen+"/ws", "", "http://"+listen)
	if err != nil {
		t.Fatalf("WebSocket through the proxy: %v", err)
	}
	defer ws.Close()
	echo := func(msg string) {
		t.Helper()
		ws.SetDeadline(time.Now().Add(10 * time.Second))
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatalf("sending %q: %v", msg, err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
			t.Fatalf("echo of %q: %q, %v", msg, got, err)
		}
	}
	echo("before the reloads")

	type download struct {
		body string
		err  error
	}
	done := make(chan download, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + listen + "/stream")
		if err != nil {
			done <- download{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- download{string(b), err}
	}()

	for i := range 5 {
		time.Sleep(200 * time.Millisecond)
		if err := fd.Load(config(i+1), harness.Caddyfile); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		echo(fmt.Sprintf("after reload %d", i+1))
	}
	d := <-done
	if d.err != nil || strings.Count(d.body, "\n") != chunks || !strings.HasSuffix(d.body, fmt.Sprintf("chunk %d\n", chunks-1)) {
		t.Errorf("streaming download across 5 reloads: %d of %d lines, error %v", strings.Count(d.body, "\n"), chunks, d.err)
	}
}

// wsFrame reads one WebSocket frame from the server (unmasked) and
// returns its opcode and payload.
func wsFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload := make([]byte, n)
	_, err := io.ReadFull(br, payload)
	return h[0] & 0x0f, payload, err
}

// TestReloadSafeWebSocketGoingAway keeps a WebSocket open across a reload
// with drain_timeout 1s (and reverse_proxy's stream_close_delay far
// longer): when the drain ends, the client receives a close frame with
// status 1001 (going away) before the connection closes.
func TestReloadSafeWebSocketGoingAway(t *testing.T) {
	ll := longLivedBackend(t, 1)
	listen := harness.FreeAddr(t)
	config := func(i int) string {
		return fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	auto_https off
	servers {
		listener_wrappers {
			reload_safe {
				drain_timeout 1s
			}
		}
	}
}

http://%s {
	respond /version "%d"
	reverse_proxy /ws %s {
		stream_close_delay 1m
	}
}
`, listen, i, ll)
	}
	fd := harness.StartFrontdesk(t, config(0), harness.Caddyfile)

	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", listen, listen)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket handshake through the proxy: %v, %v", resp, err)
	}
	// A masked text frame "hi", echoed by the backend.
	mask := []byte{1, 2, 3, 4}
	c.Write([]byte{0x81, 0x82, mask[0], mask[1], mask[2], mask[3], 'h' ^ mask[0], 'i' ^ mask[1]})
	if op, payload, err := wsFrame(br); err != nil || op != 1 || string(payload) != "hi" {
		t.Fatalf("echo before the reload: opcode %d, %q, %v", op, payload, err)
	}

	if err := fd.Load(config(1), harness.Caddyfile); err != nil {
		t.Fatalf("reload: %v", err)
	}
	op, payload, err := wsFrame(br)
	if err != nil || op != 8 || len(payload) < 2 {
		t.Fatalf("after drain_timeout: opcode %d, payload % x, %v; want a close frame", op, payload, err)
	}
	if code := binary.BigEndian.Uint16(payload); code != 1001 {
		t.Errorf("close frame with status %d, want 1001 (going away)", code)
	}
	if _, _, err := wsFrame(br); err == nil {
		t.Error("the connection stayed open after the close frame")
	}
}

// processGauges reads, from the admin API's /metrics, the process's
// goroutines and open file descriptors, the names of the metrics and the
// upstreams that series are labelled with.
func processGauges(t *testing.T, fd *harness.Frontdesk) (goroutines, fds float64, names, upstreams map[string]bool) {
	t.Helper()
	body, err := fd.AdminGet("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	names, upstreams = map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		series, value, _ := strings.Cut(line, " ")
		switch series {
		case "go_goroutines":
			fmt.Sscan(value, &goroutines)
		case "process_open_fds":
			fmt.Sscan(value, &fds)
		}
		name, labels, _ := strings.Cut(series, "{")
		names[name] = true
		if _, rest, ok := strings.Cut(labels, `upstream="`); ok {
			u, _, _ := strings.Cut(rest, `"`)
			upstreams[u] = true
		}
	}
	return goroutines, fds, names, upstreams
}

// TestReloadSafeNoGrowth reloads 100 times, each reload changing the
// upstream set of a health-aware proxy, with keep-alive traffic handed
// across the reloads: afterwards the process has no more goroutines, file
// descriptors or metrics than after the first 10, and its series name only
// the upstreams of the running config. Connections to
// upstreams that a replaced config's requests used after its cleanup stay
// in its transport's idle pool until the keep-alive timeout (Caddy's
// default: 2m); the test sets it to 1s so that they are gone when it looks.
func TestReloadSafeNoGrowth(t *testing.T) {
	backends := harness.StartBackends(t, "app", 6)
	listen := harness.FreeAddr(t)
	config := func(i int) string {
		set := []*harness.Backend{backends[i%6], backends[(i+1)%6], backends[(i+3)%6]}
		return withGlobal(proxySite(listen, set, "", `lb_policy peak_ewma
		transport observed_http {
			breaker
			keepalive 1s
		}`), reloadSafeOptions)
	}
	fd := harness.StartFrontdesk(t, config(0), harness.Caddyfile)
	reloads := func(from, to int) {
		t.Helper()
		load := harness.StartLoad(harness.LoadConfig{Target: listen, Connections: 4, Duration: time.Minute})
		for i := from; i < to; i++ {
			// Caddy replaces its admin server on every load; a request
			// sent at once can meet the old one closing.
			time.Sleep(30 * time.Millisecond)
			if err := fd.Load(config(i), harness.Caddyfile); err != nil {
				t.Fatalf("reload %d: %v", i, err)
			}
		}
		if res := load.Stop(); res.Errors() != 0 || res.Non2xx != 0 || res.OK == 0 {
			t.Errorf("load across reloads %d-%d: %s", from, to-1, res)
		}
		// Settle: the load's connections are closed and only the last
		// generation is left.
		err := harness.Eventually(20*time.Second, 50*time.Millisecond, func() error {
			if gens := generations(t, fd); len(gens) != 1 || gens[0].Connections != 0 {
				return fmt.Errorf("generations %+v", gens)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	reloads(1, 11)
	processGauges(t, fd) // the admin API's own series for GET /metrics
	g1, f1, s1, _ := processGauges(t, fd)
	reloads(11, 111)
	var g2, f2 float64
	var s2, ups map[string]bool
	// Goroutines of the replaced configs end shortly after their last
	// connection; give them a moment before calling it growth.
	err := harness.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		g2, f2, s2, ups = processGauges(t, fd)
		if g2 > g1+8 || f2 > f1+4 { // a leak per reload would show a hundred
			return fmt.Errorf("goroutines %v -> %v, open fds %v -> %v", g1, g2, f1, f2)
		}
		return nil
	})
	t.Logf("after 10 reloads: %v goroutines, %v fds, %d metric names; after 110: %v, %v, %d",
		g1, f1, len(s1), g2, f2, len(s2))
	if err != nil {
		t.Errorf("growth over 100 reloads: %v", err)
	}
	for name := range s2 {
		if !s1[name] {
			t.Errorf("metric %s appeared over 100 reloads", name)
		}
	}
	current := map[string]bool{}
	for _, b := range backends {
		current[b.Addr] = strings.Contains(config(110), b.Addr)
	}
	for u := range ups {
		if !current[u] {
			t.Errorf("a series still names upstream %s, which the running config does not have", u)
		}
	}
}

// TestReloadSafeTLS is TestReloadSafeHandsOff and TestReloadSafeHTTP2 over
// TLS (Caddy's internal CA): a kept HTTP/1.1 connection is handed to each
// new config, and HTTP/2 requests see no error, across 5 reloads.
func TestReloadSafeTLS(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	config := func(bs []*harness.Backend) string {
		addrs := make([]string, len(bs))
		for i, b := range bs {
			addrs[i] = b.Addr
		}
		return fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	skip_install_trust
	local_certs
	default_sni 127.0.0.1
	%s
}

https://%s {
	tls internal
	reverse_proxy %s
}
`, reloadSafeOptions, listen, strings.Join(addrs, " "))
	}
	fd := harness.StartFrontdesk(t, config(backends), harness.Caddyfile)

	tlsCfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	var c *tls.Conn
	err := harness.Eventually(20*time.Second, 100*time.Millisecond, func() error {
		var err error
		c, err = tls.Dial("tcp", listen, tlsCfg) // the certificate may still be on its way
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() string { return keptGet(t, c, br, listen) }
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	defer h2.CloseIdleConnections()
	h2get := func() {
		t.Helper()
		resp, err := h2.Get("https://" + listen + "/")
		if err != nil {
			t.Fatalf("HTTP/2 request: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Fatalf("HTTP/2 request: status %d over %s", resp.StatusCode, resp.Proto)
		}
	}
	get()
	h2get()
	for i := range 5 {
		removed := backends[i%4]
		if err := fd.Load(config(slices.Delete(slices.Clone(backends), i%4, i%4+1)), harness.Caddyfile); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		waitOneServing(t, fd)
		for range 10 {
			if got := get(); got == removed.Name {
				t.Fatalf("after reload %d the kept TLS connection reached %s, which the new config removed", i+1, got)
			}
			h2get()
		}
	}
}
