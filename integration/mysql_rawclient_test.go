package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// rawClient is a MySQL client made of the proxy's own wire codec, so that
// a test can send what real clients never do.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	pc   *wire.Conn
	hs   *wire.Handshake
	caps uint64
}

// rawClientCaps are the capabilities a rawClient asks for: the 4.1
// protocol with native-password auth and classic EOF packets.
const rawClientCaps = wire.ClientLongPassword | wire.ClientProtocol41 | wire.ClientSecureConnection |
	wire.ClientPluginAuth | wire.ClientTransactions | wire.ClientConnectWithDB |
	wire.ClientMultiResults | wire.ClientPSMultiResults

// rawTimeout bounds every exchange of a rawClient, so that a proxy that
// never answers fails the test instead of hanging it.
const rawTimeout = 30 * time.Second

// dialRaw connects to addr and reads the server's handshake.
func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, rawTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn,
		pc: wire.NewConn(bufio.NewReader(conn), bufio.NewWriter(conn))}
	c.deadline()
	p, err := c.pc.ReadPacket()
	if err != nil {
		t.Fatalf("reading the handshake: %v", err)
	}
	if c.hs, err = wire.ParseHandshake(p); err != nil {
		t.Fatalf("parsing the handshake: %v", err)
	}
	return c
}

func (c *rawClient) deadline() { c.conn.SetDeadline(time.Now().Add(rawTimeout)) }

