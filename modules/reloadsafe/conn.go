package reloadsafe

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// proto is what a connection carries, as far as hand-off cares.
type proto uint8

const (
	protoUnknown  proto = iota // no byte read yet
	protoHTTP1                 // HTTP/1.x requests
	protoHTTP2                 // began with the HTTP/2 preface: never handed off
	protoHijacked              // taken over by a handler (WebSocket): never handed off
)

// h2Preface is the start of the HTTP/2 client preface ("PRI * HTTP/2.0");
// no HTTP/1 request begins with the method PRI.
const h2Preface = "PRI"

// phase is where a conn is in its life.
type phase uint8

const (
	phaseOpen    phase = iota
	phasePassing       // a Close asked for hand-off while a Read waits below: the Read passes it on
	phaseGone          // closed, or passed on to another generation
)

// maxReadAhead bounds the bytes of one unanswered request kept for a
// hand-off: more than a request head, less than a body.
const maxReadAhead = 64 << 10

// aLongTimeAgo is a read deadline that makes a waiting Read return at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection as the HTTP server of one config
// generation sees it.
type conn struct {
	net.Conn // the connection below: TCP, TLS or an earlier wrapper's
	l        *listener

	mu sync.Mutex
	// prefix holds bytes an earlier generation read and did not use; they
	// are served before anything else.
	prefix []byte
	proto  proto
	// between is true while the server waits for the connection's next
	// request (http.StateNew or http.StateIdle).
	between bool
	// sinceWrite copies the bytes the server read after its last write:
	// the start of a request it has not answered (its background read
	// takes one byte while it finishes a response). Beyond maxReadAhead
	// they are not kept, and untracked is set.
	sinceWrite []byte
	untracked  bool
	// readAhead is true when sinceWrite holds exactly what net/http's
	// background read takes (one Read of one byte): the first byte of the
	// next request, read while the server finished the last response.
	readAhead bool
	// reading is true while a Read waits on the connection below.
	reading bool
	phase   phase
	// ws is set once the server switched the connection to WebSocket;
	// writes go through it from then on.
	ws *wsWriter
}

// wrapConn returns c as the server should see it: with ConnectionState when
// the connection below is TLS, so that Caddy fills in r.TLS.
func wrapConn(c *conn) net.Conn {
	if _, ok := c.Conn.(connectionStater); ok {
		return tlsConn{c}
	}
	return c
}

type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

// tlsConn is a conn over TLS.
type tlsConn struct{ *conn }

// ConnectionState returns the TLS state of the connection below.
func (c tlsConn) ConnectionState() tls.ConnectionState {
	return c.Conn.(connectionStater).ConnectionState()
}

// passable reports whether the connection can go to another generation
// with every byte of its unanswered request: it carries HTTP/1 and the
// server has not answered since it read them. Called with c.mu held.
func (c *conn) passable() bool {
	return (c.proto == protoUnknown || c.proto == protoHTTP1) && !c.untracked
}

// abandoned reports whether a draining server that closes the connection
// leaves a request unanswered on it: the server waited for it, or read it
// and never answered (net/http drops a request it finishes reading after
// shutdown began). Called with c.mu held.
func (c *conn) abandoned() bool {
	return c.passable() && (c.between || len(c.sinceWrite) > 0)
}

// Read reads from the prefix, then from the connection below. Once the
// generation drains, bytes of a request the server did not begin to serve
// are not given to it (it would drop the request): the connection is
// passed on with them.
func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.phase != phaseOpen {
		c.mu.Unlock()
		return 0, io.EOF
	}
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		c.sawBytes(p[:n])
		c.mu.Unlock()
		return n, nil
	}
	c.reading = true
	c.mu.Unlock()

	n, err := c.Conn.Read(p)

	c.mu.Lock()
	c.reading = false
	if c.phase == phasePassing || (n > 0 && c.l.draining() && c.between && c.passable()) {
		c.phase = phaseGone
		rest := append(append(c.sinceWrite, p[:n]...), c.prefix...)
		c.mu.Unlock()
		c.passOn(rest)
		return 0, io.EOF
	}
	if n > 0 {
		c.readAhead = len(c.sinceWrite) == 0 && len(p) == 1
		c.sawBytes(p[:n])
	}
	c.mu.Unlock()
	return n, err
}

