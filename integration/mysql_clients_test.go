package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// TestMySQLClientMariaDBCLI drives the proxy with the mariadb command-line
// client, one client session per subtest, and proves on the servers' own
// general logs that writes and transactions run on the primary, plain reads
// and read-only transactions on a replica, and that session state (user
// variables, time zone, character set, current database) set through the
// proxy is in force on the replica that answers, while per-connection
// answers (LAST_INSERT_ID()) and temporary tables stay on the primary. A
// routing hint works with --comments only, as documented, since the client
// strips comments otherwise.
func TestMySQLClientMariaDBCLI(t *testing.T) {
	mariadbCLI(t)
	m := startMySQLProxy(t)
	c := m.cluster
	c.Primary.Exec(
		"CREATE TABLE frontdesk.visits (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(32))",
		"INSERT INTO frontdesk.visits (who) VALUES ('seed1'), ('seed2'), ('seed3')",
		"CREATE DATABASE otherdb",
		"GRANT ALL ON otherdb.* TO '"+harness.TestUser+"'@'%'",
		"CREATE TABLE otherdb.rooms (name VARCHAR(32))",
		"INSERT INTO otherdb.rooms VALUES ('suite')",
	)
	c.WaitReplicated()

	t.Run("split", func(t *testing.T) {
		m.cli(t, "INSERT /* cli-write */ INTO visits (who) VALUES ('ann'), ('bob')")
		c.WaitReplicated()
		rows := m.cli(t, "SELECT /* cli-read */ who FROM visits WHERE who IN ('ann', 'bob') ORDER BY who")
		wantRows(t, "read after write", rows, "ann", "bob")
		m.wantRanOn(t, "cli-write", "primary×1")
		m.wantRanOn(t, "cli-read", "replica×1")
	})

	t.Run("user-variable", func(t *testing.T) {
		rows := m.cli(t, "SET /* cli-set-v */ @v = 42; "+
			"SELECT /* cli-uservar-replica */ @v; "+
			"/* frontdesk:primary */ SELECT /* cli-uservar-primary */ @v")
		wantRows(t, "@v read on a replica, then on the primary", rows, "42", "42")
		m.wantRanOn(t, "cli-set-v", "primary×1,replica×1") // run, then replayed
		m.wantRanOn(t, "cli-uservar-replica", "replica×1")
		m.wantRanOn(t, "cli-uservar-primary", "primary×1")
	})

	t.Run("time-zone", func(t *testing.T) {
		rows := m.cli(t, "SET /* cli-set-tz */ SESSION time_zone = '+05:00'; "+
			"SELECT /* cli-tz */ @@session.time_zone, FROM_UNIXTIME(0)")
		wantRows(t, "time zone on a replica", rows, "+05:00\t1970-01-01 05:00:00")
		m.wantRanOn(t, "cli-set-tz", "primary×1,replica×1")
		m.wantRanOn(t, "cli-tz", "replica×1")
	})

	t.Run("use", func(t *testing.T) {
		// The client sends USE as COM_INIT_DB.
		rows := m.cli(t, "USE otherdb; SELECT /* cli-usedb */ DATABASE(), name FROM rooms")
		wantRows(t, "unqualified read after USE", rows, "otherdb\tsuite")
		m.wantRanOn(t, "cli-usedb", "replica×1")
	})

	t.Run("set-names", func(t *testing.T) {
		rows := m.cli(t, "SET /* cli-set-names */ NAMES latin1; "+
			"SELECT /* cli-names */ @@character_set_client, @@character_set_connection, @@character_set_results")
		wantRows(t, "character set on a replica", rows, "latin1\tlatin1\tlatin1")
		m.wantRanOn(t, "cli-set-names", "primary×1,replica×1")
		m.wantRanOn(t, "cli-names", "replica×1")
	})

	t.Run("transaction", func(t *testing.T) {
		// The row is visible only inside the transaction, on the primary.
		rows := m.cli(t, "BEGIN; "+
			"INSERT /* cli-tx-insert */ INTO visits (who) VALUES ('in-tx'); "+
			"SELECT /* cli-tx-select */ COUNT(*) FROM visits WHERE who = 'in-tx'; "+
			"COMMIT /* cli-tx-commit */")
		wantRows(t, "read of the transaction's own write", rows, "1")
		for _, marker := range []string{"cli-tx-insert", "cli-tx-select", "cli-tx-commit"} {
			m.wantRanOn(t, marker, "primary×1")
		}
	})

	t.Run("read-only-transaction", func(t *testing.T) {
		rows := m.cli(t, "START TRANSACTION READ ONLY /* cli-ro-begin */; "+
			"SELECT /* cli-ro-1 */ COUNT(*) FROM visits WHERE who LIKE 'seed%'; "+
			"SELECT /* cli-ro-2 */ @@in_transaction; "+
			"COMMIT /* cli-ro-commit */")
		wantRows(t, "read-only transaction", rows, "3", "1")
		m.wantOneReplica(t, "cli-ro-begin", "cli-ro-1", "cli-ro-2", "cli-ro-commit")
	})

	t.Run("last-insert-id", func(t *testing.T) {
		rows := m.cli(t, "INSERT /* cli-lid-insert */ INTO visits (who) VALUES ('lid'); "+
			"SELECT /* cli-lid-select */ LAST_INSERT_ID()")
		id, err := c.Primary.QueryString("SELECT id FROM frontdesk.visits WHERE who = 'lid'")
		if err != nil {
			t.Fatal(err)
		}
		if id == "" || id == "0" || id == "1" {
			t.Fatalf("the inserted row has id %q; the test needs one other than 0 and 1", id)
		}
		wantRows(t, "LAST_INSERT_ID()", rows, id)
		m.wantRanOn(t, "cli-lid-insert", "primary×1")
		m.wantRanOn(t, "cli-lid-select", "primary×1")
	})

	t.Run("temporary-table", func(t *testing.T) {
		rows := m.cli(t, "CREATE TEMPORARY TABLE scratch (i INT); "+
			"INSERT INTO scratch VALUES (1), (2), (3); "+
			"SELECT /* cli-tmp-sum */ SUM(i) FROM scratch; "+
			"SELECT /* cli-tmp-after */ COUNT(*) FROM visits WHERE who LIKE 'seed%'")
		wantRows(t, "reads of a temporary table", rows, "6", "3")
		m.wantRanOn(t, "cli-tmp-sum", "primary×1")
		m.wantRanOn(t, "cli-tmp-after", "primary×1") // the session stays pinned
	})

	t.Run("hints-need-comments", func(t *testing.T) {
		// The marker is a string here: without --comments, the client
		// strips comment markers along with the routing hint.
		hinted := "/* frontdesk:primary */ SELECT 'cli-hint-kept'"
		wantRows(t, "hinted read", m.cli(t, hinted), "cli-hint-kept")
		m.wantRanOn(t, "cli-hint-kept", "primary×1")

		var args []string
		for _, a := range m.cliArgs(t, harness.TestPassword) {
			if a != "--comments" {
				args = append(args, a)
			}
		}
		out, errOut, err := runCLI(t, append(args, "-e", strings.Replace(hinted, "kept", "stripped", 1)))
		if err != nil || out != "cli-hint-stripped\n" {
			t.Fatalf("hinted read without --comments: %v, %q %q", err, out, errOut)
		}
		m.wantRanOn(t, "cli-hint-stripped", "replica×1")
	})

	t.Run("failed-login", func(t *testing.T) {
		_, errOut, err := m.cliRun(t, "not-the-password", "SELECT /* cli-denied */ 1")
		if err == nil || !strings.Contains(errOut, "ERROR 1045 (28000)") {
			t.Errorf("login with a wrong password: %v, %q; want ERROR 1045 (28000)", err, errOut)
		}
		m.wantRanOn(t, "cli-denied", "")
		wantRows(t, "a login after a refused one", m.cli(t, "SELECT 1"), "1")
	})
}

