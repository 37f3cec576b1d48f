package reloadsafe

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestSignalState(t *testing.T) {
	for _, s := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateHijacked, http.StateClosed} {
		if got, ok := signalState(signalTime(s)); !ok || got != s {
			t.Errorf("signal of %v reads back as %v, %v", s, got, ok)
		}
	}
	for _, d := range []time.Time{{}, aLongTimeAgo, time.Now(), time.Now().Add(time.Minute)} {
		if s, ok := signalState(d); ok {
			t.Errorf("deadline %v taken for state signal %v", d, s)
		}
	}
}

// serve runs an http.Server on l, hooked like a Caddy server that lists the
// wrapper, answering with its name.
func serve(t *testing.T, l *listener, name string) *http.Server {
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }),
		ConnState: sendState,
	}
	go srv.Serve(l)
	return srv
}

// keptConn is a client's keep-alive HTTP/1.1 connection.
type keptConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialKept(t testing.TB, addr string) *keptConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keptConn{c: c, br: bufio.NewReader(c)}
}

// get sends a GET on the connection and returns the answer's body.
func (k *keptConn) get(t testing.TB) string {
	k.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(k.c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("request on the kept connection: %v", err)
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatalf("answer on the kept connection: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("answer on the kept connection: %v", err)
	}
	return string(b)
}

// TestHandOffBetweenRequests keeps one keep-alive connection while the
// server of generation 1 shuts down as a reload does: the next request on
// it is answered by generation 2's server, on the same connection.
func TestHandOffBetweenRequests(t *testing.T) {
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := t.Name()
	addr := acquireAddress(key)
	l1 := newListener(ln1, key, addr, newGeneration(time.Minute), false)
	l1.gen.addListener(l1)
	addr.add(l1)
	srv1 := serve(t, l1, "gen1")

	kc := dialKept(t, ln1.Addr().String())
	get := func() string { return kc.get(t) }
	if got := get(); got != "gen1" {
		t.Fatalf("first answer %q, want gen1", got)
	}

	// The reload: generation 2 listens (its own socket, same key), then
	// generation 1 shuts down.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr2 := acquireAddress(key)
	l2 := newListener(ln2, key, addr2, newGeneration(time.Minute), false)
	l2.gen.addListener(l2)
	addr2.add(l2)
	srv2 := serve(t, l2, "gen2")
	defer srv2.Close()
	if err := srv1.Shutdown(context.Background()); err != nil {
		t.Fatalf("generation 1 did not shut down: %v", err)
	}

	for range 3 {
		if got := get(); got != "gen2" {
			t.Fatalf("answer after the reload %q, want gen2", got)
		}
	}
	if n := len(allGenerations()); n != 1 {
		t.Errorf("%d generations listed after generation 1 finished, want 1: %+v", n, allGenerations())
	}
}

// racingConn is a connection below whose Write, like a fast client, has
// the next request's first byte read before the Write returns.
type racingConn struct {
	net.Conn
	toRead chan []byte
	read   chan struct{}
}

func (r *racingConn) Read(p []byte) (int, error) { return copy(p, <-r.toRead), nil }

func (r *racingConn) Write(p []byte) (int, error) {
	r.toRead <- []byte("G")
	<-r.read
	return len(p), nil
}

// TestReadAheadDuringWrite: the first byte of the next request, read by
// net/http's background read while the response's last write is still
// returning, is kept for a hand-off (it once was forgotten with the
// response, and the new config read "ET / HTTP/1.1").
func TestReadAheadDuringWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	key := t.Name()
	l := newListener(ln, key, acquireAddress(key), newGeneration(time.Minute), false)
	below := &racingConn{toRead: make(chan []byte), read: make(chan struct{})}
	c := &conn{Conn: below, l: l}
	go func() {
		var b [1]byte
		c.Read(b[:]) // the background read
		close(below.read)
	}()
	if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if string(c.sinceWrite) != "G" {
		t.Fatalf("read ahead %q after the response, want the next request's first byte", c.sinceWrite)
	}
}
