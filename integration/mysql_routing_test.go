package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestMySQLRoutingExact drives the classes of statements that a review
// found routed to the wrong server or left the session's state different
// between servers, each through the built binary against the real cluster,
// judged on the servers' general logs and answers.
func TestMySQLRoutingExact(t *testing.T) {
	m := startMySQLProxy(t)
	setup := m.db(t, "")
	mustExec(t, setup, "CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(64))")
	mustExec(t, setup, "CREATE PROCEDURE set_x() SET @x = 41 + 1")
	mustExec(t, setup, "INSERT INTO notes (body) VALUES ('seed')")
	m.cluster.WaitReplicated()

	// Item 1: autocommit in every spelling. Each session turns autocommit
	// off, then on, reads, and writes: the write must reach the primary,
	// and no replica ever runs the autocommit SET.
	t.Run("autocommit", func(t *testing.T) {
		for i, set := range []string{
			"autocommit='OFF'", "autocommit='off'", "autocommit=00", "autocommit=(0)",
			"autocommit=@@autocommit*0", "@@session.autocommit=0", "SESSION autocommit=0",
			"@@local.autocommit=OFF", "@v=1, autocommit=0", "autocommit=0, @w=2",
		} {
			marker := fmt.Sprintf("ac%02d-", i)
			out, errOut, err := m.cliRun(t, harness.TestPassword, fmt.Sprintf(
				"SET /* %[1]sset */ %[2]s; SET autocommit=1; SELECT /* %[1]sread */ 1; INSERT /* %[1]swrite */ INTO notes (body) VALUES ('%[1]s')",
				marker, set))
			if err != nil {
				t.Errorf("SET %s: %v\n%s%s", set, err, out, errOut)
				continue
			}
			m.wantRanOn(t, marker+"write", "primary×1")
			m.wantRanOn(t, marker+"set", "primary×1")
		}
	})

	// Item 2: the lexer follows the session's sql_mode. Under ANSI (which
	// includes ANSI_QUOTES) the DELETE below is code, under
	// NO_BACKSLASH_ESCAPES the DELETE after 'a\' is; each string must reach
	// the primary, whichever way the mode was set.
	t.Run("sql_mode", func(t *testing.T) {
		for i, tc := range []struct{ set, stmt string }{
			{"SET SESSION sql_mode='ANSI'", `SELECT 1 AS "a\"; DELETE /* %s */ FROM notes WHERE id = -1; -- "`},
			{"SET @@sql_mode='ORACLE'", `SELECT 1 AS "a\"; DELETE /* %s */ FROM notes WHERE id = -1; -- "`},
			{"SET @m = 'ANSI_QUOTES'; SET sql_mode = @m", `SELECT 1 AS "a\"; DELETE /* %s */ FROM notes WHERE id = -1; -- "`},
			{"SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')", `SELECT 1 AS "a\"; DELETE /* %s */ FROM notes WHERE id = -1; -- "`},
			{"SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'", `SELECT 'a\'; DELETE /* %s */ FROM notes WHERE id = -1; -- '`},
		} {
			marker := fmt.Sprintf("mode%02d", i)
			conn := m.conn(t, "multiStatements=true&interpolateParams=true")
			for _, s := range strings.Split(tc.set, "; ") {
				connExec(t, conn, s)
			}
			connExec(t, conn, fmt.Sprintf(tc.stmt, marker))
			m.wantRanOn(t, marker, "primary×1")
			// A plain read still goes to a replica, which runs it under the
			// same sql_mode as the primary would.
			var mode string
			if err := conn.QueryRowContext(context.Background(), "SELECT /* "+marker+"-read */ @@session.sql_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			primaryMode := m.sessionValue(t, tc.set, "@@session.sql_mode")
			if mode != primaryMode {
				t.Errorf("%s: a replica read runs under sql_mode %q, the primary session has %q", tc.set, mode, primaryMode)
			}
			m.wantRanOn(t, marker+"-read", "replica×1")
			conn.Close()
		}
	})

	// A server whose global sql_mode has ANSI_QUOTES: learnt from the
	// monitor, not assumed, before the session's first statement.
	t.Run("global-sql_mode", func(t *testing.T) {
		for _, s := range m.cluster.All() {
			s.Exec("SET GLOBAL sql_mode = 'ANSI_QUOTES'")
		}
		defer func() {
			for _, s := range m.cluster.All() {
				s.Exec("SET GLOBAL sql_mode = DEFAULT")
			}
		}()
		m.waitMonitorSQLMode(t, "ANSI_QUOTES")
		db := m.db(t, "multiStatements=true&interpolateParams=true")
		if _, err := db.Exec(`SELECT 1 AS "a\"; DELETE /* gmode */ FROM notes WHERE id = -1; -- "`); err != nil {
			t.Fatal(err)
		}
		m.wantRanOn(t, "gmode", "primary×1")
	})

	// Item 3: character sets whose multi-byte characters can hide '\' or
	// quotes are refused, at login and by SET NAMES / CHARACTER SET.
	t.Run("charsets", func(t *testing.T) {
		for _, set := range []string{"SET NAMES gbk", "SET CHARACTER SET sjis", "SET CHARSET 'big5'",
			"SET character_set_client = cp932", "SET NAMES @cs"} {
			_, errOut, err := m.cliRun(t, harness.TestPassword, set+"; SELECT 'charset-after'")
			if err == nil || !strings.Contains(errOut, "1235") {
				t.Errorf("%s: err %v, stderr %q; want error 1235", set, err, errOut)
			}
		}
		for _, cs := range []string{"gbk", "big5", "sjis", "cp932"} {
			out, errOut, err := runCLI(t, append(m.cliArgs(t, harness.TestPassword), "--default-character-set="+cs, "-e", "SELECT 1"))
			if err == nil || !strings.Contains(errOut, "character set '"+cs+"'") {
				t.Errorf("login with %s: err %v, output %q %q; want a refusal naming it", cs, err, out, errOut)
			}
		}
		// Every collation of those character sets that a handshake can name
		// is refused: ask the server which there are.
		rows, err := m.cluster.Primary.AdminDB().Query("SELECT COLLATION_NAME FROM information_schema.COLLATIONS " +
			"WHERE CHARACTER_SET_NAME IN ('gbk', 'big5', 'sjis', 'cp932') AND ID < 256")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		rows.Close()
		if len(names) < 8 {
			t.Fatalf("the server lists collations %v, want at least 8", names)
		}
		for _, name := range names {
			if _, errOut, err := runCLI(t, append(m.cliArgs(t, harness.TestPassword), "--default-character-set="+strings.Split(name, "_")[0], "-e", "SELECT 1")); err == nil {
				t.Errorf("login with collation %s accepted: %s", name, errOut)
			}
		}
		rows2 := m.cli(t, "SET NAMES latin1; SELECT /* cs-latin1 */ @@character_set_client")
		wantRows(t, "SET NAMES latin1", rows2, "latin1")
	})

	// Item 4: inside a read-only transaction on a replica, statements that
	// need the primary fail clearly and run nowhere.
	t.Run("read-only-transaction", func(t *testing.T) {
		for i, stmt := range []string{
			"SELECT /* %s */ GET_LOCK('ro', 0)",
			"SELECT /* %s */ * FROM notes FOR UPDATE",
			"CREATE TEMPORARY TABLE /* %s */ ro_tmp (i INT)",
			"SELECT /* %s */ @v := 1",
			"SELECT /* %s */ body INTO @b FROM notes LIMIT 1",
			"INSERT /* %s */ INTO notes (body) VALUES ('ro')",
		} {
			marker := fmt.Sprintf("rotx%02d", i)
			_, errOut, err := m.cliRun(t, harness.TestPassword, fmt.Sprintf(
				"START TRANSACTION READ ONLY; SELECT /* %[1]s-in */ COUNT(*) FROM notes; "+stmt, marker))
			if err == nil || !strings.Contains(errOut, "1792") {
				t.Errorf("%s: err %v, stderr %q; want error 1792", fmt.Sprintf(stmt, marker), err, errOut)
			}
			m.wantRanOn(t, marker+" ", "")
			m.wantRanOn(t, marker+"-in", "replica×1")
		}
		rows := m.cli(t, "START TRANSACTION READ ONLY; SELECT /* rotx-ok */ COUNT(*) > 0 FROM notes; ROLLBACK")
		wantRows(t, "a read-only transaction of reads", rows, "1")
		m.wantRanOn(t, "rotx-ok", "replica×1")
	})

	// Item 5: the proxy owns connection ids.
	t.Run("connection-ids", func(t *testing.T) {
		out := m.cli(t, "status; SELECT CONNECTION_ID(), CONNECTION_ID() + 0")
		var handshakeID string
		for _, line := range out {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "Connection" && f[1] == "id:" {
				handshakeID = f[2]
			}
		}
		last := strings.Fields(out[len(out)-1])
		if handshakeID == "" || len(last) != 2 || last[0] != handshakeID || last[1] != handshakeID {
			t.Fatalf("handshake id %q, CONNECTION_ID() answered %q", handshakeID, out[len(out)-1])
		}
		// An id the proxy did not hand out is refused with the server's error.
		_, errOut, err := m.cliRun(t, harness.TestPassword, "KILL 4000000000")
		if err == nil || !strings.Contains(errOut, "1094") {
			t.Errorf("KILL of an unknown id: %v %q, want 1094", err, errOut)
		}
		_, errOut, err = m.cliRun(t, harness.TestPassword, "KILL USER root")
		if err == nil || !strings.Contains(errOut, "1235") {
			t.Errorf("KILL USER: %v %q, want a refusal", err, errOut)
		}
	})

	t.Run("kill-query", func(t *testing.T) {
		for _, where := range []string{"replica", "primary"} {
			victim := m.conn(t, "")
			var id int64
			if err := victim.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				t.Fatal(err)
			}
			hint := map[string]string{"replica": "", "primary": "/* frontdesk:primary */ "}[where]
			done := make(chan error, 1)
			var slept int
			go func() {
				done <- victim.QueryRowContext(context.Background(), hint+"SELECT /* kq-"+where+" */ SLEEP(30)").Scan(&slept)
			}()
			m.waitRunning(t, "kq-"+where)
			killer := m.db(t, "")
			if _, err := killer.Exec(fmt.Sprintf("KILL QUERY %d", id)); err != nil {
				t.Fatalf("KILL QUERY %d: %v", id, err)
			}
			err := <-done
			var me *mysql.MySQLError
			if err == nil && slept == 0 || err != nil && !(errors.As(err, &me) && me.Number == 1317) {
				t.Errorf("%s: the statement ended with %d, %v; want it interrupted", where, slept, err)
			}
			// The session lives on.
			var one int
			if err := victim.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Errorf("%s: the session after KILL QUERY: %v", where, err)
			}
			victim.Close()
		}
	})

	// A user may kill its own sessions only, as on a server.
	t.Run("kill-denied", func(t *testing.T) {
		m.cluster.Primary.Exec("CREATE USER IF NOT EXISTS other IDENTIFIED BY 'other-secret'",
			"GRANT ALL ON frontdesk.* TO other")
		m.cluster.WaitReplicated()
		two := proxyFor(t, m.cluster, "user other other-secret")
		victim, err := sql.Open("mysql", harness.UserDSN(two.addr))
		if err != nil {
			t.Fatal(err)
		}
		defer victim.Close()
		var id int64
		if err := victim.QueryRow("SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		other, err := sql.Open("mysql", "other:other-secret@tcp("+two.addr+")/frontdesk")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		_, err = other.Exec(fmt.Sprintf("KILL QUERY %d", id))
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1095 {
			t.Errorf("KILL of another user's session: %v, want error 1095", err)
		}
	})

	t.Run("kill-connection", func(t *testing.T) {
		victim := m.conn(t, "")
		var id int64
		if err := victim.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := m.db(t, "").Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
			t.Fatal(err)
		}
		if err := victim.QueryRowContext(context.Background(), "SELECT 1").Scan(new(int)); err == nil {
			t.Error("the killed session still answers")
		}
		victim.Close()
	})

	// The mariadb client's Ctrl-C sends KILL QUERY <its id> on a connection
	// of its own.
	t.Run("ctrl-c", func(t *testing.T) {
		cmd := exec.Command(mariadbCLI(t), append(m.cliArgs(t, harness.TestPassword), "-e", "SELECT /* ctrlc */ SLEEP(30)")...)
		var errOut strings.Builder
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		m.waitRunning(t, "ctrlc")
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		if !strings.Contains(errOut.String(), "interrupted") && !strings.Contains(errOut.String(), "Ctrl-C") {
			t.Errorf("after Ctrl-C the client said %q", errOut.String())
		}
		for i := 0; m.countRunning(t, "ctrlc") != 0; i++ {
			if i == 100 {
				t.Fatalf("the statement still runs 10 s after Ctrl-C (the client said %q)", errOut.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	// Item 6: state that changes without a text SET reaches the reads
	// that follow, and LAST_INSERT_ID() answers from the inserting
	// connection whatever ran in between.
	t.Run("state-without-set", func(t *testing.T) {
		for _, tc := range []struct{ name, params, set, read, want string }{
			{"call", "interpolateParams=true", "CALL set_x()", "SELECT /* st-call */ @x", "42"},
			{"select-into", "interpolateParams=true", "SELECT 42 INTO @x", "SELECT /* st-into */ @x", "42"},
			{"execute-immediate", "interpolateParams=true", "EXECUTE IMMEDIATE 'SET @x = 42'", "SELECT /* st-immediate */ @x", "42"},
			{"get-diagnostics", "interpolateParams=true", "GET DIAGNOSTICS @x = NUMBER", "SELECT /* st-diag */ @x + 42", "42"},
			{"prepared-set", "", "SET @x = ?", "SELECT /* st-prepared */ @x", "42"},
		} {
			conn := m.conn(t, tc.params)
			var err error
			if strings.Contains(tc.set, "?") {
				_, err = conn.ExecContext(context.Background(), tc.set, 42)
			} else {
				_, err = conn.ExecContext(context.Background(), tc.set)
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.set, err)
			}
			var got sql.NullString
			if err := conn.QueryRowContext(context.Background(), tc.read).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got.String != tc.want {
				t.Errorf("%s: read back %q, want %q", tc.name, got.String, tc.want)
			}
			conn.Close()
		}
		rows := m.cli(t, "INSERT INTO notes (body) VALUES ('lid'); SELECT /* lid-between */ COUNT(*) > 0 FROM notes; "+
			"SELECT /* lid-answer */ LAST_INSERT_ID() = (SELECT MAX(id) FROM notes), @@identity = LAST_INSERT_ID()")
		wantRows(t, "LAST_INSERT_ID() after a read", rows, "1", "1\t1")
		m.wantRanOn(t, "lid-between", "replica×1")
	})

	// A client's own session_track_* settings do not switch read-your-writes
	// off: with both replicas behind, a write is read back at once.
	t.Run("client-session-tracking", func(t *testing.T) {
		for _, r := range m.cluster.Replicas {
			r.Lag()
		}
		defer func() {
			for _, r := range m.cluster.Replicas {
				r.Unlag()
				m.waitUsable(t, r.Addr(), true)
			}
		}()
		conn := m.conn(t, "interpolateParams=true")
		defer conn.Close()
		connExec(t, conn, "SET SESSION session_track_system_variables = ''")
		connExec(t, conn, "SET SESSION session_track_state_change = OFF")
		for i := range 20 {
			body := fmt.Sprintf("track-%d", i)
			connExec(t, conn, "INSERT INTO notes (body) VALUES ('"+body+"')")
			var n int
			if err := conn.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM notes WHERE body = ?", body).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("read %d rows of the session's own write %q", n, body)
			}
		}
	})

	// Item 7: repeated SETs of one variable are merged; a log that outgrows
	// its bound pins the session, counted, and its reads stay exact.
	t.Run("session-log-bounds", func(t *testing.T) {
		var b strings.Builder
		for i := range 600 {
			fmt.Fprintf(&b, "SET @same = %d; ", i)
		}
		b.WriteString("SELECT /* log-merged */ @same")
		wantRows(t, "600 SETs of one variable", m.cli(t, b.String()), "599")
		m.wantRanOn(t, "log-merged", "replica×1")

		before := m.pins(t)["session_log_full"]
		b.Reset()
		for i := range 300 {
			fmt.Fprintf(&b, "SET @v%d = %d; ", i, i)
		}
		b.WriteString("SELECT /* log-full */ @v0 + @v299")
		wantRows(t, "300 SETs of different variables", m.cli(t, b.String()), "299")
		m.wantRanOn(t, "log-full", "primary×1")
		if after := m.pins(t)["session_log_full"]; after != before+1 {
			t.Errorf("sessions_pinned.session_log_full went from %d to %d, want one more", before, after)
		}
	})

	// Item 10: a backend connection that the server closed while idle
	// (wait_timeout) is replaced without an error when the session's state
	// can be replayed; inside a transaction the client connection is closed,
	// so the driver sees a dead connection instead of an error 1105.
	t.Run("idle-backend-closed", func(t *testing.T) {
		for _, s := range m.cluster.All() {
			s.Exec("SET GLOBAL wait_timeout = 2")
		}
		defer func() {
			for _, s := range m.cluster.All() {
				s.Exec("SET GLOBAL wait_timeout = DEFAULT")
			}
		}()
		conn := m.conn(t, "interpolateParams=true")
		defer conn.Close()
		connExec(t, conn, "SET @kept = 7")
		var n int
		read := func(what string) {
			t.Helper()
			if err := conn.QueryRowContext(context.Background(), "SELECT /* idle-"+what+" */ @kept + COUNT(*) - COUNT(*) FROM notes").Scan(&n); err != nil || n != 7 {
				t.Fatalf("%s: read %d, %v; want 7", what, n, err)
			}
		}
		read("before")
		connExec(t, conn, "INSERT INTO notes (body) VALUES ('idle-1')")
		time.Sleep(3500 * time.Millisecond) // past wait_timeout: the servers close both connections
		read("after")
		connExec(t, conn, "INSERT INTO notes (body) VALUES ('idle-2')")
		m.wantRanOn(t, "idle-after", "replica×1")

		tx := m.conn(t, "interpolateParams=true")
		defer tx.Close()
		connExec(t, tx, "BEGIN")
		connExec(t, tx, "INSERT INTO notes (body) VALUES ('idle-tx')")
		time.Sleep(3500 * time.Millisecond)
		_, err := tx.ExecContext(context.Background(), "INSERT INTO notes (body) VALUES ('idle-tx-2')")
		var me *mysql.MySQLError
		if err == nil || errors.As(err, &me) {
			t.Errorf("a statement after the transaction's connection closed: %v; want the client connection closed", err)
		}
	})

	// Item 8: one read-target decision for text and prepared reads:
	// when_no_replica error answers both with an error when no replica is
	// usable, instead of quietly reading from the primary.
	t.Run("when-no-replica-error", func(t *testing.T) {
		strict := proxyFor(t, m.cluster, "when_no_replica error")
		for _, r := range m.cluster.Replicas {
			r.Lag()
			strict.waitUsable(t, r.Addr(), false)
		}
		defer func() {
			for _, r := range m.cluster.Replicas {
				r.Unlag()
				m.waitUsable(t, r.Addr(), true)
			}
		}()
		for _, mode := range []struct{ name, params string }{{"text", "interpolateParams=true"}, {"prepared", ""}} {
			var n int
			err := strict.db(t, mode.params).QueryRow("SELECT /* nrep-"+mode.name+" */ COUNT(*) FROM notes WHERE id > ?", 0).Scan(&n)
			if err == nil || !strings.Contains(err.Error(), "no replica is usable") {
				t.Errorf("%s read with no usable replica: %v; want the no-replica error", mode.name, err)
			}
			m.wantRanOn(t, "nrep-"+mode.name, "")
		}
	})

	// Item 9: global read-your-writes. One connection writes, another reads
	// at once, with both replicas behind: the read sees the write.
	t.Run("read-your-writes-global", func(t *testing.T) {
		global := proxyFor(t, m.cluster, "read_your_writes global 50ms")
		writer, reader := global.db(t, "interpolateParams=true"), global.db(t, "interpolateParams=true")
		for _, r := range m.cluster.Replicas {
			r.Delay(2 * time.Second)
		}
		defer func() {
			for _, r := range m.cluster.Replicas {
				r.Delay(0)
				m.waitUsable(t, r.Addr(), true)
			}
		}()
		misses := 0
		for i := range 100 {
			body := fmt.Sprintf("global-%d", i)
			mustExec(t, writer, "INSERT INTO notes (body) VALUES (?)", body)
			var n int
			if err := reader.QueryRow("SELECT COUNT(*) FROM notes WHERE body = ?", body).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				misses++
			}
		}
		if misses != 0 {
			t.Errorf("%d of 100 reads on another connection missed a write committed before them", misses)
		}
		mustExec(t, writer, "INSERT INTO notes (body) VALUES ('global-proof')")
		if n, err := m.cluster.Replicas[0].QueryString("SELECT COUNT(*) FROM frontdesk.notes WHERE body = 'global-proof'"); err != nil || n != "0" {
			t.Fatalf("a replica had a write at once (%s, %v): the replicas are not behind, so this test proves nothing", n, err)
		}
	})

	// A wait_timeout the client sets bounds its own session, as on a direct
	// connection.
	t.Run("client-wait_timeout", func(t *testing.T) {
		conn := m.conn(t, "")
		defer conn.Close()
		connExec(t, conn, "SET SESSION wait_timeout = 1")
		time.Sleep(2500 * time.Millisecond)
		var me *mysql.MySQLError
		if err := conn.QueryRowContext(context.Background(), "SELECT 1").Scan(new(int)); err == nil || errors.As(err, &me) {
			t.Errorf("a session idle past its wait_timeout answered: %v; want its connection closed", err)
		}
	})
}

// conn returns one connection of go-sql-driver to the proxy, so that a
// test's statements share a session.
func (m *mysqlProxy) conn(t *testing.T, params string) *sql.Conn {
	t.Helper()
	c, err := m.db(t, params).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func connExec(t *testing.T, c *sql.Conn, q string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// sessionValue runs set on the primary directly and returns expr there:
// what a session on the primary sees.
func (m *mysqlProxy) sessionValue(t *testing.T, set, expr string) string {
	t.Helper()
	db, err := sql.Open("mysql", m.cluster.Primary.UserDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, s := range strings.Split(set, "; ") {
		connExec(t, c, s)
	}
	var v string
	if err := c.QueryRowContext(context.Background(), "SELECT "+expr).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// waitMonitorSQLMode waits until every backend's monitor has seen want as
// its server's global sql_mode.
func (m *mysqlProxy) waitMonitorSQLMode(t *testing.T, want string) {
	t.Helper()
	// Every backend's monitor: a pooled connection is reset under the new
	// defaults once its own backend's monitor has seen them (README,
	// Connection pooling: within one monitor interval).
	for range 100 {
		body, err := m.fd.AdminGet("/mysql/servers")
		if err == nil && strings.Count(string(body), `"sql_mode":"`+want+`"`) >= len(m.cluster.All()) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the monitors never all reported sql_mode %s", want)
}

// countRunning counts the servers whose process list shows a statement
// with marker.
func (m *mysqlProxy) countRunning(t *testing.T, marker string) int {
	t.Helper()
	n := 0
	for _, s := range m.cluster.All() {
		v, err := s.QueryString("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND COMMAND = 'Query' AND ID != CONNECTION_ID()", "%"+marker+"%")
		if err == nil && v != "0" {
			n++
		}
	}
	return n
}

// waitRunning waits until a statement with marker runs on a server.
func (m *mysqlProxy) waitRunning(t *testing.T, marker string) {
	t.Helper()
	for range 200 {
		if m.countRunning(t, marker) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no server runs %q", marker)
}

// pins returns the server's sessions_pinned counters.
func (m *mysqlProxy) pins(t *testing.T) map[string]int64 {
	t.Helper()
	body, err := m.fd.AdminGet("/mysql/servers")
	if err != nil {
		t.Fatal(err)
	}
	var status map[string]struct {
		SessionsPinned map[string]int64 `json:"sessions_pinned"`
	}
	if err := json.Unmarshal(body, &status); err != nil {
		t.Fatalf("/mysql/servers: %v: %s", err, body)
	}
	return status["main"].SessionsPinned
}
