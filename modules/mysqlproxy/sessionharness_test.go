package mysqlproxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// The session harness runs real sessions (Server.serve, as the listener
// does) against scripted fake backends, a primary and a replica on
// loopback TCP, with the client on the other end of a net.Pipe. A fault
// armed on a backend replaces its reply to one command with a malformed
// one; the client then checks the promises a session makes whatever a
// backend sends: no panic, a well-formed reply or a closed connection,
// nothing unasked, and later replies framed as their own.

// harnessWait bounds every wait of the harness: a reply, or the end of a
// session. Only a broken promise (a hang) ever waits this long.
const harnessWait = 10 * time.Second

const (
	harnessUser     = "app"
	harnessPassword = "secret"
)

// harnessClientCaps are what the harness's client asks for: what a
// current connector does, without session tracking, so that the proxy
// rewrites the primary's OK packets. The table runs with these, without
// ClientDeprecateEOF, and with session tracking.
const harnessClientCaps = wire.ClientLongPassword | wire.ClientProtocol41 | wire.ClientSecureConnection |
	wire.ClientPluginAuth | wire.ClientTransactions | wire.ClientMultiStatements | wire.ClientMultiResults |
	wire.ClientPSMultiResults | wire.ClientDeprecateEOF | wire.ClientConnectWithDB

// fault replaces a backend's well-formed reply to a command (its packets'
// payloads, nil for a command without a reply) with what the backend
// sends instead. k picks the packet of a per-packet fault; applied is
// false when the reply has no packet k, and then raw is the well-formed
// reply. closes says the backend hangs up after raw.
type fault struct {
	name      string
	perPacket bool
	// gone: the backend closes every connection when the fault is armed,
	// so the command meets a dead connection.
	gone  bool
	apply func(cmd byte, caps uint64, reply [][]byte, k int) (raw []byte, closes, applied bool)
}

// frame lays out payloads as the packets of one reply, numbered from 1.
func frame(payloads [][]byte) []byte { return framedFrom(payloads, 1) }

// framedFrom lays out payloads as packets numbered from seq.
func framedFrom(payloads [][]byte, seq uint8) []byte {
	var raw []byte
	for _, p := range payloads {
		raw, seq = wire.AppendPacket(raw, p, seq)
	}
	return raw
}

// whole is a fault that sends a reply of its own. It leaves commands
// without a reply alone: a backend's unasked packet racing the session's
// next command can be told from its reply only by the sequence id.
func whole(name string, closes bool, replace func(cmd byte, caps uint64, reply [][]byte) [][]byte) fault {
	return fault{name: name, apply: func(cmd byte, caps uint64, reply [][]byte, _ int) ([]byte, bool, bool) {
		if reply == nil {
			return nil, false, false
		}
		return frame(replace(cmd, caps, reply)), closes, true
	}}
}

// perPacket is a fault that changes packet k of the reply: the packets
// before it go out as they are, then what change makes of the rest.
func perPacket(name string, closes bool, lastK func(n int) int, change func(rest [][]byte, seq uint8) []byte) fault {
	return fault{name: name, perPacket: true, apply: func(_ byte, _ uint64, reply [][]byte, k int) ([]byte, bool, bool) {
		if k > lastK(len(reply)) {
			return frame(reply), false, false
		}
		return append(frame(reply[:k]), change(reply[k:], uint8(k+1))...), closes, true
	}}
}

// everyPacket and everyBoundary are the last k a per-packet fault takes
// in a reply of n packets: its packets, or the boundaries around them.
func everyPacket(n int) int   { return n - 1 }
func everyBoundary(n int) int { return n }

// harnessFaults are the malformations the table replays at every step.
var harnessFaults = []fault{
	whole("ERR of 1 byte", false, func(byte, uint64, [][]byte) [][]byte { return [][]byte{{wire.HeaderERR}} }),
	whole("ERR of 2 bytes", false, func(byte, uint64, [][]byte) [][]byte { return [][]byte{{wire.HeaderERR, 0x10}} }),
	whole("unasked ERR after the reply", false, func(_ byte, _ uint64, reply [][]byte) [][]byte {
		return append(reply, wire.NewSQLError(wire.ERUnknownError, "unasked").Append(nil))
	}),
	whole("unasked OK after the reply", false, func(_ byte, caps uint64, reply [][]byte) [][]byte {
		return append(reply, okPayload(caps, wire.StatusAutocommit, ""))
	}),
	whole("reply to another command", true, func(cmd byte, caps uint64, _ [][]byte) [][]byte {
		switch cmd {
		case wire.ComStmtPrepare:
			return textResult(caps, wire.StatusAutocommit, "not a prepare reply")
		case wire.ComQuery, wire.ComStmtExecute:
			return prepareReply(caps, 77)
		}
		return textResult(caps, wire.StatusAutocommit, "not this command's reply")
	}),
	{name: "unasked OK numbered as a reply after the reply", apply: func(_ byte, caps uint64, reply [][]byte, _ int) ([]byte, bool, bool) {
		if reply == nil {
			return nil, false, false
		}
		raw, _ := wire.AppendPacket(frame(reply), okPayload(caps, wire.StatusAutocommit, "unasked"), 1)
		return raw, false, true
	}},
	{name: "backend gone before the command", gone: true},
	perPacket("closed after k packets", true, everyBoundary, func([][]byte, uint8) []byte { return nil }),
	perPacket("closed inside packet k", true, everyPacket, func(rest [][]byte, seq uint8) []byte {
		raw, _ := wire.AppendPacket(nil, rest[0], seq)
		return raw[:wire.HeaderSize+len(rest[0])/2]
	}),
	perPacket("packet k with a wrong sequence id", false, everyPacket, func(rest [][]byte, seq uint8) []byte {
		return framedFrom(rest, seq+3)
	}),
	perPacket("empty packet before packet k", false, everyPacket, func(rest [][]byte, seq uint8) []byte {
		return framedFrom(append([][]byte{{}}, rest...), seq)
	}),
	perPacket("packet k cut to its first byte", false, everyPacket, func(rest [][]byte, seq uint8) []byte {
		return framedFrom(append([][]byte{rest[0][:1]}, rest[1:]...), seq)
	}),
	perPacket("packet k with a 16 MiB length prefix", true, everyPacket, func(rest [][]byte, seq uint8) []byte {
		raw := framedFrom(rest, seq)
		raw[0], raw[1], raw[2] = 0xff, 0xff, 0xff
		return raw
	}),
	perPacket("packet k garbled", true, everyPacket, func(rest [][]byte, seq uint8) []byte {
		p := append([]byte{rest[0][0]}, make([]byte, len(rest[0])-1)...)
		for i := 1; i < len(p); i++ {
			p[i] = 0xff
		}
		return framedFrom(append([][]byte{p}, rest[1:]...), seq)
	}),
}

