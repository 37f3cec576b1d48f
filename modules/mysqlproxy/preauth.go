package mysqlproxy

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// What a connection may do before its client has logged in. A client that
// has not proved who it is costs the proxy as little as possible: a bounded
// number of such connections, small packets only, no backend connection.

// maxLoginPacket is the largest packet a client may send before it has
// logged in: a handshake response with a long user name, database name and
// connection attributes is well under 2 KiB; servers cap the attributes
// near 64 KiB, and no client library sends that many.
const maxLoginPacket = 16 << 10

// Defaults of the pre-authentication limits.
const (
	defaultMaxConnections     = 2048
	defaultMaxUnauthenticated = 256
	defaultLoginFailureWindow = 10 * time.Minute
)

// maxTrackedAddresses bounds how many client addresses the login-failure
// limit remembers; past it, expired entries are swept, and while it is
// still full, failures of new addresses are not counted (the limit slows
// guessing from few addresses; a flood from many is the caps' job).
const maxTrackedAddresses = 100_000

// LoginFailureLimit refuses connections from a client address that failed
// to log in too often, as the server's max_connect_errors does, but
// forgiving: the block lifts by itself.
type LoginFailureLimit struct {
	// MaxFailures is the number of failed logins (a wrong user or password,
	// a malformed or oversized handshake) from one address after which
	// further connections from it are refused with error 1129 until Window
	// has passed since its first counted failure. A successful login clears
	// the address's count. Clients that connect and leave without sending
	// a handshake (port probes, TCP health checks) are not counted.
	// Required, at least 1.
	MaxFailures int `json:"max_failures"`

	// Window is how long failures are counted and an address stays blocked,
	// from its first counted failure. Default: 10m.
	Window caddy.Duration `json:"window,omitempty"`
}

// Reasons a connection is refused before its greeting, as the admin API and
// the metrics label them.
const (
	refusedMaxConnections = iota
	refusedMaxUnauthenticated
	refusedLoginFailures
)

var refusedReasonNames = []string{"max_connections", "max_unauthenticated", "login_failures"}

// admit decides whether conn may begin a session, counting it as open and
// unauthenticated if so. Otherwise it returns the error the client is told
// instead of a greeting, and counts why.
func (srv *Server) admit(conn net.Conn) *wire.SQLError {
	st := srv.stats
	if open := st.sessionsOpen.Add(1); open > int64(srv.MaxConnections) {
		st.sessionsOpen.Add(-1)
		st.refused.add(refusedMaxConnections)
		return wire.NewSQLError(wire.ERConCountError, "Too many connections: Frontdesk server %q holds its max_connections (%d)", srv.name, srv.MaxConnections)
	}
	if pending := st.unauthenticated.Add(1); pending > int64(srv.MaxUnauthenticated) {
		st.unauthenticated.Add(-1)
		st.sessionsOpen.Add(-1)
		st.refused.add(refusedMaxUnauthenticated)
		return wire.NewSQLError(wire.ERConCountError, "Too many connections: Frontdesk server %q has %d clients logging in (max_unauthenticated)", srv.name, srv.MaxUnauthenticated)
	}
	if lim := srv.LoginFailureLimit; lim != nil {
		if host, blocked := st.failures.blocked(conn.RemoteAddr(), lim, time.Now()); blocked {
			st.unauthenticated.Add(-1)
			st.sessionsOpen.Add(-1)
			st.refused.add(refusedLoginFailures)
			return wire.NewSQLError(wire.ERHostIsBlocked, "Host '%s' is blocked because of many failed logins; it is unblocked within %s", host, time.Duration(lim.Window))
		}
	}
	return nil
}

// loginDone ends a connection's unauthenticated time, after its login one
// way or the other. A successful login clears its address's failures; one
// that failed by the client's fault (a wrong user or password, a bad
// handshake) counts against it.
func (srv *Server) loginDone(conn net.Conn, ok, clientFault bool) {
	st := srv.stats
	st.unauthenticated.Add(-1)
	if lim := srv.LoginFailureLimit; lim != nil && (ok || clientFault) {
		st.failures.record(conn.RemoteAddr(), lim, !ok, time.Now())
	}
}

// readLoginPacket reads one client packet before login, refusing one larger
// than maxLoginPacket without reading it.
func (s *session) readLoginPacket(what string) ([]byte, error) {
	head, err := s.pc.PeekPacket()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, s.outOfOrder(err))
	}
	if head.Length > maxLoginPacket {
		s.clientFault = true
		return nil, s.refuseLogin(wire.NewSQLError(wire.ERHandshakeError, "Bad handshake: a %s of %d bytes or more is larger than the %d allowed before login", what, head.Length, maxLoginPacket))
	}
	p, err := s.pc.ReadPacket()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, s.outOfOrder(err))
	}
	return p, nil
}

// failureTracker counts failed logins per client address.
type failureTracker struct {
	mu     sync.Mutex
	byHost map[string]*failureCount
	// swept is when expired entries were last swept out of a full map.
	swept time.Time
}

type failureCount struct {
	since time.Time
	n     int
}

func newFailureTracker() *failureTracker {
	return &failureTracker{byHost: map[string]*failureCount{}}
}

// hostOf is the address the limit counts: the IP of a TCP client; other
// clients (unix sockets) are not counted.
func hostOf(addr net.Addr) (string, bool) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "", false
	}
	return tcp.IP.String(), true
}

// blocked reports whether addr has used up its failures in the window.
func (t *failureTracker) blocked(addr net.Addr, lim *LoginFailureLimit, now time.Time) (string, bool) {
	host, ok := hostOf(addr)
	if !ok {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.byHost[host]
	if c == nil {
		return host, false
	}
	if now.Sub(c.since) >= time.Duration(lim.Window) {
		delete(t.byHost, host)
		return host, false
	}
	return host, c.n >= lim.MaxFailures
}

// record counts a failed login from addr, or clears its count after a
// successful one.
func (t *failureTracker) record(addr net.Addr, lim *LoginFailureLimit, failed bool, now time.Time) {
	host, ok := hostOf(addr)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.byHost[host]
	switch {
	case !failed:
		delete(t.byHost, host)
		return
	case c != nil && now.Sub(c.since) < time.Duration(lim.Window):
		c.n++
		return
	}
	if len(t.byHost) >= maxTrackedAddresses && now.Sub(t.swept) >= time.Second {
		t.swept = now
		for h, old := range t.byHost {
			if now.Sub(old.since) >= time.Duration(lim.Window) {
				delete(t.byHost, h)
			}
		}
	}
	if len(t.byHost) >= maxTrackedAddresses {
		return
	}
	t.byHost[host] = &failureCount{since: now, n: 1}
}

// provisionLimits fills in the defaults of the pre-authentication limits.
func (s *Server) provisionLimits() error {
	if s.MaxConnections == 0 {
		s.MaxConnections = defaultMaxConnections
	}
	if s.MaxUnauthenticated == 0 {
		s.MaxUnauthenticated = defaultMaxUnauthenticated
	}
	switch lim := s.LoginFailureLimit; {
	case s.MaxConnections < 0 || s.MaxUnauthenticated < 0:
		return fmt.Errorf("max_connections and max_unauthenticated must not be negative")
	case lim == nil:
	case lim.MaxFailures < 1:
		return fmt.Errorf("login_failure_limit.max_failures must be at least 1")
	case lim.Window < 0:
		return fmt.Errorf("login_failure_limit.window must not be negative")
	case lim.Window == 0:
		lim.Window = caddy.Duration(defaultLoginFailureWindow)
	}
	return nil
}