// pymysqlScript is what TestMySQLClientPyMySQL runs in Debian's python3,
// one phase per run: argv is phase, host, port, user, password, database.
// It prints what it read as one JSON object.
const pymysqlScript = `
import json, sys
import pymysql, pymysql.cursors

phase, host, port, user, password, db = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]

def connect(**kw):
    return pymysql.connect(host=host, port=port, user=user, password=password, database=db,
                           charset="utf8mb4", connect_timeout=10, read_timeout=30, write_timeout=30, **kw)

out = {}
if phase == "write":
    c = connect(autocommit=True)
    with c.cursor() as cur:
        cur.execute("CREATE TABLE py_guests (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64), nights INT)")
        cur.execute("INSERT /* py-insert */ INTO py_guests (name, nights) VALUES (%s, %s)", ("ann", 1))
        out["insert_rows"], out["insert_id"] = cur.rowcount, cur.lastrowid
        # PyMySQL turns this into one multi-row INSERT.
        cur.executemany("INSERT /* py-many-insert */ INTO py_guests (name, nights) VALUES (%s, %s)",
                        [("bob", 2), ("cy", 3), ("dee", 4)])
        out["many_insert_rows"] = cur.rowcount
        # And this into one UPDATE per row.
        cur.executemany("UPDATE /* py-many-update */ py_guests SET nights = nights + %s WHERE name = %s",
                        [(10, "bob"), (10, "cy")])
        out["many_update_rows"] = cur.rowcount
    c.close()
elif phase == "read":
    c = connect(autocommit=True)
    c.ping(reconnect=False)
    with c.cursor() as cur:
        cur.execute("SELECT /* py-select-all */ name, nights FROM py_guests ORDER BY id")
        out["rows"] = [[name, nights] for name, nights in cur.fetchall()]
        cur.execute("SELECT /* py-select-param */ nights FROM py_guests WHERE name = %s", ("cy",))
        out["cy_nights"] = cur.fetchone()[0]
        cur.execute("SET /* py-set-var */ @floor = 10")
        cur.execute("SELECT /* py-select-var */ COUNT(*) FROM py_guests WHERE nights > @floor")
        out["above_floor"] = cur.fetchone()[0]
    with c.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SELECT /* py-dict */ name, nights FROM py_guests WHERE nights > %s ORDER BY name", (5,))
        out["dict_rows"] = cur.fetchall()
    # An unbuffered cursor: rows are read from the socket as they are iterated.
    with c.cursor(pymysql.cursors.SSCursor) as cur:
        cur.execute("SELECT /* py-unbuffered */ id FROM py_guests ORDER BY id")
        out["unbuffered_ids"] = [row[0] for row in cur]
    c.close()
elif phase == "transaction":
    # PyMySQL's default is autocommit off: everything is a transaction.
    c = connect()
    with c.cursor() as cur:
        cur.execute("INSERT /* py-tx-insert */ INTO py_guests (name, nights) VALUES ('eve', 5)")
        cur.execute("SELECT /* py-tx-own-write */ COUNT(*) FROM py_guests WHERE name = 'eve'")
        out["own_write"] = cur.fetchone()[0]
    c.commit()
    with c.cursor() as cur:
        cur.execute("INSERT /* py-tx-rolled-back */ INTO py_guests (name, nights) VALUES ('ghost', 0)")
    c.rollback()
    with c.cursor() as cur:
        cur.execute("SELECT /* py-tx-after */ name FROM py_guests WHERE name IN ('eve', 'ghost')")
        out["after_rollback"] = [row[0] for row in cur.fetchall()]
    c.commit()
    c.close()
    # An explicit transaction on an autocommit connection.
    c = connect(autocommit=True)
    c.begin()
    with c.cursor() as cur:
        cur.execute("UPDATE /* py-begin-update */ py_guests SET nights = 0 WHERE name = 'eve'")
        cur.execute("SELECT /* py-begin-select */ nights FROM py_guests WHERE name = 'eve'")
        out["begin_read"] = cur.fetchone()[0]
    c.commit()
    c.close()
print(json.dumps(out))
`

