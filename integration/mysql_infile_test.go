package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestMySQLLocalInfile checks that LOAD DATA LOCAL INFILE, which lets the
// server ask the client for a file, is refused with a clear error by
// default, and relays the client's file to the primary when the server
// allows it.
func TestMySQLLocalInfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "guests.csv")
	if err := os.WriteFile(file, []byte("1,Ada\n2,Grace\n3,Alan\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mysql.RegisterLocalFile(file)
	load := "LOAD DATA LOCAL INFILE '" + file + "' INTO TABLE arrivals FIELDS TERMINATED BY ','"

	t.Run("refused by default", func(t *testing.T) {
		m := startMySQLProxy(t)
		db := m.db(t, "")
		mustExec(t, db, "CREATE TABLE arrivals (id INT PRIMARY KEY, name VARCHAR(64))")
		_, err := db.Exec(load)
		if err == nil || !strings.Contains(err.Error(), "local infile") {
			t.Fatalf("LOAD DATA LOCAL gave %v, want an error about local infile being disabled", err)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		m := startMySQLProxyWith(t, "allow_local_infile")
		db := m.db(t, "")
		mustExec(t, db, "CREATE TABLE arrivals (id INT PRIMARY KEY, name VARCHAR(64))")
		mustExec(t, db, load)
		var n int
		if err := db.QueryRow("SELECT /* frontdesk:primary */ COUNT(*) FROM arrivals").Scan(&n); err != nil || n != 3 {
			t.Fatalf("after LOAD DATA LOCAL: %d rows (%v), want 3", n, err)
		}
	})
}
