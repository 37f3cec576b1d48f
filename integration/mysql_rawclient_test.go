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

// greetedConn is a raw connection that has read the server's handshake
// and not answered it yet, for tests of what a client sends before it is
// logged in. (harness.RawConn serves logged-in sessions.)
type greetedConn struct {
	t    *testing.T
	conn net.Conn
	pc   *wire.Conn
	hs   *wire.Handshake
}

// rawTimeout bounds every exchange of the raw clients here, so that a proxy
// that never answers fails the test instead of hanging it.
const rawTimeout = 30 * time.Second

// dialGreeted connects to addr and reads the server's handshake.
func dialGreeted(t *testing.T, addr string) *greetedConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, rawTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &greetedConn{t: t, conn: conn, pc: wire.NewConn(bufio.NewReader(conn), bufio.NewWriter(conn))}
	conn.SetDeadline(time.Now().Add(rawTimeout))
	p, err := c.pc.ReadPacket()
	if err != nil {
		t.Fatalf("reading the handshake: %v", err)
	}
	if c.hs, err = wire.ParseHandshake(p); err != nil {
		t.Fatalf("parsing the handshake: %v", err)
	}
	return c
}

// send writes one packet of the login exchange.
func (c *greetedConn) send(payload []byte) {
	c.t.Helper()
	if err := c.pc.WritePacket(payload); err != nil {
		c.t.Fatal(err)
	}
	if err := c.pc.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// login answers the handshake as user with password and returns the reply:
// nil for OK, the *wire.SQLError of an ERR.
func (c *greetedConn) login(user, password string) error {
	c.t.Helper()
	resp := wire.HandshakeResponse{
		Capabilities:  harness.RawCaps & c.hs.Capabilities,
		MaxPacketSize: 1 << 24,
		Charset:       45, // utf8mb4_general_ci
		Username:      user,
		AuthResponse:  wire.Scramble([]byte(password), c.hs.Scramble),
		AuthPlugin:    wire.AuthNativePassword,
	}
	out, err := resp.Append(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(out)
	return c.reply()
}

// reply reads one packet and returns nil for OK, the *wire.SQLError of an
// ERR.
func (c *greetedConn) reply() error {
	p, err := c.pc.ReadPacket()
	switch {
	case err != nil:
		return err
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

// wantSQLError checks that err is a server error with the given code.
func wantSQLError(t *testing.T, what string, err error, code uint16) {
	t.Helper()
	var se *wire.SQLError
	if !errors.As(err, &se) || se.Code != code {
		t.Errorf("%s: got %v, want ERR %d", what, err, code)
	}
}

// wantClosed checks that the server closed conn: reading gets the end of
// the stream, not data and not a timeout.
func wantClosed(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(rawTimeout))
	var b [64]byte
	n, err := conn.Read(b[:])
	var ne net.Error
	switch {
	case err == nil:
		t.Errorf("%s: the connection stays open and sent %q", what, b[:n])
	case errors.As(err, &ne) && ne.Timeout():
		t.Errorf("%s: the connection stays open: %v", what, err)
	}
}

// erNetPacketsOutOfOrder is the error MariaDB sends, before closing the
// connection, for a packet with the wrong sequence id.
const erNetPacketsOutOfOrder = 1156

// wantOutOfOrder checks that the server answered a packet with the wrong
// sequence id as MariaDB does: ERR 1156 (with whatever sequence id) and a
// closed connection.
func wantOutOfOrder(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(rawTimeout))
	var head [wire.HeaderSize]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		t.Errorf("%s: got %v, want ERR %d", what, err, erNetPacketsOutOfOrder)
		return
	}
	// Hand the header back to a codec that expects its sequence id.
	pc := wire.NewConn(bufio.NewReader(io.MultiReader(bytes.NewReader(head[:]), conn)), nil)
	pc.SetSeq(head[3])
	p, err := pc.ReadPacket()
	if err == nil {
		var se *wire.SQLError
		if se, err = wire.ParseERR(p); err == nil {
			err = se
		}
	}
	wantSQLError(t, what, err, erNetPacketsOutOfOrder)
	wantClosed(t, conn, what)
}

// wantQuery checks that a raw session answers sql with the rows want.
func wantQuery(t *testing.T, c *harness.RawConn, sql string, want ...string) {
	t.Helper()
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	rows, err := c.Query(sql)
	if err != nil || fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("%s: got %q, %v; want %q", sql, rows, err, want)
	}
}

// wantCommandError sends a command and checks that its reply is an ERR
// with the given code.
func wantCommandError(t *testing.T, c *harness.RawConn, what string, payload []byte, code uint16) {
	t.Helper()
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	if err := c.Send(payload); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	shape, ok := wire.ShapeFor(payload[0])
	if !ok {
		shape = wire.ShapeSingle // an unknown command: the reply is an ERR
	}
	_, sqlErr, err := c.ReadReply(shape)
	if err == nil && sqlErr != nil {
		err = sqlErr
	}
	wantSQLError(t, what, err, code)
}

// executeInt runs statement id with one BIGINT parameter and returns the
// BIGINT its one row holds.
func executeInt(c *harness.RawConn, id uint32, param int64) (int64, error) {
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	packets, sqlErr, err := c.Command(executePacket(id, param))
	if err != nil {
		return 0, err
	}
	if sqlErr != nil {
		return 0, sqlErr
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
	p := stmtPacket(wire.ComStmtExecute, id,
		0,          // flags: no cursor
		1, 0, 0, 0, // iteration count
		0,       // NULL bitmap
		1,       // new parameter types follow
		0x08, 0) // MYSQL_TYPE_LONGLONG, signed
	return binary.LittleEndian.AppendUint64(p, uint64(param))
}
