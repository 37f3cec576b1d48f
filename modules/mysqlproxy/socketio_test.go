package mysqlproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// socketPair returns both ends of a loopback connection of the network
// ("tcp" or "unix"): the accepted one and the dialled one.
func socketPair(t *testing.T, network string) (server, client net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func TestSocketIOUsesRawCallsOnSockets(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		a, _ := socketPair(t, network)
		if _, ok := newSocketIO(a).(*socketIO); !ok {
			t.Errorf("%s: plain socket not given raw I/O", network)
		}
	}
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	if got := newSocketIO(p); got != io.ReadWriter(p) {
		t.Errorf("net.Pipe (no file descriptor): got %T, want the conn itself", got)
	}
}

// TestSocketIOStreams sends more than the socket buffers hold each way at
// once, so that writes wait for room and reads for data, and checks every
// byte arrives in order.
func TestSocketIOStreams(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			a, b := socketPair(t, network)
			x, y := newSocketIO(a), newSocketIO(b)
			data := bytes.Repeat([]byte("frontdesk-0123456789"), 400_000) // 8 MB
			for _, dir := range []struct{ from, to io.ReadWriter }{{x, y}, {y, x}} {
				errc := make(chan error, 1)
				go func() {
					n, err := dir.from.Write(data)
					if err == nil && n != len(data) {
						err = io.ErrShortWrite
					}
					errc <- err
				}()
				got := make([]byte, len(data))
				if _, err := io.ReadFull(dir.to, got); err != nil {
					t.Fatalf("read: %v", err)
				}
				if err := <-errc; err != nil {
					t.Fatalf("write: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Fatal("the bytes read differ from the bytes written")
				}
			}
		})
	}
}

func TestSocketIOEndOfStream(t *testing.T) {
	a, b := socketPair(t, "tcp")
	x := newSocketIO(a)
	if _, err := b.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	got, err := io.ReadAll(x)
	if err != nil || string(got) != "last" {
		t.Fatalf("ReadAll = %q, %v; want the last bytes, then a clean end", got, err)
	}
	if n, err := x.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after the end = %d, %v; want 0, EOF", n, err)
	}
}

// TestSocketIOWriteToClosedPeer fails with an error, not a signal or a hang.
func TestSocketIOWriteToClosedPeer(t *testing.T) {
	a, b := socketPair(t, "tcp")
	x := newSocketIO(a)
	b.Close()
	chunk := make([]byte, 64<<10)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = x.Write(chunk)
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
}

// TestSocketIODeadlines: the connection's deadlines bound the raw calls'
// waits, as they do ordinary reads and writes, and a deadline in the past
// wakes a read that waits (how sessions are stopped).
func TestSocketIODeadlines(t *testing.T) {
	a, _ := socketPair(t, "tcp")
	x := newSocketIO(a)
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := x.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}

	a.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, err := x.Read(make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	a.SetReadDeadline(time.Now())
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("waiting read woken by a deadline: %v", err)
	}

	// Nobody reads the other end: the write fills both buffers and waits.
	a.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := x.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n >= 64<<20 {
		t.Fatalf("blocked write = %d bytes, %v; want part written, then os.ErrDeadlineExceeded", n, err)
	}
}

// TestSocketIOCloseWakesRead: closing the connection ends a waiting read.
func TestSocketIOCloseWakesRead(t *testing.T) {
	a, _ := socketPair(t, "tcp")
	x := newSocketIO(a)
	errc := make(chan error, 1)
	go func() {
		_, err := x.Read(make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	a.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed connection: %v, want net.ErrClosed", err)
	}
}

func TestSocketIODoesNotAllocate(t *testing.T) {
	a, b := socketPair(t, "tcp")
	x, y := newSocketIO(a), newSocketIO(b)
	msg, buf := []byte("ping"), make([]byte, 4)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := x.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(y, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a write and a read allocate %.1f times, want 0", allocs)
	}
}

// TestSocketIODeferredWrite: a deferred request leaves with the read that
// waits for its answer, in order with other writes, and whole even when it
// does not fit the send buffer at once.
func TestSocketIODeferredWrite(t *testing.T) {
	a, peer := socketPair(t, "tcp")
	x := newSocketIO(a).(*socketIO)
	echo := func(n int) {
		buf := make([]byte, n)
		if _, err := io.ReadFull(peer, buf); err != nil {
			t.Errorf("peer: %v", err)
			return
		}
		peer.Write(buf)
	}

	x.deferNextWrite()
	if n, err := x.Write([]byte("ping")); n != 4 || err != nil {
		t.Fatalf("deferred write = %d, %v", n, err)
	}
	peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := peer.Read(make([]byte, 4)); n != 0 {
		t.Fatal("a deferred write went out before the read")
	}
	peer.SetReadDeadline(time.Time{})
	go echo(4)
	got := make([]byte, 4)
	if _, err := io.ReadFull(x, got); err != nil || string(got) != "ping" {
		t.Fatalf("answer = %q, %v", got, err)
	}

	// A write after a deferred one sends both, in order.
	x.deferNextWrite()
	x.Write([]byte("one,"))
	x.Write([]byte("two"))
	go echo(7)
	got = make([]byte, 7)
	if _, err := io.ReadFull(x, got); err != nil || string(got) != "one,two" {
		t.Fatalf("answer = %q, %v", got, err)
	}

	// The largest deferred write, when the socket cannot take it at once:
	// the peer has yet to read a backlog that fills the buffers, made small
	// and fixed (no autotuning).
	a.(*net.TCPConn).SetWriteBuffer(8 << 10)
	peer.(*net.TCPConn).SetReadBuffer(8 << 10)
	a.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	backlog, err := x.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("filling the buffers: %d bytes, %v; want a deadline error", backlog, err)
	}
	a.SetWriteDeadline(time.Time{})
	big := bytes.Repeat([]byte{'x'}, maxDeferred)
	x.deferNextWrite()
	x.Write(big)
	go func() {
		time.Sleep(50 * time.Millisecond) // let the deferred write meet the full buffers
		if _, err := io.CopyN(io.Discard, peer, int64(backlog)); err != nil {
			t.Errorf("peer: %v", err)
			return
		}
		echo(len(big))
	}()
	got = make([]byte, len(big))
	if _, err := io.ReadFull(x, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("answer to a big deferred write: %v", err)
	}
}

