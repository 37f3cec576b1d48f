package mysqlproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// socketIO reads and writes a socket with raw system calls, through the
// connection's poller for waiting and deadlines.
//
// Why: a MySQL session is a ping-pong of small packets, so the proxy spends
// most of its time in read and write calls on loopback or LAN sockets, and
// on a busy host each call can take tens of microseconds (the kernel does
// the receiver's TCP work inside the sender's write). Go's ordinary socket
// calls tell the scheduler that the goroutine is in a system call; the
// runtime's monitor thread then wakes every 20 µs to look for such calls,
// and hands the processor to another thread when one runs long. Measured
// under sysbench on 2 cores, that monitor alone took a fifth of the proxy's
// CPU, in the cores MariaDB needs. The sockets are non-blocking, so a raw
// call returns at once (EAGAIN when there is nothing to do) and the
// scheduler need not know about it: waiting still happens in the poller.
type socketIO struct {
	rc syscall.RawConn
	// One call state per direction: a read and a write may run at once.
	rd, wr rawCall

	// deferNext asks that the next Write be held back, as deferred, until
	// the Read that waits for its answer; see deferNextWrite.
	deferNext bool
	deferred  []byte
	held      []byte                // deferred's storage, reused
	sent      bool                  // the deferred write was made
	exchange  func(fd uintptr) bool // exchangeAttempt, bound once
}

// rawCall is the state of one read or write in progress: fields rather than
// a closure's captures, so that no call allocates.
type rawCall struct {
	sysno uintptr // sysRead or sysWrite
	whole bool    // write all of buf (a read returns what one call got)
	buf   []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool // attempt, bound once

	// stall, when set, bounds each wait of the call rather than the whole
	// call: before it waits, the connection's deadline for the direction
	// is set stall ahead, and the call clears it when done. So a peer that
	// takes data slowly is never cut, one that takes nothing is.
	stall       time.Duration
	setDeadline func(time.Time) error
	waited      bool
}

// stallError reports a write that the peer left waiting for longer than the
// call's stall bound.
type stallError struct{ d time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("write stalled: the peer accepted no data for %s", e.d)
}
func (e *stallError) Timeout() bool { return true }
func (e *stallError) Unwrap() error { return os.ErrDeadlineExceeded }

// newSocketIO returns raw socket I/O for conn, or conn itself when it is not
// a plain socket (a wrapped or in-memory connection) or the platform has no
// raw socket calls (see socketio_raw.go).
func newSocketIO(conn net.Conn) io.ReadWriter {
	sc, ok := conn.(syscall.Conn)
	if !ok || !rawSocketCalls {
		return conn
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return conn
	}
	s := &socketIO{rc: rc, rd: rawCall{sysno: sysRead},
		wr: rawCall{sysno: sysWrite, whole: true, setDeadline: conn.SetWriteDeadline}}
	s.rd.fn, s.wr.fn, s.exchange = s.rd.attempt, s.wr.attempt, s.exchangeAttempt
	return s
}

// limitWriteStalls makes a write fail when the peer accepts no data for d
// (0: no limit). It takes over the connection's write deadline.
func (s *socketIO) limitWriteStalls(d time.Duration) { s.wr.stall = d }

// Read reads what the socket has, waiting in the poller while it has
// nothing. A closed peer reads as io.EOF.
func (s *socketIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.deferred != nil {
		if err := s.sendDeferred(p); err != nil {
			return 0, err
		}
		if s.rd.n > 0 {
			return s.rd.n, nil
		}
	}
	n, err := s.rd.run(p, s.rc.Read, "read")
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	return n, err
}

// Write writes all of p, waiting in the poller while the socket's send
// buffer is full.
func (s *socketIO) Write(p []byte) (int, error) {
	if s.deferred != nil {
		if err := s.flushDeferred(); err != nil {
			return 0, err
		}
	}
	if s.deferNext {
		s.deferNext = false
		if len(p) <= maxDeferred {
			// A copy: the caller may reuse p once Write returns.
			s.held = append(s.held[:0], p...)
			s.deferred = s.held
			return len(p), nil
		}
	}
	return s.writeNow(p)
}

// writeNow writes all of p, waiting for room.
func (s *socketIO) writeNow(p []byte) (int, error) {
	n, err := s.wr.run(p, s.rc.Write, "write")
	if n < len(p) && err == nil {
		err = io.ErrShortWrite
	}
	return n, err
}

// run makes the call on p through the poller's wait (RawConn.Read or Write).
func (c *rawCall) run(p []byte, through func(func(uintptr) bool) error, op string) (int, error) {
	c.buf, c.n, c.errno = p, 0, 0
	err := through(c.fn)
	c.buf = nil
	if c.waited {
		c.waited = false
		_ = c.setDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = &stallError{c.stall}
		}
	}
	if err == nil && c.errno != 0 {
		err = &net.OpError{Op: op, Net: "socket", Err: c.errno}
	}
	return c.n, err
}

// attempt makes the system call until it is done, fails, or would block;
// false asks the poller to wait until the socket is ready.
func (c *rawCall) attempt(fd uintptr) bool {
	for c.n < len(c.buf) {
		r, e := rawReadWrite(c.sysno, fd, c.buf[c.n:])
		switch e {
		case 0:
			c.n += r
			if !c.whole || r == 0 {
				return true
			}
		case syscall.EINTR:
		case syscall.EAGAIN:
			if c.stall > 0 {
				_ = c.setDeadline(time.Now().Add(c.stall))
				c.waited = true
			}
			return false
		default:
			c.errno = e
			return true
		}
	}
	return true
}

var _ io.ReadWriter = (*socketIO)(nil)

// peerClosedOrTalked reports, without waiting and without taking anything
// from the socket, whether the peer closed it or has sent data.
func (s *socketIO) peerClosedOrTalked() bool {
	var one [1]byte
	result := false
	err := s.rc.Read(func(fd uintptr) bool {
		err := peekSocket(fd, one[:])
		// Data, an orderly close (0 bytes) or an error other than "nothing
		// yet" all mean the connection is done for.
		result = err != syscall.EAGAIN && err != syscall.EINTR
		return true
	})
	return result || err != nil
}