// fakeBackend is a scripted MariaDB: it logs anyone in, answers the
// proxy's own statements (session tracking, sql_mode, MASTER_GTID_WAIT),
// and answers each other command with a small well-formed reply, or with
// what the armed fault makes of it.
type fakeBackend struct {
	ln     net.Listener
	wg     sync.WaitGroup
	nextID atomic.Uint32

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	armed *fault
	k     int
	// skip is the number of commands answered well before the fault.
	skip           int
	fired, applied bool
}

func startFakeBackend(t testing.TB) *fakeBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBackend{ln: ln, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.acceptLoop()
	t.Cleanup(f.close)
	return f
}

func (f *fakeBackend) addr() string { return f.ln.Addr().String() }

func (f *fakeBackend) acceptLoop() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = struct{}{}
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serveConn(c)
		}()
	}
}

// close stops the backend and waits for its goroutines.
func (f *fakeBackend) close() {
	f.ln.Close()
	f.hangUp()
	f.wg.Wait()
}

// hangUp closes every open connection.
func (f *fakeBackend) hangUp() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// arm sets the fault for the command after the next skip ones.
func (f *fakeBackend) arm(fl *fault, skip, k int) {
	if fl.gone {
		f.hangUp()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.skip, f.k = fl, skip, k
	f.fired, f.applied = fl.gone, fl.gone
	if fl.gone {
		f.armed = nil
	}
}

// disarm drops a fault that has not fired and tells whether it fired, and
// whether it found the packet it was to change.
func (f *fakeBackend) disarm() (fired, applied bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = nil
	return f.fired, f.applied
}

// take returns what to send for a command whose well-formed reply is
// reply: that, or the armed fault's version of it.
func (f *fakeBackend) take(cmd []byte, caps uint64, reply [][]byte) (raw []byte, closes bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if bytes.Contains(cmd, []byte(verifyMark)) {
		f.armed = nil // the client checks what the command left behind
	}
	if f.armed == nil {
		return frame(reply), false
	}
	if f.skip > 0 {
		f.skip--
		return frame(reply), false
	}
	fl := f.armed
	f.armed, f.fired = nil, true
	raw, closes, f.applied = fl.apply(cmd[0], caps, reply, f.k)
	return raw, closes
}

func (f *fakeBackend) serveConn(c net.Conn) {
	defer func() {
		c.Close()
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	pc := wire.NewConn(bufio.NewReader(c), bufio.NewWriter(c))
	hs := wire.Handshake{ServerVersion: "10.11.6-MariaDB-fake", ConnectionID: f.nextID.Add(1), Scramble: wire.NewNonce(),
		Capabilities: proxyCaps, Charset: 45, Status: wire.StatusAutocommit, AuthPlugin: wire.AuthNativePassword}
	if pc.WriteAndFlush(hs.Append(nil)) != nil {
		return
	}
	p, err := pc.ReadPacket()
	if err != nil {
		return // a greeting probe hangs up here
	}
	resp, err := wire.ParseHandshakeResponse(p)
	if err != nil {
		return
	}
	fc := &fakeSession{caps: resp.Capabilities & proxyCaps, status: wire.StatusAutocommit}
	if pc.WriteAndFlush(okPayload(fc.caps, fc.status, "")) != nil {
		return
	}
	for {
		pc.ResetSeq()
		p, err := pc.ReadPacket()
		if err != nil || len(p) == 0 || p[0] == wire.ComQuit {
			return
		}
		raw, closes := f.take(p, fc.caps, fc.reply(p))
		if _, err := c.Write(raw); err != nil || closes {
			return
		}
	}
}

// fakeSession is the state of one connection to a fake backend.
type fakeSession struct {
	caps   uint64
	status uint16
	stmts  uint32
	writes int
}

// reply is the well-formed reply to command p.
func (fs *fakeSession) reply(p []byte) [][]byte {
	switch p[0] {
	case wire.ComQuery:
		return fs.query(string(p[1:]))
	case wire.ComStmtPrepare:
		fs.stmts++
		return prepareReply(fs.caps, fs.stmts)
	case wire.ComStmtExecute:
		return binaryResult(fs.caps, fs.status, "x")
	case wire.ComStmtFetch:
		return [][]byte{binaryRow("y"), wire.EOF{Status: fs.status | wire.StatusLastRowSent}.Append(nil)}
	case wire.ComFieldList:
		return [][]byte{columnDef("v"), wire.EOF{Status: fs.status}.Append(nil)}
	case wire.ComStatistics:
		return [][]byte{[]byte("Uptime: 1  Threads: 1  Questions: 1")}
	case wire.ComStmtClose, wire.ComStmtSendLongData:
		return nil
	case wire.ComResetConnection:
		fs.status = wire.StatusAutocommit
	}
	return [][]byte{okPayload(fs.caps, fs.status, "")}
}

// query answers a COM_QUERY: the proxy's own statements as a server
// would, a SELECT with a row holding its own text, anything else with an
// OK whose info is its text (and, where tracked, a new last_gtid), so the
// client can tell each reply is its own.
func (fs *fakeSession) query(sql string) [][]byte {
	switch {
	case sql == "BEGIN":
		fs.status |= wire.StatusInTrans
	case sql == "COMMIT":
		fs.status &^= wire.StatusInTrans
	case sql == "SELECT @@session.sql_mode":
		return textResult(fs.caps, fs.status, "STRICT_TRANS_TABLES")
	case strings.HasPrefix(sql, "SELECT CONCAT(IFNULL(DATABASE(), ''), CHAR(0), @@session.sql_mode)"):
		return textResult(fs.caps, fs.status, "\x00STRICT_TRANS_TABLES") // a pool's reset
	case sql == "SELECT LAST_INSERT_ID()":
		return textResult(fs.caps, fs.status, "0")
	case strings.HasPrefix(sql, "SELECT MASTER_GTID_WAIT("):
		return textResult(fs.caps, fs.status, "0")
	case strings.HasPrefix(sql, "SET "):
	case strings.Contains(sql, ";"):
		return append(textResult(fs.caps, fs.status|wire.StatusMoreResultsExists, sql), okPayload(fs.caps, fs.status, sql))
	case strings.HasPrefix(sql, "SELECT "):
		return textResult(fs.caps, fs.status, sql)
	default:
		fs.writes++
		ok := wire.OK{Status: fs.status, Info: []byte(sql)}
		if fs.caps&wire.ClientSessionTrack != 0 {
			ok.Status |= wire.StatusSessionStateChanged
			ok.SessionState = wire.AppendStateChange(nil, wire.StateChange{Type: wire.TrackSystemVariables,
				Name: []byte("last_gtid"), Value: fmt.Appendf(nil, "0-1-%d", fs.writes)})
		}
		return [][]byte{ok.Append(nil, fs.caps)}
	}
	return [][]byte{okPayload(fs.caps, fs.status, "")}
}

func okPayload(caps uint64, status uint16, info string) []byte {
	ok := wire.OK{Status: status, Info: []byte(info)}
	return ok.Append(nil, caps)
}

// columnDef is a VARCHAR column definition named name.
func columnDef(name string) []byte {
	b := wire.AppendLenEncString(nil, "def")
	for _, s := range []string{"", "", "", name, name} {
		b = wire.AppendLenEncString(b, s)
	}
	// fixed-length fields: charset 45, length 256, VAR_STRING, no flags or decimals
	return append(b, 0x0c, 45, 0, 0, 1, 0, 0, 0xfd, 0, 0, 0, 0, 0)
}

// definitions are n column definitions and, without ClientDeprecateEOF,
// their EOF.
func definitions(caps uint64, status uint16, n int) [][]byte {
	var pkts [][]byte
	for range n {
		pkts = append(pkts, columnDef("v"))
	}
	if caps&wire.ClientDeprecateEOF == 0 {
		pkts = append(pkts, wire.EOF{Status: status}.Append(nil))
	}
	return pkts
}

// terminator ends the rows of a result set.
func terminator(caps uint64, status uint16) []byte {
	if caps&wire.ClientDeprecateEOF == 0 {
		return wire.EOF{Status: status}.Append(nil)
	}
	ok := wire.OK{Header: wire.HeaderEOF, Status: status}
	return ok.Append(nil, caps)
}

// textResult is a result set of one column and one row holding value.
func textResult(caps uint64, status uint16, value string) [][]byte {
	pkts := append([][]byte{wire.AppendLenEncInt(nil, 1)}, definitions(caps, status, 1)...)
	return append(pkts, wire.AppendLenEncString(nil, value), terminator(caps, status))
}

// binaryRow is a binary-protocol row of one VAR_STRING column.
func binaryRow(value string) []byte {
	return wire.AppendLenEncString([]byte{wire.HeaderOK, 0}, value)
}

func binaryResult(caps uint64, status uint16, value string) [][]byte {
	pkts := append([][]byte{wire.AppendLenEncInt(nil, 1)}, definitions(caps, status, 1)...)
	return append(pkts, binaryRow(value), terminator(caps, status))
}

// prepareReply prepares a statement of one parameter and one column.
func prepareReply(caps uint64, id uint32) [][]byte {
	ok := wire.StmtPrepareOK{StatementID: id, Columns: 1, Params: 1}
	pkts := append([][]byte{ok.Append(nil)}, definitions(caps, wire.StatusAutocommit, 1)...)
	return append(pkts, definitions(caps, wire.StatusAutocommit, 1)...)
}

// harness is a server in front of a fake primary and replica.
type harness struct {
	srv              *Server
	primary, replica *fakeBackend
	errors           *observer.ObservedLogs
	healthy          *harnessClient
	// clientCaps are what its clients ask for.
	clientCaps uint64
}

// pooled makes a harness's server pool its backend connections, at most
// max per backend.
func pooled(t testing.TB, max int) func(*Server) {
	return func(s *Server) {
		s.Pool = &Pool{MaxConnections: max, WaitTimeout: caddy.Duration(harnessWait)}
		if err := s.Pool.provision(); err != nil {
			t.Fatal(err)
		}
	}
}

func newHarness(t testing.TB, clientCaps uint64, options ...func(*Server)) *harness {
	h := &harness{primary: startFakeBackend(t), replica: startFakeBackend(t), clientCaps: clientCaps}
	users, err := provisionUsers([]User{{Username: harnessUser, Password: harnessPassword}})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.ErrorLevel)
	h.errors = logs
	name := fmt.Sprintf("harness-%s-%d", t.Name(), connectionIDs.Load())
	h.srv = &Server{
		name:             name,
		ConnectTimeout:   caddy.Duration(harnessWait),
		HandshakeTimeout: caddy.Duration(harnessWait),
		IdleTimeout:      caddy.Duration(time.Hour),
		WriteTimeout:     caddy.Duration(harnessWait),
		Routing: &Routing{MaxSessionLog: defaultMaxSessionLog, MaxSessionLogBytes: defaultMaxSessionLogBytes,
			MaxPreparedBytes: defaultMaxPreparedBytes, ReadYourWrites: "session",
			ReadYourWritesWait: caddy.Duration(defaultReadYourWritesWait)},
		Health:   &Health{MaxReplicationLag: caddy.Duration(10 * time.Second)},
		nodes:    []*node{testNode(h.primary.addr(), false, nil), testNode(h.replica.addr(), false, nil)},
		users:    users,
		stats:    statsFor(name),
		logger:   zap.New(core),
		sessions: newSessionSet(),
	}
	if err := h.srv.provisionLimits(); err != nil {
		t.Fatal(err)
	}
	for _, o := range options {
		o(h.srv)
	}
	h.healthy = h.connect(t)
	t.Cleanup(func() { h.healthy.quit(t) })
	return h
}

// checkNoPanic fails the test if any session ended on a recovered panic,
// with the panic and its stack.
func (h *harness) checkNoPanic(t testing.TB, what string) {
	t.Helper()
	if n := h.srv.stats.closed.n[closedPanic].Load(); n > 0 {
		for _, e := range h.errors.All() {
			t.Logf("%s: %v", e.Message, e.ContextMap())
		}
		t.Fatalf("%s: %d session(s) ended on a panic", what, n)
	}
}

// harnessClient is a client of the harness's server.
type harnessClient struct {
	conn  net.Conn
	pc    *wire.Conn
	caps  uint64
	nonce []byte
	// stmt is the id of the statement the client prepared last.
	stmt uint32
	// done is closed when the session's goroutine has returned.
	done chan struct{}
	n    int
}

// connect opens a session as the listener does, and logs in.
func (h *harness) connect(t testing.TB) *harnessClient {
	t.Helper()
	cc, sc := net.Pipe()
	c := &harnessClient{conn: cc, pc: wire.NewConn(bufio.NewReader(cc), bufio.NewWriter(cc)), caps: h.clientCaps, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		h.srv.serve(sc)
	}()
	cc.SetDeadline(time.Now().Add(harnessWait))
	p, err := c.pc.ReadPacket()
	if err != nil {
		t.Fatalf("reading the proxy's handshake: %v", err)
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		t.Fatal(err)
	}
	c.nonce = append([]byte(nil), hs.Scramble...)
	resp := wire.HandshakeResponse{Capabilities: c.caps, MaxPacketSize: 1 << 24, Charset: 45,
		Username: harnessUser, AuthResponse: wire.Scramble([]byte(harnessPassword), c.nonce), AuthPlugin: wire.AuthNativePassword}
	out, err := resp.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pc.WriteAndFlush(out); err != nil {
		t.Fatal(err)
	}
	if p, err = c.pc.ReadPacket(); err != nil || len(p) == 0 || p[0] != wire.HeaderOK {
		t.Fatalf("login: %v, reply %x", err, p)
	}
	return c
}

// quit ends the session and waits for its goroutine.
func (c *harnessClient) quit(t testing.TB) {
	t.Helper()
	c.conn.SetDeadline(time.Now().Add(harnessWait))
	c.pc.ResetSeq()
	_ = c.pc.WriteAndFlush([]byte{wire.ComQuit})
	c.conn.Close()
	c.waitEnd(t)
}

func (c *harnessClient) waitEnd(t testing.TB) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(harnessWait):
		t.Fatal("the session did not end after its client left")
	}
}

