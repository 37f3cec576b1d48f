package integration

import (
	"strings"
	"testing"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestMySQLClientMariaDBCLI drives the proxy with the mariadb command-line
// client, one client session per subtest, and proves on the servers' own
// general logs that writes and transactions run on the primary, plain reads
// and read-only transactions on a replica, and that session state (user
// variables, time zone, character set, current database) set through the
// proxy is in force on the replica that answers, while per-connection
// answers (LAST_INSERT_ID()) and temporary tables stay on the primary.
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

	t.Run("failed-login", func(t *testing.T) {
		_, errOut, err := m.cliRun(t, "not-the-password", "SELECT /* cli-denied */ 1")
		if err == nil || !strings.Contains(errOut, "ERROR 1045 (28000)") {
			t.Errorf("login with a wrong password: %v, %q; want ERROR 1045 (28000)", err, errOut)
		}
		m.wantRanOn(t, "cli-denied", "")
		wantRows(t, "a login after a refused one", m.cli(t, "SELECT 1"), "1")
	})
}
