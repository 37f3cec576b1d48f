package integration

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// badBackendCaps are the capabilities badBackend offers: the classic
// protocol, no session tracking.
const badBackendCaps = wire.ClientMySQL | wire.ClientFoundRows | wire.ClientLongFlag | wire.ClientConnectWithDB |
	wire.ClientProtocol41 | wire.ClientTransactions | wire.ClientSecureConnection | wire.ClientMultiStatements |
	wire.ClientMultiResults | wire.ClientPSMultiResults | wire.ClientPluginAuth | wire.ClientConnectAttrs

// misdeeds are the malformed replies badBackend gives to a COM_QUERY that
// names one (as raw bytes after the header's sequence id 1), before it
// hangs up.
var misdeeds = map[string][]byte{
	// ERR packets too short to parse: no code, or half of one.
	"err-1-byte": packet(1, wire.HeaderERR),
	"err-2-byte": packet(1, wire.HeaderERR, 0x10),
	// A header that promises 50 bytes, then 3.
	"truncated": {50, 0, 0, 1, 0, 0, 0},
	// An OK with the wrong sequence id.
	"wrong-seq": packet(7, wire.HeaderOK, 0, 0, 2, 0, 0, 0),
	// A result set that announces two columns, then nothing.
	"cut-result": packet(1, 2),
	// An OK, then a packet nobody asked for.
	"unasked": append(packet(1, wire.HeaderOK, 0, 0, 2, 0, 0, 0), packet(2, wire.HeaderERR, 0x87, 0x07)...),
	// Nothing: the connection closes instead of a reply.
	"hang-up": nil,
}

func packet(seq byte, payload ...byte) []byte {
	out, _ := wire.AppendPacket(nil, payload, seq)
	return out
}

// startBadBackend runs a MySQL server that logs anyone in and answers
// every command with OK, except a COM_QUERY that names a misdeed.
func startBadBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				serveBadBackend(conn)
			}()
		}
	}()
	return ln.Addr().String()
}

func serveBadBackend(conn net.Conn) {
	conn.SetDeadline(time.Now().Add(time.Minute))
	pc := wire.NewConn(bufio.NewReader(conn), bufio.NewWriter(conn))
	hs := wire.Handshake{ServerVersion: "10.11.0-bad-backend", ConnectionID: 1, Scramble: wire.NewNonce(),
		Capabilities: badBackendCaps, Charset: 45, Status: wire.StatusAutocommit, AuthPlugin: wire.AuthNativePassword}
	ok := (&wire.OK{Status: wire.StatusAutocommit}).Append(nil, badBackendCaps)
	if pc.WriteAndFlush(hs.Append(nil)) != nil {
		return
	}
	if _, err := pc.ReadPacket(); err != nil || pc.WriteAndFlush(ok) != nil {
		return
	}
	for {
		pc.ResetSeq()
		p, err := pc.ReadPacket()
		if err != nil || len(p) == 0 || p[0] == wire.ComQuit {
			return
		}
		if p[0] == wire.ComQuery {
			for name, reply := range misdeeds {
				if strings.Contains(string(p), name) {
					conn.Write(reply)
					return
				}
			}
		}
		if pc.WriteAndFlush(ok) != nil {
			return
		}
	}
}

// TestMySQLMalformedBackendReplies puts the built binary in front of a
// backend that answers with malformed replies: ERR packets of 1 and 2
// bytes, a truncated packet, a wrong sequence id, a result set cut short,
// an unasked packet, a hang-up. Each time the client gets a clean error
// (or its connection closed), never a hang and never a reply shifted by
// one: the session's next statement gets its own answer. No panic is
// recovered, the process keeps serving other sessions, and the admin API
// answers.
func TestMySQLMalformedBackendReplies(t *testing.T) {
	backend := startBadBackend(t)
	addr := harness.FreeAddr(t)
	sum := sha1.Sum([]byte("app-pw"))
	sum = sha1.Sum(sum[:])
	fd := harness.StartFrontdesk(t, `{
	admin {$`+harness.AdminEnv+`}
	mysql {
		server main {
			listen `+addr+`
			primary `+backend+`
			user app {
				password_hash *`+strings.ToUpper(hex.EncodeToString(sum[:]))+`
			}
		}
	}
}
`, harness.Caddyfile)
	do := func(c *harness.RawConn, sql string) (*wire.SQLError, error) {
		_, sqlErr, err := c.Command(append([]byte{wire.ComQuery}, sql...))
		return sqlErr, err
	}
	for name := range misdeeds {
		t.Run(name, func(t *testing.T) {
			c, err := harness.DialRaw(addr, "app", "app-pw", "", harness.RawCaps)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if sqlErr, err := do(c, "DO 'before'"); sqlErr != nil || err != nil {
				t.Fatalf("a statement before the misdeed: %v %v", sqlErr, err)
			}
			sqlErr, err := do(c, "DO '"+name+"'")
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				t.Fatalf("the proxy never answered: %v", err)
			case err == nil && sqlErr == nil && name != "unasked":
				t.Fatalf("a malformed reply passed as a success")
			case err == nil:
				// The session goes on, in step: the next statement gets its
				// own answer (or the session ends), never the stale packet.
				sqlErr, err := do(c, "DO 'after'")
				switch {
				case errors.As(err, &ne) && ne.Timeout():
					t.Fatalf("the statement after the misdeed: no answer: %v", err)
				case sqlErr != nil && !strings.HasPrefix(sqlErr.Message, "Frontdesk"):
					t.Fatalf("the statement after the misdeed got the backend's error %v: a reply out of step", sqlErr)
				}
			}
			other, err := harness.DialRaw(addr, "app", "app-pw", "", harness.RawCaps)
			if err != nil {
				t.Fatalf("another session after the misdeed: %v", err)
			}
			defer other.Close()
			if sqlErr, err := do(other, "DO 'other'"); sqlErr != nil || err != nil {
				t.Fatalf("another session's statement: %v %v", sqlErr, err)
			}
		})
	}
	body, err := fd.AdminGet("/mysql/servers")
	if err != nil {
		t.Fatal(err)
	}
	var servers map[string]struct {
		Closed map[string]int64 `json:"sessions_closed"`
	}
	if err := json.Unmarshal(body, &servers); err != nil {
		t.Fatal(err)
	}
	if n := servers["main"].Closed["panic"]; n != 0 {
		t.Errorf("%d sessions ended on a recovered panic", n)
	}
	if fd.Exited() {
		t.Fatal("frontdesk exited")
	}
}
