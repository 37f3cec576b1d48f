package mysqlproxy

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/classify"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// Connection ids belong to the proxy: a client is told its session's id in
// the handshake, CONNECTION_ID() answers it (route.go), and KILL and
// COM_PROCESS_KILL name it. The proxy carries a KILL out itself: KILL QUERY
// stops the statement the session runs, wherever it runs, with a KILL QUERY
// of the backend's own thread id on that backend; KILL [CONNECTION] also
// ends the session. An id the proxy did not hand out is refused, never
// passed on, so a KILL never hits a stranger's thread on a backend.

// sessionsByID finds a live, logged-in session by its id, across servers.
var sessionsByID sync.Map // uint32 -> *session

// backendIdent is what a KILL needs of a backend connection; node and
// threadID never change, so other sessions may read them while the
// connection is in use. A KILL QUERY holds mu while it runs, and a session
// takes mu to end its statement: a pooled connection cannot pass to
// another session while a KILL meant for this one is on its way.
type backendIdent struct {
	node     *node
	threadID uint32
	mu       sync.Mutex
}

// endRunning marks the end of the session's statement on the connection
// of ident.
func (s *session) endRunning(ident *backendIdent) {
	ident.mu.Lock()
	s.running.Store(nil)
	ident.mu.Unlock()
}

// kill carries out KILL [QUERY | CONNECTION] id.
func (s *session) kill(res classify.Result) error {
	if res.Has(classify.Multi) {
		s.srv.stats.errors.Add(1)
		return s.sendError(wire.NewSQLError(wire.ERNotSupportedYet, "Frontdesk: send KILL as a statement of its own"))
	}
	if res.Kill.ID == 0 || res.Kill.ID > math.MaxUint32 {
		s.srv.stats.errors.Add(1)
		return s.sendError(wire.NewSQLError(wire.ERNotSupportedYet,
			"Frontdesk: KILL takes the connection id a client was given (a number); KILL USER and KILL QUERY ID are not supported"))
	}
	return s.killSession(uint32(res.Kill.ID), res.Kill.Query)
}

// processKill runs COM_PROCESS_KILL, the protocol's KILL CONNECTION.
func (s *session) processKill(p []byte) error {
	if len(p) < 5 {
		return s.sendError(wire.NewSQLError(wire.ERMalformedPacket, "Malformed communication packet"))
	}
	return s.killSession(uint32(p[1])|uint32(p[2])<<8|uint32(p[3])<<16|uint32(p[4])<<24, false)
}

// killSession stops the statement of session id and, unless queryOnly,
// ends that session. As on a server, a user may kill its own sessions only.
func (s *session) killSession(id uint32, queryOnly bool) error {
	v, ok := sessionsByID.Load(id)
	if !ok {
		s.srv.stats.errors.Add(1)
		return s.sendError(wire.NewSQLError(wire.ERNoSuchThread, "Unknown thread id: %d", id))
	}
	t := v.(*session)
	if *t.owner.Load() != *s.owner.Load() {
		s.srv.stats.errors.Add(1)
		return s.sendError(wire.NewSQLError(wire.ERKillDenied, "You are not owner of thread %d", id))
	}
	if err := s.killStatement(t); err != nil {
		s.logger.Warn("KILL QUERY on the backend failed", zap.Uint32("target", id), zap.Error(err))
		return s.sendError(toSQLError(err))
	}
	if !queryOnly {
		t.logger.Info("session killed", zap.Uint32("by", s.id))
		t.killed.Store(true)
		t.client.Close()
		if t == s {
			s.closeReason = "killed"
			return s.sendError(wire.NewSQLError(wire.ERConnectionKilled, "Connection was killed"))
		}
	}
	return s.sendOK()
}

// killStatement stops the statement session t runs on a backend, if any,
// through a connection of its own to that backend.
func (s *session) killStatement(t *session) error {
	at := t.running.Load()
	if at == nil || at.node == nil {
		return nil
	}
	timeout := time.Duration(s.srv.ConnectTimeout)
	b, err := at.node.dial(false, timeout, s.credentials(), loginOptions{caps: backendCaps})
	if err != nil {
		return err
	}
	defer b.close()
	b.conn.SetDeadline(time.Now().Add(timeout))
	at.mu.Lock()
	defer at.mu.Unlock()
	if t.running.Load() != at {
		return nil // the statement ended meanwhile
	}
	err = b.run(append([]byte{wire.ComQuery}, "KILL QUERY "+strconv.FormatUint(uint64(at.threadID), 10)...))
	if se, ok := err.(*wire.SQLError); ok && se.Code == wire.ERNoSuchThread {
		return nil // the statement ended meanwhile
	}
	if err != nil {
		return fmt.Errorf("stopping the statement on %s: %w", at.node.key, err)
	}
	return nil
}