// answer is what the client made of a reply.
type answer struct {
	packets int
	// err is the reply's ERR, ok its last OK (or terminator) packet.
	err *wire.SQLError
	ok  *wire.OK
	// rows are the text rows' first values.
	rows []string
	// closed: the connection ended before the reply was complete.
	closed bool
}

// ended tells a connection that ended from a broken promise: no reply in
// time (a hang, or a packet whose length promises more than comes) or a
// packet out of sequence.
func (a *answer) ended(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: no reply (a hang) after %d packets: %v", errBrokenPromise, a.packets, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe):
		a.closed = true
		return nil
	}
	return fmt.Errorf("%w: packet %d: %v", errBrokenPromise, a.packets, err)
}

// errBrokenPromise marks what the harness fails a session for.
var errBrokenPromise = errors.New("broken promise")

// send sends a command; it fails only if the session has ended.
func (c *harnessClient) send(payload []byte) error {
	c.conn.SetDeadline(time.Now().Add(harnessWait))
	c.pc.ResetSeq()
	return c.pc.WriteAndFlush(payload)
}

// read reads the reply to a command of shape: a well-formed reply, or a
// connection that ended. Anything else (no reply in time, a packet out of
// sequence, a reply that does not parse) is a broken promise.
func (c *harnessClient) read(shape wire.Shape) (answer, error) {
	var a answer
	w := wire.NewWalker(shape, c.caps)
	c.conn.SetDeadline(time.Now().Add(harnessWait))
	for range 64 {
		head, err := c.pc.PeekPacket()
		if err != nil {
			return a, a.ended(err)
		}
		kind, err := w.Step(head.Length, head.Prefix)
		if err != nil {
			return a, fmt.Errorf("%w: packet %d mis-framed: %v", errBrokenPromise, a.packets, err)
		}
		p, err := c.pc.ReadPacket()
		if err != nil {
			return a, a.ended(err)
		}
		a.packets++
		switch kind {
		case wire.PacketERR:
			// The code and message are the server's, relayed as they came.
			if a.err, err = wire.ParseERR(p); err != nil {
				return a, fmt.Errorf("%w: malformed ERR %x: %v", errBrokenPromise, p, err)
			}
		case wire.PacketOK, wire.PacketEOF:
			// An OK of a connection without session tracking is relayed
			// byte for byte, as rows are: past the framing (which the
			// walker checks on both legs), its content is the server's.
			// verify checks that its own commands' OKs are their own.
			if ok, err := wire.ParseOK(p, c.caps); err == nil && len(p) > 5 {
				a.ok = &ok
			}
		case wire.PacketRow:
			if v, _, err := wire.ReadLenEncString(p); err == nil {
				a.rows = append(a.rows, string(v))
			}
		case wire.PacketPrepareOK:
			ok, err := wire.ParseStmtPrepareOK(p)
			if err != nil {
				return a, fmt.Errorf("%w: malformed COM_STMT_PREPARE_OK %x: %v", errBrokenPromise, p, err)
			}
			c.stmt = ok.StatementID
		}
		if w.AwaitingLocalInfile() {
			// A client that sends no file answers with an empty packet.
			if err := c.pc.WriteAndFlush(nil); err != nil {
				a.closed = true
				return a, nil
			}
		}
		if w.Done() {
			return a, nil
		}
	}
	return a, fmt.Errorf("%w: a reply of more than 64 packets", errBrokenPromise)
}

