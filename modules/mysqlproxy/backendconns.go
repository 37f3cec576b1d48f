package mysqlproxy

import (
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// A session's backend connections: at most one to the primary and one to a
// replica, opened when first needed, brought up to date with the session
// before each use, and dropped when they fail.

// backendCaps are always asked for on backend legs, besides what the client
// negotiated: the protocol the proxy speaks, and connection attributes to
// say that Frontdesk is in between.
const backendCaps = wire.ClientLongPassword | wire.ClientProtocol41 | wire.ClientSecureConnection |
	wire.ClientPluginAuth | wire.ClientTransactions | wire.ClientConnectAttrs

// loginOptions are what backend logins take over from the client's login.
func (s *session) loginOptions() loginOptions {
	return loginOptions{caps: s.caps | backendCaps, charset: s.charset, db: s.loginDB, attrs: s.attrs}
}

func (s *session) credentials() credentials {
	return credentials{user: s.user.name, sha1pw: s.sha1pw, password: s.user.password}
}

// inTransaction reports whether b holds an open transaction: its last reply
// says a transaction is open, or autocommit is off.
func (b *backendConn) inTransaction() bool {
	return b.status&wire.StatusInTrans != 0 || b.status&wire.StatusAutocommit == 0
}

// txConn returns the connection of the session's open transaction, if any.
func (s *session) txConn() *backendConn {
	for _, b := range []*backendConn{s.primary, s.replica} {
		if b != nil && b.inTransaction() {
			return b
		}
	}
	return nil
}

// primaryConn returns the session's primary connection: the one it holds,
// the one it parked if no other session took it since, or one from the
// backend (replaying the session log on it).
func (s *session) primaryConn() (*backendConn, error) {
	primary := s.srv.primary()
	if primary == nil {
		return nil, errNoPrimary
	}
	if s.primary == nil && s.ownPrimary != nil {
		s.takeBack(s.ownPrimary)
	}
	if s.primary != nil {
		if s.primary.addr == primary.addr {
			if !s.primary.closedByServer() {
				return s.primary, nil
			}
			// The server ended the idle connection (wait_timeout, a
			// restart): open another, if the session's state can be
			// given to it.
			if s.pinned || s.primary.inTransaction() {
				return nil, errSessionLost
			}
			s.logger.Info("the primary closed an idle connection; reconnecting", zap.String("backend", s.primary.addr.String()))
			s.forget(s.primary)
			s.primary.drop()
			s.primary = nil
			return s.primaryConn()
		}
		// The roles changed (a switchover): move to the new primary, which
		// only a session holding nothing on the old one can do.
		old := s.primary
		if s.pinned || old.inTransaction() {
			return nil, &backendError{old.addr, errors.New("no longer the primary; the session's transaction or locks were there")}
		}
		s.forget(old)
		old.close()
		s.primary = nil
	}
	opt := s.loginOptions()
	// The proxy follows the session's state through session tracking; a
	// server without it gets the session pinned instead (below).
	opt.optional = wire.ClientSessionTrack &^ s.caps
	opt.caps |= wire.ClientSessionTrack
	b, err := primary.acquire(s, false, opt)
	if err != nil {
		return nil, err
	}
	s.adopt(b)
	switch {
	case b.caps&wire.ClientSessionTrack == 0:
		// A server without session tracking cannot say what the session's
		// statements changed: keep the session where its state is.
		s.primary = b
		s.pin(pinNoSessionTracking)
	case b.clean:
		// From the pool: tracking is on, and its sql_mode was read when it
		// was reset; the session's statements are lexed under it, or under
		// the sql_mode the session log sets.
		s.followTracking(b)
		s.mode = b.mode
	default:
		if err := s.setupTracking(b); err != nil {
			b.close()
			return nil, &backendError{b.addr, fmt.Errorf("turning on session tracking: %w", err)}
		}
		b.mode, b.clean = s.mode, true
	}
	if err := s.catchUp(b); err != nil {
		b.close()
		return nil, &backendError{b.addr, fmt.Errorf("restoring the session: %w", err)}
	}
	if err := s.restoreInsertID(b); err != nil {
		b.close()
		return nil, &backendError{b.addr, fmt.Errorf("restoring LAST_INSERT_ID(): %w", err)}
	}
	s.primary, s.ownPrimary = b, b
	return b, nil
}

// replicaConn returns the session's replica connection. A session keeps
// its replica while the replica stays usable (up, replicating, not too far
// behind, breaker closed); otherwise it moves to the usable replica with
// the least work in flight, weighed by latency.
func (s *session) replicaConn() (*backendConn, error) {
	maxLag := time.Duration(s.srv.Health.MaxReplicationLag)
	if s.replica == nil && s.ownReplica != nil {
		s.takeBack(s.ownReplica)
	}
	if s.replica != nil {
		switch {
		case s.replica.node == nil || s.replica.node == s.srv.primary() || !s.replica.node.usableReplica(maxLag, s.srv.primary()):
			s.dropReplica(errors.New("the replica is no longer usable"))
		case s.replica.closedByServer():
			s.dropReplica(errors.New("the replica closed the idle connection"))
		default:
			return s.replica, nil
		}
	}
	var errs []error
	for _, n := range s.srv.replicasByCost(maxLag, int(s.id)) {
		b, err := n.acquire(s, true, s.loginOptions())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.adopt(b)
		s.replica, s.ownReplica = b, b
		return b, nil
	}
	if len(errs) == 0 {
		return nil, errNoReplica
	}
	return nil, errors.Join(errs...)
}

// adopt makes a connection the session got from the backend its own: what
// the session knew of it from an earlier time it held it is void.
func (s *session) adopt(b *backendConn) {
	s.forget(b)
	b.replayed = 0
}

// takeBack makes sure the session holds b, a connection it had: held
// already, or parked and taken back from the pool, unless another session
// took it since or the session holds another connection of its role. It
// reports whether the session holds b.
func (s *session) takeBack(b *backendConn) bool {
	slot := &s.primary
	if b.replica {
		slot = &s.replica
	}
	if *slot == b {
		return true
	}
	if *slot != nil || !b.reclaim(s) {
		return false
	}
	*slot = b
	return true
}

// takeBackParked takes back the connections the session parked, where no
// other session took them.
func (s *session) takeBackParked() {
	for _, b := range []*backendConn{s.ownPrimary, s.ownReplica} {
		if b != nil {
			s.takeBack(b)
		}
	}
}

// forgetHolds forgets what tied the session to its connections and the
// answers it could ask them for: the session starts over (it ended, or
// reset its state).
func (s *session) forgetHolds() {
	s.last, s.nextTx = nil, nil
	s.sticky, s.inserted = false, false
	s.lostInsertID.Store(nil)
}

// parkConnections gives the session's connections back to the pool
// between commands, owned by the session still, unless something ties the
// session to them: a transaction, a pin, a cursor, pending long data. A
// connection with answers the session may still ask for (warnings,
// SQL_CALC_FOUND_ROWS, LAST_INSERT_ID()) is parked as not clean: other
// sessions take it only when the pool is full, and then reset it (and
// hand the session its LAST_INSERT_ID first).
func (s *session) parkConnections() {
	if s.srv.Pool == nil {
		return
	}
	if b := s.primary; b != nil && !s.pinned && !s.tiedTo(b) {
		s.primary = nil
		b.park()
	}
	if b := s.replica; b != nil && !s.tiedTo(b) {
		s.replica = nil
		b.park()
	}
}

// tiedTo reports whether the session's next command may need b itself.
func (s *session) tiedTo(b *backendConn) bool {
	return s.sticky || b == s.nextTx || b.inTransaction() || s.stmts.longDataOn(b)
}

// errNoPrimary says that no backend takes writes now.
var errNoPrimary = errors.New("no writable server: every backend is down or read_only")

// errNoReplica says that no replica may take reads now.
var errNoReplica = errors.New("no replica is usable: all are down, not replicating, too far behind, or their breakers are open")

// errSessionLost says that the server closed the connection that held the
// session's transaction or pinned state: the client connection is closed
// too, so that the client's driver sees a dead connection and starts over.
var errSessionLost = errors.New("the server closed the idle connection that held the session's transaction or locks")

// staleAfter is how long a backend connection may sit idle before the proxy
// checks, ahead of its next command, that the server has not closed it.
// Under load connections are never idle that long, so the check costs the
// busy path nothing.
const staleAfter = time.Second

// closedByServer reports whether the server sent something unasked after
// b's last reply (such as the inactivity error of wait_timeout), or, once b
// has sat idle for staleAfter or longer, closed it.
func (b *backendConn) closedByServer() bool {
	// Bytes past the end of the last reply are seen at once (whatever they
	// say, the connection is out of step with its commands); the socket
	// is asked only after idleness.
	if b.pc.Reader().Buffered() == 0 && (b.idleSince.IsZero() || time.Since(b.idleSince) < staleAfter) {
		return false
	}
	return b.peerClosedOrTalked()
}

// peerClosedOrTalked reports, without waiting, whether the server closed
// b or sent it something since its last reply.
func (b *backendConn) peerClosedOrTalked() bool {
	if b.pc.Reader().Buffered() > 0 {
		return true
	}
	if b.sock != nil {
		return b.sock.peerClosedOrTalked()
	}
	// Not a plain socket: a read that finds nothing within a moment.
	b.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := b.pc.PeekPacket()
	b.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// errModeUnknown says that a replica cannot be brought to the session's
// sql_mode, which no server has reported yet.
var errModeUnknown = errors.New("the session's sql_mode is not known yet")

// catchUp runs on b the session-log entries it has not run yet and, on a
// replica, sets the session's sql_mode.
func (s *session) catchUp(b *backendConn) error {
	for _, e := range s.log.since(b.replayed) {
		b.clean = false
		if err := b.run(e.payload); err != nil {
			var se *wire.SQLError
			if errors.As(err, &se) && b.replica {
				// The replica cannot reproduce the session (a database or
				// variable it lacks): read from the primary from now on.
				s.noReplica = true
			}
			return err
		}
		b.replayed = e.seq
	}
	if b.replica {
		return s.syncSQLMode(b)
	}
	return nil
}

// dropReplica closes the replica connection after a failure, or when it
// is no longer usable.
func (s *session) dropReplica(err error) {
	if s.replica == nil {
		return
	}
	s.logger.Warn("replica connection failed", zap.String("replica", s.replica.addr.String()), zap.Error(err))
	s.forget(s.replica)
	s.replica.drop()
	s.replica = nil
}

// lost handles a broken connection to the backend, or to the client in
// the middle of the backend's reply. A session whose state lived
// only there (a transaction, a pin) or whose client already got part of a
// reply cannot go on: it ends. Otherwise the client gets an error and the
// next statement opens a new connection with the session log replayed.
func (s *session) lost(b *backendConn, touched bool, err error) error {
	if fatal := s.discard(b, touched, err); fatal != nil {
		return fatal
	}
	return s.sendError(wire.NewSQLError(wire.ERUnknownError, "Frontdesk: lost the connection to backend %s: %v", b.addr, err))
}

// lostQuietly is lost for a command that has no reply (COM_STMT_CLOSE,
// COM_STMT_SEND_LONG_DATA): the client is told nothing, since an answer
// it did not ask for would shift every later answer by one.
func (s *session) lostQuietly(b *backendConn, err error) error {
	return s.discard(b, false, err)
}

// discard drops a broken backend connection, and returns the error that
// ends the session when the session cannot go on without it.
func (s *session) discard(b *backendConn, touched bool, err error) error {
	inTx := b.inTransaction()
	s.forget(b)
	b.drop()
	if b.replica {
		s.replica = nil
	} else {
		s.primary = nil
	}
	if s.out.err != nil {
		// The client failed, not the backend, whose reply was cut short.
		return fmt.Errorf("client connection failed mid-reply: %w", s.out.err)
	}
	s.srv.stats.errors.Add(1)
	if touched || inTx || (s.pinned && !b.replica) {
		return fmt.Errorf("backend %s failed mid-session: %w", b.addr, err)
	}
	s.logger.Warn("backend connection failed", zap.String("backend", b.addr.String()), zap.Error(err))
	return nil
}

// forget drops what the session knew about b.
func (s *session) forget(b *backendConn) {
	if s.last == b {
		s.last = nil
	}
	if s.ownPrimary == b {
		s.ownPrimary = nil
	}
	if s.nextTx == b {
		s.nextTx = nil
	}
	if s.ownReplica == b {
		s.ownReplica = nil
	}
	s.stmts.forget(b)
}

func errField(err error) zap.Field {
	if err == nil {
		return zap.Skip()
	}
	return zap.Error(err)
}
