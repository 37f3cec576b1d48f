package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// muxBackend is what /mysql/servers shows of one backend.
type muxBackend struct {
	Address string                 `json:"address"`
	Role    string                 `json:"role"`
	Pool    *mysqlproxy.PoolStatus `json:"pool"`
}

// muxBackends reads the backends of server main from the admin API, with an
// empty pool for a backend that has none yet. It returns errors instead of
// failing the test, for samplers in goroutines.
func muxBackends(fd *harness.Frontdesk) ([]muxBackend, error) {
	body, err := fd.AdminGet("/mysql/servers")
	if err != nil {
		return nil, err
	}
	var servers map[string]struct{ Backends []muxBackend }
	if err := json.Unmarshal(body, &servers); err != nil {
		return nil, err
	}
	backends := servers["main"].Backends
	for i := range backends {
		if backends[i].Pool == nil {
			// A backend's pool appears with its first connection.
			backends[i].Pool = &mysqlproxy.PoolStatus{}
		}
	}
	if len(backends) == 0 {
		return nil, fmt.Errorf("no backends in %s", body)
	}
	return backends, nil
}

// primaryOf picks the primary out of backends (a zero pool if none).
func primaryOf(backends []muxBackend) muxBackend {
	for _, b := range backends {
		if b.Role == "primary" {
			return b
		}
	}
	return muxBackend{Pool: &mysqlproxy.PoolStatus{}}
}

// heldByUser counts the connections server s lists in its PROCESSLIST for
// the test user, less the proxy's monitor: the harness's proxies check the
// backends as the test user itself (health's user defaults to the server's
// first user), over a connection with no default database, while every
// client of these tests logs in to the test database, and so does every
// backend connection made for them. One connection without a database is
// taken for the monitor's; any more count.
func heldByUser(s *harness.MariaDB) (int, error) {
	var total, noDB int
	err := s.AdminDB().QueryRow("SELECT COUNT(*), COALESCE(SUM(DB IS NULL), 0) FROM information_schema.PROCESSLIST WHERE USER = ?",
		harness.TestUser).Scan(&total, &noDB)
	if err != nil {
		return 0, fmt.Errorf("MariaDB %s: PROCESSLIST: %v", s.Name, err)
	}
	return total - min(noDB, 1), nil
}

// rawQuery runs sql on c with a fresh deadline.
func rawQuery(c *harness.RawConn, sql string) ([]string, error) {
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	return c.Query(sql)
}

// dialMany logs n raw clients in to addr as user, in database db, at most
// parallel logins at a time (the proxy refuses more than
// max_unauthenticated logins in progress).
func dialMany(addr, user, password, db string, n, parallel int) ([]*harness.RawConn, error) {
	conns := make([]*harness.RawConn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = harness.DialRaw(addr, user, password, db, harness.RawCaps)
		}()
	}
	wg.Wait()
	var live []*harness.RawConn
	var failed []error
	for i, c := range conns {
		if c != nil {
			live = append(live, c)
		}
		if errs[i] != nil {
			failed = append(failed, fmt.Errorf("client %d: %w", i, errs[i]))
		}
	}
	if len(failed) > 0 {
		closeAll(live)
		return nil, fmt.Errorf("%d of %d logins failed, the first: %v", len(failed), n, failed[0])
	}
	return conns, nil
}

