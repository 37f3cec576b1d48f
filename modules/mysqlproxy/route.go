package mysqlproxy

import (
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/classify"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// A statement's way, from dispatch to the backend and back: query (or a
// COM_STMT_* command in stmt.go) classifies it, sessionCommand or
// runWhereRouted picks the connection with target, relay (streaming.go)
// streams the reply, and done updates the session from what the reply
// showed.

// query routes one COM_QUERY.
func (s *session) query(p []byte) error {
	res := s.classify(string(p[1:]))
	switch {
	case res.Has(classify.Kill):
		return s.kill(res)
	case res.Has(classify.Charset) && !charsetSafe(res.Charset) && !strings.EqualFold(res.Charset, "default"):
		s.srv.stats.errors.Add(1)
		return s.sendError(errUnsafeCharset(res.Charset))
	case res.Has(classify.ConnectionID):
		// The client knows the session by the proxy's id: CONNECTION_ID()
		// answers that, wherever the statement runs.
		if sql, ok := classify.ReplaceConnectionID(string(p[1:]), s.mode.lexOptions(), s.id); ok {
			p = append([]byte{wire.ComQuery}, sql...)
		}
	}
	if res.Route == classify.Session {
		// Session commands run on the primary even inside a transaction, and
		// reach any other connection through the session log.
		return s.sessionCommand(p, res)
	}
	return s.runWhereRouted(res, func(b *backendConn) (reply, error) { return s.relay(b, p) })
}

// Pin reasons, as the admin API and the metrics label them.
const (
	pinStatement = iota
	pinUntrackedState
	pinSessionLogFull
	pinNoSessionTracking
)

var pinReasonNames = []string{"statement", "untracked_state", "session_log_full", "no_session_tracking"}

// pin binds the session to its primary connection for the rest of its
// life: it holds state that no other connection can be given.
func (s *session) pin(reason int) {
	if s.pinned {
		return
	}
	s.pinned = true
	if s.primary != nil {
		// Locks, temporary tables and the like are no clean state.
		s.primary.clean = false
	}
	s.srv.stats.pins.add(reason)
	if reason != pinStatement {
		s.logger.Info("session pinned to the primary", zap.String("reason", pinReasonNames[reason]))
	}
}

// errNeedsPrimaryInReadOnlyTx answers a statement that a read-only
// transaction on a replica cannot run without running it in the wrong place.
var errNeedsPrimaryInReadOnlyTx = wire.NewSQLError(wire.ERCantExecuteInReadOnlyTransaction,
	"Frontdesk: this statement needs the primary (it writes, locks, or sets session state), but the session's "+
		"READ ONLY transaction runs on a replica; run it outside that transaction, or start the transaction "+
		"with START TRANSACTION (not READ ONLY) or a /* frontdesk:primary */ hint")

// allowedInReplicaTx reports whether a statement may run inside a read-only
// transaction on a replica: a side-effect-free read, or its end.
func allowedInReplicaTx(res classify.Result) bool {
	return res.Has(classify.EndTx) || res.Has(classify.Read) && !res.Has(classify.Pin)
}

// target picks the connection for a statement of class res: the one that
// decision for text and prepared statements alike. A read on a replica
// comes back caught up with the session (session log, sql_mode, its own or
// everyone's writes as configured).
func (s *session) target(res classify.Result) (*backendConn, error) {
	if b := s.txConn(); b != nil {
		if b.replica && !allowedInReplicaTx(res) {
			return nil, errNeedsPrimaryInReadOnlyTx
		}
		return b, nil
	}
	switch {
	case s.pinned || res.Route == classify.Primary:
		return s.primaryConn()
	case res.Route == classify.Previous:
		if res.Has(classify.LastInsertID) && s.inserted {
			// Only a primary connection ever inserted anything, and the
			// session's holds its LAST_INSERT_ID.
			return s.primaryConn()
		}
		if s.last != nil && s.takeBack(s.last) {
			return s.last, nil
		}
		// The previous statement's connection is gone: answer as a
		// connection that ran nothing of this session's would, never with
		// another session's answers.
		b, err := s.readConn()
		if err == nil && b.resultsOf != nil && b.resultsOf != s {
			err = s.clearResults(b)
		}
		return b, err
	}
	return s.readConn()
}

// readConn returns the connection a read runs on: a replica caught up with
// the session, else the primary.
func (s *session) readConn() (*backendConn, error) {
	if s.replicaUsable() {
		b, err := s.replicaConn()
		if err == nil && s.caughtUp(b) {
			return b, nil
		}
		if err == nil {
			// The replica has not applied what the session must see in
			// time: the primary has it.
			return s.primaryConn()
		}
		if s.srv.Routing.WhenNoReplica == "error" {
			return nil, wire.NewSQLError(wire.ERUnknownError, "Frontdesk: %v", err)
		}
		s.logger.Debug("reading from the primary instead", errField(err))
	}
	return s.primaryConn()
}

// clearResults resets a pooled connection that another session's statement
// ran on last, and gives it the session's state again.
func (s *session) clearResults(b *backendConn) error {
	if !b.resetForPool() {
		return &backendError{b.addr, errors.New("resetting a pooled connection failed")}
	}
	if b.caps&wire.ClientSessionTrack != 0 && !b.replica {
		s.followTracking(b)
	}
	return nil
}

// replicaUsable reports whether the session may read from a replica.
func (s *session) replicaUsable() bool {
	return len(s.srv.nodes) > 1 && !s.pinned && !s.noReplica
}

// runWhereRouted runs a command of class res where target sends it; exec
// sends it on the chosen connection and relays the reply. A command that
// failed on a replica before any byte reached the client runs once more
// where target sends it then (another replica, or the primary); nothing in
// a transaction is retried.
func (s *session) runWhereRouted(res classify.Result, exec func(*backendConn) (reply, error)) error {
	for attempt := 0; ; attempt++ {
		b, err := s.target(res)
		if err != nil {
			return s.refuse(err)
		}
		r, err := exec(b)
		if err == nil {
			s.done(b, res, r)
			return nil
		}
		if r.touched || !b.replica || attempt > 0 || b.inTransaction() {
			return s.failed(b, r.touched, err)
		}
		s.dropReplica(err)
	}
}

// refuse answers a command that found no connection to run on, with the
// reason; a session whose state was lost with its connection ends.
func (s *session) refuse(err error) error {
	s.srv.stats.errors.Add(1)
	if errors.Is(err, errSessionLost) {
		return err
	}
	return s.sendError(toSQLError(err))
}

// failed answers a command that failed on b: with the server's own error
// when b refused part of the work (a prepare, a replayed session command),
// else as a lost connection.
func (s *session) failed(b *backendConn, touched bool, err error) error {
	var se *wire.SQLError
	if !touched && errors.As(err, &se) {
		s.srv.stats.errors.Add(1)
		return s.sendError(se)
	}
	return s.lost(b, touched, err)
}

// done updates the session after a command of class res ran on b.
func (s *session) done(b *backendConn, res classify.Result, r reply) {
	s.last = b
	switch {
	case res.Has(classify.NextTransaction) && !r.failed:
		// The connection holds the characteristics of the session's next
		// transaction: keep it until that starts.
		s.nextTx, b.clean = b, false
	case b == s.nextTx:
		s.nextTx = nil
	}
	if res.Has(classify.CalcFoundRows) {
		// FOUND_ROWS() is asked next: others take the connection last.
		b.clean = false
	}
	if b.replica {
		s.srv.stats.toReplica.Add(1)
		return
	}
	s.srv.stats.toPrimary.Add(1)
	switch {
	case res.Has(classify.Pin):
		s.pin(pinStatement)
	case r.untracked && res.Route != classify.Session && !r.failed:
		// The statement changed session state that no log entry
		// reproduces: it stays on the primary connection.
		s.pin(pinUntrackedState)
	}
}

// sessionCommand runs a session command on the primary and, if it
// succeeded, records it for replay on other connections.
func (s *session) sessionCommand(p []byte, res classify.Result) error {
	b, err := s.primaryConn()
	if err != nil {
		return s.refuse(err)
	}
	r, err := s.relay(b, p)
	if err != nil {
		return s.lost(b, r.touched, err)
	}
	b.clean = false
	s.done(b, res, r)
	if r.failed {
		return nil
	}
	if res.Has(classify.SQLMode) {
		if err := s.learnSQLMode(b); err != nil {
			return s.lost(b, true, err)
		}
	}
	switch {
	case res.Has(classify.Autocommit):
		// Transaction mode matters only where transactions run: the
		// primary, whose replies' status flags say what it is now. A replica
		// connection stays in autocommit, so that its reads never keep an
		// old snapshot.
		return nil
	case p[0] == wire.ComInitDB:
		s.db = string(p[1:])
		b.replayed = s.log.add("db", p)
	case res.Has(classify.UseDB):
		s.db = res.DB
		b.replayed = s.log.add("db", p)
	case res.Variable != "":
		b.replayed = s.log.add("set "+strings.ToLower(res.Variable), p)
	default:
		b.replayed = s.log.add("", p)
	}
	if s.log.overflowed {
		s.pin(pinSessionLogFull)
	}
	if res.Has(classify.SessionTrack) && b.tracked != nil {
		// The client changed what the connection reports: make sure it still
		// reports what the proxy follows.
		if err := b.run(trackingSetup); err != nil {
			return s.lost(b, true, err)
		}
	}
	return nil
}

// initDB runs COM_INIT_DB, the protocol's USE.
func (s *session) initDB(p []byte) error {
	return s.sessionCommand(p, classify.Result{Route: classify.Session})
}

// onPrimary runs a command that only the primary answers.
func (s *session) onPrimary(p []byte) error {
	return s.runWhereRouted(classify.Result{}, func(b *backendConn) (reply, error) { return s.relay(b, p) })
}

// fieldList runs COM_FIELD_LIST, a read of table metadata.
func (s *session) fieldList(p []byte) error {
	res := classify.Result{Route: classify.Replica, Flags: classify.Read}
	return s.runWhereRouted(res, func(b *backendConn) (reply, error) { return s.relay(b, p) })
}
