package mysqlproxy

import (
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/classify"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// query routes one COM_QUERY.
func (s *session) query(p []byte) error {
	res := classify.Classify(string(p[1:]), classify.Options{
		NoBackslashEscapes: s.status&wire.StatusNoBackslashEscapes != 0,
	})
	if res.Route == classify.Session {
		// Session commands run on the primary even inside a transaction, and
		// reach any other connection through the session log.
		return s.sessionCommand(p, res)
	}
	if b := s.txConn(); b != nil {
		return s.on(b, p, res)
	}
	switch {
	case s.pinned || res.Route == classify.Primary:
		return s.on(nil, p, res)
	case res.Route == classify.Previous && s.last != nil:
		return s.on(s.last, p, res)
	case res.Route == classify.Replica:
		return s.read(p, res)
	}
	return s.on(nil, p, res)
}

// txConn returns the connection of the session's open transaction, if any:
// the one whose last reply says a transaction is open or autocommit is off.
func (s *session) txConn() *backendConn {
	for _, b := range []*backendConn{s.primary, s.replica} {
		if b != nil && (b.status&wire.StatusInTrans != 0 || b.status&wire.StatusAutocommit == 0) {
			return b
		}
	}
	return nil
}

// replicaUsable reports whether the session may read from a replica.
func (s *session) replicaUsable() bool {
	return len(s.srv.nodes) > 1 && !s.pinned && !s.noReplica && !s.log.overflowed
}

// read sends a side-effect-free read to a replica. A read that fails
// before any byte reached the client is tried once more on another
// replica, then on the primary (or answered with an error, as configured).
func (s *session) read(p []byte, res classify.Result) error {
	if s.replicaUsable() {
		var err error
		for attempt := 0; attempt < 2 && s.replicaUsable(); attempt++ {
			var b *backendConn
			if b, err = s.replicaConn(); err != nil {
				break
			}
			if s.readsOwnWrites() && !s.caughtUp(b) {
				// The replica has not applied the session's last write in
				// time: the primary has it.
				return s.on(nil, p, res)
			}
			var touched bool
			if touched, err = s.relay(b, p); err == nil {
				s.done(b, res)
				return nil
			}
			if touched {
				return s.lost(b, true, err)
			}
			s.dropReplica(err)
		}
		if s.srv.Routing.WhenNoReplica == "error" {
			s.srv.stats.errors.Add(1)
			return s.sendError(wire.NewSQLError(wire.ERUnknownError, "Frontdesk: %v", errNoReplica))
		}
		s.logger.Debug("reading from the primary instead", errField(err))
	}
	return s.on(nil, p, res)
}

// on runs a command on b, or on the primary when b is nil, and streams the
// reply to the client.
func (s *session) on(b *backendConn, p []byte, res classify.Result) error {
	_, err := s.run(b, p, res)
	return err
}

// run is on, also returning the connection that ran the command: nil when
// none could, and the client got an error instead.
func (s *session) run(b *backendConn, p []byte, res classify.Result) (*backendConn, error) {
	if b == nil {
		var err error
		if b, err = s.primaryConn(); err != nil {
			s.srv.stats.errors.Add(1)
			return nil, s.sendError(toSQLError(err))
		}
	}
	touched, err := s.relay(b, p)
	if err != nil {
		return nil, s.lost(b, touched, err)
	}
	s.done(b, res)
	return b, nil
}

// done updates the session after a statement ran on b.
func (s *session) done(b *backendConn, res classify.Result) {
	s.last = b
	if b.replica {
		s.srv.stats.toReplica.Add(1)
	} else {
		s.srv.stats.toPrimary.Add(1)
	}
	if res.Has(classify.Pin) && !b.replica {
		s.pinned = true
	}
}

// sessionCommand runs a session command on the primary and, if it
// succeeded, records it for replay on other connections.
func (s *session) sessionCommand(p []byte, res classify.Result) error {
	b, err := s.run(nil, p, res)
	if b == nil || err != nil || s.lastReplyFailed {
		return err
	}
	switch {
	case res.Flags&(classify.AutocommitOff|classify.AutocommitOn) != 0:
		// Transaction mode matters only where transactions run: the
		// primary. A replica connection stays in autocommit, so that its
		// reads never keep an old snapshot.
	case p[0] == wire.ComInitDB:
		s.db = string(p[1:])
		b.replayed = s.log.add("db", p)
	case res.Has(classify.UseDB):
		s.db = res.DB
		b.replayed = s.log.add("db", p)
	default:
		b.replayed = s.log.add("", p)
	}
	return nil
}

// initDB runs COM_INIT_DB, the protocol's USE.
func (s *session) initDB(p []byte) error {
	return s.sessionCommand(p, classify.Result{Route: classify.Session})
}

// onPrimary runs a command that only the primary answers.
func (s *session) onPrimary(p []byte) error { return s.on(nil, p, classify.Result{}) }

// fieldList runs COM_FIELD_LIST, a read of table metadata.
func (s *session) fieldList(p []byte) error {
	res := classify.Result{Route: classify.Replica, Flags: classify.Read}
	if b := s.txConn(); b != nil {
		return s.on(b, p, res)
	}
	if s.pinned {
		return s.on(nil, p, res)
	}
	return s.read(p, res)
}