// closeAll ends every session in conns.
func closeAll(conns []*harness.RawConn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// connPeaks samples, while it runs, the backend connections a proxy holds:
// the pool's open count per backend on the admin API and the servers' own
// count of the test user's connections.
type connPeaks struct {
	mu      sync.Mutex
	pool    map[string]int // per backend address
	server  map[string]int // per server name
	samples int
	errs    []error
	stop    chan struct{}
	done    chan struct{}
}

// sampleConns starts sampling every 50 ms until stop.
func sampleConns(fd *harness.Frontdesk, c *harness.Cluster) *connPeaks {
	p := &connPeaks{pool: map[string]int{}, server: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			p.sample(fd, c)
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// sample takes one sample.
func (p *connPeaks) sample(fd *harness.Frontdesk, c *harness.Cluster) {
	backends, err := muxBackends(fd)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples++
	if err != nil {
		p.errs = append(p.errs, err)
	}
	for _, b := range backends {
		p.pool[b.Address] = max(p.pool[b.Address], b.Pool.Open)
	}
	for _, s := range c.All() {
		n, err := heldByUser(s)
		if err != nil {
			p.errs = append(p.errs, err)
			continue
		}
		p.server[s.Name] = max(p.server[s.Name], n)
	}
}

// finish stops the sampler after one last sample.
func (p *connPeaks) finish(fd *harness.Frontdesk, c *harness.Cluster) {
	close(p.stop)
	<-p.done
	p.sample(fd, c)
}

// TestMySQLMultiplexIdleClients holds 2,000 client sessions open through a
// proxy whose pool allows 40 connections per backend, while 32 workers run
// point selects, autocommit writes and short transactions on sessions
// picked at random among them: multiplexing must serve every statement,
// keep every session usable, and never hold more than 40 connections to
// any backend, as the pool and the servers themselves count them.
func TestMySQLMultiplexIdleClients(t *testing.T) {
	const (
		clients   = 2000
		workers   = 32
		perWorker = 150
		maxConns  = 40
		rows      = 200
	)
	c := harness.StartCluster(t, 2)
	m := proxyFor(t, c, fmt.Sprintf("pool {\n\t\t\t\tmax_connections %d\n\t\t\t}", maxConns))
	setup := rawSession(t, m)
	mustQuery(t, setup, "CREATE TABLE mux_rows (id INT PRIMARY KEY, n INT NOT NULL)")
	mustQuery(t, setup, fmt.Sprintf("INSERT INTO mux_rows SELECT seq, 0 FROM seq_1_to_%d", rows))
	mustQuery(t, setup, "CREATE TABLE mux_log (id INT PRIMARY KEY, worker INT NOT NULL, step INT NOT NULL)")
	setup.Close()
	c.WaitReplicated()

	peaks := sampleConns(m.fd, c)
	stopped := false
	defer func() {
		if !stopped {
			peaks.finish(m.fd, c)
		}
	}()
	conns, err := dialMany(m.addr, harness.TestUser, harness.TestPassword, harness.TestDatabase, clients, 64)
	if err != nil {
		t.Fatalf("logging in %d clients: %v", clients, err)
	}
	defer closeAll(conns)

	// Worker w runs its statements on the sessions whose index is w modulo
	// workers, so no session is used by two workers at once.
	var (
		mu                     sync.Mutex
		failures               []string
		failed                 int
		statements             atomic.Int64
		abort                  atomic.Bool
		updates, inserts, trxs atomic.Int64
		sessionsUsed           = make([]atomic.Bool, clients)
		begun                  = time.Now()
		workersDone            sync.WaitGroup
		noteFailure            = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if failed++; failed >= 20 {
				abort.Store(true)
			}
			if len(failures) < 10 {
				failures = append(failures, fmt.Sprintf(format, args...))
			}
		}
	)
	for w := range workers {
		workersDone.Add(1)
		go func() {
			defer workersDone.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var own []int
			for i := w; i < clients; i += workers {
				own = append(own, i)
			}
			for step := range perWorker {
				if abort.Load() {
					// Enough to tell what is wrong, without the rest
					// of the run's waits.
					return
				}
				i := own[rng.IntN(len(own))]
				conn := conns[i]
				sessionsUsed[i].Store(true)
				id := 1 + rng.IntN(rows)
				var stmts []string
				switch step % 10 {
				case 0, 1, 2, 3, 4, 5:
					stmts = []string{fmt.Sprintf("SELECT n FROM mux_rows WHERE id = %d", id)}
				case 6, 7:
					stmts = []string{fmt.Sprintf("UPDATE mux_rows SET n = n + 1 WHERE id = %d", id)}
					updates.Add(1)
				case 8:
					stmts = []string{fmt.Sprintf("INSERT INTO mux_log VALUES (%d, %d, %d)", w*1000+step, w, step)}
					inserts.Add(1)
				case 9:
					stmts = []string{"BEGIN", fmt.Sprintf("UPDATE mux_rows SET n = n + 1 WHERE id = %d", id),
						fmt.Sprintf("SELECT n FROM mux_rows WHERE id = %d", id), "COMMIT"}
					updates.Add(1)
				}
				for j, sql := range stmts {
					got, err := rawQuery(conn, sql)
					if err != nil {
						noteFailure("worker %d, session %d, step %d: %s: %v", w, i, step, sql, err)
						if sql != stmts[0] && stmts[0] == "BEGIN" {
							rawQuery(conn, "ROLLBACK")
						}
						break
					}
					if strings.HasPrefix(sql, "SELECT") && len(got) != 1 {
						noteFailure("worker %d, session %d: %s returned %q, want one row", w, i, sql, got)
					}
					statements.Add(1)
					if sql == "COMMIT" && j == len(stmts)-1 {
						trxs.Add(1)
					}
				}
			}
		}()
	}
	workersDone.Wait()
	elapsed := time.Since(begun)

	// Every worker is done and no session is in a transaction: what the
	// pools still lend out, idle sessions hold.
	if backends, err := muxBackends(m.fd); err == nil {
		for _, b := range backends {
			t.Logf("workers done, %s %s: pool %+v", b.Role, b.Address, *b.Pool)
		}
	}
	if body, err := m.fd.AdminGet("/mysql/servers"); err == nil {
		var servers map[string]struct {
			Ratio *float64 `json:"multiplexing_ratio"`
		}
		if json.Unmarshal(body, &servers) == nil && servers["main"].Ratio != nil {
			t.Logf("workers done, the admin API's multiplexing_ratio: %.1f", *servers["main"].Ratio)
		}
	}

	// Every session is still usable, the ones no worker touched included.
	var checks sync.WaitGroup
	for g := range workers {
		checks.Add(1)
		go func() {
			defer checks.Done()
			for i := g; i < clients; i += workers {
				if got, err := rawQuery(conns[i], "SELECT 1"); err != nil || len(got) != 1 || got[0] != "1" {
					noteFailure("session %d at the end: SELECT 1 = %q, %v", i, got, err)
				}
			}
		}()
	}
	checks.Wait()
	peaks.finish(m.fd, c)
	stopped = true
	if failed > 0 {
		t.Errorf("%d client errors, the first %d:\n%s", failed, len(failures), strings.Join(failures, "\n"))
	} else {
		// What the workers wrote is there, exactly once (a statement that
		// failed may or may not have run, hence only without failures).
		for _, check := range []struct {
			sql  string
			want int64
		}{
			{"SELECT SUM(n) FROM " + harness.TestDatabase + ".mux_rows", updates.Load()},
			{"SELECT COUNT(*) FROM " + harness.TestDatabase + ".mux_log", inserts.Load()},
		} {
			if got, err := c.Primary.QueryString(check.sql); err != nil || got != fmt.Sprint(check.want) {
				t.Errorf("the primary: %s = %s (%v), the workers' writes make %d", check.sql, got, err, check.want)
			}
		}
	}

	peaks.mu.Lock()
	defer peaks.mu.Unlock()
	if len(peaks.errs) > 0 {
		t.Errorf("%d samples failed, the first: %v", len(peaks.errs), peaks.errs[0])
	}
	if len(peaks.pool) != 3 {
		t.Errorf("the admin API showed pools for %d backends, want 3: %v", len(peaks.pool), peaks.pool)
	}
	totalPool, totalServer := 0, 0
	for addr, n := range peaks.pool {
		totalPool += n
		if n > maxConns {
			t.Errorf("backend %s: the pool had %d connections open at its peak, more than max_connections %d", addr, n, maxConns)
		}
	}
	for name, n := range peaks.server {
		totalServer += n
		if n > maxConns {
			t.Errorf("MariaDB %s listed %d connections of %s at its peak, more than the pool's max_connections %d",
				name, n, harness.TestUser, maxConns)
		}
	}
	used := 0
	for i := range sessionsUsed {
		if sessionsUsed[i].Load() {
			used++
		}
	}
	t.Logf("%d sessions open, %d of them used by %d workers: %d statements served (%d transactions committed) in %s; %d samples",
		clients, used, workers, statements.Load(), trxs.Load(), elapsed.Round(time.Millisecond), peaks.samples)
	t.Logf("peak backend connections: pool open %v, servers' PROCESSLIST %v", peaks.pool, peaks.server)
	t.Logf("multiplexing ratio: %d client sessions / %d backend connections (pool peaks summed) = %.1f; by the servers' count %.1f",
		clients, totalPool, safeDiv(clients, float64(totalPool)), safeDiv(clients, float64(totalServer)))
}

// muxClient is one named raw client session of the isolation tests.
type muxClient struct {
	name string
	*harness.RawConn
}

// dialMux logs a raw client in to the test database of the proxy at addr;
// it is closed when the test ends, if it was not before.
func dialMux(t *testing.T, addr, name string) *muxClient {
	t.Helper()
	c, err := harness.DialRaw(addr, harness.TestUser, harness.TestPassword, harness.TestDatabase, harness.RawCaps)
	if err != nil {
		t.Fatalf("client %s logging in: %v", name, err)
	}
	t.Cleanup(c.Close)
	return &muxClient{name, c}
}

// query runs a text statement with a fresh deadline.
func (c *muxClient) query(sql string) ([]string, error) { return rawQuery(c.RawConn, sql) }

// must runs a statement that must succeed.
func (c *muxClient) must(t *testing.T, sql string) []string {
	t.Helper()
	rows, err := c.query(sql)
	if err != nil {
		t.Fatalf("client %s: %s: %v", c.name, sql, err)
	}
	return rows
}

// want checks that a statement returns one row whose first column is want.
func (c *muxClient) want(t *testing.T, sql, want string) {
	t.Helper()
	rows, err := c.query(sql)
	if err != nil || len(rows) != 1 || rows[0] != want {
		t.Errorf("client %s: %s = %q (%v), want %q", c.name, sql, rows, err, want)
	}
}

// prepare prepares sql with a fresh deadline and returns the statement id.
func (c *muxClient) prepare(t *testing.T, sql string) uint32 {
	t.Helper()
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	return prepare(t, c.RawConn, sql)
}

// exec runs a statement that returns no rows and returns its OK packet.
func (c *muxClient) exec(sql string) (wire.OK, error) {
	return c.command(append([]byte{wire.ComQuery}, sql...))
}

// command sends a command whose reply is an OK or ERR and returns the OK.
func (c *muxClient) command(payload []byte) (wire.OK, error) {
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	packets, sqlErr, err := c.Command(payload)
	switch {
	case err != nil:
		return wire.OK{}, err
	case sqlErr != nil:
		return wire.OK{}, sqlErr
	case len(packets) != 1:
		return wire.OK{}, fmt.Errorf("%d packets in the reply, want one OK", len(packets))
	}
	return wire.ParseOK(packets[0], c.Caps)
}

// rows runs a text statement and returns every column of every row of its
// result set.
func (c *muxClient) rows(sql string) ([][]string, error) {
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	packets, sqlErr, err := c.Command(append([]byte{wire.ComQuery}, sql...))
	if err != nil {
		return nil, err
	}
	if sqlErr != nil {
		return nil, sqlErr
	}
	if len(packets) < 2 {
		return nil, fmt.Errorf("%s: no result set", sql)
	}
	ncols, _, err := wire.ReadLenEncInt(packets[0])
	if err != nil {
		return nil, err
	}
	rest := packets[1+ncols:]
	if c.Caps&wire.ClientDeprecateEOF == 0 && len(rest) > 0 {
		rest = rest[1:]
	}
	var out [][]string
	for _, p := range rest {
		if wire.IsEOF(p, c.Caps) {
			break
		}
		var row []string
		for len(p) > 0 {
			if p[0] == 0xFB {
				row = append(row, "NULL")
				p = p[1:]
				continue
			}
			v, n, err := wire.ReadLenEncString(p)
			if err != nil {
				return nil, err
			}
			row = append(row, string(v))
			p = p[n:]
		}
		out = append(out, row)
	}
	return out, nil
}

// wantPoolError checks that err is the proxy's error 1040 for a pool at
// its max_connections.
func wantPoolError(t *testing.T, what string, err error) {
	t.Helper()
	var se *wire.SQLError
	if !errors.As(err, &se) || se.Code != wire.ERConCountError || !strings.Contains(se.Message, "pool max_connections") {
		t.Errorf("%s: %v, want error 1040 naming the pool's max_connections", what, err)
	}
}

// TestMySQLMultiplexStateIsolation makes sessions share one pooled
// connection per backend (max_connections 1), statement by statement:
// what one session sets is replayed for it and never seen by another, a
// failed transaction leaves nothing behind, prepared statements survive
// other sessions' use of the connection, per-connection answers
// (LAST_INSERT_ID, FOUND_ROWS, SHOW WARNINGS, ROW_COUNT) are the
// session's own, and a session pinned to the primary makes the others wait
// and get a clear error until it ends.
func TestMySQLMultiplexStateIsolation(t *testing.T) {
	c := harness.StartCluster(t, 2)
	for _, s := range c.All() {
		s.LogStatements()
	}
	m := proxyFor(t, c, "pool {\n\t\t\t\tmax_connections 1\n\t\t\t\twait_timeout 2s\n\t\t\t}")
	// Room for two sessions' connections per backend: a connection
	// parked with answers its session may ask for is taken by another
	// session only when the pool is full.
	m2 := proxyFor(t, c, "pool {\n\t\t\t\tmax_connections 2\n\t\t\t\twait_timeout 2s\n\t\t\t}")
	setup := dialMux(t, m.addr, "setup")
	setup.must(t, "CREATE TABLE iso (id INT PRIMARY KEY, note VARCHAR(64))")
	setup.must(t, "INSERT INTO iso SELECT seq, 'seed' FROM seq_1_to_5")
	setup.must(t, "CREATE TABLE iso_auto (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(8))")
	setup.must(t, "CREATE TABLE iso_seq (id INT NOT NULL)")
	setup.must(t, "INSERT INTO iso_seq VALUES (100)")
	setup.Close()
	c.WaitReplicated()

	t.Run("session state", func(t *testing.T) {
		global, err := c.Primary.QueryString("SELECT @@global.sql_mode")
		if err != nil {
			t.Fatal(err)
		}
		a, b, cc := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b"), dialMux(t, m.addr, "c")
		sets := []string{"SET @mux_var = 'from a'", "SET SESSION sql_mode = 'ANSI'", "SET time_zone = '+05:00'",
			"SET NAMES latin1", "SET TIMESTAMP = 1", "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE",
			"USE information_schema"}
		// What each SET changes, as the server defaults show it and as a
		// shows it after its SET.
		state := []struct{ expr, fresh, set string }{
			{"COALESCE(@mux_var, 'none')", "none", "from a"},
			{"@@session.sql_mode", global, "REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ANSI"},
			{"@@session.time_zone", "SYSTEM", "+05:00"},
			{"@@character_set_client", "utf8mb4", "latin1"},
			{"UNIX_TIMESTAMP() = 1", "0", "1"},
			{"@@session.tx_isolation", "REPEATABLE-READ", "SERIALIZABLE"},
			{"DATABASE()", harness.TestDatabase, "information_schema"},
		}
		checks := 0
		for i, set := range sets {
			a.must(t, set)
			for _, s := range state {
				b.want(t, "SELECT /* frontdesk:primary */ /* mxiso-b-hinted */ "+s.expr, s.fresh)
				b.want(t, "SELECT /* mxiso-b-plain */ "+s.expr, s.fresh)
				checks++
			}
			cc.must(t, fmt.Sprintf("INSERT INTO iso VALUES (%d, 'c')", 100+i))
			cc.want(t, "SELECT /* frontdesk:primary */ "+state[i].expr, state[i].fresh)
			for j, s := range state {
				want := s.fresh
				if j <= i {
					want = s.set
				}
				a.want(t, "SELECT /* frontdesk:primary */ /* mxiso-a-hinted */ "+s.expr, want)
				a.want(t, "SELECT /* mxiso-a-plain */ "+s.expr, want)
			}
		}
		// Routing, on the servers' own logs: every hinted check on the
		// primary, every plain one on a replica.
		m.wantRanOn(t, "mxiso-b-hinted", fmt.Sprintf("primary×%d", checks))
		m.wantRanOn(t, "mxiso-b-plain", fmt.Sprintf("replica×%d", checks))
		m.wantRanOn(t, "mxiso-a-hinted", fmt.Sprintf("primary×%d", checks))
		m.wantRanOn(t, "mxiso-a-plain", fmt.Sprintf("replica×%d", checks))
	})

	t.Run("reset connection", func(t *testing.T) {
		// COM_RESET_CONNECTION clears the session that sends it, not the
		// one whose state the shared connection holds at the time.
		a, b := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b")
		a.must(t, "SET @mux_reset = 'a'")
		a.must(t, "SET time_zone = '+03:00'")
		stmt := a.prepare(t, "SELECT ? + 1")
		b.must(t, "SET @mux_reset = 'b'")
		b.must(t, "SET time_zone = '+04:00'")
		b.want(t, "SELECT /* frontdesk:primary */ @mux_reset", "b")
		if _, err := a.command([]byte{wire.ComResetConnection}); err != nil {
			t.Fatalf("a: COM_RESET_CONNECTION: %v", err)
		}
		for _, hint := range []string{"", "/* frontdesk:primary */ "} {
			a.want(t, hint+"SELECT COALESCE(@mux_reset, 'none')", "none")
			a.want(t, hint+"SELECT @@session.time_zone", "SYSTEM")
			b.want(t, hint+"SELECT COALESCE(@mux_reset, 'none')", "b")
			b.want(t, hint+"SELECT @@session.time_zone", "+04:00")
		}
		_, err := a.command(executePacket(stmt, 1))
		wantSQLError(t, "a: executing a statement prepared before the reset", err, wire.ERUnknownStmtHandler)
		a.want(t, "SELECT DATABASE()", harness.TestDatabase)

		// A LAST_INSERT_ID() handed over to a (b took the connection it
		// lived on) is gone after a's reset too.
		if ok, err := a.exec("INSERT INTO iso_auto (who) VALUES ('reset a')"); err != nil || ok.LastInsertID == 0 {
			t.Fatalf("a: insert: %+v, %v", ok, err)
		}
		b.want(t, "SELECT /* frontdesk:primary */ 'b takes the connection'", "b takes the connection")
		if _, err := a.command([]byte{wire.ComResetConnection}); err != nil {
			t.Fatalf("a: COM_RESET_CONNECTION: %v", err)
		}
		for _, hint := range []string{"", "/* frontdesk:primary */ "} {
			a.want(t, hint+"SELECT LAST_INSERT_ID()", "0")
		}
	})

	t.Run("a session's own wait_timeout", func(t *testing.T) {
		// a's SET SESSION wait_timeout is replayed on the connections a
		// uses, so the servers close them once they sit parked longer
		// than that; b takes them (the pool is full) and must be served
		// all the same. a's session itself ends after that long idle, as
		// on a server.
		a, b := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b")
		a.must(t, "SET SESSION wait_timeout = 1")
		a.want(t, "SELECT /* frontdesk:primary */ @@session.wait_timeout", "1")
		a.want(t, "SELECT @@session.wait_timeout", "1")
		time.Sleep(2500 * time.Millisecond) // past a's wait_timeout: not a measurement
		for _, hint := range []string{"", "/* frontdesk:primary */ "} {
			b.want(t, hint+"SELECT @@session.wait_timeout > 1", "1")
		}
		if _, err := b.exec("UPDATE iso SET note = 'b after a timed out' WHERE id = 1"); err != nil {
			t.Errorf("b's write after a's connections timed out: %v", err)
		}
		if rows, err := a.query("SELECT 'a after idling past its wait_timeout'"); err == nil {
			t.Errorf("a idled past its wait_timeout of 1s and still reads %q; a server would have closed it", rows)
		}
	})

	t.Run("failed transaction", func(t *testing.T) {
		a, b := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b")
		a.must(t, "BEGIN")
		a.must(t, "INSERT INTO iso VALUES (300, 'a, uncommitted')")
		_, err := a.exec("INSERT INTO iso VALUES (1, 'a duplicate')")
		wantSQLError(t, "a duplicate key in a's transaction", err, 1062)
		// Replicas are free while a's transaction holds the primary.
		b.want(t, "SELECT COUNT(*) FROM iso WHERE id = 300", "0")
		a.must(t, "ROLLBACK")
		b.want(t, "SELECT /* frontdesk:primary */ @@in_transaction", "0")
		b.want(t, "SELECT /* frontdesk:primary */ COUNT(*) FROM iso WHERE id = 300", "0")
		if _, err := b.exec("INSERT INTO iso VALUES (300, 'b')"); err != nil {
			t.Fatalf("b's insert after a's rollback: %v", err)
		}
		b.want(t, "SELECT /* frontdesk:primary */ note FROM iso WHERE id = 300", "b")
		a.want(t, "SELECT /* frontdesk:primary */ @@in_transaction", "0")
		a.want(t, "SELECT /* frontdesk:primary */ note FROM iso WHERE id = 300", "b")
	})

	t.Run("prepared statements", func(t *testing.T) {
		a, b := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b")
		read := a.prepare(t, "SELECT /* mxps-a-read */ ? + 1")
		write := a.prepare(t, "UPDATE /* mxps-a-write */ iso SET note = CONCAT('ps', ?) WHERE id = 2")
		for round, param := range []int64{41, 99, 7} {
			// b uses every connection a's statements were prepared on,
			// and prepares one of its own.
			b.want(t, "SELECT /* frontdesk:primary */ 'b on the primary'", "b on the primary")
			b.want(t, "SELECT 'b on a replica'", "b on a replica")
			b.want(t, "SELECT 'b on a replica again'", "b on a replica again")
			if _, err := b.exec(fmt.Sprintf("UPDATE iso SET note = 'b%d' WHERE id = 3", round)); err != nil {
				t.Errorf("b's update: %v", err)
			}
			own := b.prepare(t, "SELECT ? + 100")
			if v, err := executeInt(b.RawConn, own, param); err != nil || v != param+100 {
				t.Errorf("b's own statement with %d: %d, %v; want %d", param, v, err, param+100)
			}
			if err := b.Send(stmtPacket(wire.ComStmtClose, own)); err != nil {
				t.Fatal(err)
			}
			if v, err := executeInt(a.RawConn, read, param); err != nil || v != param+1 {
				t.Errorf("round %d: a's prepared read with %d: %d, %v; want %d", round, param, v, err, param+1)
			}
			b.want(t, "SELECT /* frontdesk:primary */ 'b between'", "b between")
			ok, err := a.command(executePacket(write, param))
			if err != nil || ok.AffectedRows != 1 {
				t.Errorf("round %d: a's prepared update with %d: %+v, %v; want one row changed", round, param, ok, err)
			}
			// a's own answer: nobody took the connection in between.
			a.want(t, "SELECT ROW_COUNT()", "1")
			b.want(t, "SELECT /* frontdesk:primary */ note FROM iso WHERE id = 2", fmt.Sprintf("ps%d", param))
		}
		m.wantRanOn(t, "mxps-a-read", "replica×3")
		m.wantRanOn(t, "mxps-a-write", "primary×3")
	})

	t.Run("per-connection answers", func(t *testing.T) {
		// b runs statements with answers of its own in a loop, from
		// another goroutine, while a runs its own (bounded). With a
		// connection each (m2) every answer is the session's own. With
		// one shared connection (m) the pool is always full, so the other
		// session may take a connection parked with answers, reset first:
		// SHOW WARNINGS, FOUND_ROWS() and ROW_COUNT() then read a reset
		// connection's answers (README), never the other session's. a and
		// b leave different ones: a's warnings name a's markers, a's
		// FOUND_ROWS() is the table's size and b's 2, a's UPDATE changes
		// two rows and b's one.
		total, err := c.Primary.QueryString("SELECT COUNT(*) FROM " + harness.TestDatabase + ".iso")
		if err != nil {
			t.Fatal(err)
		}
		c.WaitReplicated()
		for _, shared := range []struct {
			name  string
			m     *mysqlProxy
			exact bool
		}{{"a connection each", m2, true}, {"one shared connection", m, false}} {
			t.Run(shared.name, func(t *testing.T) {
				a, b := dialMux(t, shared.m.addr, "a"), dialMux(t, shared.m.addr, "b")
				// answer checks one answer: the session's own, or where
				// allowed a reset connection's, which is counted.
				var mu sync.Mutex
				var problems []string
				fresh := map[string]int{}
				answer := func(who, what, got, own, others string, ok bool) {
					mu.Lock()
					defer mu.Unlock()
					switch {
					case got == own:
					case ok && !shared.exact && got != others:
						fresh[who+" "+what]++
					default:
						if len(problems) < 20 {
							problems = append(problems, fmt.Sprintf("%s: %s = %s, want its own %s (the other session's is %s)", who, what, got, own, others))
						}
					}
				}
				warning := func(rows [][]string, marker string) string {
					if len(rows) == 1 && len(rows[0]) == 3 && strings.Contains(rows[0][2], "'"+marker+"'") {
						return marker
					}
					return fmt.Sprintf("%q", rows)
				}
				done := make(chan struct{})
				var bErrs []string
				bDone := make(chan struct{})
				go func() {
					defer close(bDone)
					fail := func(format string, args ...any) {
						if len(bErrs) < 10 {
							bErrs = append(bErrs, fmt.Sprintf(format, args...))
						}
					}
					for i := 0; i < 2000; i++ {
						select {
						case <-done:
							return
						default:
						}
						if _, err := b.query("SELECT SQL_CALC_FOUND_ROWS id FROM iso WHERE id <= 2 LIMIT 1"); err != nil {
							fail("b: SQL_CALC_FOUND_ROWS: %v", err)
						} else if got, err := b.query("SELECT FOUND_ROWS()"); err != nil || len(got) != 1 {
							fail("b: FOUND_ROWS() = %q (%v)", got, err)
						} else {
							answer("b", "FOUND_ROWS()", got[0], "2", total, true)
						}
						hint := []string{"", "/* frontdesk:primary */ "}[i%2]
						marker := fmt.Sprintf("mux-b-%d", i)
						if _, err := b.query(hint + "SELECT CAST('" + marker + "' AS SIGNED)"); err != nil {
							fail("b: %v", err)
						} else if w, err := b.rows("SHOW WARNINGS"); err != nil {
							fail("b: SHOW WARNINGS: %v", err)
						} else {
							answer("b", "SHOW WARNINGS", warning(w, marker), marker, "a's", len(w) == 0)
						}
						if ok, err := b.exec(fmt.Sprintf("UPDATE iso SET note = 'b%d' WHERE id = 3", i)); err != nil || ok.AffectedRows != 1 {
							fail("b: UPDATE: %+v, %v", ok, err)
						} else if got, err := b.query("SELECT ROW_COUNT()"); err != nil || len(got) != 1 {
							fail("b: ROW_COUNT() = %q (%v)", got, err)
						} else {
							answer("b", "ROW_COUNT()", got[0], "1", "2", got[0] == "-1")
						}
					}
				}()
				const rounds = 30
				calc, found := "mxpc-calc-"+strings.ReplaceAll(shared.name, " ", "-"), "mxpc-found-"+strings.ReplaceAll(shared.name, " ", "-")
				for i := range rounds {
					a.must(t, "SELECT SQL_CALC_FOUND_ROWS /* "+calc+" */ id FROM iso ORDER BY id LIMIT 1")
					if got, err := a.query("SELECT /* " + found + " */ FOUND_ROWS()"); err != nil || len(got) != 1 {
						t.Errorf("a: FOUND_ROWS() = %q (%v)", got, err)
					} else {
						answer("a", "FOUND_ROWS()", got[0], total, "2", true)
					}
					hint := []string{"", "/* frontdesk:primary */ "}[i%2]
					marker := fmt.Sprintf("mux-a-%d", i)
					a.must(t, hint+"SELECT CAST('"+marker+"' AS SIGNED)")
					if w, err := a.rows("SHOW WARNINGS"); err != nil {
						t.Errorf("a: SHOW WARNINGS: %v", err)
					} else {
						answer("a", "SHOW WARNINGS", warning(w, marker), marker, "b's", len(w) == 0)
					}
					ok, err := a.exec(fmt.Sprintf("UPDATE iso SET note = 'a%d' WHERE id IN (4, 5)", i))
					if err != nil || ok.AffectedRows != 2 {
						t.Errorf("a: UPDATE of two rows: %+v, %v", ok, err)
					}
					if got, err := a.query("SELECT ROW_COUNT()"); err != nil || len(got) != 1 {
						t.Errorf("a: ROW_COUNT() = %q (%v)", got, err)
					} else {
						answer("a", "ROW_COUNT()", got[0], "2", "1", got[0] == "-1")
					}
				}
				close(done)
				<-bDone
				for _, e := range append(bErrs, problems...) {
					t.Error(e)
				}
				t.Logf("answers read on a reset connection: %v", fresh)
				if shared.exact {
					shared.m.wantRanOn(t, calc, fmt.Sprintf("replica×%d", rounds))
					shared.m.wantRanOn(t, found, fmt.Sprintf("replica×%d", rounds))
				}
			})
		}
	})

	t.Run("answers with nothing left over", func(t *testing.T) {
		// Replies with no affected rows, warnings or insert id leave
		// answers too: ROW_COUNT() is 0 after an UPDATE that changed
		// nothing, and FOUND_ROWS() counts the rows of the last plain
		// SELECT. The session does not keep its connection for them, so
		// when another session took it in between they read a fresh
		// connection's answers (README, Connection pooling: documented),
		// but never that other session's.
		a, b := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b")
		if ok, err := a.exec("UPDATE iso SET note = note WHERE id = 1"); err != nil || ok.AffectedRows != 0 {
			t.Fatalf("a: an UPDATE that changes nothing: %+v, %v", ok, err)
		}
		// b's UPDATE leaves ROW_COUNT() 2 on the primary connection, and
		// its read of a replica lets the connection go.
		if ok, err := b.exec("UPDATE iso SET note = CONCAT(note, '+b') WHERE id IN (4, 5)"); err != nil || ok.AffectedRows != 2 {
			t.Fatalf("b: UPDATE of two rows: %+v, %v", ok, err)
		}
		b.want(t, "SELECT 'b on a replica'", "b on a replica")
		if got, err := a.query("SELECT ROW_COUNT()"); err != nil || len(got) != 1 || got[0] != "0" && got[0] != "-1" {
			t.Errorf("a: SELECT ROW_COUNT() = %q (%v), want a's own 0 or a fresh connection's -1 (b's is 2)", got, err)
		} else if got[0] != "0" {
			t.Logf("a: SELECT ROW_COUNT() = %s, a fresh connection's answer (a's own is 0)", got[0])
		}
		if rows := a.must(t, "SELECT /* frontdesk:primary */ id FROM iso WHERE id <= 3"); len(rows) != 3 {
			t.Fatalf("a: %q, want 3 rows", rows)
		}
		if rows := b.must(t, "SELECT /* frontdesk:primary */ id FROM iso WHERE id <= 5"); len(rows) != 5 {
			t.Fatalf("b: %q, want 5 rows", rows)
		}
		if got, err := a.query("SELECT FOUND_ROWS()"); err != nil || len(got) != 1 || got[0] == "5" {
			t.Errorf("a: SELECT FOUND_ROWS() = %q (%v), want a's own 3 or a fresh connection's answer, not b's 5", got, err)
		} else if got[0] != "3" {
			t.Logf("a: SELECT FOUND_ROWS() = %s, a fresh connection's answer (a's own is 3)", got[0])
		}
	})

	t.Run("an idle session", func(t *testing.T) {
		// a's statement has ended and left answers a may ask for; a sends
		// nothing more for now. An application's connection pool leaves
		// most sessions so, and they must not keep the only connection
		// from the others: b takes it (reset). a's LAST_INSERT_ID() is
		// handed over and stays exact; its other answers are its own or a
		// reset connection's (README), never b's, and b leaves different
		// ones as its last statement on the connection.
		total, err := c.Primary.QueryString("SELECT COUNT(*) FROM " + harness.TestDatabase + ".iso")
		if err != nil {
			t.Fatal(err)
		}
		for _, idle := range []struct {
			name, sql, bSQL, ask, own, bs string
			exact                         bool
		}{
			{"after a write", "UPDATE iso SET note = 'idle a' WHERE id = 1",
				"UPDATE iso SET note = CONCAT(note, '+b') WHERE id IN (2, 3)", "SELECT ROW_COUNT()", "1", "2", false},
			{"after a warning", "SELECT /* frontdesk:primary */ CAST('idle a' AS SIGNED)",
				"SELECT /* frontdesk:primary */ CAST('b1' AS SIGNED), CAST('b2' AS SIGNED)", "SELECT @@warning_count", "1", "2", false},
			{"after SQL_CALC_FOUND_ROWS", "SELECT /* frontdesk:primary */ SQL_CALC_FOUND_ROWS id FROM iso LIMIT 1",
				"SELECT /* frontdesk:primary */ SQL_CALC_FOUND_ROWS id FROM iso WHERE id <= 5 LIMIT 1", "SELECT FOUND_ROWS()", total, "5", false},
			{"after an insert with an id", "INSERT INTO iso_auto (who) VALUES ('idle a')",
				"INSERT INTO iso_auto (who) VALUES ('idle b')", "SELECT LAST_INSERT_ID()", "", "", true},
		} {
			t.Run(idle.name, func(t *testing.T) {
				a, b := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b")
				own, bs := idle.own, idle.bs
				if idle.exact {
					ok, err := a.exec(idle.sql)
					if err != nil || ok.LastInsertID == 0 {
						t.Fatalf("a: %s: %+v, %v", idle.sql, ok, err)
					}
					own = fmt.Sprint(ok.LastInsertID)
				} else {
					a.must(t, idle.sql)
				}
				b.want(t, "SELECT /* frontdesk:primary */ 'b while a idles'", "b while a idles")
				if idle.exact {
					ok, err := b.exec(idle.bSQL)
					if err != nil || ok.LastInsertID == 0 {
						t.Fatalf("b: %s: %+v, %v", idle.bSQL, ok, err)
					}
					bs = fmt.Sprint(ok.LastInsertID)
					b.want(t, "SELECT LAST_INSERT_ID()", bs)
				} else {
					b.must(t, idle.bSQL)
				}
				got, err := a.query(idle.ask)
				switch {
				case err != nil || len(got) != 1:
					t.Errorf("a: %s = %q (%v), want %s", idle.ask, got, err, own)
				case got[0] == own:
				case idle.exact || got[0] == bs:
					t.Errorf("a: %s = %s, want a's own %s (b's is %s)", idle.ask, got[0], own, bs)
				default:
					t.Logf("a: %s = %s, a reset connection's answer (a's own is %s, b's %s)", idle.ask, got[0], own, bs)
				}
			})
		}
	})

	t.Run("last insert id", func(t *testing.T) {
		// Three sessions insert in turn, each followed by the others'
		// statements, on one shared primary connection (m) and on two
		// (m2): whoever takes a connection that holds another session's
		// LAST_INSERT_ID() hands it over, so every session's stays exact.
		for i, p := range []struct {
			name string
			m    *mysqlProxy
		}{{"one connection", m}, {"two connections", m2}} {
			t.Run(p.name, func(t *testing.T) {
				a, b, cc := dialMux(t, p.m.addr, "a"), dialMux(t, p.m.addr, "b"), dialMux(t, p.m.addr, "c")
				insert := func(s *muxClient) string {
					t.Helper()
					ok, err := s.exec("INSERT INTO iso_auto (who) VALUES ('" + s.name + "')")
					if err != nil || ok.LastInsertID == 0 {
						t.Fatalf("client %s: insert: %+v, %v", s.name, ok, err)
					}
					return fmt.Sprint(ok.LastInsertID)
				}
				ids := map[*muxClient]string{}
				check := func() {
					t.Helper()
					for s, id := range ids {
						for _, hint := range []string{"", "/* frontdesk:primary */ "} {
							s.want(t, hint+"SELECT LAST_INSERT_ID()", id)
						}
						s.want(t, "SELECT @@last_insert_id", id)
						s.want(t, "SELECT who FROM iso_auto WHERE id = LAST_INSERT_ID()", s.name)
					}
				}
				ids[a] = insert(a)
				cc.want(t, "SELECT COUNT(*) > 0 FROM iso", "1") // a replica read by c in between
				ids[b] = insert(b)
				check()
				ids[cc] = insert(cc)
				b.Close()
				delete(ids, b)
				check()
				// a inserts again after its value was handed over: the new
				// id, not the handed-over one, is a's now.
				ids[a] = insert(a)
				cc.want(t, "SELECT /* frontdesk:primary */ 'c between'", "c between")
				check()
				// Inserts without a generated id leave LAST_INSERT_ID() as it
				// was: into a table without AUTO_INCREMENT, and with the
				// AUTO_INCREMENT value given (the OK packet reports it, but
				// LAST_INSERT_ID() counts generated values only).
				if _, err := a.exec("INSERT INTO iso VALUES (500, 'no generated id')"); err != nil {
					t.Fatal(err)
				}
				cc.want(t, "SELECT /* frontdesk:primary */ 'c between'", "c between")
				check()
				given := 1000000 - i // never one AUTO_INCREMENT generates here
				if ok, err := a.exec(fmt.Sprintf("INSERT INTO iso_auto (id, who) VALUES (%d, 'given')", given)); err != nil {
					t.Fatal(err)
				} else if ok.LastInsertID != uint64(given) {
					t.Logf("the OK packet of an insert with the id given reports %d", ok.LastInsertID)
				}
				cc.want(t, "SELECT /* frontdesk:primary */ 'c between again'", "c between again")
				check()
				a.must(t, "DELETE FROM iso WHERE id = 500")
			})
		}
	})

	t.Run("last insert id set by the client", func(t *testing.T) {
		// LAST_INSERT_ID(expr) sets the value LAST_INSERT_ID() answers
		// next, as the MySQL manual's sequence recipe uses it; b takes the
		// only primary connection in between. The UPDATE's OK packet
		// reports the value; the SELECT's result set and DO's OK do not,
		// so the proxy must know from the statement that the connection
		// now holds a LAST_INSERT_ID() to hand over. (Without b in
		// between, a reads its value back in all these cases.) SET
		// @@session.last_insert_id is session state, replayed. After each,
		// a's next generated id must replace the value set.
		for _, set := range []struct{ name, sql, want string }{
			{"by a SELECT", "SELECT LAST_INSERT_ID(4242)", "4242"},
			{"by an UPDATE", "UPDATE iso_seq SET id = LAST_INSERT_ID(id + 1)", "101"},
			{"by DO", "DO LAST_INSERT_ID(77)", "77"},
			{"by SET", "SET @@session.last_insert_id = 88", "88"},
		} {
			t.Run(set.name, func(t *testing.T) {
				a, b := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b")
				a.must(t, set.sql)
				b.want(t, "SELECT /* frontdesk:primary */ 'b between'", "b between")
				a.want(t, "SELECT LAST_INSERT_ID()", set.want)
				// An insert's generated id replaces the value set, on the
				// connection a inserts on and wherever a goes next.
				ok, err := a.exec("INSERT INTO iso_auto (who) VALUES ('set a')")
				if err != nil || ok.LastInsertID == 0 {
					t.Fatalf("a: insert: %+v, %v", ok, err)
				}
				b.want(t, "SELECT /* frontdesk:primary */ 'b between again'", "b between again")
				a.want(t, "SELECT LAST_INSERT_ID()", fmt.Sprint(ok.LastInsertID))
				a.want(t, "SELECT /* frontdesk:primary */ LAST_INSERT_ID()", fmt.Sprint(ok.LastInsertID))
			})
		}
	})

	t.Run("pinned", func(t *testing.T) {
		for _, pin := range []struct{ name, sql, check, want string }{
			{"temporary table", "CREATE TEMPORARY TABLE mux_tmp (i INT)", "SELECT COUNT(*) FROM mux_tmp", "0"},
			// RELEASE_LOCK answers 1 only to the connection that holds the lock.
			{"named lock", "SELECT GET_LOCK('mux-lock', 0)", "SELECT RELEASE_LOCK('mux-lock')", "1"},
		} {
			t.Run(pin.name, func(t *testing.T) {
				a, b := dialMux(t, m.addr, "a"), dialMux(t, m.addr, "b")
				a.must(t, pin.sql)
				// The replicas are free.
				b.want(t, "SELECT 'b reads a replica'", "b reads a replica")
				before, err := muxBackends(m.fd)
				if err != nil {
					t.Fatal(err)
				}
				_, err = b.exec("INSERT INTO iso VALUES (400, 'b waits')")
				wantPoolError(t, "b's write while a is pinned to the only primary connection", err)
				_, err = b.query("SELECT /* frontdesk:primary */ 'b waits'")
				wantPoolError(t, "b's hinted read while a is pinned to the only primary connection", err)
				after, err := muxBackends(m.fd)
				if err != nil {
					t.Fatal(err)
				}
				if got := primaryOf(after).Pool.Timeouts - primaryOf(before).Pool.Timeouts; got != 2 {
					t.Errorf("the primary's pool counted %d timeouts, want 2", got)
				}
				a.want(t, pin.check, pin.want) // a is still served
				a.Close()
				if _, err := b.exec("INSERT INTO iso VALUES (400, 'b after a')"); err != nil {
					t.Errorf("b's write after a ended: %v", err)
				}
				b.want(t, "SELECT /* frontdesk:primary */ note FROM iso WHERE id = 400", "b after a")
				b.must(t, "DELETE FROM iso WHERE id = 400")
			})
		}
	})
}