// do sends a command and reads its reply.
func (c *harnessClient) do(payload []byte, shape wire.Shape) (answer, error) {
	if err := c.send(payload); err != nil {
		return answer{closed: true}, nil
	}
	return c.read(shape)
}

// must runs a command the harness needs to succeed (a case's preamble).
func (c *harnessClient) must(t testing.TB, payload []byte) answer {
	t.Helper()
	shape, hasReply := wire.ShapeFor(payload[0])
	if !hasReply {
		if err := c.send(payload); err != nil {
			t.Fatalf("preamble command %x: %v", payload[:min(len(payload), 24)], err)
		}
		return answer{}
	}
	a, err := c.do(payload, shape)
	if err == nil && (a.closed || a.err != nil) {
		err = fmt.Errorf("closed %v, error %v", a.closed, a.err)
	}
	if err != nil {
		t.Fatalf("preamble command %x: %v", payload[:min(len(payload), 24)], err)
	}
	return a
}

// verifyMark marks the commands of verify, which no fault hits.
const verifyMark = "harness-verify"

// verify checks that the session still answers each command with its own
// reply: a read (for a replica) and then a write (for the primary) each
// get theirs within three tries, unless the session ends. Meanwhile a
// well-formed error (a lost backend connection) is an honest answer, and a
// write may be refused for good in what a backend said is a read-only
// transaction. It returns false if the session ended.
func (c *harnessClient) verify(label string) (open bool, err error) {
	for _, write := range []bool{false, true} {
		var lastErr *wire.SQLError
		for range 3 {
			c.n++
			sql := fmt.Sprintf("SELECT '%s %s %d'", verifyMark, label, c.n)
			if write {
				sql = fmt.Sprintf("INSERT INTO t VALUES ('%s %s %d')", verifyMark, label, c.n)
			}
			a, err := c.do(query(sql), wire.ShapeQuery)
			switch {
			case err != nil:
				return false, fmt.Errorf("%s: %w", sql, err)
			case a.closed:
				return false, nil
			case a.err != nil:
				lastErr = a.err
				continue
			case write && (a.ok == nil || string(a.ok.Info) != sql):
				return false, fmt.Errorf("%w: %s got another command's reply: OK %+v", errBrokenPromise, sql, a.ok)
			case !write && (len(a.rows) != 1 || a.rows[0] != sql):
				return false, fmt.Errorf("%w: %s got another command's reply: rows %q", errBrokenPromise, sql, a.rows)
			}
			lastErr = nil
			break
		}
		if lastErr != nil && !(write && lastErr.Code == wire.ERCantExecuteInReadOnlyTransaction) {
			return true, fmt.Errorf("%w: the session stays open but answers every command with an error, last: %v", errBrokenPromise, lastErr)
		}
	}
	return true, nil
}

