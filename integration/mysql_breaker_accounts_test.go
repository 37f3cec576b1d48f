package integration

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestMySQLAccountErrorsKeepBreakersClosed: one account's mistakes must not
// open a backend's breaker for everyone. With breakers that open after 2
// failures in a row, an account the backends do not know (1045) and one at
// its max_user_connections (1226) fail again and again through the proxy;
// every breaker stays closed and the good account keeps reading and
// writing.
func TestMySQLAccountErrorsKeepBreakersClosed(t *testing.T) {
	c := harness.StartCluster(t, 2)
	c.Primary.Exec(
		"CREATE USER 'limited'@'%' IDENTIFIED BY 'limited-pw' WITH MAX_USER_CONNECTIONS 1",
		"GRANT ALL ON "+harness.TestDatabase+".* TO 'limited'@'%'",
	)
	c.WaitReplicated()
	m := proxyFor(t, c,
		"user ghost ghost-pw",
		"user limited limited-pw",
		fmt.Sprintf("health {\n\t\t\t\tuser %s %s\n\t\t\t\tbreaker_failures 2\n\t\t\t}", harness.TestUser, harness.TestPassword))

	// The limited account's one connection, held on every server.
	for _, s := range c.All() {
		hold, err := sql.Open("mysql", strings.Replace(s.UserDSN(), harness.TestUser+":"+harness.TestPassword, "limited:limited-pw", 1))
		if err != nil {
			t.Fatal(err)
		}
		hold.SetMaxOpenConns(1)
		defer hold.Close()
		if err := hold.Ping(); err != nil {
			t.Fatalf("holding limited's connection on %s: %v", s.Addr(), err)
		}
	}

	for _, account := range []struct{ user, password, want string }{
		{"ghost", "ghost-pw", "1045"},
		{"limited", "limited-pw", "max_user_connections"}, // 1226 (1203 for the global limit)
	} {
		dsn := strings.Replace(harness.UserDSN(m.addr), harness.TestUser+":"+harness.TestPassword, account.user+":"+account.password, 1)
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			for _, stmt := range []string{"DO 1", "SELECT 1"} { // the primary, then a replica
				if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), account.want) {
					t.Fatalf("%s, try %d, %s: %v; want the backend's error %s", account.user, i+1, stmt, err, account.want)
				}
			}
		}
		db.Close()
	}

	waitBackendsOf(t, m.fd, "main", func(backends []backendView) bool {
		for _, b := range backends {
			if b.Breaker != "closed" || !b.Usable {
				t.Errorf("backend %s: breaker %s, usable %v after account errors; want closed and usable", b.Address, b.Breaker, b.Usable)
			}
		}
		return len(backends) == 3
	})
	good := m.db(t, "")
	if _, err := good.Exec("CREATE TABLE IF NOT EXISTS breaker_accounts (id INT)"); err != nil {
		t.Fatalf("the good account's write: %v", err)
	}
	var one int
	if err := good.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the good account's read: %v", err)
	}
}
