package mysqlproxy

import (
	"io"
	"net"
)

// maxDeferred is the largest write deferNextWrite holds back, and so the
// most a connection keeps for it: a buffered writer's flush. A longer
// write (a big statement) goes out at once and its reply is read the usual
// way.
const maxDeferred = ioBufferSize

// deferNextWrite holds the next Write back until the next Read, which then
// makes the write and waits for the answer without first trying a read.
// Right after a request the answer cannot be there yet, so that read would
// only find nothing: one system call saved per request.
//
// Only for a peer that sends nothing unasked, such as a MySQL server, which
// speaks only to answer (a server that closes the connection unasked makes
// the write fail or draw a reset, which wakes the wait). The Read must come:
// a request whose answer is never read is never sent. Reads and writes then
// share state, so one goroutine must make both.
func (s *socketIO) deferNextWrite() { s.deferNext = true }

// sendDeferred makes the deferred write and waits for the answer in one
// poller wait, reading it into p if it came. After a write that could not
// finish at once (a full send buffer) it finishes the write the usual way
// and leaves the reading to the caller.
//
// Why the first read may be skipped: RawConn.Read clears the poller's
// readiness before it calls back, and the write is made in the callback,
// after that, so the answer's arrival is always seen by the wait.
func (s *socketIO) sendDeferred(p []byte) error {
	s.wr.buf, s.wr.n, s.wr.errno = s.deferred, 0, 0
	s.rd.buf, s.rd.n, s.rd.errno = p, 0, 0
	s.sent = false
	err := s.rc.Read(s.exchange)
	s.rd.buf = nil
	switch {
	case err != nil:
	case s.wr.errno != 0:
		err = &net.OpError{Op: "write", Net: "socket", Err: s.wr.errno}
	case !s.sent:
		s.deferred = s.deferred[s.wr.n:]
		return s.flushDeferred()
	case s.rd.errno != 0:
		err = &net.OpError{Op: "read", Net: "socket", Err: s.rd.errno}
	case s.rd.n == 0:
		err = io.EOF
	}
	s.deferred, s.wr.buf = nil, nil
	return err
}

// exchangeAttempt is sendDeferred's callback: first the write, then, once
// the poller says the answer is there, the read.
func (s *socketIO) exchangeAttempt(fd uintptr) bool {
	if !s.sent {
		if !s.wr.attempt(fd) || s.wr.errno != 0 {
			return true // the write must finish outside the read, or failed
		}
		s.sent = true
		return false
	}
	return s.rd.attempt(fd)
}

// flushDeferred makes the deferred write, waiting for room as Write does.
func (s *socketIO) flushDeferred() error {
	p := s.deferred
	s.deferred = nil
	_, err := s.writeNow(p)
	return err
}
