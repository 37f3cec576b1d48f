package mysqlproxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// ioBufferSize is the size of the buffered reader and writer of every
// connection, client and backend alike: the most a relay holds of a result.
const ioBufferSize = 16 << 10

// backendConn is one logged-in connection from a session to a backend.
type backendConn struct {
	addr    backendAddr
	node    *node
	replica bool
	conn    net.Conn
	pc      *wire.Conn
	// sock is conn's raw I/O, nil when conn is not a plain socket.
	sock *socketIO
	// caps are the capabilities negotiated on this connection.
	caps uint64
	// status is the server status of the last reply.
	status uint16
	// replayed is the sequence number of the last session-log entry this
	// connection has run.
	replayed uint64
	// applied is what this replica connection is known to have applied.
	applied gtidPos
	// threadID is the connection's id on its server, which KILL names.
	threadID uint32
	// ident is what another session's KILL needs of the connection.
	ident *backendIdent
	// mode is the connection's sql_mode, as far as the proxy set it.
	mode sqlMode
	// tracked takes in the session state changes that the OK packets of a
	// primary connection report (session tracking, see tracking.go) and
	// says whether any was one the proxy does not follow; nil when the
	// connection does not report them.
	tracked func([]wire.StateChange) (untracked bool)
	// changes is scratch space for parsing them.
	changes []wire.StateChange
	// idleSince is when the connection's last reply ended.
	idleSince time.Time

	// pool is the pool the connection was opened through (pool.go), nil
	// when the session's server does not pool; key is the key it serves,
	// opened when it was opened, poolCfg the pool settings of the server
	// that opened it, and defaults the digest of the server's session
	// defaults when it was last reset.
	pool     *connPool
	key      poolKey
	opened   time.Time
	poolCfg  *Pool
	defaults string
	// owner is the session that holds the connection, or parked it in the
	// pool between statements (nil once that session gave it back); held
	// is set while a session holds it. Both change under pool.mu.
	owner *session
	held  bool
	// clean is set while the connection stands in the clean state of its
	// key: the login's (or a reset's) session state, session tracking on
	// on a primary, its sql_mode known, nothing replayed or prepared. A
	// clean connection passes to another session as it is.
	clean bool
	// resultsOf is the session whose statement ran on it last: what
	// FOUND_ROWS(), ROW_COUNT() and SHOW WARNINGS answer is that session's.
	// insertOf is the session whose LAST_INSERT_ID() it holds.
	resultsOf, insertOf *session
}

// credentials are what a backend login needs: the user name, and SHA1 of the
// password (enough for mysql_native_password) or the password itself.
type credentials struct {
	user     string
	sha1pw   []byte
	password []byte
}

// loginOptions are the parts of the client's login passed on to backends.
type loginOptions struct {
	caps uint64
	// optional are capabilities in caps that the proxy asks for for its
	// own use and does without on a backend that lacks them.
	optional uint64
	charset  uint8
	db       string
	attrs    []wire.Attribute
}

// backendError is a failure to reach or log in to a backend. It says which
// backend, so the client's error message does too.
type backendError struct {
	addr backendAddr
	err  error
}

func (e *backendError) Error() string { return fmt.Sprintf("backend %s: %v", e.addr, e.err) }
func (e *backendError) Unwrap() error { return e.err }

// dialBackend connects to addr and logs in as the session's user.
func dialBackend(addr backendAddr, replica bool, timeout time.Duration, cred credentials, opt loginOptions) (*backendConn, error) {
	conn, err := net.DialTimeout(addr.network, addr.address, timeout)
	if err != nil {
		return nil, &backendError{addr, err}
	}
	sock := newSocketIO(conn)
	b := &backendConn{addr: addr, replica: replica, conn: conn,
		pc: wire.NewConn(bufio.NewReaderSize(sock, ioBufferSize), bufio.NewWriterSize(sock, ioBufferSize))}
	b.sock, _ = sock.(*socketIO)
	conn.SetDeadline(time.Now().Add(timeout))
	if err := b.login(cred, opt); err != nil {
		conn.Close()
		return nil, &backendError{addr, err}
	}
	conn.SetDeadline(time.Time{})
	return b, nil
}