// sawBytes notes that the server got b. Called with c.mu held.
func (c *conn) sawBytes(b []byte) {
	if len(b) == 0 {
		return
	}
	if c.proto == protoUnknown {
		// The preface is matched on the first read alone; a client that
		// sends fewer than three bytes first counts as HTTP/1, which only
		// means its HTTP/2 connection could be handed off while idle,
		// which the HTTP/2 server never reports.
		if len(b) >= len(h2Preface) && string(b[:len(h2Preface)]) == h2Preface {
			c.proto = protoHTTP2
		} else {
			c.proto = protoHTTP1
		}
	}
	if c.proto != protoHTTP1 {
		return // HTTP/2 and hijacked connections are never passed on
	}
	if !c.untracked && len(c.sinceWrite)+len(b) <= maxReadAhead {
		c.sinceWrite = append(c.sinceWrite, b...)
	} else {
		c.sinceWrite, c.untracked = nil, true
	}
}

// Write writes to the connection below, unless it was passed on. It
// notices a switch to WebSocket (the server's 101 response), after which
// writes go through the WebSocket writer, which knows where frames end.
func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	gone, ws := c.phase == phaseGone, c.ws
	if ws == nil && !gone {
		// What the server read so far belongs to the request it answers.
		// Forgotten before the bytes go out, not after: the client may
		// send its next request the moment it has the answer, and a read
		// may take that request's first byte before this Write returns.
		c.forgetRead()
	}
	c.mu.Unlock()
	if ws != nil {
		return ws.Write(p)
	}
	if gone {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	if c.proto == protoHTTP1 {
		if frames, ok := websocketStart(p[:n]); ok {
			c.ws = &wsWriter{below: c.Conn}
			c.ws.frames.write(frames)
		}
	}
	c.mu.Unlock()
	return n, err
}

// Close closes the connection or, when the generation drains and the
// server leaves a request unanswered on it (it waited for the next one, or
// dropped one it read), passes it on to the newest generation of the same
// address with the bytes of that request.
func (c *conn) Close() error {
	c.mu.Lock()
	switch {
	case c.phase != phaseOpen:
		c.mu.Unlock()
		return nil
	case c.abandoned() && (c.l.draining() || c.l.addr.replaced(c.l)):
		// A server that shuts down drops a request it finishes reading
		// even before it closes its listener.
		if c.reading {
			// The server waits in Read: wake it; Read passes the
			// connection on with whatever it got.
			c.phase = phasePassing
			err := c.Conn.SetReadDeadline(aLongTimeAgo)
			c.mu.Unlock()
			return err
		}
		c.phase = phaseGone
		rest := append(c.sinceWrite, c.prefix...)
		c.mu.Unlock()
		c.passOn(rest)
		return nil
	}
	c.phase = phaseGone
	c.mu.Unlock()
	c.l.forget(c)
	return c.Conn.Close()
}

// passOn gives the connection below, and the bytes read ahead on it, to the
// newest other listener of the address, or closes it if there is none.
func (c *conn) passOn(rest []byte) {
	c.l.forget(c)
	if err := c.Conn.SetReadDeadline(time.Time{}); err != nil {
		c.Conn.Close()
		return
	}
	c.l.addr.pass(c.Conn, rest, c.l)
}

// closeBelow closes the connection below whatever the server does: the
// drain timeout is over. A WebSocket gets a close frame first.
func (c *conn) closeBelow() {
	c.mu.Lock()
	gone, ws := c.phase == phaseGone, c.ws
	c.phase = phaseGone
	c.mu.Unlock()
	switch {
	case gone:
	case ws != nil:
		ws.goAway()
	default:
		c.Conn.Close()
	}
}

// SetDeadline sets both deadlines of the connection below while it is ours.
func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseOpen {
		return nil
	}
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline of the connection below while it
// is ours; a state signal from the server's ConnState hook is taken instead.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := signalState(t); ok {
		c.onState(s)
		return nil
	}
	if c.phase != phaseOpen {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline of the connection below while it
// is ours.
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseOpen {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// forgetRead empties sinceWrite. Called with c.mu held.
func (c *conn) forgetRead() {
	c.sinceWrite, c.untracked, c.readAhead = c.sinceWrite[:0], false, false
}

// onState records what the server says about the connection. Called with
// c.mu held.
func (c *conn) onState(s http.ConnState) {
	switch s {
	case http.StateNew, http.StateIdle:
		c.between = true
		// Bytes read after the response other than the background
		// read's are the rest of a request body the handler left
		// unread, which the server discarded: not a request.
		if !c.readAhead {
			c.forgetRead()
		}
	case http.StateActive:
		c.between = false
	case http.StateHijacked:
		c.between = false
		c.proto = protoHijacked
	}
}
