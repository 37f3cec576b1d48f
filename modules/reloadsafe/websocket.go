package reloadsafe

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// When drain_timeout ends, a WebSocket that a replaced config still
// carries gets a close frame (1001, going away) before its connection is
// closed. The server writes whole frames, but a large one can take several
// writes, and a close frame in the middle of a frame would corrupt the
// stream; so the conn follows the frame boundaries in what the server
// writes to the client and puts the close frame only between frames.

// wsBoundaryWait bounds the wait for the end of a frame the server is in
// the middle of writing when drain_timeout ends; after it the connection
// is closed without a close frame.
const wsBoundaryWait = time.Second

// wsCloseWriteTimeout bounds the write of the close frame to a client
// that does not read.
const wsCloseWriteTimeout = time.Second

// wsGoingAway is a server's close frame with status 1001 (going away):
// FIN and opcode 8, unmasked, 2 bytes of payload.
var wsGoingAway = []byte{0x88, 0x02, 0x03, 0xe9}

// frameTracker follows WebSocket frame boundaries (RFC 6455 section 5.2)
// in a stream of bytes given to it in pieces of any size.
type frameTracker struct {
	head [14]byte // the current frame's header, as far as it came
	n    int      // bytes of head received
	left uint64   // payload bytes of the current frame still to come
}

// atBoundary reports whether the bytes so far end with a whole frame.
func (t *frameTracker) atBoundary() bool { return t.n == 0 && t.left == 0 }

// headerSize returns the size of a frame header from its second byte.
func headerSize(b1 byte) int {
	size := 2
	switch b1 & 0x7f {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if b1&0x80 != 0 {
		size += 4 // masking key
	}
	return size
}

// toBoundary returns how many bytes of p take the stream to the next frame
// boundary, or len(p) if p ends before one; at a boundary it returns 0.
func (t frameTracker) toBoundary(p []byte) int {
	if t.atBoundary() {
		return 0
	}
	total := 0
	for len(p) > 0 {
		k := t.advance(p)
		total += k
		p = p[k:]
		if t.atBoundary() {
			break
		}
	}
	return total
}

// write feeds the bytes of p to the tracker.
func (t *frameTracker) write(p []byte) {
	for len(p) > 0 {
		p = p[t.advance(p):]
	}
}

// advance takes bytes from the start of p for the current frame (header or
// payload) and returns how many it took; it stops at a frame boundary.
func (t *frameTracker) advance(p []byte) int {
	if t.left > 0 {
		k := uint64(len(p))
		if k > t.left {
			k = t.left
		}
		t.left -= k
		return int(k)
	}
	taken := 0
	for len(p) > 0 {
		t.head[t.n] = p[0]
		t.n++
		p = p[1:]
		taken++
		if t.n < 2 || t.n < headerSize(t.head[1]) {
			continue
		}
		switch n := t.head[1] & 0x7f; n {
		case 126:
			t.left = uint64(binary.BigEndian.Uint16(t.head[2:4]))
		case 127:
			t.left = binary.BigEndian.Uint64(t.head[2:10])
		default:
			t.left = uint64(n)
		}
		t.n = 0
		return taken
	}
	return taken
}

// websocketStart reports whether p, written to the client, begins with the
// head of a 101 response that switches to WebSocket, and returns the bytes
// after the head (the first frames). A head split over several writes is
// not recognised (net/http writes it at once).
func websocketStart(p []byte) ([]byte, bool) {
	const status = "HTTP/1.1 101 "
	if len(p) < len(status) || p[9] != '1' || string(p[:len(status)]) != status {
		return nil, false
	}
	end := bytes.Index(p, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false
	}
	for line := range bytes.SplitSeq(p[:end], []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Upgrade")) &&
			bytes.EqualFold(bytes.TrimSpace(value), []byte("websocket")) {
			return p[end+4:], true
		}
	}
	return nil, false
}

// wsWriter is the server-to-client side of a WebSocket connection: it
// serialises writes with the close frame and knows where frames end.
type wsWriter struct {
	below net.Conn
	// closing is set when drain_timeout ends: the next frame boundary
	// gets the close frame.
	closing atomic.Bool

	mu     sync.Mutex // held for each write to below
	frames frameTracker
	closed bool // the close frame went out, or the connection was closed
}

// Write writes p to the client; once closing is set, it writes up to the
// next frame boundary, puts the close frame there and closes.
func (w *wsWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, net.ErrClosed
	}
	part := p
	if w.closing.Load() {
		part = p[:w.frames.toBoundary(p)]
	}
	n, err := w.below.Write(part)
	w.frames.write(part[:n])
	if w.closing.Load() && w.frames.atBoundary() {
		w.goAwayLocked()
	}
	if err == nil && n < len(p) {
		err = net.ErrClosed
	}
	return n, err
}

// goAway sends the close frame at the next frame boundary and closes the
// connection: at once if the server is not in the middle of a frame, else
// when its next write ends the frame, or after wsBoundaryWait without a
// close frame. It never waits for a write in progress.
func (w *wsWriter) goAway() {
	w.closing.Store(true)
	if w.mu.TryLock() {
		done := w.frames.atBoundary()
		if done {
			w.goAwayLocked()
		}
		w.mu.Unlock()
		if done {
			return
		}
	}
	time.AfterFunc(wsBoundaryWait, func() { w.below.Close() })
}

// goAwayLocked writes the close frame and closes the connection. Called
// with w.mu held, at a frame boundary.
func (w *wsWriter) goAwayLocked() {
	if w.closed {
		return
	}
	w.closed = true
	_ = w.below.SetWriteDeadline(time.Now().Add(wsCloseWriteTimeout))
	_, _ = w.below.Write(wsGoingAway)
	w.below.Close()
}