func (b *backendConn) login(cred credentials, opt loginOptions) error {
	p, err := b.pc.ReadPacket()
	if err != nil {
		return fmt.Errorf("reading handshake: %w", err)
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		return err
	}
	if missing := opt.caps &^ opt.optional &^ hs.Capabilities & layoutCaps; missing != 0 {
		return fmt.Errorf("the backend lacks capabilities 0x%x that the client negotiated", missing)
	}
	b.caps = opt.caps & hs.Capabilities
	b.threadID = hs.ConnectionID
	resp := wire.HandshakeResponse{
		Capabilities:  b.caps,
		MaxPacketSize: 1 << 30,
		Charset:       opt.charset,
		Username:      cred.user,
		Database:      opt.db,
		AuthPlugin:    wire.AuthNativePassword,
		Attributes:    opt.attrs,
	}
	if opt.db != "" {
		resp.Capabilities |= wire.ClientConnectWithDB
		b.caps |= wire.ClientConnectWithDB
	}
	resp.AuthResponse, err = cred.reply(hs.AuthPlugin, hs.Scramble)
	if err != nil {
		// Answer with native-password data anyway; the server switches
		// plugins if it needs to, which reply handles below.
		resp.AuthResponse, _ = cred.reply(wire.AuthNativePassword, hs.Scramble)
	}
	out, err := resp.Append(nil)
	if err != nil {
		return err
	}
	if err := b.pc.WriteAndFlush(out); err != nil {
		return err
	}
	for range 3 { // at most one auth switch and one more-data round
		p, err := b.pc.ReadPacket()
		if err != nil {
			return fmt.Errorf("reading login reply: %w", err)
		}
		switch {
		case len(p) == 0:
			return errors.New("empty login reply")
		case p[0] == wire.HeaderOK:
			ok, err := wire.ParseOK(p, b.caps)
			if err != nil {
				return err
			}
			b.status = ok.Status
			return nil
		case p[0] == wire.HeaderERR:
			e, err := wire.ParseERR(p)
			if err != nil {
				return err
			}
			return e
		case p[0] == wire.HeaderAuthSwitch:
			sw, err := wire.ParseAuthSwitchRequest(p)
			if err != nil {
				return err
			}
			data, err := cred.reply(sw.Plugin, sw.Nonce())
			if err != nil {
				return err
			}
			if err := b.pc.WriteAndFlush(data); err != nil {
				return err
			}
		case p[0] == wire.HeaderAuthMoreData:
			data, _ := wire.ParseAuthMoreData(p)
			if len(data) == 1 && data[0] == wire.CachingSHA2FastAuthOK {
				continue // the OK follows
			}
			return errors.New("the backend asks for a full caching_sha2_password login, which needs TLS; " +
				"use mysql_native_password for this account")
		default:
			return fmt.Errorf("unexpected login reply 0x%02x", p[0])
		}
	}
	return errors.New("login did not finish")
}

// reply computes the auth data for plugin and nonce.
func (c credentials) reply(plugin string, nonce []byte) ([]byte, error) {
	switch plugin {
	case wire.AuthNativePassword:
		if c.sha1pw == nil {
			return nil, nil // empty password
		}
		return wire.ScrambleFromSHA1(c.sha1pw, nonce), nil
	case wire.AuthCachingSHA2:
		if c.password == nil {
			return nil, fmt.Errorf("the backend uses %s for %q, which needs the password in the config", plugin, c.user)
		}
		return wire.ScrambleCachingSHA2(c.password, nonce), nil
	}
	return nil, fmt.Errorf("the backend asks for auth plugin %q, which Frontdesk does not speak", plugin)
}

// send writes one command packet to the backend, starting a new exchange.
func (b *backendConn) send(payload []byte) error {
	if n := b.pc.Reader().Buffered(); n > 0 {
		// Whatever came after the last reply would be read as the reply
		// to this command.
		return fmt.Errorf("backend %s sent %d bytes after its last reply, unasked: the connection is out of step", b.addr, n)
	}
	b.pc.ResetSeq()
	if _, reply := wire.ShapeFor(payload[0]); reply && b.sock != nil {
		// The reply is read next: the command goes out with that read.
		b.sock.deferNextWrite()
	}
	return b.pc.WriteAndFlush(payload)
}