// pymysqlResult is what pymysqlScript prints.
type pymysqlResult struct {
	InsertRows     int              `json:"insert_rows"`
	InsertID       int              `json:"insert_id"`
	ManyInsertRows int              `json:"many_insert_rows"`
	ManyUpdateRows int              `json:"many_update_rows"`
	Rows           [][]any          `json:"rows"`
	CyNights       int              `json:"cy_nights"`
	AboveFloor     int              `json:"above_floor"`
	DictRows       []map[string]any `json:"dict_rows"`
	UnbufferedIDs  []int            `json:"unbuffered_ids"`
	OwnWrite       int              `json:"own_write"`
	AfterRollback  []string         `json:"after_rollback"`
	BeginRead      int              `json:"begin_read"`
}

// debianPython is Debian's python3, which has python3-pymysql (not a
// pyenv python that may come first on PATH).
const debianPython = "/usr/bin/python3"

// pymysql runs one phase of pymysqlScript against the proxy.
func (m *mysqlProxy) pymysql(t *testing.T, script, phase string) pymysqlResult {
	t.Helper()
	cmd := exec.Command(debianPython, script, phase, "127.0.0.1", m.port(t),
		harness.TestUser, harness.TestPassword, harness.TestDatabase)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("PyMySQL %s phase: %v\n%s%s", phase, err, out, stderr.Bytes())
	}
	var res pymysqlResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("PyMySQL %s phase printed %q: %v", phase, out, err)
	}
	return res
}

