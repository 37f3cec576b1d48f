package mysqlproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/classify"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// session is one client connection and the backend connections it uses:
// at most one to the primary and one to a replica, opened when first needed.
//
// Its concerns, one file each: login.go (handshake and authentication),
// this file (the command loop and dispatch), route.go (where a statement
// runs, from dispatch to the backend and back), streaming.go (relaying a
// reply), backendconns.go (opening, refreshing and dropping backend
// connections), tracking.go (the session state the servers report),
// readyourwrites.go, sessionlog.go (replaying session commands), stmt.go
// (prepared statements), kill.go (connection ids and KILL) and
// sessionreset.go (COM_RESET_CONNECTION and COM_CHANGE_USER).
type session struct {
	srv    *Server
	id     uint32
	client net.Conn
	pc     *wire.Conn
	// out is what pc writes to, keeping the client's first write error.
	out *clientWriter
	// sock is the client connection's socket I/O, under any TLS.
	sock io.ReadWriter
	// caps are the capabilities negotiated with the client; every backend
	// leg has the same layout-changing ones.
	caps uint64

	user   *user
	sha1pw []byte
	// nonce is the handshake's, which COM_CHANGE_USER replies use too.
	nonce   []byte
	charset uint8
	attrs   []wire.Attribute
	// loginDB is the database given at login; every backend connection
	// starts there and replays the log from there.
	loginDB string
	// db is the current database.
	db string
	// status is the server status of the last reply the client saw.
	status uint16

	// primary and replica are the backend connections the session holds
	// now. With pooling, it parks them in the pool between commands
	// (multiplexing, see parkConnections) and takes them back when no
	// other session took them meanwhile: ownPrimary and ownReplica are the
	// ones it had last.
	primary, replica       *backendConn
	ownPrimary, ownReplica *backendConn
	// last ran the previous statement: per-connection answers
	// (LAST_INSERT_ID(), FOUND_ROWS(), SHOW WARNINGS) go there.
	last *backendConn
	// sticky keeps every connection, once the session opened a cursor;
	// nextTx keeps the primary connection that a SET TRANSACTION without a
	// scope ran on, until the transaction it was for has started there.
	sticky bool
	nextTx *backendConn
	// inserted is set once an insert generated an id for the session:
	// LAST_INSERT_ID() asks the primary connection that holds it, and
	// lostInsertID brings it over when another session takes that
	// connection (pool.go).
	inserted     bool
	lostInsertID atomic.Pointer[insertHandoff]
	// pinned binds the session to the primary connection for good: it holds
	// state that cannot be reproduced elsewhere (temporary tables, locks).
	pinned bool
	// noReplica is set when replaying the session log on a replica failed:
	// the session's reads go to the primary from then on.
	noReplica bool
	log       sessionLog
	stmts     stmtTable
	// mode is the session's sql_mode, which the classifier lexes with;
	// charsetUnsafe is set while its character_set_client is one whose
	// statements cannot be lexed byte by byte (tracking.go).
	mode          sqlMode
	charsetUnsafe bool
	// lastWrite is the position of the session's last write, for
	// read-your-writes.
	lastWrite gtidPos
	// okBuf is scratch space for rewriting OK packets.
	okBuf []byte

	// owner is the logged-in user's name, and running the backend
	// connection of the command in progress, if any: what another
	// session's KILL needs to know. killed is set by such a KILL.
	owner   atomic.Pointer[string]
	running atomic.Pointer[backendIdent]
	killed  atomic.Bool

	closeReason string
	logger      *zap.Logger
	// loginEnded is set once the login is over, one way or the other;
	// clientFault, when it failed by the client's fault (a wrong password,
	// a bad handshake), which the login-failure limit counts.
	loginEnded, clientFault bool

	// mu guards idle and stopping: a stopping server ends idle sessions at
	// once and busy ones when their command is done.
	mu           sync.Mutex
	idle         bool
	stopping     bool
	idleDeadline time.Time
	// clientWait is a wait_timeout the client set; 0 if it set none.
	clientWait time.Duration
}

