package integration

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestClusterReplicates proves the MariaDB part of the harness: a row
// written on the primary is readable on both replicas, replicas refuse the
// test user's writes, and a killed replica or a lagging one catches up
// once restored.
func TestClusterReplicates(t *testing.T) {
	c := harness.StartCluster(t, 2)
	primary := openUserDB(t, c.Primary)
	mustExec(t, primary, "CREATE TABLE rooms (id INT PRIMARY KEY, guest VARCHAR(64))")
	mustExec(t, primary, "INSERT INTO rooms VALUES (101, 'first guest')")
	c.WaitReplicated()
	for _, r := range c.Replicas {
		assertGuest(t, r, 101, "first guest")
		assertReadOnly(t, r)
	}

	// A killed replica misses writes while down and catches up after restore.
	down := c.Replicas[0]
	down.Kill()
	mustExec(t, primary, "INSERT INTO rooms VALUES (102, 'while replica1 was down')")
	down.Start()
	c.WaitReplicated()
	assertGuest(t, down, 102, "while replica1 was down")

	// A lagging replica does not see a write until its SQL thread runs again.
	lagging := c.Replicas[1]
	lagging.Lag()
	mustExec(t, primary, "INSERT INTO rooms VALUES (103, 'while replica2 lagged')")
	pos, err := c.Primary.QueryString("SELECT @@gtid_binlog_pos")
	if err != nil {
		t.Fatal(err)
	}
	if err := lagging.WaitGTID(pos, time.Second); err == nil {
		t.Fatalf("lagging replica reached %s with its SQL thread stopped", pos)
	}
	if n := countGuests(t, lagging, 103); n != 0 {
		t.Fatalf("lagging replica has row 103 with its SQL thread stopped")
	}
	lagging.Unlag()
	c.WaitReplicated()
	assertGuest(t, lagging, 103, "while replica2 lagged")
}

func openUserDB(t *testing.T, s *harness.MariaDB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", s.UserDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func countGuests(t *testing.T, s *harness.MariaDB, id int) int {
	t.Helper()
	n, err := s.QueryString(fmt.Sprintf("SELECT COUNT(*) FROM %s.rooms WHERE id = ?", harness.TestDatabase), id)
	if err != nil {
		t.Fatalf("%s: %v", s.Name, err)
	}
	return map[string]int{"0": 0, "1": 1}[n]
}

func assertGuest(t *testing.T, s *harness.MariaDB, id int, want string) {
	t.Helper()
	got, err := s.QueryString(fmt.Sprintf("SELECT guest FROM %s.rooms WHERE id = ?", harness.TestDatabase), id)
	if err != nil || got != want {
		t.Fatalf("%s: room %d: got %q (%v), want %q", s.Name, id, got, err, want)
	}
}

// assertReadOnly checks that the test user cannot write on s: the server
// answers ER_OPTION_PREVENTS_STATEMENT (1290) because it runs read_only.
func assertReadOnly(t *testing.T, s *harness.MariaDB) {
	t.Helper()
	db := openUserDB(t, s)
	_, err := db.Exec("INSERT INTO rooms VALUES (999, 'must not land')")
	var myErr *mysql.MySQLError
	if !errors.As(err, &myErr) || myErr.Number != 1290 {
		t.Fatalf("%s: a write by the test user gave %v, want error 1290 (read_only)", s.Name, err)
	}
}