// stmtPayload is a COM_STMT_* command naming the client's last statement.
func (c *harnessClient) stmtPayload(cmd byte, rest ...byte) []byte {
	return append(binary.LittleEndian.AppendUint32([]byte{cmd}, c.stmt), rest...)
}

// execute binds one VAR_STRING parameter.
func (c *harnessClient) execute() []byte {
	return c.stmtPayload(wire.ComStmtExecute, 0, 1, 0, 0, 0, 0, 1, 0xfd, 0, 1, 'v')
}

// changeUser logs in again as the same user, into db.
func (c *harnessClient) changeUser(db string) []byte {
	cu := wire.ChangeUser{Username: harnessUser, AuthResponse: wire.Scramble([]byte(harnessPassword), c.nonce),
		Database: db, Charset: 45, AuthPlugin: wire.AuthNativePassword}
	p, err := cu.Append(nil, c.caps)
	if err != nil {
		panic(err)
	}
	return p
}

// harnessCommand is a client command under test: the commands that bring
// the session to where it runs, and the command, whose backend work the
// fault hits on the backend named by onReplica.
type harnessCommand struct {
	name      string
	onReplica bool
	preamble  []func(c *harnessClient) []byte
	command   func(c *harnessClient) []byte
}

// text is a COM_QUERY of s.
func text(s string) func(*harnessClient) []byte {
	return func(*harnessClient) []byte { return query(s) }
}