// serve runs a client session to its end.
func (srv *Server) serve(conn net.Conn) {
	if refusal := srv.admit(conn); refusal != nil {
		refuse(conn, refusal)
		return
	}
	sock := newSocketIO(conn)
	out := &clientWriter{w: sock}
	r, w := clientBuffers.get(sock, out)
	defer clientBuffers.put(r, w)
	s := &session{
		srv:    srv,
		id:     connectionIDs.Add(1),
		client: conn,
		pc:     wire.NewConn(r, w),
		out:    out,
		sock:   sock,
		log:    sessionLog{limit: srv.Routing.MaxSessionLog, limitBytes: srv.Routing.MaxSessionLogBytes},
	}
	s.logger = srv.logger.With(zap.Uint32("session", s.id), zap.String("client", conn.RemoteAddr().String()))
	srv.sessions.add(s)
	srv.stats.sessionsTotal.Add(1)
	began := time.Now()
	err := s.run()
	sessionsByID.Delete(s.id)
	if cerr := recovered(s.closeBackends); cerr != nil {
		err = errors.Join(err, cerr)
	}
	conn.Close()
	srv.sessions.remove(s)
	srv.stats.sessionsOpen.Add(-1)
	reason := s.closeReason
	switch {
	case reason != "":
	case s.killed.Load():
		reason = "killed"
	case err == nil || errors.Is(err, io.EOF):
		reason = reasonClientLeft
	default:
		reason = err.Error()
	}
	srv.stats.closed.add(int(closeKindOf(reason, err)))
	var pe *panicError
	if errors.As(err, &pe) {
		s.logger.Error("session failed on a bug in the proxy; only this session is closed",
			zap.Any("panic", pe.value), zap.ByteString("stack", pe.stack))
	}
	// One line per session at info level, at its end; its start is a debug
	// line (connect-per-request clients open thousands a second).
	user := zap.Skip()
	if s.user != nil {
		user = zap.String("user", s.user.name)
	}
	s.logger.Info("session closed", user, zap.String("reason", reason), zap.Duration("duration", time.Since(began)))
}

// run logs the client in and serves its commands. A panic in either ends
// this session with a panicError, never the process.
func (s *session) run() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
		if !s.loginEnded {
			s.endLogin(false)
		}
	}()
	err = s.login()
	s.endLogin(err == nil)
	// The login's own deadline covered its writes; from here a write may
	// wait for the client only as long as write_timeout.
	if raw, ok := s.sock.(*socketIO); ok {
		raw.limitWriteStalls(time.Duration(s.srv.WriteTimeout))
	}
	if err != nil {
		return err
	}
	s.logger.Debug("session opened", zap.String("user", s.user.name), zap.String("db", s.loginDB))
	sessionsByID.Store(s.id, s)
	return s.loop()
}

// endLogin ends the session's unauthenticated time (see preauth.go).
func (s *session) endLogin(ok bool) {
	s.loginEnded = true
	s.srv.loginDone(s.client, ok, s.clientFault)
}

// panicError is a panic recovered in a session's goroutine.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("internal error: %v", e.value) }

// recovered runs f, turning a panic into an error.
func recovered(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	f()
	return nil
}

// clientWriter passes writes to the client on and keeps the first error,
// so that a relay that fails midway is put down to the side that failed.
type clientWriter struct {
	w   io.Writer
	err error
}

