package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// monitoredBackend is what /mysql/servers shows of a backend's monitoring.
type monitoredBackend struct {
	Address string `json:"address"`
	Usable  bool   `json:"usable"`
	Health  *struct {
		Checked   time.Time `json:"checked"`
		Reachable bool      `json:"reachable"`
		Error     string    `json:"error"`
	} `json:"health"`
}

// waitCheckedSince waits until the monitor has checked every backend of the
// running config after since, and returns what it found.
func (m *mysqlProxy) waitCheckedSince(t *testing.T, since time.Time) []monitoredBackend {
	t.Helper()
	var backends []monitoredBackend
	err := harness.Eventually(20*time.Second, 100*time.Millisecond, func() error {
		body, err := m.fd.AdminGet("/mysql/servers")
		if err != nil {
			return err
		}
		var servers map[string]struct{ Backends []monitoredBackend }
		if err := json.Unmarshal(body, &servers); err != nil {
			return err
		}
		backends = servers["main"].Backends
		if len(backends) != 3 {
			return fmt.Errorf("%d backends shown, want 3: %s", len(backends), body)
		}
		for _, b := range backends {
			if b.Health == nil || !b.Health.Checked.After(since) {
				return fmt.Errorf("backend %s not checked again yet", b.Address)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return backends
}

// TestMySQLRefusedReloadChangesNothing POSTs configs that would give the
// monitor a wrong password and are refused: by the mysql app's own
// validation, by the clash of an HTTP site with its listen address, and by
// another app that fails to start after the mysql app started (an HTTP site
// on a port that is taken; tried three times, as Caddy starts apps in no
// fixed order). After each, the running config's monitor credentials are
// in force (every backend reachable and usable at the monitor's next
// check), the listener still hands new clients to the running config, and
// a session that was open stays intact.
func TestMySQLRefusedReloadChangesNothing(t *testing.T) {
	m := startMySQLProxy(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ctx := context.Background()
	conn, err := m.db(t, "").Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET @guest = 'stays'"); err != nil {
		t.Fatal(err)
	}
	wrongMonitor := "health {\n\t\t\t\tuser " + harness.TestUser + " wrong-password\n\t\t\t}"
	site := func(addr string) string { return fmt.Sprintf("\nhttp://%s {\n\trespond \"site\"\n}\n", addr) }
	anotherApp := withServerOptions(t, wrongMonitor) + site(taken.Addr().String())
	refusals := []struct{ name, config, want string }{
		{"validation", withServerOptions(t, wrongMonitor, "reload_grace -1s"), "reload_grace must not be negative"},
		{"listen clash", withServerOptions(t, wrongMonitor) + site(m.addr), m.addr},
		{"another app 1", anotherApp, "address already in use"},
		{"another app 2", anotherApp, "address already in use"},
		{"another app 3", anotherApp, "address already in use"},
	}
	for _, r := range refusals {
		before := time.Now()
		err := m.fd.Load(r.config, harness.Caddyfile)
		if err == nil || !strings.Contains(err.Error(), r.want) {
			t.Fatalf("%s: reload %v, want it refused with %q", r.name, err, r.want)
		}
		for _, b := range m.waitCheckedSince(t, before) {
			if !b.Health.Reachable || !b.Usable {
				t.Errorf("%s: after the refused reload backend %s is reachable=%v usable=%v (%s): the refused config's monitor credentials are in force",
					r.name, b.Address, b.Health.Reachable, b.Usable, b.Health.Error)
			}
		}
		var got string
		if err := conn.QueryRowContext(ctx, "SELECT @guest").Scan(&got); err != nil || got != "stays" {
			t.Fatalf("%s: the open session read %q (%v)", r.name, got, err)
		}
		fresh := m.db(t, "")
		if _, err := fresh.Exec("DO 1"); err != nil {
			t.Fatalf("%s: a new session after the refused reload: %v", r.name, err)
		}
		fresh.Close()
	}
}

// TestMySQLOldSessionsSeeCurrentHealth keeps a session of a replaced config
// reading from a replica that the new config no longer lists, then stops
// that replica's replication: the session's reads leave it, since the
// backend's monitor runs on for as long as a session of any config uses it
// (before the fix the node was released with the old config, its last
// finding frozen at "usable", and the session read stale data there
// forever).
func TestMySQLOldSessionsSeeCurrentHealth(t *testing.T) {
	m := startMySQLProxy(t)
	kept, dropped := m.cluster.Replicas[0], m.cluster.Replicas[1]
	ctx := context.Background()

	// Make the old session read from the replica that will be dropped.
	kept.Lag()
	m.waitUsable(t, kept.Addr(), false)
	conn, err := m.db(t, "").Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	read := func(marker string) {
		t.Helper()
		var got string
		if err := conn.QueryRowContext(ctx, "SELECT '"+marker+"'").Scan(&got); err != nil {
			t.Fatalf("read %s: %v", marker, err)
		}
	}
	read("old-session-before")
	if dropped.Ran("old-session-before") != 1 {
		t.Fatalf("the old session's read ran on %s, want the replica that will be dropped", m.ranOn("old-session-before"))
	}
	kept.Unlag()
	m.waitUsable(t, kept.Addr(), true)

	config := strings.Replace(withServerOptions(t), "{$FRONTDESK_MYSQL_REPLICAS:127.0.0.1:3308}", kept.Addr(), 1)
	if err := m.fd.Load(config, harness.Caddyfile); err != nil {
		t.Fatal(err)
	}
	read("old-session-after-reload")
	dropped.Lag()
	defer dropped.Unlag()
	var marker string
	err = harness.Eventually(20*time.Second, 200*time.Millisecond, func() error {
		marker = fmt.Sprintf("old-session-%d", time.Now().UnixNano())
		read(marker)
		if dropped.Ran(marker) > 0 {
			return fmt.Errorf("the old session still reads from the dropped replica, whose replication stopped")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if where := m.ranOn(marker); where == "" {
		t.Fatalf("read %s ran nowhere", marker)
	}
}