// TestSocketIODeferredWriteToClosedPeer: a peer that went away while the
// request was held back makes the read fail instead of waiting forever.
func TestSocketIODeferredWriteToClosedPeer(t *testing.T) {
	a, peer := socketPair(t, "tcp")
	x := newSocketIO(a).(*socketIO)
	peer.Write([]byte("bye")) // unasked bytes, then the peer closes
	peer.Close()
	time.Sleep(20 * time.Millisecond)
	x.deferNextWrite()
	x.Write([]byte("ping"))
	a.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(x)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("read after a deferred write to a closed peer waited until its deadline")
	}
	t.Logf("read %q, then %v", got, err)
}

// TestSocketIOWriteStall: with a stall limit, a write the peer leaves
// waiting fails once the peer has taken nothing for that long, while a slow
// reader that keeps taking data is never cut, and the limit leaves no
// deadline behind.
func TestSocketIOWriteStall(t *testing.T) {
	const stall = time.Second
	a, peer := socketPair(t, "tcp")
	x := newSocketIO(a).(*socketIO)
	x.limitWriteStalls(stall)

	// A slow reader: 256 KiB every 10 ms, 32 MiB in all (over a second,
	// and more than the socket buffers hold, so the writer waits often).
	data := make([]byte, 32<<20)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 256<<10)
		for got := 0; got < len(data); {
			n, err := io.ReadFull(peer, buf[:min(len(buf), len(data)-got)])
			if err != nil {
				done <- err
				return
			}
			got += n
			time.Sleep(10 * time.Millisecond)
		}
		done <- nil
	}()
	began := time.Now()
	if n, err := x.Write(data); err != nil || n != len(data) {
		t.Fatalf("write to a slow reader = %d, %v; want all of it", n, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < stall {
		t.Fatalf("the slow reader took %s, less than the stall limit: the test proves nothing", took)
	}

	// No deadline left behind: a write long after still goes out.
	time.Sleep(2 * stall)
	if _, err := x.Write([]byte("later")); err != nil {
		t.Fatalf("write after the slow read: %v", err)
	}
	io.ReadFull(peer, make([]byte, 5))

	// A peer that reads nothing: the write fails after the stall.
	n, err := x.Write(data)
	var se *stallError
	if !errors.As(err, &se) || !errors.Is(err, os.ErrDeadlineExceeded) || n == len(data) {
		t.Fatalf("write to a peer that reads nothing = %d, %v; want part of it, then a stall error", n, err)
	}
	if !strings.Contains(err.Error(), "accepted no data for 1s") {
		t.Errorf("stall error %q does not say for how long", err)
	}
}

// BenchmarkPingPong is one small request and its answer over loopback, the
// proxy's pattern, with Go's ordinary socket calls and with socketIO (and
// its deferred request): compare the two lines of one run.
func BenchmarkPingPong(b *testing.B) {
	for _, mode := range []string{"net.Conn", "socketIO"} {
		b.Run(mode, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				io.Copy(c, c) // the echoing peer
			}()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			rw := io.ReadWriter(conn)
			sock, _ := newSocketIO(conn).(*socketIO)
			if mode == "socketIO" {
				rw = sock
			}
			req, resp := make([]byte, 64), make([]byte, 64)
			b.ResetTimer()
			for range b.N {
				if mode == "socketIO" {
					sock.deferNextWrite()
				}
				if _, err := rw.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(rw, resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
