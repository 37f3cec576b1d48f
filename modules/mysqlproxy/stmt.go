package mysqlproxy

import (
	"encoding/binary"
	"errors"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/classify"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// directExecuteID is MariaDB's statement id meaning "the statement prepared
// last" in COM_STMT_EXECUTE.
const directExecuteID = 0xFFFFFFFF

// preparedStmt is a client's prepared statement. The client sees the
// proxy's id; each backend connection that prepared it has its own.
type preparedStmt struct {
	id uint32
	// prepare is the COM_STMT_PREPARE packet, to prepare it again elsewhere.
	prepare []byte
	// class is the statement's classification, decided once at PREPARE.
	class  classify.Result
	params int
	// types are the parameter types the client bound last (2 bytes each),
	// sent along to a backend that has not seen them yet.
	types []byte
	// on maps each backend connection that prepared it to its id there.
	on map[*backendConn]*backendStmt
	// last ran the statement last, or got its long data: cursors, resets
	// and the execute after long data go there.
	last *backendConn
	// longData is set while parameter data sent to last awaits the execute;
	// longDataLost when last broke before that execute.
	longData, longDataLost bool
}

// pendingLongData reports whether b holds parameter data for the next
// execute, which must then run on b.
func (st *preparedStmt) pendingLongData(b *backendConn) bool { return st.longData && st.last == b }

// backendStmt is a statement prepared on one backend connection.
type backendStmt struct {
	id    uint32
	typed bool // the backend has been sent the parameter types
}

// stmtTable holds a session's prepared statements.
type stmtTable struct {
	byID map[uint32]*preparedStmt
	next uint32
	// lastPrepared serves MariaDB's direct execute.
	lastPrepared uint32
	// bytes is the size of the statements' texts, which the table keeps
	// to prepare them again on other connections.
	bytes int
	// longDataSent is set when long data was sent, until longDataOn finds
	// none pending: most sessions never send any, and pay nothing.
	longDataSent bool
}

func (t *stmtTable) get(id uint32) *preparedStmt {
	if id == directExecuteID {
		id = t.lastPrepared
	}
	return t.byID[id]
}

// forget drops b from every statement, when b is closed.
func (t *stmtTable) forget(b *backendConn) {
	for _, st := range t.byID {
		delete(st.on, b)
		if st.last == b {
			st.last = nil
			st.longDataLost = st.longDataLost || st.longData
			st.longData = false
		}
	}
}

func (t *stmtTable) reset() { t.byID, t.bytes = nil, 0 }

// longDataOn reports whether a statement's long data waits on b for its
// execute.
func (t *stmtTable) longDataOn(b *backendConn) bool {
	if !t.longDataSent {
		return false
	}
	pending := false
	for _, st := range t.byID {
		if st.longData {
			pending = true
			if st.last == b {
				return true
			}
		}
	}
	t.longDataSent = pending
	return false
}

// stmtPrepare prepares a statement on the connection its class routes to
// and gives the client the proxy's id for it.
func (s *session) stmtPrepare(p []byte) error {
	class := s.classify(string(p[1:]))
	switch {
	case class.Has(classify.Kill):
		s.srv.stats.errors.Add(1)
		return s.sendError(wire.NewSQLError(wire.ERNotSupportedYet, "Frontdesk: send KILL as a statement, not a prepared statement"))
	case class.Has(classify.Charset):
		s.srv.stats.errors.Add(1)
		return s.sendError(wire.NewSQLError(wire.ERNotSupportedYet, "Frontdesk: set the character set with a statement, not a prepared statement"))
	case class.Has(classify.ConnectionID):
		if sql, ok := classify.ReplaceConnectionID(string(p[1:]), s.mode.lexOptions(), s.id); ok {
			p = append([]byte{wire.ComStmtPrepare}, sql...)
		}
	}
	st := &preparedStmt{
		prepare: append([]byte(nil), p...),
		class:   class,
		on:      map[*backendConn]*backendStmt{},
	}
	if st.class.Has(classify.Multi) || st.class.Route != classify.Replica && st.class.Route != classify.Previous {
		// A prepared session command changes state that no log entry
		// could replay with its parameters: it runs on the primary, and
		// its tracked state change pins the session.
		st.class.Route = classify.Primary
	}
	b, err := s.target(st.class)
	if err != nil {
		return s.refuse(err)
	}
	if err := s.catchUp(b); err != nil {
		return s.failed(b, false, err)
	}
	if err := b.send(p); err != nil {
		return s.lost(b, false, err)
	}
	first, err := b.pc.ReadPacket()
	if err != nil {
		return s.lost(b, false, err)
	}
	if len(first) > 0 && first[0] == wire.HeaderERR {
		if _, err := wire.ParseERR(first); err != nil {
			return s.lost(b, false, err)
		}
		s.srv.stats.errors.Add(1)
		return s.writeAndFlush(first)
	}
	ok, err := wire.ParseStmtPrepareOK(first)
	if err != nil {
		return s.lost(b, true, err)
	}
	s.stmts.next++
	st.id, st.params = s.stmts.next, int(ok.Params)
	st.on[b] = &backendStmt{id: ok.StatementID}
	b.clean = false
	reply := ok
	reply.StatementID = st.id
	if err := s.pc.WritePacket(reply.Append(nil)); err != nil {
		return err
	}
	// The parameter and column definitions follow as they are.
	w := wire.NewWalker(wire.ShapePrepare, b.caps)
	if _, err := w.Step(len(first), first[:min(len(first), wire.PrefixSize)]); err != nil {
		return s.lost(b, true, err)
	}
	for !w.Done() {
		_, _, err := b.nextReplyPacket(&w)
		if err == nil {
			err = b.pc.RelayPacket(s.pc)
		}
		if err != nil {
			return s.lost(b, true, err)
		}
	}
	if s.stmts.byID == nil {
		s.stmts.byID = map[uint32]*preparedStmt{}
	}
	s.stmts.byID[st.id] = st
	s.stmts.lastPrepared = st.id
	if s.stmts.bytes += len(st.prepare); s.stmts.bytes > s.srv.Routing.MaxPreparedBytes {
		// Past the bound, statements are no longer prepared again on
		// other connections: the session stays where they are.
		s.pin(pinSessionLogFull)
	}
	s.last = b
	return s.pc.Flush()
}

// prepareOn makes sure st is prepared on b, preparing it there if needed.
func (s *session) prepareOn(b *backendConn, st *preparedStmt) (*backendStmt, error) {
	if bs := st.on[b]; bs != nil {
		return bs, nil
	}
	if err := b.send(st.prepare); err != nil {
		return nil, err
	}
	b.clean = false
	w := wire.NewWalker(wire.ShapePrepare, b.caps)
	var bs *backendStmt
	var stmtErr error
	for !w.Done() {
		_, kind, err := b.nextReplyPacket(&w)
		if err != nil {
			return nil, err
		}
		if bs != nil || (kind != wire.PacketPrepareOK && kind != wire.PacketERR) {
			if err := b.pc.DiscardPacket(); err != nil {
				return nil, err
			}
			continue
		}
		p, err := b.pc.ReadPacket()
		if err != nil {
			return nil, err
		}
		if kind == wire.PacketERR {
			se, err := wire.ParseERR(p)
			if err != nil {
				return nil, err
			}
			stmtErr = se
			continue
		}
		ok, err := wire.ParseStmtPrepareOK(p)
		if err != nil {
			return nil, err
		}
		bs = &backendStmt{id: ok.StatementID}
	}
	if stmtErr != nil {
		return nil, stmtErr
	}
	st.on[b] = bs
	return bs, nil
}

// stmtCommand finds the statement a COM_STMT_* packet names, answering the
// client with an error if there is none.
func (s *session) stmtCommand(p []byte) (*preparedStmt, error) {
	if len(p) < 5 {
		return nil, s.sendError(wire.NewSQLError(wire.ERMalformedPacket, "Malformed communication packet"))
	}
	st := s.stmts.get(binary.LittleEndian.Uint32(p[1:5]))
	if st == nil {
		s.srv.stats.errors.Add(1)
		return nil, s.sendError(wire.NewSQLError(wire.ERUnknownStmtHandler,
			"Unknown prepared statement handler (%d) given to mysqld_stmt", binary.LittleEndian.Uint32(p[1:5])))
	}
	return st, nil
}

// forBackend puts the backend's statement id into a COM_STMT_* packet, in
// place: the packet is the client's, read for this command alone, and
// every use sets the id it needs. No copy per execute.
func forBackend(p []byte, id uint32) []byte {
	binary.LittleEndian.PutUint32(p[1:5], id)
	return p
}

// stmtExecute runs a prepared statement where its class and the session's
// state send it, preparing it there first if needed. After long data, it
// runs where the data went.
func (s *session) stmtExecute(p []byte) error {
	st, err := s.stmtCommand(p)
	if st == nil {
		return err
	}
	if len(p) > 5 && p[5] != 0 {
		// A cursor: its rows are fetched from this connection later, and
		// the session keeps its connections from now on.
		s.sticky = true
	}
	exec := func(b *backendConn) (reply, error) {
		if err := s.catchUp(b); err != nil {
			return reply{}, err
		}
		bs, err := s.prepareOn(b, st)
		if err != nil {
			return reply{}, err
		}
		out, err := st.bindTypes(forBackend(p, bs.id), bs)
		if err != nil {
			return reply{}, wire.NewSQLError(wire.ERMalformedPacket, "Malformed communication packet: %v", err)
		}
		r, err := s.relay(b, out)
		if err == nil {
			st.last, st.longData = b, false
		}
		return r, err
	}
	if st.longDataLost {
		// Running it elsewhere without the data would bind wrong values.
		st.longDataLost = false
		s.srv.stats.errors.Add(1)
		return s.sendError(wire.NewSQLError(wire.ERUnknownError,
			"Frontdesk: the long data sent for this statement was lost with its backend connection; send it again"))
	}
	if b := st.last; b != nil && st.pendingLongData(b) {
		r, err := exec(b)
		if err != nil {
			return s.failed(b, r.touched, err)
		}
		s.done(b, st.class, r)
		return nil
	}
	return s.runWhereRouted(st.class, exec)
}

// bindTypes keeps the parameter types a client binds, and adds them to an
// execute that relies on earlier ones (new_params_bound_flag 0) when the
// backend has not been sent them.
func (st *preparedStmt) bindTypes(p []byte, bs *backendStmt) ([]byte, error) {
	if st.params == 0 {
		return p, nil
	}
	// id(4) flags(1) iterations(4) null-bitmap new-params-bound-flag [types]
	flagAt := 1 + 4 + 1 + 4 + (st.params+7)/8
	if len(p) <= flagAt {
		return nil, errShortExecute
	}
	if p[flagAt] == 1 {
		end := flagAt + 1 + 2*st.params
		if len(p) < end {
			return nil, errShortExecute
		}
		st.types = append(st.types[:0], p[flagAt+1:end]...)
		bs.typed = true
		return p, nil
	}
	if bs.typed || st.types == nil {
		return p, nil
	}
	out := make([]byte, 0, len(p)+len(st.types))
	out = append(out, p[:flagAt]...)
	out = append(out, 1)
	out = append(out, st.types...)
	out = append(out, p[flagAt+1:]...)
	bs.typed = true
	return out, nil
}

var errShortExecute = errors.New("COM_STMT_EXECUTE is shorter than its parameters")

// stmtSendLongData passes parameter data to the connection that will run
// the statement's next execute. There is no reply.
func (s *session) stmtSendLongData(p []byte) error {
	if len(p) < 7 {
		return nil // no reply is allowed, not even an error
	}
	st := s.stmts.get(binary.LittleEndian.Uint32(p[1:5]))
	if st == nil {
		return nil
	}
	b := st.last
	if !st.pendingLongData(b) {
		var err error
		if b, err = s.target(st.class); err != nil {
			return nil // the execute reports the failure
		}
		if err := s.catchUp(b); err != nil {
			return nil
		}
	}
	bs, err := s.prepareOn(b, st)
	if err != nil {
		if _, ok := err.(*wire.SQLError); ok {
			return nil
		}
		return s.lostQuietly(b, err)
	}
	if err := b.send(forBackend(p, bs.id)); err != nil {
		return s.lostQuietly(b, err)
	}
	st.last, st.longData = b, true
	s.stmts.longDataSent = true
	return nil
}

// stmtClose closes a statement on every connection that prepared it. There
// is no reply.
func (s *session) stmtClose(p []byte) error {
	if len(p) < 5 {
		return nil
	}
	id := binary.LittleEndian.Uint32(p[1:5])
	st := s.stmts.get(id)
	if st == nil {
		return nil
	}
	for b, bs := range st.on {
		if !s.takeBack(b) {
			// Another session took the connection, and reset it.
			continue
		}
		if err := b.send(forBackend(p, bs.id)); err != nil {
			if err := s.lostQuietly(b, err); err != nil {
				return err
			}
		}
	}
	delete(s.stmts.byID, st.id)
	s.stmts.bytes -= len(st.prepare)
	return nil
}

// stmtReset resets a statement's long data and cursor where it last ran.
func (s *session) stmtReset(p []byte) error {
	st, err := s.stmtCommand(p)
	if st == nil {
		return err
	}
	st.longData, st.longDataLost = false, false
	b := st.last
	if b == nil || !s.takeBack(b) {
		return s.sendOK() // nothing to reset anywhere
	}
	r, err := s.relay(b, forBackend(p, st.on[b].id))
	if err != nil {
		return s.lost(b, r.touched, err)
	}
	return nil
}

// stmtFetch reads rows from the cursor the statement's last execute opened.
func (s *session) stmtFetch(p []byte) error {
	st, err := s.stmtCommand(p)
	if st == nil {
		return err
	}
	b := st.last
	if b == nil || !s.takeBack(b) {
		return s.sendError(wire.NewSQLError(wire.ERStmtHasNoOpenCursor, "The statement (%d) has no open cursor", st.id))
	}
	r, err := s.relay(b, forBackend(p, st.on[b].id))
	if err != nil {
		return s.lost(b, r.touched, err)
	}
	return nil
}