// TestMySQLClientPyMySQL drives the proxy with PyMySQL (Debian's
// python3-pymysql, text protocol): single and executemany writes land on
// the primary; buffered, dict and unbuffered reads in autocommit mode on a
// replica, with a user variable set through the proxy in force there; and
// with PyMySQL's default autocommit=0, or after begin(), every statement
// stays on the primary, where commit and rollback do what they say.
func TestMySQLClientPyMySQL(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import pymysql").Run(); err != nil {
		harness.Unavailable(t, "%s with PyMySQL (apt-get install python3-pymysql): %v", debianPython, err)
	}
	script := filepath.Join(t.TempDir(), "pymysql_client.py")
	if err := os.WriteFile(script, []byte(pymysqlScript), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startMySQLProxy(t)

	w := m.pymysql(t, script, "write")
	if w.InsertRows != 1 || w.InsertID != 1 || w.ManyInsertRows != 3 || w.ManyUpdateRows != 2 {
		t.Errorf("writes: %+v; want 1 row with id 1, 3 rows, 2 rows", w)
	}
	m.wantRanOn(t, "py-insert", "primary×1")
	m.wantRanOn(t, "py-many-insert", "primary×1")
	m.wantRanOn(t, "py-many-update", "primary×2")
	m.cluster.WaitReplicated()

	r := m.pymysql(t, script, "read")
	if got, want := fmt.Sprint(r.Rows), "[[ann 1] [bob 12] [cy 13] [dee 4]]"; got != want {
		t.Errorf("rows: got %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(r.DictRows), "[map[name:bob nights:12] map[name:cy nights:13]]"; got != want {
		t.Errorf("dict rows: got %s, want %s", got, want)
	}
	if r.CyNights != 13 || r.AboveFloor != 2 || fmt.Sprint(r.UnbufferedIDs) != "[1 2 3 4]" {
		t.Errorf("reads: %+v; want cy_nights 13, above_floor 2, unbuffered_ids [1 2 3 4]", r)
	}
	for _, marker := range []string{"py-select-all", "py-select-param", "py-select-var", "py-dict", "py-unbuffered"} {
		m.wantRanOn(t, marker, "replica×1")
	}
	m.wantRanOn(t, "py-set-var", "primary×1,replica×1")

	tx := m.pymysql(t, script, "transaction")
	if tx.OwnWrite != 1 || fmt.Sprint(tx.AfterRollback) != "[eve]" || tx.BeginRead != 0 {
		t.Errorf("transactions: %+v; want own_write 1, after_rollback [eve], begin_read 0", tx)
	}
	for _, marker := range []string{"py-tx-insert", "py-tx-own-write", "py-tx-rolled-back", "py-tx-after",
		"py-begin-update", "py-begin-select"} {
		m.wantRanOn(t, marker, "primary×1")
	}
	m.cluster.WaitReplicated()
	for _, s := range m.cluster.All() {
		if n, err := s.QueryString("SELECT COUNT(*) FROM frontdesk.py_guests WHERE name = 'ghost'"); err != nil || n != "0" {
			t.Errorf("%s holds %s rolled-back rows (%v), want 0", s.Name, n, err)
		}
	}
}

// sysbenchCounters are the Com_* counters a sysbench run moves.
var sysbenchCounters = []string{"com_select", "com_insert", "com_update", "com_delete", "com_begin", "com_commit",
	"com_stmt_prepare", "com_stmt_execute", "com_stmt_close"}

// writeCounters count the writes a server ran, its clients' and those it
// applied as a replica alike.
var writeCounters = []string{"com_insert", "com_update", "com_delete"}

// TestMySQLClientSysbench runs sysbench's oltp_read_write through the proxy
// with server-side prepared statements (prepare too goes through the
// proxy), first with its transactions and then with --skip_trx=on. Both runs
// must be clean: no errors, no reconnects. The servers' own status counters
// prove where every statement ran. sysbench is the only client that
// executes prepared statements, so Com_stmt_execute counts exactly its
// statements: with transactions, all of them ran on the primary; with
// --skip_trx=on, every read ran on a replica and every write on the
// primary, and the reads were spread over both replicas. The replicas'
// write counters grow by no more than the primary's (replication only), and
// in the end every server holds the same rows. Read-your-writes is off: with
// it, a read right after a write may go to the primary, which this test
// would count as misrouted (bench-mysql measures what it costs).
func TestMySQLClientSysbench(t *testing.T) {
	m := startMySQLProxyWith(t, "read_your_writes off")
	sb := m.prepareSysbench(t, "oltp_read_write")

	for _, mode := range []struct {
		name    string
		skipTrx bool
	}{
		{"transactions", false},
		{"skip-trx", true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			args := append(sb, "--threads=4", "--time=10", "--report-interval=0")
			if mode.skipTrx {
				// Without transactions, two threads that delete and re-insert
				// the same row collide on its key (error 1062, through a proxy
				// or not): leave the DELETE/INSERT pair out, the UPDATEs write.
				args = append(args, "--skip_trx=on", "--delete_inserts=0")
			}
			before := clusterStatus(t, m.cluster)
			res := harness.Sysbench(t, 2*time.Minute, append(args, "run")...)
			after := clusterStatus(t, m.cluster)
			m.cluster.WaitReplicated()
			replicated := clusterStatus(t, m.cluster)
			t.Logf("sysbench oltp_read_write %s: %s", mode.name, res)
			t.Logf("status deltas: %s", describeDeltas(before, after, sysbenchCounters...))

			if res.IgnoredErrors != 0 || res.Reconnects != 0 || res.Reads == 0 || res.Writes == 0 {
				t.Errorf("sysbench: %s; want reads and writes, no errors, no reconnects\n%s", res, res.Output)
			}
			primary, replicas := after[0].since(before[0], "com_stmt_execute"), int64(0)
			var each []int64
			for i := 1; i < len(after); i++ {
				n := after[i].since(before[i], "com_stmt_execute")
				replicas += n
				each = append(each, n)
			}
			if mode.skipTrx {
				if replicas != res.Reads || primary != res.Writes+res.Other {
					t.Errorf("the replicas executed %d statements and the primary %d; want the %d reads on the replicas "+
						"and the %d writes on the primary", replicas, primary, res.Reads, res.Writes+res.Other)
				}
				// 4 sessions over 2 healthy, equally idle replicas: each
				// replica must get some of them.
				for i, n := range each {
					if n == 0 {
						t.Errorf("replica%d executed none of the reads (per replica: %v)", i+1, each)
					}
				}
			} else if primary != res.Queries || replicas != 0 {
				t.Errorf("the primary executed %d statements and the replicas %d; want all %d on the primary",
					primary, replicas, res.Queries)
			}
			// An UPDATE that matches no row replicates nothing, so the replicas
			// may have applied fewer writes than the primary ran, never more.
			wrote := replicated[0].since(before[0], writeCounters...)
			for i := 1; i < len(replicated); i++ {
				if n := replicated[i].since(before[i], writeCounters...); n > wrote {
					t.Errorf("replica%d ran %d writes, the primary %d: only replicated writes may run there", i, n, wrote)
				}
			}
		})
	}
	wantSameChecksums(t, m.cluster, "sbtest.sbtest1", "sbtest.sbtest2")
}