// nextReplyPacket peeks at the next packet of the reply w walks and tells
// what it is; the caller then reads, relays or discards it.
func (b *backendConn) nextReplyPacket(w *wire.Walker) (wire.PacketHead, wire.PacketKind, error) {
	head, err := b.pc.PeekPacket()
	if err != nil {
		return head, 0, err
	}
	kind, err := w.Step(head.Length, head.Prefix)
	return head, kind, err
}

// readOK reads an OK packet (or an OK that ends a result set) and hands what
// it reports of session state to b.tracked; untracked says whether any
// change was one the proxy does not follow.
func (b *backendConn) readOK() (ok wire.OK, untracked bool, err error) {
	p, err := b.pc.ReadPacket()
	if err != nil {
		return ok, false, err
	}
	if ok, err = wire.ParseOK(p, b.caps); err != nil {
		return ok, false, err
	}
	if ok.Status&wire.StatusSessionStateChanged != 0 {
		b.changes, err = wire.ParseSessionState(b.changes[:0], ok.SessionState)
		if err != nil {
			return ok, false, err
		}
		untracked = b.tracked(b.changes)
	}
	return ok, untracked, nil
}

// isTrackedOK reports whether a reply packet of kind and length is an OK
// whose session state b.tracked must see.
func (b *backendConn) isTrackedOK(kind wire.PacketKind, length int) bool {
	return b.tracked != nil && (kind == wire.PacketOK ||
		kind == wire.PacketEOF && b.caps&wire.ClientDeprecateEOF != 0 && length > 5)
}

// run sends a command and reads its whole reply without passing it on,
// returning the server's error if the reply was ERR.
func (b *backendConn) run(payload []byte) error {
	if err := b.send(payload); err != nil {
		return err
	}
	shape, ok := wire.ShapeFor(payload[0])
	if !ok {
		return nil
	}
	w := wire.NewWalker(shape, b.caps)
	var sqlErr error
	statusSeen := false
	for !w.Done() {
		head, kind, err := b.nextReplyPacket(&w)
		if err != nil {
			return err
		}
		statusSeen = statusSeen || kind == wire.PacketOK || kind == wire.PacketEOF
		if b.isTrackedOK(kind, head.Length) {
			if _, _, err := b.readOK(); err != nil {
				return err
			}
			continue
		}
		if kind == wire.PacketERR {
			p, err := b.pc.ReadPacket()
			if err != nil {
				return err
			}
			if sqlErr, err = wire.ParseERR(p); err != nil {
				return err
			}
			continue
		}
		if err := b.pc.DiscardPacket(); err != nil {
			return err
		}
		if w.AwaitingLocalInfile() {
			// Never send a file the client did not choose to send.
			if err := b.pc.WriteAndFlush(nil); err != nil {
				return err
			}
		}
	}
	if statusSeen {
		b.status = w.Status()
	}
	return sqlErr
}

// close says goodbye to the backend and closes the connection.
func (b *backendConn) close() {
	b.pc.ResetSeq()
	_ = b.pc.WritePacket([]byte{wire.ComQuit})
	_ = b.pc.Flush()
	b.drop()
}

// drop closes the connection without a word, after a failure.
func (b *backendConn) drop() {
	b.conn.Close()
	if b.node != nil {
		b.node.conns.Add(-1)
		if b.pool != nil && b.held {
			b.node.pool.forgetOne()
		}
		b.node = nil
	}
}

// queryValue runs a query and returns the first column of its first row as
// text ("" for NULL).
func (b *backendConn) queryValue(sql string) (string, error) {
	if err := b.send(append([]byte{wire.ComQuery}, sql...)); err != nil {
		return "", err
	}
	w := wire.NewWalker(wire.ShapeQuery, b.caps)
	var value string
	var sqlErr error
	for !w.Done() {
		_, kind, err := b.nextReplyPacket(&w)
		if err != nil {
			return "", err
		}
		if kind != wire.PacketRow && kind != wire.PacketERR {
			if err := b.pc.DiscardPacket(); err != nil {
				return "", err
			}
			continue
		}
		p, err := b.pc.ReadPacket()
		if err != nil {
			return "", err
		}
		if kind == wire.PacketERR {
			if sqlErr, err = wire.ParseERR(p); err != nil {
				sqlErr = err
			}
		} else if v, _, err := wire.ReadLenEncString(p); err == nil && value == "" {
			value = string(v)
		}
	}
	return value, sqlErr
}
