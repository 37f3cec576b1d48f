package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestMySQLSessionsSurviveReload reloads the config through the admin API
// while one client session stays open and new ones keep connecting: the
// listener is kept across config generations, so no connection is refused,
// and the open session keeps working on the config it started with.
func TestMySQLSessionsSurviveReload(t *testing.T) {
	m := startMySQLProxy(t)
	db := m.db(t, "")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET @guest = 'stays'"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		// Each reload changes the config (the idle timeout), so Caddy runs
		// a full new generation rather than skipping an identical one.
		next := withServerOptions(t, fmt.Sprintf("idle_timeout %dh", i+1))
		if err := m.fd.Load(next, harness.Caddyfile); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		var got string
		if err := conn.QueryRowContext(ctx, "SELECT @guest").Scan(&got); err != nil || got != "stays" {
			t.Fatalf("after reload %d the open session read %q (%v), want its own variable", i+1, got, err)
		}
		fresh := m.db(t, "")
		var one int
		if err := fresh.QueryRow("SELECT 1").Scan(&one); err != nil {
			t.Fatalf("a new session after reload %d: %v", i+1, err)
		}
		fresh.Close()
	}
	if err := conn.PingContext(ctx); err != nil {
		t.Fatalf("the open session broke after the reloads: %v", err)
	}
}