// stmtCmd is a COM_STMT_* command for the statement prepared last.
func stmtCmd(cmd byte, rest ...byte) func(*harnessClient) []byte {
	return func(c *harnessClient) []byte { return c.stmtPayload(cmd, rest...) }
}

var (
	write       = text("INSERT INTO t VALUES (1)")
	read        = text("SELECT 'r'")
	prepareRead = func(*harnessClient) []byte { return append([]byte{wire.ComStmtPrepare}, "SELECT ?"...) }
	execute     = (*harnessClient).execute
	longData    = stmtCmd(wire.ComStmtSendLongData, 0, 0, 'l', 'o', 'n', 'g')
)

var harnessCommands = []harnessCommand{
	{name: "COM_QUERY write, new connection", command: write},
	{name: "COM_QUERY write", preamble: fns(write), command: write},
	{name: "COM_QUERY write in a transaction", preamble: fns(write, text("BEGIN")), command: write},
	{name: "COM_QUERY read", onReplica: true, preamble: fns(write), command: read},
	{name: "COM_QUERY read, replaying USE", onReplica: true, preamble: fns(write, read, initDB("db2")), command: read},
	{name: "COM_QUERY multi-result", preamble: fns(write), command: text("INSERT INTO t VALUES (2); SELECT 'm'")},
	{name: "COM_INIT_DB", preamble: fns(write), command: initDB("db2")},
	{name: "COM_PING", preamble: fns(write), command: fixed(wire.ComPing)},
	{name: "COM_FIELD_LIST", onReplica: true, preamble: fns(write),
		command: func(*harnessClient) []byte { return []byte{wire.ComFieldList, 't', 0} }},
	{name: "COM_SET_OPTION", preamble: fns(write), command: fixed(wire.ComSetOption, 0, 0)},
	{name: "COM_STATISTICS", preamble: fns(write), command: fixed(wire.ComStatistics)},
	{name: "COM_PROCESS_KILL", preamble: fns(write), command: fixed(wire.ComProcessKill, 0xff, 0xff, 0xff, 0x7f)},
	{name: "COM_RESET_CONNECTION on the primary", preamble: fns(write, read), command: fixed(wire.ComResetConnection)},
	{name: "COM_RESET_CONNECTION on the replica", onReplica: true, preamble: fns(write, read), command: fixed(wire.ComResetConnection)},
	{name: "COM_CHANGE_USER", preamble: fns(write), command: func(c *harnessClient) []byte { return c.changeUser("db1") }},
	{name: "COM_STMT_PREPARE write", preamble: fns(write),
		command: func(*harnessClient) []byte { return append([]byte{wire.ComStmtPrepare}, "INSERT INTO t VALUES (?)"...) }},
	{name: "COM_STMT_PREPARE read", onReplica: true, preamble: fns(write), command: prepareRead},
	{name: "COM_STMT_EXECUTE", onReplica: true, preamble: fns(write, prepareRead), command: execute},
	{name: "COM_STMT_EXECUTE, preparing on the replica", onReplica: true,
		preamble: fns(write, text("BEGIN"), prepareRead, text("COMMIT")), command: execute},
	{name: "COM_STMT_EXECUTE, preparing on the primary", preamble: fns(write, prepareRead, text("BEGIN")), command: execute},
	{name: "COM_STMT_SEND_LONG_DATA", onReplica: true, preamble: fns(write, prepareRead), command: longData},
	{name: "COM_STMT_EXECUTE after long data", onReplica: true, preamble: fns(write, prepareRead, longData), command: execute},
	{name: "COM_STMT_CLOSE", onReplica: true, preamble: fns(write, prepareRead, execute), command: stmtCmd(wire.ComStmtClose)},
	{name: "COM_STMT_CLOSE on both backends", preamble: fns(write, text("BEGIN"), prepareRead, text("COMMIT"), execute),
		command: stmtCmd(wire.ComStmtClose)},
	{name: "COM_STMT_RESET", onReplica: true, preamble: fns(write, prepareRead, execute), command: stmtCmd(wire.ComStmtReset)},
	{name: "COM_STMT_FETCH", onReplica: true, preamble: fns(write, prepareRead, execute), command: stmtCmd(wire.ComStmtFetch, 1, 0, 0, 0)},
	{name: "COM_QUIT", preamble: fns(write), command: fixed(wire.ComQuit)},
}

