package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestMySQLSwitchoverByReadOnly lists just the servers and lets the monitor
// find the writable one: after a manual switchover (the old primary set
// read_only, a replica promoted and set writable), writes follow the new
// primary with no config change, and the same client sessions go on.
func TestMySQLSwitchoverByReadOnly(t *testing.T) {
	c := harness.StartCluster(t, 2)
	for _, s := range c.All() {
		s.LogStatements()
	}
	addr := harness.FreeAddr(t)
	var servers []string
	for _, s := range c.All() {
		servers = append(servers, s.Addr())
	}
	fd := harness.StartFrontdesk(t, fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	mysql {
		server main {
			listen %s
			servers %s
			user %s %s
		}
	}
}
`, addr, strings.Join(servers, " "), harness.TestUser, harness.TestPassword), harness.Caddyfile)
	m := &mysqlProxy{cluster: c, fd: fd, addr: addr}
	db := m.db(t, "")
	mustExec(t, db, "CREATE TABLE shifts (id INT PRIMARY KEY)")
	mustExec(t, db, "INSERT /* before-switch */ INTO shifts VALUES (1)")
	old, promoted := c.Primary, c.Replicas[0]
	if n := old.Ran("before-switch"); n != 1 {
		t.Fatalf("before the switchover the write ran %d times on the configured first server", n)
	}

	c.Switchover(promoted)
	m.waitUsable(t, promoted.Addr(), true)
	err := harness.Eventually(20*time.Second, 100*time.Millisecond, func() error {
		_, err := db.Exec("INSERT /* after-switch */ INTO shifts VALUES (2)")
		return err
	})
	if err != nil {
		t.Fatalf("writes did not follow the new primary: %v", err)
	}
	if n := promoted.Ran("after-switch"); n != 1 {
		t.Errorf("the promoted server ran %d of the writes after the switchover (they ran on %s)", n, m.ranOn("after-switch"))
	}
	c.WaitReplicated()
	var rows int
	if err := db.QueryRow("SELECT COUNT(*) FROM shifts").Scan(&rows); err != nil || rows != 2 {
		t.Errorf("after the switchover the table reads %d rows (%v), want 2", rows, err)
	}
}
