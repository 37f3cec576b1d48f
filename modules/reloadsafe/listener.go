package reloadsafe

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// listener is one config generation's listener on one address. Accept
// returns the connections its socket accepts and those that older
// generations of the address pass on.
type listener struct {
	net.Listener // this generation's socket, possibly wrapped
	addr         *address
	key          string
	gen          *generation
	// shared is true when the listener accepts from the address's anchor
	// socket (a feed, see shareSocket): closing it resets nothing.
	shared bool

	accepted  chan acceptResult
	done      chan struct{}
	wake      chan struct{} // a conn was queued
	closeOnce sync.Once
	stopped   atomic.Bool
	// lastAccept is when the socket last accepted, in unix nanoseconds.
	lastAccept atomic.Int64

	mu          sync.Mutex
	queue       []*conn // passed on by older generations, not yet accepted
	queueClosed bool
	conns       map[*conn]struct{}
	drainTimer  *time.Timer
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func newListener(ln net.Listener, key string, addr *address, gen *generation, shared bool) *listener {
	l := &listener{
		Listener: ln, addr: addr, key: key, gen: gen, shared: shared,
		accepted: make(chan acceptResult),
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		conns:    map[*conn]struct{}{},
	}
	go l.acceptLoop()
	return l
}

// Where the socket is not shared (see shareSocket), a replaced
// generation's socket keeps accepting (for the newest generation) after
// its server closed the listener. The system spreads new connections over
// every socket bound to a port with SO_REUSEPORT and Linux resets those
// still queued on a socket when it closes, so the socket is closed at least socketLinger after the reload, once no connection has
// arrived on it for socketQuiet (the burst of reconnections a reload
// causes is over), or at socketMaxLinger whatever arrives.
const (
	socketLinger    = 250 * time.Millisecond
	socketQuiet     = 50 * time.Millisecond
	socketMaxLinger = 2 * time.Second
)

// acceptLoop accepts on the socket until it is closed; Accept takes what
// it gets. Once the listener is closed, what the socket still accepts goes
// to the newest generation.
func (l *listener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			l.lastAccept.Store(time.Now().UnixNano())
			select {
			case l.accepted <- acceptResult{c, nil}:
			case <-l.done:
				l.addr.pass(c, nil, l)
			}
			continue
		}
		if l.draining() {
			return
		}
		select {
		case l.accepted <- acceptResult{nil, err}:
		case <-l.done:
			return
		}
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Temporary()) { //nolint:staticcheck // as net/http's Serve does
			return
		}
	}
}

// Accept returns the next connection: one passed on by an older
// generation, or one accepted on the socket.
func (l *listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue = l.queue[1:]
			l.mu.Unlock()
			return wrapConn(c), nil
		}
		l.mu.Unlock()
		select {
		case r := <-l.accepted:
			if r.err != nil {
				return nil, r.err
			}
			return wrapConn(l.track(r.conn, nil)), nil
		case <-l.wake:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
}

// track makes a conn of this listener for the connection below.
func (l *listener) track(below net.Conn, prefix []byte) *conn {
	c := &conn{Conn: below, l: l, prefix: prefix}
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	return c
}

// enqueue takes a connection passed on by another generation; it refuses
// once the listener is closed.
func (l *listener) enqueue(below net.Conn, prefix []byte) bool {
	c := &conn{Conn: below, l: l, prefix: prefix}
	l.mu.Lock()
	if l.queueClosed {
		l.mu.Unlock()
		return false
	}
	l.conns[c] = struct{}{}
	l.queue = append(l.queue, c)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// forget drops c from the listener's connections.
func (l *listener) forget(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	finished := l.queueClosed && len(l.conns) == 0
	if finished && l.drainTimer != nil {
		l.drainTimer.Stop()
	}
	l.mu.Unlock()
	if finished {
		l.gen.listenerFinished()
	}
}

// draining reports whether the generation of this listener was replaced
// (its server closed the listener).
func (l *listener) draining() bool { return l.stopped.Load() }

// Close closes the socket, starts the drain and passes queued connections
// on. Connections in use stay until the server closes them or the drain
// timeout closes them.
func (l *listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.stopped.Store(true)
		close(l.done)
		l.addr.remove(l)
		if !l.shared && l.addr.served() {
			l.lingerThenClose(time.Now().Add(socketMaxLinger), socketLinger)
		} else {
			err = l.closeSocket()
		}

		l.mu.Lock()
		l.queueClosed = true
		queued := l.queue
		l.queue = nil
		for _, c := range queued {
			delete(l.conns, c)
		}
		empty := len(l.conns) == 0
		if !empty {
			l.drainTimer = time.AfterFunc(l.gen.drainTimeout, l.closeRemaining)
		}
		l.mu.Unlock()

		for _, c := range queued {
			l.addr.pass(c.Conn, c.prefix, l)
		}
		if empty {
			l.gen.listenerFinished()
		}
	})
	return err
}

// lingerThenClose closes the socket after wait, if it has been quiet for
// socketQuiet by then or the deadline has come, and else waits again.
func (l *listener) lingerThenClose(deadline time.Time, wait time.Duration) {
	time.AfterFunc(wait, func() {
		quiet := time.Since(time.Unix(0, l.lastAccept.Load()))
		if quiet >= socketQuiet || !time.Now().Before(deadline) {
			_ = l.closeSocket()
			return
		}
		l.lingerThenClose(deadline, min(socketQuiet-quiet, time.Until(deadline)))
	})
}

// closeSocket closes this generation's socket and lets go of the address.
func (l *listener) closeSocket() error {
	err := l.Listener.Close()
	releaseAddress(l.key)
	return err
}

// closeRemaining closes the connections still open when the drain timeout
// ends.
func (l *listener) closeRemaining() {
	l.mu.Lock()
	left := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		left = append(left, c)
	}
	l.mu.Unlock()
	if len(left) > 0 {
		drainTimeouts.Add(float64(len(left)))
	}
	for _, c := range left {
		c.closeBelow()
		l.forget(c)
	}
}

// status is the listener's entry in the admin route.
func (l *listener) status() listenerStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return listenerStatus{Address: l.Addr().String(), Connections: len(l.conns)}
}