// fns lists the commands of a preamble.
func fns(f ...func(*harnessClient) []byte) []func(*harnessClient) []byte { return f }

// initDB is a COM_INIT_DB of db.
func initDB(db string) func(*harnessClient) []byte {
	return func(*harnessClient) []byte { return append([]byte{wire.ComInitDB}, db...) }
}

// fixed is a command of fixed bytes.
func fixed(cmd byte, rest ...byte) func(*harnessClient) []byte {
	return func(*harnessClient) []byte { return append([]byte{cmd}, rest...) }
}

// replyShape is how the client reads the reply to p; ok is false for a
// command without one.
func replyShape(p []byte) (wire.Shape, bool) {
	if p[0] == wire.ComChangeUser {
		return wire.ShapeSingle, true
	}
	return wire.ShapeFor(p[0])
}

// runCase runs one command with fault fl armed at the skip-th backend
// command it causes (packet k for per-packet faults), checks every promise,
// and reports whether the fault fired and found its packet.
func (h *harness) runCase(t testing.TB, cmd harnessCommand, fl *fault, skip, k int) (fired, applied bool) {
	t.Helper()
	label := fmt.Sprintf("%s / %s / step %d / packet %d", cmd.name, fl.name, skip, k)
	c := h.connect(t)
	for _, pre := range cmd.preamble {
		c.must(t, pre(c))
	}
	target := h.primary
	if cmd.onReplica {
		target = h.replica
	}
	target.arm(fl, skip, k)
	p := cmd.command(c)
	shape, hasReply := replyShape(p)
	a := answer{}
	var err error
	if sendErr := c.send(p); sendErr != nil {
		a.closed = true
	} else if hasReply {
		a, err = c.read(shape)
	}
	if hasReply {
		// The backend's work for the command is done once its reply is.
		fired, applied = target.disarm()
	}
	if err != nil {
		t.Errorf("%s: %v", label, err)
	}
	open := !a.closed && p[0] != wire.ComQuit
	if open {
		open, err = c.verify(label)
		if err != nil {
			t.Errorf("%s: after the command: %v", label, err)
		}
	}
	if open {
		c.quit(t)
	} else {
		c.conn.Close()
		c.waitEnd(t)
	}
	if !hasReply {
		// The command may reach the backend after the client's next one
		// left: the fault stays armed until a command of verify arrives.
		fired, applied = target.disarm()
	}
	h.checkNoPanic(t, label)
	if open, err := h.healthy.verify("healthy " + label); err != nil || !open {
		t.Fatalf("another session, after %s: open %v, %v", label, open, err)
	}
	return fired, applied
}

// TestSessionHarness replays every fault at every backend step of every
// command the proxy serves, for clients with and without
// ClientDeprecateEOF and session tracking.
func TestSessionHarness(t *testing.T) {
	for name, caps := range map[string]uint64{
		"deprecate EOF":    harnessClientCaps,
		"EOF packets":      harnessClientCaps &^ wire.ClientDeprecateEOF,
		"session tracking": harnessClientCaps | wire.ClientSessionTrack,
		"pooled":           harnessClientCaps,
	} {
		t.Run(name, func(t *testing.T) {
			var options []func(*Server)
			if name == "pooled" {
				// Connections shared between the sessions and parked
				// between commands (multiplexing), reset when a session
				// leaves state on them.
				options = append(options, pooled(t, 4))
			}
			h := newHarness(t, caps, options...)
			runs := 0
			for _, cmd := range harnessCommands {
				for i := range harnessFaults {
					runs += h.runEverywhere(t, cmd, &harnessFaults[i])
					if t.Failed() {
						return
					}
				}
			}
			t.Logf("%d commands x %d faults: %d runs", len(harnessCommands), len(harnessFaults), runs)
		})
	}
}

// runEverywhere runs cmd with fl at every backend step it causes and, for
// a per-packet fault, at every packet of that step's reply; it returns the
// number of runs.
func (h *harness) runEverywhere(t testing.TB, cmd harnessCommand, fl *fault) int {
	runs := 0
	for skip := range 8 {
		fired := false
		for k := range 16 {
			f, applied := h.runCase(t, cmd, fl, skip, k)
			runs++
			fired = fired || f
			if !fl.perPacket || !applied || t.Failed() {
				break
			}
		}
		if !fired || fl.gone || t.Failed() {
			break
		}
	}
	return runs
}

