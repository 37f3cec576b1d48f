package integration

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy"
)

// poolView is what /mysql/servers shows of a backend's pool.
type poolView struct {
	Address string                 `json:"address"`
	Role    string                 `json:"role"`
	Pool    *mysqlproxy.PoolStatus `json:"pool"`
}

// primaryPool returns the pool state of the primary of server main.
func (m *mysqlProxy) primaryPool(t *testing.T) poolView {
	t.Helper()
	body, err := m.fd.AdminGet("/mysql/servers")
	if err != nil {
		t.Fatal(err)
	}
	var servers map[string]struct{ Backends []poolView }
	if err := json.Unmarshal(body, &servers); err != nil {
		t.Fatal(err)
	}
	for _, b := range servers["main"].Backends {
		if b.Role == "primary" {
			if b.Pool == nil {
				t.Fatalf("the primary shows no pool: %s", body)
			}
			return b
		}
	}
	t.Fatalf("no primary in %s", body)
	return poolView{}
}

// waitPoolIdle waits until the primary's pool holds idle connections and
// none in use: sessions give theirs back after they end.
func (m *mysqlProxy) waitPoolIdle(t *testing.T) poolView {
	t.Helper()
	var p poolView
	err := harness.Eventually(10*time.Second, 20*time.Millisecond, func() error {
		if p = m.primaryPool(t); p.Pool.InUse != 0 || p.Pool.Idle == 0 {
			return fmt.Errorf("pool %+v", *p.Pool)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serverConnections is the primary's count of connection attempts.
func serverConnections(t *testing.T, s *harness.MariaDB) int {
	t.Helper()
	v, err := s.QueryString("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'CONNECTIONS'")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMySQLPool drives pooled backend connections through the built binary
// against the real cluster: connect-per-request clients served with no
// backend login, no state leaking from one client to the next on a shared
// connection, a bounded wait with a clear error when the pool is
// exhausted, connections killed while idle in the pool replaced unseen,
// and the pool kept across a reload.
func TestMySQLPool(t *testing.T) {
	c := harness.StartCluster(t, 2)
	for _, s := range c.All() {
		s.LogStatements()
	}
	pool := "pool {\n\t\t\t\tmax_connections 1\n\t\t\t\twait_timeout 1s\n\t\t\t}"
	m := proxyFor(t, c, pool)
	sessionIn := func(t *testing.T, db string) *harness.RawConn {
		t.Helper()
		s, err := harness.DialRaw(m.addr, harness.TestUser, harness.TestPassword, db, harness.RawCaps)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	session := func(t *testing.T) *harness.RawConn { t.Helper(); return sessionIn(t, harness.TestDatabase) }
	first := session(t)
	mustQuery(t, first, "CREATE TABLE pooled (id INT PRIMARY KEY, note TEXT)")
	first.Close()
	m.waitPoolIdle(t)

	t.Run("connect per request", func(t *testing.T) {
		before, logins := m.primaryPool(t), serverConnections(t, c.Primary)
		for i := range 30 {
			s := session(t)
			mustQuery(t, s, fmt.Sprintf("INSERT INTO pooled VALUES (%d, 'per request')", 1000+i))
			s.Close()
			m.waitPoolIdle(t)
		}
		after := m.waitPoolIdle(t)
		if got := after.Pool.Borrows - before.Pool.Borrows; got != 30 || after.Pool.Creates != before.Pool.Creates {
			t.Errorf("30 sessions: %d borrows and %d creates, want every one served from the pool", got, after.Pool.Creates-before.Pool.Creates)
		}
		// The monitor may log in again now and then; 30 clients did not.
		if n := serverConnections(t, c.Primary) - logins; n > 2 {
			t.Errorf("the primary saw %d logins for 30 pooled sessions", n)
		}
	})

	t.Run("untouched goes back without a reset", func(t *testing.T) {
		// The login's database check borrows the primary and runs nothing
		// on it; the read runs on a replica. The primary's connection goes
		// back as the last reset left it.
		before := m.waitPoolIdle(t)
		s := session(t)
		mustQuery(t, s, "SELECT /* untouched */ 1")
		s.Close()
		after := m.waitPoolIdle(t)
		if after.Pool.Borrows != before.Pool.Borrows+1 || after.Pool.Resets != before.Pool.Resets {
			t.Errorf("primary pool: borrows %d -> %d, resets %d -> %d; want one borrow and no reset",
				before.Pool.Borrows, after.Pool.Borrows, before.Pool.Resets, after.Pool.Resets)
		}
		m.wantRanOn(t, "untouched", "replica×1")
	})

	t.Run("no state leaks to the next client", func(t *testing.T) {
		a := session(t)
		for _, stmt := range []string{
			"SET @leak = 'from a'", "SET SESSION sql_mode = 'ANSI'", "SET time_zone = '+05:00'",
			"SET NAMES latin1", "SET TIMESTAMP = 1", "CREATE TEMPORARY TABLE leak_tmp (i INT)",
			"SELECT GET_LOCK('leak', 0)", "BEGIN", "INSERT INTO pooled VALUES (1, 'uncommitted')",
		} {
			mustQuery(t, a, stmt)
		}
		a.Close()
		m.waitPoolIdle(t)
		b := session(t)
		defer b.Close()
		global, err := c.Primary.QueryString("SELECT @@global.sql_mode")
		if err != nil {
			t.Fatal(err)
		}
		for _, check := range []struct{ sql, want string }{
			{"SELECT /* frontdesk:primary */ COALESCE(@leak, 'none')", "none"},
			{"SELECT /* frontdesk:primary */ @@session.sql_mode", global},
			{"SELECT /* frontdesk:primary */ @@session.time_zone", "SYSTEM"},
			{"SELECT /* frontdesk:primary */ @@character_set_client", "utf8mb4"},
			{"SELECT /* frontdesk:primary */ UNIX_TIMESTAMP() > 1000000000", "1"},
			{"SELECT /* frontdesk:primary */ IS_FREE_LOCK('leak')", "1"},
			{"SELECT /* frontdesk:primary */ COUNT(*) FROM pooled WHERE id = 1", "0"},
		} {
			rows, err := b.Query(check.sql)
			if err != nil || len(rows) != 1 || rows[0] != check.want {
				t.Errorf("client b: %s = %q (%v), want %q", check.sql, rows, err, check.want)
			}
		}
		if _, err := b.Query("SELECT /* frontdesk:primary */ * FROM leak_tmp"); err == nil || !strings.Contains(err.Error(), "1146") {
			t.Errorf("client b reads client a's temporary table: %v", err)
		}
	})

	t.Run("a SET GLOBAL reaches pooled connections", func(t *testing.T) {
		m.waitPoolIdle(t)
		digest := func() string {
			body, err := m.fd.AdminGet("/mysql/servers")
			if err != nil {
				t.Fatal(err)
			}
			var servers map[string]struct {
				Backends []struct {
					Role   string `json:"role"`
					Health struct {
						Defaults string `json:"session_defaults"`
					} `json:"health"`
				}
			}
			if err := json.Unmarshal(body, &servers); err != nil {
				t.Fatal(err)
			}
			return servers["main"].Backends[0].Health.Defaults
		}
		before := digest()
		c.Primary.Exec("SET GLOBAL div_precision_increment = 7")
		defer c.Primary.Exec("SET GLOBAL div_precision_increment = DEFAULT")
		err := harness.Eventually(10*time.Second, 50*time.Millisecond, func() error {
			if digest() == before {
				return fmt.Errorf("the monitor has not seen the change yet")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s := session(t)
		defer s.Close()
		if rows, err := s.Query("SELECT /* frontdesk:primary */ @@session.div_precision_increment"); err != nil || len(rows) != 1 || rows[0] != "7" {
			t.Errorf("a pooled session after SET GLOBAL div_precision_increment = 7 reads %q (%v)", rows, err)
		}
	})

	t.Run("no database left on a replica connection", func(t *testing.T) {
		// The replica connection replays USE information_schema; the
		// session then goes back to its login database on the primary
		// and ends before the replica catches up again. The replica
		// connection must go back to the pool in the login database.
		m.waitPoolIdle(t)
		a := session(t)
		for _, stmt := range []string{"SELECT 1", "USE information_schema", "SELECT 2", "USE " + harness.TestDatabase} {
			mustQuery(t, a, stmt)
		}
		a.Close()
		m.waitPoolIdle(t)
		for i := range 4 { // sessions take turns over the two replicas
			b := session(t)
			rows, err := b.Query("SELECT /* pool-db */ DATABASE()")
			b.Close()
			if err != nil || len(rows) != 1 || rows[0] != harness.TestDatabase {
				t.Fatalf("session %d reads DATABASE() = %q (%v), want %s", i+1, rows, err, harness.TestDatabase)
			}
		}
		if n := c.Replicas[0].Ran("pool-db") + c.Replicas[1].Ran("pool-db"); n != 4 {
			t.Errorf("%d of the 4 DATABASE() reads ran on replicas, want all", n)
		}
	})

	t.Run("exhausted", func(t *testing.T) {
		holder := session(t)
		mustQuery(t, holder, "BEGIN")
		mustQuery(t, holder, "INSERT INTO pooled VALUES (2, 'held')")
		// Logged in with no database, so the login itself takes no
		// backend connection.
		waiter := sessionIn(t, "")
		defer waiter.Close()
		before := m.primaryPool(t).Pool.Timeouts
		_, err := waiter.Query("INSERT INTO " + harness.TestDatabase + ".pooled VALUES (3, 'waits')")
		if err == nil || !strings.Contains(err.Error(), "1040") || !strings.Contains(err.Error(), "pool max_connections") {
			t.Fatalf("a write while the only connection is held: %v, want error 1040 naming the pool's max_connections", err)
		}
		if got := m.primaryPool(t).Pool.Timeouts - before; got != 1 {
			t.Errorf("%d timeouts counted, want 1", got)
		}
		mustQuery(t, holder, "COMMIT")
		holder.Close()
		mustQuery(t, waiter, "INSERT INTO "+harness.TestDatabase+".pooled VALUES (3, 'waited')")
	})

	t.Run("killed while idle", func(t *testing.T) {
		m.waitPoolIdle(t)
		m.killIdle(t, c.Primary)
		s := session(t)
		defer s.Close()
		if _, err := s.Query("INSERT INTO pooled VALUES (4, 'after the kill')"); err != nil {
			t.Fatalf("a write after the pooled connections were killed: %v", err)
		}
	})

	t.Run("SET TRANSACTION keeps its connection for the transaction it is for", func(t *testing.T) {
		// The characteristics of a session's next transaction live on its
		// connection: the session keeps it until that transaction, and no
		// other session's statement runs with them.
		m.waitPoolIdle(t)
		a, b := session(t), session(t) // both logged in over the one connection
		defer a.Close()
		defer b.Close()
		mustQuery(t, a, "SET TRANSACTION READ ONLY")
		if _, err := b.Query("INSERT INTO pooled VALUES (901, 'b while a waits')"); err == nil || !strings.Contains(err.Error(), "1040") {
			t.Errorf("b's insert while a's next transaction waits: %v, want 1040 (b must not run in a's READ ONLY transaction)", err)
		}
		mustQuery(t, a, "BEGIN")
		if _, err := a.Query("INSERT INTO pooled VALUES (902, 'a')"); err == nil || !strings.Contains(err.Error(), "1792") {
			t.Errorf("a's insert in the transaction it made READ ONLY: %v, want error 1792", err)
		}
		mustQuery(t, a, "ROLLBACK")
		mustQuery(t, b, "INSERT INTO pooled VALUES (903, 'b after a')")
	})

	t.Run("a backend restarted while its connections sat in the pool", func(t *testing.T) {
		// Every pooled connection to the replica dies with it; once it is
		// back, sessions read from it with no error: the dead ones are
		// found (by the monitor's look at idle sockets, or at the borrow)
		// and replaced.
		m.waitPoolIdle(t)
		r := c.Replicas[0]
		r.Kill()
		r.Start()
		m.waitUsable(t, r.Addr(), true)
		for i := range 8 {
			s := session(t)
			_, err := s.Query(fmt.Sprintf("SELECT /* after-restart-%d */ 1", i))
			s.Close()
			if err != nil {
				t.Fatalf("session %d after the replica's restart: %v", i+1, err)
			}
		}
	})

	t.Run("kept across a reload", func(t *testing.T) {
		m.waitPoolIdle(t)
		before := m.primaryPool(t)
		next := withServerOptions(t, strings.Replace(pool, "wait_timeout 1s", "wait_timeout 2s", 1))
		if err := m.fd.Load(next, harness.Caddyfile); err != nil {
			t.Fatal(err)
		}
		s := session(t)
		mustQuery(t, s, "INSERT INTO pooled VALUES (5, 'after the reload')")
		s.Close()
		if after := m.waitPoolIdle(t); after.Pool.Creates != before.Pool.Creates {
			t.Errorf("the reload cost the pool its connections: %d creates before, %d after", before.Pool.Creates, after.Pool.Creates)
		}
	})

	t.Run("min_idle opens connections ahead of need", func(t *testing.T) {
		next := withServerOptions(t, strings.Replace(pool, "wait_timeout 1s", "wait_timeout 2s\n\t\t\t\tmin_idle 1", 1))
		if err := m.fd.Load(next, harness.Caddyfile); err != nil {
			t.Fatal(err)
		}
		m.waitPoolIdle(t)
		// The server ends the idle connections; with no client at all,
		// the pool opens one again.
		before := m.primaryPool(t)
		m.killIdle(t, c.Primary)
		err := harness.Eventually(15*time.Second, 50*time.Millisecond, func() error {
			p := m.primaryPool(t)
			if p.Pool.Creates == before.Pool.Creates || p.Pool.Idle == 0 {
				return fmt.Errorf("pool %+v, %d creates before", *p.Pool, before.Pool.Creates)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a user removed from the config loses its pooled connections", func(t *testing.T) {
		m.waitPoolIdle(t)
		next := strings.Replace(withServerOptions(t, pool), "user {$FRONTDESK_MYSQL_USER:app} {$FRONTDESK_MYSQL_PASSWORD:app-password}",
			"user someone_else another-password", 1)
		if err := m.fd.Load(next, harness.Caddyfile); err != nil {
			t.Fatal(err)
		}
		err := harness.Eventually(10*time.Second, 50*time.Millisecond, func() error {
			if p := m.primaryPool(t); p.Pool.Open != 0 {
				return fmt.Errorf("pool %+v", *p.Pool)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// killIdle kills the test user's idle connections on server s, and waits
// until they are gone.
func (m *mysqlProxy) killIdle(t *testing.T, s *harness.MariaDB) {
	t.Helper()
	db := s.AdminDB()
	rows, err := db.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND = 'Sleep'", harness.TestUser)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		db.Exec(fmt.Sprintf("KILL CONNECTION %d", id))
	}
	err = harness.Eventually(10*time.Second, 20*time.Millisecond, func() error {
		var left int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND = 'Killed'", harness.TestUser).Scan(&left); err != nil {
			return err
		}
		if left > 0 {
			return fmt.Errorf("%d connections still being killed", left)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