// wantSameChecksums checks that every server of the cluster holds the same
// rows in tables.
func wantSameChecksums(t *testing.T, c *harness.Cluster, tables ...string) {
	t.Helper()
	for _, table := range tables {
		var want string
		for i, s := range c.All() {
			var name, sum string
			if err := s.AdminDB().QueryRow("CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
				t.Fatalf("%s: CHECKSUM TABLE %s: %v", s.Name, table, err)
			}
			if i == 0 {
				want = sum
			} else if sum != want {
				t.Errorf("%s: %s has checksum %s, the primary %s", s.Name, table, sum, want)
			}
		}
	}
}

// parallelSession runs a read in a loop on one go-sql-driver connection
// until stop is called, which returns how many reads succeeded and the
// first failure.
func (m *mysqlProxy) parallelSession(t *testing.T, marker string) (stop func() (int, error)) {
	t.Helper()
	conn, err := m.db(t, "").Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done, finished := make(chan struct{}), make(chan struct{})
	var ok int
	var failure error
	go func() {
		defer close(finished)
		defer conn.Close()
		for range 100000 {
			select {
			case <-done:
				return
			default:
			}
			var n int
			if err := conn.QueryRowContext(context.Background(), "SELECT /* "+marker+" */ 1").Scan(&n); err != nil || n != 1 {
				failure = fmt.Errorf("read %d: %d, %v", ok+1, n, err)
				return
			}
			ok++
			time.Sleep(2 * time.Millisecond) // leave the CPU to the rest
		}
	}()
	return func() (int, error) {
		close(done)
		<-finished
		return ok, failure
	}
}

