package harness

import (
	"bufio"
	"fmt"
	"net"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// RawConn is a MySQL client connection that speaks the protocol packet by
// packet, for tests of commands that client libraries do not send (field
// lists, cursors, long data, connection resets) and of bad input.
type RawConn struct {
	Conn net.Conn
	PC   *wire.Conn
	// Caps are the capabilities negotiated with the server.
	Caps uint64
	// Nonce is the server's handshake nonce.
	Nonce []byte
}

// RawCaps are the capabilities RawConn asks for by default: the classic
// EOF-terminated result sets, multi-statements and multi-results.
const RawCaps = wire.ClientLongPassword | wire.ClientLongFlag | wire.ClientProtocol41 |
	wire.ClientTransactions | wire.ClientSecureConnection | wire.ClientMultiStatements |
	wire.ClientMultiResults | wire.ClientPSMultiResults | wire.ClientPluginAuth

// DialRaw connects to addr and logs in with mysql_native_password. A
// refused login returns the server's *wire.SQLError.
func DialRaw(addr, user, password, db string, caps uint64) (*RawConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := &RawConn{Conn: conn, PC: wire.NewConn(bufio.NewReader(conn), bufio.NewWriter(conn))}
	if err := c.login(user, password, db, caps); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *RawConn) login(user, password, db string, caps uint64) error {
	p, err := c.PC.ReadPacket()
	if err != nil {
		return err
	}
	hs, err := wire.ParseHandshake(p)
	if err != nil {
		return err
	}
	c.Nonce = append([]byte(nil), hs.Scramble...)
	if db != "" {
		caps |= wire.ClientConnectWithDB
	}
	c.Caps = caps & hs.Capabilities
	resp := wire.HandshakeResponse{Capabilities: c.Caps, MaxPacketSize: 1 << 24, Charset: 45, Username: user,
		AuthResponse: wire.Scramble([]byte(password), hs.Scramble), Database: db, AuthPlugin: wire.AuthNativePassword}
	out, err := resp.Append(nil)
	if err != nil {
		return err
	}
	if err := c.Write(out); err != nil {
		return err
	}
	reply, err := c.PC.ReadPacket()
	if err != nil {
		return err
	}
	if len(reply) > 0 && reply[0] == wire.HeaderERR {
		e, _ := wire.ParseERR(reply)
		return e
	}
	if len(reply) == 0 || reply[0] != wire.HeaderOK {
		return fmt.Errorf("unexpected login reply %x", reply)
	}
	return nil
}

// Write sends one packet in the current exchange and flushes it.
func (c *RawConn) Write(payload []byte) error { return c.PC.WriteAndFlush(payload) }

// Send starts a new exchange with a command packet.
func (c *RawConn) Send(payload []byte) error {
	c.PC.ResetSeq()
	return c.Write(payload)
}

// Command sends a command and reads its whole reply, returning its packets
// (copied) and, if the reply was an ERR, the error it carried.
func (c *RawConn) Command(payload []byte) ([][]byte, *wire.SQLError, error) {
	if err := c.Send(payload); err != nil {
		return nil, nil, err
	}
	shape, ok := wire.ShapeFor(payload[0])
	switch {
	case payload[0] == wire.ComChangeUser:
		// The reply of a login that needs no auth switch: one OK or ERR.
		shape = wire.ShapeSingle
	case !ok:
		return nil, nil, nil
	}
	return c.ReadReply(shape)
}

// ReadReply reads a whole reply of the given shape.
func (c *RawConn) ReadReply(shape wire.Shape) ([][]byte, *wire.SQLError, error) {
	w := wire.NewWalker(shape, c.Caps)
	var packets [][]byte
	var sqlErr *wire.SQLError
	for !w.Done() {
		head, err := c.PC.PeekPacket()
		if err != nil {
			return packets, sqlErr, err
		}
		kind, err := w.Step(head.Length, head.Prefix)
		if err != nil {
			return packets, sqlErr, err
		}
		p, err := c.PC.ReadPacket()
		if err != nil {
			return packets, sqlErr, err
		}
		if kind == wire.PacketERR {
			sqlErr, _ = wire.ParseERR(p)
		}
		packets = append(packets, append([]byte(nil), p...))
	}
	return packets, sqlErr, nil
}

// Query runs a text statement and returns the first column of each row of
// its (first) result set; values are strings, NULL is "NULL".
func (c *RawConn) Query(sql string) ([]string, error) {
	packets, sqlErr, err := c.Command(append([]byte{wire.ComQuery}, sql...))
	if err != nil {
		return nil, err
	}
	if sqlErr != nil {
		return nil, sqlErr
	}
	return TextColumn(packets, c.Caps), nil
}

// TextColumn picks the first column of each text row out of a reply's
// packets: the packets after the column definitions and their EOF, up to
// the terminating EOF or OK.
func TextColumn(packets [][]byte, caps uint64) []string {
	if len(packets) < 2 {
		return nil
	}
	ncols, _, err := wire.ReadLenEncInt(packets[0])
	if err != nil || ncols == 0 {
		return nil
	}
	rows := packets[1+ncols:]
	if caps&wire.ClientDeprecateEOF == 0 && len(rows) > 0 {
		rows = rows[1:] // the EOF after the column definitions
	}
	var out []string
	for _, row := range rows {
		if wire.IsEOF(row, caps) {
			break
		}
		if len(row) > 0 && row[0] == 0xFB {
			out = append(out, "NULL")
			continue
		}
		v, _, err := wire.ReadLenEncString(row)
		if err != nil {
			break
		}
		out = append(out, string(v))
	}
	return out
}

// Close ends the session with COM_QUIT.
func (c *RawConn) Close() {
	_ = c.Send([]byte{wire.ComQuit})
	c.Conn.Close()
}
