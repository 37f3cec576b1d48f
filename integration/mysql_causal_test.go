package integration

import (
	"testing"
	"time"
)

// TestMySQLReadYourWrites writes and at once reads the row back, 1000 times,
// while both replicas apply every event three seconds late: with
// read_your_writes, no read misses its own write (it waits briefly for a
// replica, then goes to the primary). A direct read from a replica proves
// the replicas really are behind.
func TestMySQLReadYourWrites(t *testing.T) {
	m := startMySQLProxyWith(t, "read_your_writes session 20ms")
	setup := m.db(t, "")
	mustExec(t, setup, "CREATE TABLE stays (id INT PRIMARY KEY)")
	m.cluster.WaitReplicated()
	for _, r := range m.cluster.Replicas {
		r.Delay(3 * time.Second)
	}
	for _, r := range m.cluster.Replicas {
		m.waitUsable(t, r.Addr(), true)
	}

	misses := 0
	for _, mode := range []struct {
		params string
		from   int
	}{{"interpolateParams=true", 0}, {"", 500}} {
		db := m.db(t, mode.params)
		db.SetMaxOpenConns(1)
		for i := mode.from; i < mode.from+500; i++ {
			mustExec(t, db, "INSERT INTO stays VALUES (?)", i)
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM stays WHERE id = ?", i).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				misses++
			}
		}
	}
	if misses != 0 {
		t.Errorf("%d of 1000 reads missed the session's own write", misses)
	}
	mustExec(t, setup, "INSERT INTO stays VALUES (5000)")
	if n := countRows(t, m, "stays", 5000); n != 0 {
		t.Fatal("a replica had a write at once: the replicas are not behind, so this test proves nothing")
	}
}

// countRows counts the rows with id on the first replica, asked directly.
func countRows(t *testing.T, m *mysqlProxy, table string, id int) int {
	t.Helper()
	n, err := m.cluster.Replicas[0].QueryString("SELECT COUNT(*) FROM frontdesk."+table+" WHERE id = ?", id)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]int{"0": 0}[n] + map[string]int{"1": 1}[n]
}
