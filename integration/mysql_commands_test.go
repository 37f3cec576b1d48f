package integration

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// rawSession logs in to the proxy with a raw protocol client.
func rawSession(t *testing.T, m *mysqlProxy) *harness.RawConn {
	t.Helper()
	c, err := harness.DialRaw(m.addr, harness.TestUser, harness.TestPassword, harness.TestDatabase, harness.RawCaps)
	if err != nil {
		t.Fatalf("raw login: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func mustQuery(t *testing.T, c *harness.RawConn, sql string) []string {
	t.Helper()
	rows, err := c.Query(sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return rows
}

func mustCommand(t *testing.T, c *harness.RawConn, what string, payload []byte) [][]byte {
	t.Helper()
	packets, sqlErr, err := c.Command(payload)
	if err != nil || sqlErr != nil {
		t.Fatalf("%s: %v %v", what, err, sqlErr)
	}
	return packets
}

// stmtPacket builds a COM_STMT_* packet for statement id with a body.
func stmtPacket(cmd byte, id uint32, body ...byte) []byte {
	p := binary.LittleEndian.AppendUint32([]byte{cmd}, id)
	return append(p, body...)
}

// prepare runs COM_STMT_PREPARE and returns the statement id.
func prepare(t *testing.T, c *harness.RawConn, sql string) uint32 {
	t.Helper()
	packets := mustCommand(t, c, "prepare "+sql, append([]byte{wire.ComStmtPrepare}, sql...))
	ok, err := wire.ParseStmtPrepareOK(packets[0])
	if err != nil {
		t.Fatal(err)
	}
	return ok.StatementID
}

// TestMySQLProtocolCommands covers the commands that client libraries
// rarely send, through a raw protocol client: field lists, statistics,
// cursors with fetch, long parameter data, statement reset and close,
// multi-statement options, connection reset and change user. Where the
// routed ones ran is read from the servers' general logs.
func TestMySQLProtocolCommands(t *testing.T) {
	m := startMySQLProxy(t)
	c := rawSession(t, m)
	mustQuery(t, c, "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")

	t.Run("field list", func(t *testing.T) {
		packets := mustCommand(t, c, "COM_FIELD_LIST", append([]byte{wire.ComFieldList}, "notes\x00"...))
		if len(packets) != 3 || !wire.IsEOF(packets[2], c.Caps) {
			t.Fatalf("COM_FIELD_LIST notes gave %d packets, want 2 column definitions and an EOF", len(packets))
		}
	})

	t.Run("statistics", func(t *testing.T) {
		packets := mustCommand(t, c, "COM_STATISTICS", []byte{wire.ComStatistics})
		if len(packets) != 1 || !strings.HasPrefix(string(packets[0]), "Uptime") {
			t.Fatalf("COM_STATISTICS gave %q", packets)
		}
	})

	t.Run("cursor", func(t *testing.T) {
		id := prepare(t, c, "SELECT /* raw-cursor */ seq FROM seq_1_to_10")
		// flags 1 = CURSOR_TYPE_READ_ONLY, one iteration: only the columns come back.
		packets := mustCommand(t, c, "execute with cursor", stmtPacket(wire.ComStmtExecute, id, 1, 1, 0, 0, 0))
		eof, err := wire.ParseEOF(packets[len(packets)-1])
		if err != nil || eof.Status&wire.StatusCursorExists == 0 {
			t.Fatalf("execute with a cursor: last packet %x (%v), want EOF with a cursor", packets[len(packets)-1], err)
		}
		got := 0
		for _, n := range []byte{4, 10} {
			packets := mustCommand(t, c, "fetch", stmtPacket(wire.ComStmtFetch, id, n, 0, 0, 0))
			got += len(packets) - 1 // rows, then the EOF
		}
		if got != 10 {
			t.Errorf("fetched %d rows through the cursor, want 10", got)
		}
		if where := m.ranOn("raw-cursor"); where != "replica×1" {
			t.Errorf("the cursor's statement ran on %q, want replica×1", where)
		}
	})

	t.Run("long data, reset, close", func(t *testing.T) {
		id := prepare(t, c, "INSERT /* raw-longdata */ INTO notes VALUES (?, ?)")
		for _, chunk := range []string{"hello ", "world"} {
			if err := c.Send(append(stmtPacket(wire.ComStmtSendLongData, id, 1, 0), chunk...)); err != nil {
				t.Fatal(err)
			}
		}
		// No null bitmap bits, new types bound: two VAR_STRINGs; only the
		// first value is in the packet, the second came as long data.
		exec := stmtPacket(wire.ComStmtExecute, id, 0, 1, 0, 0, 0, 0, 1, 253, 0, 253, 0, 1, '7')
		mustCommand(t, c, "execute after long data", exec)
		if rows := mustQuery(t, c, "SELECT /* frontdesk:primary */ body FROM notes WHERE id = 7"); len(rows) != 1 || rows[0] != "hello world" {
			t.Fatalf("the row written with long data reads %q, want hello world", rows)
		}
		if where := m.ranOn("raw-longdata"); where != "primary×1" {
			t.Errorf("the insert ran on %q, want primary×1", where)
		}
		mustCommand(t, c, "COM_STMT_RESET", stmtPacket(wire.ComStmtReset, id))
		if err := c.Send(stmtPacket(wire.ComStmtClose, id)); err != nil {
			t.Fatal(err)
		}
		_, sqlErr, err := c.Command(exec)
		if err != nil || sqlErr == nil || sqlErr.Code != 1243 {
			t.Fatalf("executing a closed statement: %v %v, want error 1243", err, sqlErr)
		}
	})

	t.Run("multi-statement option", func(t *testing.T) {
		// MYSQL_OPTION_MULTI_STATEMENTS_OFF is 1: the replica must follow.
		mustCommand(t, c, "COM_SET_OPTION off", []byte{wire.ComSetOption, 1, 0})
		if _, err := c.Query("SELECT /* raw-multi-off */ 1; SELECT 2"); err == nil {
			t.Error("a multi-statement read ran with multi-statements off")
		}
		mustCommand(t, c, "COM_SET_OPTION on", []byte{wire.ComSetOption, 0, 0})
		if rows := mustQuery(t, c, "SELECT /* raw-multi-on */ 1; SELECT 2"); len(rows) != 1 || rows[0] != "1" {
			t.Errorf("multi-statement read gave %q", rows)
		}
	})

	t.Run("reset connection", func(t *testing.T) {
		mustQuery(t, c, "SET @left_behind = 5")
		if rows := mustQuery(t, c, "SELECT /* raw-before-reset */ @left_behind"); len(rows) != 1 || rows[0] != "5" {
			t.Fatalf("before the reset @left_behind = %q", rows)
		}
		mustCommand(t, c, "COM_RESET_CONNECTION", []byte{wire.ComResetConnection})
		if rows := mustQuery(t, c, "SELECT /* raw-after-reset */ @left_behind"); len(rows) != 1 || rows[0] != "NULL" {
			t.Errorf("after the reset @left_behind = %q, want NULL", rows)
		}
		if where := m.ranOn("raw-after-reset"); where != "replica×1" {
			t.Errorf("the read after the reset ran on %q, want replica×1", where)
		}
	})

	t.Run("change user", func(t *testing.T) {
		mustQuery(t, c, "SET @before_change = 1")
		cu := wire.ChangeUser{Username: harness.TestUser, Database: harness.TestDatabase, Charset: 45,
			AuthPlugin: wire.AuthNativePassword, AuthResponse: wire.Scramble([]byte(harness.TestPassword), c.Nonce)}
		p, err := cu.Append(nil, c.Caps)
		if err != nil {
			t.Fatal(err)
		}
		mustCommand(t, c, "COM_CHANGE_USER", p)
		if rows := mustQuery(t, c, "SELECT @before_change"); len(rows) != 1 || rows[0] != "NULL" {
			t.Errorf("after COM_CHANGE_USER @before_change = %q, want NULL", rows)
		}
		cu.AuthResponse = wire.Scramble([]byte("not the password"), c.Nonce)
		p, _ = cu.Append(nil, c.Caps)
		if _, sqlErr, _ := c.Command(p); sqlErr == nil || sqlErr.Code != 1045 {
			t.Errorf("COM_CHANGE_USER with a wrong password gave %v, want error 1045", sqlErr)
		}
	})
}