// TestMySQLClientBadInput sends the proxy what no well-behaved client
// would, through raw TCP with the proxy's own wire codec: a wrong password,
// garbage, TLS or out-of-sequence packets instead of a handshake response,
// unknown command bytes, COM_STMT_* commands naming unknown statements or
// cut short, and oversize packets. Each gets the ERR packet MySQL would
// send (and a closed connection where MariaDB closes it too), the session
// that sent it works on where the protocol allows, and a session opened
// before, as well as a parallel one that keeps reading throughout, never
// notice.
func TestMySQLClientBadInput(t *testing.T) {
	m := startMySQLProxy(t)
	stop := m.parallelSession(t, "bad-input-parallel")
	bystander := rawSession(t, m)
	wantQuery(t, bystander, "SELECT 'before'", "before")

	t.Run("failed-login", func(t *testing.T) {
		for _, login := range []struct{ user, password string }{
			{harness.TestUser, "not-the-password"},
			{harness.TestUser, ""},
			{"nobody", harness.TestPassword},
		} {
			c := dialGreeted(t, m.addr)
			wantSQLError(t, fmt.Sprintf("login as %q with password %q", login.user, login.password),
				c.login(login.user, login.password), wire.ERAccessDeniedError)
			wantClosed(t, c.conn, "after a refused login")
		}
		wantQuery(t, rawSession(t, m), "SELECT 'next login'", "next login")
	})

	t.Run("garbage-handshake", func(t *testing.T) {
		c := dialGreeted(t, m.addr)
		c.send([]byte("not a handshake response"))
		wantSQLError(t, "garbage handshake response", c.reply(), wire.ERHandshakeError)
		wantClosed(t, c.conn, "after a garbage handshake response")

		c = dialGreeted(t, m.addr)
		c.send(wire.AppendSSLRequest(nil, harness.RawCaps|wire.ClientSSL, 1<<24, 45))
		wantSQLError(t, "TLS request", c.reply(), wire.ERNotSupportedAuthMode)
		wantClosed(t, c.conn, "after a TLS request")
	})

	t.Run("out-of-order-packets", func(t *testing.T) {
		// What an HTTP client sends: its first bytes read as a packet header
		// with sequence id 0x20 where 1 is due.
		c := dialGreeted(t, m.addr)
		if _, err := c.conn.Write([]byte("GET / HTTP/1.1\r\nHost: frontdesk\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		wantOutOfOrder(t, c.conn, "an HTTP request instead of a handshake response")

		// A command whose sequence id is 5 instead of 0.
		s := rawSession(t, m)
		s.PC.SetSeq(5)
		if err := s.Write(append([]byte{wire.ComQuery}, "SELECT 1"...)); err != nil {
			t.Fatal(err)
		}
		wantOutOfOrder(t, s.Conn, "a command with sequence id 5")
	})

	t.Run("unknown-command", func(t *testing.T) {
		c := rawSession(t, m)
		// COM_SLEEP, COM_SHUTDOWN, COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID,
		// COM_STMT_BULK_EXECUTE (never negotiated) and bytes no command has.
		for _, cmd := range []byte{0x00, 0x08, 0x12, 0x1e, 0xfa, 0x7f, 0xff} {
			wantCommandError(t, c, fmt.Sprintf("command 0x%02x", cmd), []byte{cmd, 1, 2, 3}, wire.ERUnknownComError)
			wantQuery(t, c, fmt.Sprintf("SELECT 'after 0x%02x'", cmd), fmt.Sprintf("after 0x%02x", cmd))
		}
	})

	t.Run("prepared-statements", func(t *testing.T) {
		c := rawSession(t, m)
		id := prepare(t, c, "SELECT /* bad-input-stmt */ ? + 1")
		if v, err := executeInt(c, id, 41); err != nil || v != 42 {
			t.Fatalf("executing a good statement: %d, %v; want 42", v, err)
		}
		unknown := id + 1000
		wantCommandError(t, c, "COM_STMT_EXECUTE of an unknown statement", executePacket(unknown, 1), wire.ERUnknownStmtHandler)
		wantCommandError(t, c, "COM_STMT_FETCH of an unknown statement",
			stmtPacket(wire.ComStmtFetch, unknown, 1, 0, 0, 0), wire.ERUnknownStmtHandler)
		wantCommandError(t, c, "COM_STMT_RESET of an unknown statement",
			stmtPacket(wire.ComStmtReset, unknown), wire.ERUnknownStmtHandler)
		wantCommandError(t, c, "COM_STMT_EXECUTE of 3 bytes", []byte{wire.ComStmtExecute, 1, 0}, wire.ERMalformedPacket)
		wantCommandError(t, c, "COM_STMT_EXECUTE without its parameters",
			stmtPacket(wire.ComStmtExecute, id, 0, 1, 0, 0, 0), wire.ERMalformedPacket)
		// Commands without a reply must get none, even when they are wrong:
		// a stray answer would be read as the reply to the next command.
		for _, p := range [][]byte{
			stmtPacket(wire.ComStmtSendLongData, unknown, 0, 0, 'x'),
			stmtPacket(wire.ComStmtClose, unknown),
			{wire.ComStmtClose, 1},
		} {
			if err := c.Send(p); err != nil {
				t.Fatal(err)
			}
		}
		if v, err := executeInt(c, id, 99); err != nil || v != 100 {
			t.Errorf("executing the good statement again: %d, %v; want 100", v, err)
		}
		if err := c.Send(stmtPacket(wire.ComStmtClose, id)); err != nil {
			t.Fatal(err)
		}
		wantCommandError(t, c, "COM_STMT_EXECUTE of a closed statement", executePacket(id, 1), wire.ERUnknownStmtHandler)
		wantQuery(t, c, "SELECT 'after the statements'", "after the statements")
	})

	t.Run("oversize-packet", func(t *testing.T) {
		// 65 MiB, sent as 5 chunks: more than the proxy's 64 MiB limit. The
		// proxy skips it and the session goes on (MariaDB would close it).
		c := rawSession(t, m)
		huge := make([]byte, 65<<20)
		huge[0] = wire.ComQuery
		wantCommandError(t, c, "a 65 MiB COM_QUERY", huge, wire.ERNetPacketTooLarge)
		wantQuery(t, c, "SELECT 'after 65 MiB'", "after 65 MiB")

		// A header announcing a 16 MiB chunk, a little of it, and goodbye.
		c = rawSession(t, m)
		if _, err := c.Conn.Write(append([]byte{0xff, 0xff, 0xff, 0}, make([]byte, 1<<20)...)); err != nil {
			t.Fatal(err)
		}
		c.Conn.Close()
	})

	wantQuery(t, bystander, "SELECT 'after'", "after")
	reads, err := stop()
	if err != nil || reads == 0 {
		t.Errorf("the parallel session: %d reads, then %v; want reads and no failure", reads, err)
	}
	t.Logf("the parallel session read %d times without a failure", reads)
	if m.fd.Exited() {
		t.Error("frontdesk exited")
	}
	if n := m.cluster.Primary.Ran("bad-input-parallel"); n != 0 {
		t.Errorf("the primary ran %d of the parallel session's reads, want 0", n)
	}
}
