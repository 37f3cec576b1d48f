package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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

// TestMySQLReloadGrace bounds the life of the old config's sessions with
// reload_grace: after it, an old session ends at its next idle point, and
// new sessions go on working.
func TestMySQLReloadGrace(t *testing.T) {
	m := startMySQLProxyWith(t, "reload_grace 1s")
	ctx := context.Background()
	conn, err := m.db(t, "").Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := m.fd.Load(withServerOptions(t, "reload_grace 1s", "idle_timeout 2h"), harness.Caddyfile); err != nil {
		t.Fatal(err)
	}
	if err := conn.PingContext(ctx); err != nil {
		t.Fatalf("the old session ended before its grace period: %v", err)
	}
	err = harness.Eventually(15*time.Second, 100*time.Millisecond, func() error {
		if err := conn.PingContext(ctx); err == nil {
			return errors.New("the old session is still open")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := m.db(t, "").QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatalf("a new session after the grace period: %v", err)
	}
}

// TestMySQLReloadsUnderSysbench runs 20 config reloads through the admin API
// while sysbench oltp_read_write runs through the proxy and a bounded loop
// keeps connecting, querying and disconnecting: sysbench reports no error
// and no reconnect, and no connection of the loop is refused or fails.
func TestMySQLReloadsUnderSysbench(t *testing.T) {
	m := startMySQLProxy(t)
	sb := m.prepareSysbench(t, "oltp_read_write")

	baseline := m.goroutines(t)
	results := make(chan harness.SysbenchResult, 1)
	go func() {
		results <- harness.Sysbench(t, 2*time.Minute, append(sb, "--threads=4", "--time=15", "--report-interval=0", "run")...)
	}()
	var connects, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for range 5000 {
			select {
			case <-stop:
				return
			default:
			}
			c, err := harness.DialRaw(m.addr, harness.TestUser, harness.TestPassword, harness.TestDatabase, harness.RawCaps)
			if err == nil {
				_, err = c.Query("SELECT 1")
				c.Close()
			}
			if err != nil {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, err.Error())
				continue
			}
			connects.Add(1)
		}
	}()

	for i := range 20 {
		time.Sleep(400 * time.Millisecond)
		if err := m.fd.Load(withServerOptions(t, fmt.Sprintf("idle_timeout %dh", i+1)), harness.Caddyfile); err != nil {
			t.Errorf("reload %d: %v", i+1, err)
		}
	}
	res := <-results
	close(stop)
	<-loopDone
	t.Logf("sysbench through 20 reloads: %s", res)
	t.Logf("connect/query/disconnect loop: %d ok, %d failed (first: %v)", connects.Load(), failures.Load(), firstFailure.Load())
	if res.IgnoredErrors != 0 || res.Reconnects != 0 || res.Transactions == 0 {
		t.Errorf("sysbench: %s; want transactions, no errors, no reconnects", res)
	}
	if failures.Load() != 0 || connects.Load() == 0 {
		t.Errorf("the connect loop had %d failures in %d tries", failures.Load(), failures.Load()+connects.Load())
	}

	// Nothing leaks: once the clients are gone, the proxy holds no session,
	// no backend connection but the idle ones of its pool (the example
	// pools), and no more goroutines than before the load.
	err := harness.Eventually(20*time.Second, 200*time.Millisecond, func() error {
		body, err := m.fd.AdminGet("/mysql/servers")
		if err != nil {
			return err
		}
		var servers map[string]struct {
			SessionsOpen int `json:"sessions_open"`
			Backends     []struct {
				Address string `json:"address"`
				Conns   int    `json:"open_connections"`
				Pool    *struct {
					Idle  int `json:"idle"`
					InUse int `json:"in_use"`
				} `json:"pool"`
			}
		}
		if err := json.Unmarshal(body, &servers); err != nil {
			return err
		}
		main := servers["main"]
		open := 0
		for _, b := range main.Backends {
			open += b.Conns
			if b.Pool != nil {
				open -= b.Pool.Idle
			}
		}
		if n := m.goroutines(t); main.SessionsOpen != 0 || open != 0 || n > baseline+5 {
			return fmt.Errorf("%d sessions, %d backend connections and %d goroutines (%d before the load) remain",
				main.SessionsOpen, open, n, baseline)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// goroutines counts the proxy process's goroutines, from the admin API's
// pprof endpoint.
func (m *mysqlProxy) goroutines(t *testing.T) int {
	t.Helper()
	body, err := m.fd.AdminGet("/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscanf(string(body), "goroutine profile: total %d", &n); err != nil {
		t.Fatalf("reading the goroutine count: %v", err)
	}
	return n
}
