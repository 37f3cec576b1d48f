package reloadsafe

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// caddySocket opens a socket on addr as Caddy does for every config: a new
// SO_REUSEPORT socket in Caddy's reference-counting wrapper.
func caddySocket(t *testing.T, addr string) net.Listener {
	t.Helper()
	na, err := caddy.ParseNetworkAddress("tcp/" + addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := na.Listen(context.Background(), 0, net.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return ln.(net.Listener)
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// acceptN accepts n connections from ln and checks each is alive by
// echoing a byte to the client; it fails the test if one does not come.
func acceptN(t *testing.T, ln net.Listener, clients []net.Conn) {
	t.Helper()
	got := make(chan net.Conn)
	go func() {
		for range clients {
			c, err := ln.Accept()
			if err != nil {
				close(got)
				return
			}
			got <- c
		}
	}()
	for i := range clients {
		select {
		case c, ok := <-got:
			if !ok {
				t.Fatalf("accepted %d of %d connections", i, len(clients))
			}
			c.Write([]byte{1})
			c.Close()
		case <-time.After(5 * time.Second):
			t.Fatalf("accepted %d of %d connections; the others are not on the anchor", i, len(clients))
		}
	}
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
}

func dialN(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	cs := make([]net.Conn, n)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs
}

// TestSharedSocket runs three configs' sockets on one address, as three
// reloads would: every connection is queued on the first socket (none on
// the later ones, whose close would reset them), each config's feed takes
// them, and the first socket closes with the last feed.
func TestSharedSocket(t *testing.T) {
	addr := freeAddr(t)
	gen1, err := shareSocket(caddySocket(t, addr))
	if err != nil {
		t.Fatalf("sharing the first socket: %v", err)
	}
	gen2Socket := caddySocket(t, addr)
	gen2, err := shareSocket(gen2Socket)
	if err != nil {
		t.Fatalf("sharing the second socket: %v", err)
	}
	follower, ok := tcpSocket(gen2.(*feed).own)
	if !ok {
		t.Fatalf("config 2's socket %T is not a TCP socket", gen2.(*feed).own)
	}

	acceptN(t, gen1, dialN(t, addr, 200))
	acceptN(t, gen2, dialN(t, addr, 200))

	// The reload that replaces config 1 closes its listener; its socket,
	// the anchor, goes on accepting for config 2.
	gen1.Close()
	gen3, err := shareSocket(caddySocket(t, addr))
	if err != nil {
		t.Fatalf("sharing the third socket: %v", err)
	}
	clients := dialN(t, addr, 200)
	// Nothing is queued on config 2's socket: a non-blocking accept on
	// a copy of it finds nothing.
	f, err := follower.File()
	if err != nil {
		t.Fatal(err)
	}
	fl, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	fl.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := fl.Accept(); err == nil {
		c.Close()
		t.Fatal("a connection was queued on a later config's socket")
	} else if ne := net.Error(nil); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("accept on a later config's socket: %v", err)
	}
	fl.Close()
	gen2.Close()
	acceptN(t, gen3, clients)

	gen3.Close()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the address still accepts after every config closed its listener")
	}
}

// TestSharedSocketTLS shares the socket below a TLS listener: the TLS
// listener's connections come from the anchor, and its TLS works.
func TestSharedSocketTLS(t *testing.T) {
	srv := httptest.NewTLSServer(nil)
	cfg := srv.TLS.Clone()
	srv.Close()

	addr := freeAddr(t)
	tlsLn := tls.NewListener(caddySocket(t, addr), cfg)
	ln, err := shareSocket(tlsLn)
	if err != nil || ln != tlsLn {
		t.Fatalf("sharing the socket below TLS: %v, %T", err, ln)
	}
	defer ln.Close()
	if got, _ := belowTLS(tlsLn); !isFeed(got) {
		t.Fatalf("below the TLS listener: %T, want the feed", got)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte("hi"))
		c.Close()
	}()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS through the shared socket: %v", err)
	}
	defer c.Close()
	if b, err := io.ReadAll(c); err != nil || string(b) != "hi" {
		t.Fatalf("read %q, %v", b, err)
	}
}

func isFeed(ln net.Listener) bool {
	_, ok := ln.(*feed)
	return ok
}
