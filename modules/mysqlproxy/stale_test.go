package mysqlproxy

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// closedByServer tells an idle connection that its server closed (or sent
// something unasked on) from one that is merely quiet.
func TestClosedByServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dial := func() (*backendConn, net.Conn) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		sock := newSocketIO(c)
		b := &backendConn{conn: c, pc: wire.NewConn(bufio.NewReaderSize(sock, ioBufferSize), bufio.NewWriterSize(sock, ioBufferSize)),
			idleSince: time.Now().Add(-2 * staleAfter)}
		b.sock, _ = sock.(*socketIO)
		return b, srv
	}
	quiet, srv1 := dial()
	defer srv1.Close()
	if quiet.closedByServer() {
		t.Error("a quiet open connection was taken for closed")
	}
	if quiet.closedByServer() {
		t.Error("a quiet open connection was taken for closed on the second look")
	}
	closed, srv2 := dial()
	srv2.Close()
	time.Sleep(50 * time.Millisecond)
	if !closed.closedByServer() {
		t.Error("a connection the server closed was taken for open")
	}
	talking, srv3 := dial()
	defer srv3.Close()
	srv3.Write([]byte{5, 0, 0, 0, 0xff, 1, 2, 3, 4})
	time.Sleep(50 * time.Millisecond)
	if !talking.closedByServer() {
		t.Error("a connection with an unasked packet was taken for open")
	}
	// A connection that is not a plain socket is checked with a read.
	for _, closeIt := range []bool{false, true} {
		c, peer := net.Pipe()
		b := &backendConn{conn: c, pc: wire.NewConn(bufio.NewReader(c), bufio.NewWriter(c)), idleSince: time.Now().Add(-2 * staleAfter)}
		if closeIt {
			peer.Close()
		}
		if got := b.closedByServer(); got != closeIt {
			t.Errorf("pipe closed=%v: closedByServer = %v", closeIt, got)
		}
		peer.Close()
	}
	fresh, srv4 := dial()
	defer srv4.Close()
	srv4.Close()
	fresh.idleSince = time.Now()
	if fresh.closedByServer() {
		t.Error("a connection used just now was checked")
	}
}