// harnessRegressions are the cases the harness found broken, fixed since;
// each runs on its own too, to name what its fix guards.
var harnessRegressions = []struct {
	command, fault string
	skip, k        int
}{
	// A 1-2 byte ERR reached the client, whose driver cannot read it.
	{"COM_QUERY write", "ERR of 1 byte", 0, 0},
	{"COM_STMT_PREPARE write", "ERR of 2 bytes", 0, 0},
	// Preparing again on another connection took a malformed ERR for a
	// nil *SQLError inside a non-nil error: sending it panicked.
	{"COM_STMT_EXECUTE, preparing on the primary", "ERR of 1 byte", 0, 0},
	// A packet that broke off mid-relay had reached the client in part, and
	// the error sent after it was read as the rest of that packet: a hang.
	{"COM_QUERY read", "packet k with a 16 MiB length prefix", 2, 0},
	// A packet after a reply, numbered as the start of a new one, was read
	// as the reply to the session's next command on that connection.
	{"COM_QUERY write, new connection", "unasked OK numbered as a reply after the reply", 0, 0},
	{"COM_QUERY read", "unasked OK numbered as a reply after the reply", 2, 0},
}

func TestSessionHarnessRegressions(t *testing.T) {
	h := newHarness(t, harnessClientCaps)
	for _, r := range harnessRegressions {
		if fired, applied := h.runCase(t, findCommand(t, r.command), findFault(t, r.fault), r.skip, r.k); !applied {
			t.Errorf("%s / %s: the fault found no step %d packet %d (fired %v)", r.command, r.fault, r.skip, r.k, fired)
		}
	}
}

func findCommand(t testing.TB, name string) harnessCommand {
	for _, c := range harnessCommands {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no harness command %q", name)
	return harnessCommand{}
}

func findFault(t testing.TB, name string) *fault {
	for i := range harnessFaults {
		if harnessFaults[i].name == name {
			return &harnessFaults[i]
		}
	}
	t.Fatalf("no harness fault %q", name)
	return nil
}

// Item 2 of issue 12: COM_STMT_SEND_LONG_DATA and COM_STMT_CLOSE that meet
// a dead backend connection (the second write to it fails) tell the client
// nothing, since it asked for no reply; its next command gets its own.
func TestDeadBackendNoUnaskedReply(t *testing.T) {
	h := newHarness(t, harnessClientCaps)
	closeStmt := stmtCmd(wire.ComStmtClose)
	for _, cmds := range [][]func(*harnessClient) []byte{
		{longData, longData, longData},
		{longData, closeStmt},
		{closeStmt},
	} {
		c := h.connect(t)
		for _, pre := range fns(write, prepareRead, execute) {
			c.must(t, pre(c))
		}
		h.replica.hangUp()
		for _, cmd := range cmds {
			if err := c.send(cmd(c)); err != nil {
				t.Fatalf("sending a command without a reply: %v (a session writing an unasked reply blocks the pipe)", err)
			}
		}
		if open, err := c.verify("after a dead backend"); err != nil || !open {
			t.Errorf("after %d commands without a reply to a dead backend: open %v, %v", len(cmds), open, err)
		}
		c.quit(t)
		h.checkNoPanic(t, "dead backend")
	}
}

// With the roles to be found by the monitor and none found yet, there is
// no primary node: every command gets a well-formed answer (an error, where
// it needs a backend), and nothing panics.
func TestSessionWithoutPrimary(t *testing.T) {
	h := newHarness(t, harnessClientCaps)
	h.srv.discover = true
	for _, cmd := range harnessCommands {
		c := h.connect(t)
		for _, f := range append(cmd.preamble, cmd.command) {
			p := f(c)
			shape, hasReply := replyShape(p)
			if !hasReply {
				if err := c.send(p); err != nil {
					t.Errorf("%s: %x: %v", cmd.name, p[0], err)
				}
				continue
			}
			if a, err := c.do(p, shape); err != nil || a.closed && p[0] != wire.ComQuit {
				t.Errorf("%s: %x: closed %v, %v", cmd.name, p[0], a.closed, err)
			}
		}
		c.quit(t)
		h.checkNoPanic(t, cmd.name)
	}
}

// TestSessionHarnessMultiplexed runs eight sessions at once over a pool of
// three connections per backend, each session parking its connections
// between commands: every command gets its own reply, whichever
// connection it ran on, and nothing panics (run it with -race too).
func TestSessionHarnessMultiplexed(t *testing.T) {
	h := newHarness(t, harnessClientCaps|wire.ClientSessionTrack, pooled(t, 3))
	var wg sync.WaitGroup
	for i := range 8 {
		c := h.connect(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 40 {
				if j%10 == 5 {
					// A transaction holds the primary connection meanwhile.
					for _, sql := range []string{"BEGIN", "INSERT INTO t VALUES (1)", "COMMIT"} {
						if a, err := c.do(query(sql), wire.ShapeQuery); err != nil || a.err != nil || a.closed {
							t.Errorf("session %d: %s: %+v, %v", i, sql, a, err)
							return
						}
					}
				}
				open, err := c.verify(fmt.Sprintf("mux %d-%d", i, j))
				if err != nil || !open {
					t.Errorf("session %d, round %d: open %v, %v", i, j, open, err)
					return
				}
			}
			c.conn.SetDeadline(time.Now().Add(harnessWait))
			c.send([]byte{wire.ComQuit})
			c.conn.Close()
		}()
	}
	wg.Wait()
	h.checkNoPanic(t, "eight sessions over three connections")
	if n := h.primary.nextID.Load(); n > 3 {
		t.Errorf("the primary saw %d connections, want at most the pool's 3", n)
	}
}