func (c *clientWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// loop reads client commands until the client quits or the connection
// breaks.
func (s *session) loop() error {
	for {
		s.parkConnections()
		s.pc.ResetSeq()
		if s.setIdle(true) {
			s.closeReason = reasonServerStopped
			return nil
		}
		p, err := s.pc.ReadPacket()
		if s.setIdle(false) {
			s.closeReason = reasonServerStopped
			return nil
		}
		if errors.Is(err, wire.ErrPacketTooLarge) {
			if err := s.sendError(wire.NewSQLError(wire.ERNetPacketTooLarge, "Got a packet bigger than %d bytes", s.pc.MaxPayload)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.closeReason = reasonIdleTimeout
			}
			return s.outOfOrder(err)
		}
		if len(p) == 0 {
			if err := s.sendError(wire.NewSQLError(wire.ERUnknownComError, "Empty command packet")); err != nil {
				return err
			}
			continue
		}
		if p[0] == wire.ComQuit {
			s.closeReason = reasonClientQuit
			return nil
		}
		if err := s.dispatch(p); err != nil {
			return err
		}
	}
}

// setIdle marks whether the session waits for a command, and reports
// whether the server is stopping. Waiting arms the idle timeout; to spare
// two syscalls per command, the read deadline is moved only when less than
// half the idle timeout is left of it (it only matters while idle).
func (s *session) setIdle(idle bool) (stopping bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = idle
	if idle && !s.stopping {
		idleTimeout := time.Duration(s.srv.IdleTimeout)
		if s.clientWait > 0 {
			idleTimeout = min(idleTimeout, s.clientWait)
		}
		if now := time.Now(); s.idleDeadline.Sub(now) < idleTimeout/2 {
			s.idleDeadline = now.Add(idleTimeout)
			s.client.SetReadDeadline(s.idleDeadline)
		}
	}
	return s.stopping
}

// dispatch runs one client command. An error ends the session.
func (s *session) dispatch(p []byte) error {
	switch p[0] {
	case wire.ComQuery:
		return s.query(p)
	case wire.ComPing:
		return s.sendOK()
	case wire.ComInitDB:
		return s.initDB(p)
	case wire.ComSetOption:
		return s.sessionCommand(p, classify.Result{Route: classify.Session})
	case wire.ComFieldList:
		return s.fieldList(p)
	case wire.ComProcessKill:
		return s.processKill(p)
	case wire.ComStatistics, wire.ComProcessInfo, wire.ComRefresh, wire.ComDebug:
		return s.onPrimary(p)
	case wire.ComResetConnection:
		return s.resetConnection(p)
	case wire.ComChangeUser:
		return s.changeUser(p)
	case wire.ComStmtPrepare:
		return s.stmtPrepare(p)
	case wire.ComStmtExecute:
		return s.stmtExecute(p)
	case wire.ComStmtSendLongData:
		return s.stmtSendLongData(p)
	case wire.ComStmtClose:
		return s.stmtClose(p)
	case wire.ComStmtReset:
		return s.stmtReset(p)
	case wire.ComStmtFetch:
		return s.stmtFetch(p)
	}
	s.srv.stats.errors.Add(1)
	return s.sendError(wire.NewSQLError(wire.ERUnknownComError, "Unknown command 0x%02x", p[0]))
}

// outOfOrder tells a client whose packet broke the sequence why its
// connection ends, as a server does, and passes err on.
func (s *session) outOfOrder(err error) error {
	var se *wire.SequenceError
	if errors.As(err, &se) {
		s.pc.SetSeq(se.Got + 1)
		_ = s.sendError(wire.NewSQLError(wire.ERNetPacketsOutOfOrder, "Got packets out of order"))
	}
	return err
}

// sendOK answers the client with OK and the session's status.
func (s *session) sendOK() error {
	ok := wire.OK{Status: s.status}
	return s.writeAndFlush(ok.Append(nil, s.caps))
}

// sendError answers the client with an ERR packet.
func (s *session) sendError(e *wire.SQLError) error {
	return s.writeAndFlush(e.Append(nil))
}

func (s *session) writeAndFlush(payload []byte) error { return s.pc.WriteAndFlush(payload) }

// toSQLError turns a failure into the error the client sees: the server's
// own error when a backend refused, else a clear proxy error naming the
// backend.
func toSQLError(err error) *wire.SQLError {
	var se *wire.SQLError
	if errors.As(err, &se) {
		return se
	}
	return wire.NewSQLError(wire.ERUnknownError, "Frontdesk: %v", err)
}

// closeBackends gives back every connection the session has, held or
// parked: to the pool (reset if the session left state on it) or closed.
func (s *session) closeBackends() {
	s.takeBackParked()
	for _, b := range []*backendConn{s.primary, s.replica} {
		if b != nil {
			b.release()
		}
	}
	s.primary, s.replica, s.ownPrimary, s.ownReplica = nil, nil, nil, nil
	s.forgetHolds()
}

// stop ends the session now if it waits for a command, else when the
// command it runs is done.
func (s *session) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	if s.idle {
		s.client.SetReadDeadline(time.Now())
	}
}

// sessionSet is the live sessions of one server config.
type sessionSet struct {
	mu  sync.Mutex
	all map[*session]struct{}
	// onEmpty runs once the last session has ended (see whenEmpty).
	onEmpty func()
}

func newSessionSet() *sessionSet { return &sessionSet{all: map[*session]struct{}{}} }

func (ss *sessionSet) add(s *session) {
	ss.mu.Lock()
	ss.all[s] = struct{}{}
	ss.mu.Unlock()
}

func (ss *sessionSet) remove(s *session) {
	ss.mu.Lock()
	delete(ss.all, s)
	var f func()
	if len(ss.all) == 0 {
		f, ss.onEmpty = ss.onEmpty, nil
	}
	ss.mu.Unlock()
	if f != nil {
		go f() // releasing nodes waits for their monitors to stop
	}
}

// whenEmpty runs f once no session is left: now, or when the last ends.
// Call it after the server has stopped taking sessions.
func (ss *sessionSet) whenEmpty(f func()) {
	ss.mu.Lock()
	if len(ss.all) > 0 {
		ss.onEmpty = f
		ss.mu.Unlock()
		return
	}
	ss.mu.Unlock()
	f()
}

// stopAll ends every session at its next idle point.
func (ss *sessionSet) stopAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for s := range ss.all {
		s.stop()
	}
}

// clientBuffers recycles the buffered reader and writer of client
// connections: a client that connects for every request would otherwise
// cost 32 KiB of garbage per connection.
var clientBuffers bufferPool

type bufferPool struct{ readers, writers sync.Pool }

func (p *bufferPool) get(r io.Reader, w io.Writer) (*bufio.Reader, *bufio.Writer) {
	br, _ := p.readers.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(nil, ioBufferSize)
	}
	bw, _ := p.writers.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(nil, ioBufferSize)
	}
	br.Reset(r)
	bw.Reset(w)
	return br, bw
}

// put takes back the buffers of a session that has ended.
func (p *bufferPool) put(r *bufio.Reader, w *bufio.Writer) {
	r.Reset(nil)
	w.Reset(nil)
	p.readers.Put(r)
	p.writers.Put(w)
}