// login answers the handshake as user with password and returns nil for an
// OK, the *wire.SQLError of an ERR.
func (c *rawClient) login(user, password string) error {
	c.t.Helper()
	c.caps = rawClientCaps & c.hs.Capabilities
	resp := wire.HandshakeResponse{
		Capabilities:  c.caps | wire.ClientConnectWithDB,
		MaxPacketSize: 1 << 24,
		Charset:       45, // utf8mb4_general_ci
		Username:      user,
		AuthResponse:  wire.Scramble([]byte(password), c.hs.Scramble),
		Database:      harness.TestDatabase,
		AuthPlugin:    wire.AuthNativePassword,
	}
	out, err := resp.Append(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.writePacket(out); err != nil {
		return err
	}
	p, err := c.pc.ReadPacket()
	if err != nil {
		return fmt.Errorf("reading the login reply: %w", err)
	}
	return replyError(p)
}

// replyError returns the error an ERR packet carries, nil for an OK packet.
func replyError(p []byte) error {
	switch {
	case len(p) > 0 && p[0] == wire.HeaderOK:
		return nil
	case len(p) > 0 && p[0] == wire.HeaderERR:
		e, err := wire.ParseERR(p)
		if err != nil {
			return err
		}
		return e
	}
	return fmt.Errorf("unexpected packet %q", p)
}

// rawSession is a rawClient logged in as the test user.
func rawSession(t *testing.T, addr string) *rawClient {
	t.Helper()
	c := dialRaw(t, addr)
	if err := c.login(harness.TestUser, harness.TestPassword); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// writePacket writes one packet, continuing the current exchange.
func (c *rawClient) writePacket(payload []byte) error {
	c.deadline()
	if err := c.pc.WritePacket(payload); err != nil {
		return err
	}
	return c.pc.Flush()
}

// command sends payload as a new command and reads its whole reply, as
// its command byte shapes it. It returns the reply's packets, or the
// *wire.SQLError of an ERR.
func (c *rawClient) command(payload []byte) ([][]byte, error) {
	c.pc.ResetSeq()
	if err := c.writePacket(payload); err != nil {
		return nil, err
	}
	shape, ok := wire.ShapeFor(payload[0])
	if !ok {
		shape = wire.ShapeSingle // an unknown command: the reply is an ERR
	}
	return c.reply(shape)
}

// reply reads one reply of the given shape.
func (c *rawClient) reply(shape wire.Shape) ([][]byte, error) {
	var packets [][]byte
	var replyErr error
	w := wire.NewWalker(shape, c.caps)
	for !w.Done() {
		head, err := c.pc.PeekPacket()
		if err != nil {
			return nil, err
		}
		kind, err := w.Step(head.Length, head.Prefix)
		if err != nil {
			return nil, err
		}
		p, err := c.pc.ReadPacket()
		if err != nil {
			return nil, err
		}
		if kind == wire.PacketERR {
			replyErr = replyError(p)
		}
		packets = append(packets, append([]byte(nil), p...))
	}
	return packets, replyErr
}

// query runs sql and returns the first column of its text rows.
func (c *rawClient) query(sql string) ([]string, error) {
	packets, err := c.command(append([]byte{wire.ComQuery}, sql...))
	if err != nil {
		return nil, err
	}
	var rows []string
	w := wire.NewWalker(wire.ShapeQuery, c.caps)
	for _, p := range packets {
		kind, err := w.Step(len(p), p[:min(len(p), wire.PrefixSize)])
		if err != nil {
			return nil, err
		}
		if kind == wire.PacketRow {
			v, _, err := wire.ReadLenEncString(p)
			if err != nil {
				return nil, err
			}
			rows = append(rows, string(v))
		}
	}
	return rows, nil
}

// wantQuery checks that the session answers sql with the rows want.
func (c *rawClient) wantQuery(sql string, want ...string) {
	c.t.Helper()
	rows, err := c.query(sql)
	if err != nil || fmt.Sprint(rows) != fmt.Sprint(want) {
		c.t.Errorf("%s: got %q, %v; want %q", sql, rows, err, want)
	}
}

// prepare prepares sql and returns the statement id the client got.
func (c *rawClient) prepare(sql string) uint32 {
	c.t.Helper()
	packets, err := c.command(append([]byte{wire.ComStmtPrepare}, sql...))
	if err != nil {
		c.t.Fatalf("preparing %q: %v", sql, err)
	}
	ok, err := wire.ParseStmtPrepareOK(packets[0])
	if err != nil {
		c.t.Fatal(err)
	}
	return ok.StatementID
}

// executeInt runs statement id with one BIGINT parameter and returns the
// BIGINT its one row holds.
func (c *rawClient) executeInt(id uint32, param int64) (int64, error) {
	packets, err := c.command(executePacket(id, param))
	if err != nil {
		return 0, err
	}
	for _, p := range packets {
		// A binary row: header 0x00, a NULL bitmap of (1+7+2)/8 bytes, the value.
		if len(p) == 1+1+8 && p[0] == wire.HeaderOK {
			return int64(binary.LittleEndian.Uint64(p[2:])), nil
		}
	}
	return 0, fmt.Errorf("no BIGINT row in the reply %q", packets)
}

// executePacket is a COM_STMT_EXECUTE of statement id with one BIGINT
// parameter.
func executePacket(id uint32, param int64) []byte {
	p := []byte{wire.ComStmtExecute}
	p = binary.LittleEndian.AppendUint32(p, id)
	p = append(p, 0)                           // flags: no cursor
	p = binary.LittleEndian.AppendUint32(p, 1) // iteration count
	p = append(p, 0)                           // NULL bitmap
	p = append(p, 1)                           // new parameter types follow
	p = append(p, 0x08, 0)                     // MYSQL_TYPE_LONGLONG, signed
	return binary.LittleEndian.AppendUint64(p, uint64(param))
}

// stmtPacket is a COM_STMT_* command naming statement id, then rest.
func stmtPacket(cmd byte, id uint32, rest ...byte) []byte {
	return append(binary.LittleEndian.AppendUint32([]byte{cmd}, id), rest...)
}

// wantSQLError checks that err is a server error with the given code.
func wantSQLError(t *testing.T, what string, err error, code uint16) {
	t.Helper()
	var se *wire.SQLError
	if !errors.As(err, &se) || se.Code != code {
		t.Errorf("%s: got %v, want ERR %d", what, err, code)
	}
}

// wantClosed checks that the proxy closed the connection: reading gets the
// end of the stream, not a packet.
func (c *rawClient) wantClosed(what string) {
	c.t.Helper()
	c.deadline()
	p, err := c.pc.ReadPacket()
	var ne net.Error
	switch {
	case err == nil:
		c.t.Errorf("%s: the connection stays open and sent %q", what, p)
	case errors.As(err, &ne) && ne.Timeout():
		c.t.Errorf("%s: the connection stays open: %v", what, err)
	}
}

// erNetPacketsOutOfOrder is the error MariaDB sends, before closing the
// connection, for a packet with the wrong sequence id.
const erNetPacketsOutOfOrder = 1156

// wantOutOfOrder checks that the proxy answered a packet with the wrong
// sequence id as MariaDB does: ERR 1156, whatever its sequence id, and a
// closed connection.
func (c *rawClient) wantOutOfOrder(what string) {
	c.t.Helper()
	c.deadline()
	var head [wire.HeaderSize]byte
	if _, err := io.ReadFull(c.conn, head[:]); err != nil {
		c.t.Errorf("%s: got %v, want ERR %d", what, err, erNetPacketsOutOfOrder)
		return
	}
	// Put the header back in front of the stream for the codec.
	c.pc = wire.NewConn(bufio.NewReader(io.MultiReader(bytes.NewReader(head[:]), c.conn)), bufio.NewWriter(c.conn))
	c.pc.SetSeq(head[3])
	p, err := c.pc.ReadPacket()
	if err == nil {
		err = replyError(p)
	}
	wantSQLError(c.t, what, err, erNetPacketsOutOfOrder)
	c.wantClosed(what)
}
