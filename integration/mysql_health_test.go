package integration

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// backendView is what the admin API shows of one backend.
type backendView struct {
	Address string `json:"address"`
	Role    string `json:"role"`
	Usable  bool   `json:"usable"`
	Breaker string `json:"breaker"`
}

// waitUsable waits until the admin API shows the backend at addr as usable
// (or not).
func (m *mysqlProxy) waitUsable(t *testing.T, addr string, want bool) {
	t.Helper()
	waitBackendsOf(t, m.fd, "main", func(backends []backendView) bool {
		for _, b := range backends {
			if b.Address == addr && b.Usable == want {
				return true
			}
		}
		return false
	})
}

// waitBackendsOf polls the backends that the admin API shows for a mysql
// server until ok accepts them (bounded).
func waitBackendsOf(t *testing.T, fd *harness.Frontdesk, server string, ok func([]backendView) bool) {
	t.Helper()
	err := harness.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		body, err := fd.AdminGet("/mysql/servers")
		if err != nil {
			return err
		}
		var servers map[string]struct{ Backends []backendView }
		if err := json.Unmarshal(body, &servers); err != nil {
			return err
		}
		if !ok(servers[server].Backends) {
			return fmt.Errorf("server %s: backends not as wanted yet: %s", server, body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// freshSessions is a pool that opens a new proxy session for every query,
// so that each read makes its own choice of replica.
func (m *mysqlProxy) freshSessions(t *testing.T) *sql.DB {
	t.Helper()
	db := m.db(t, "")
	db.SetMaxIdleConns(0)
	return db
}

func readN(t *testing.T, db *sql.DB, marker string, n int) {
	t.Helper()
	for range n {
		var one int
		if err := db.QueryRow("SELECT /* " + marker + " */ 1").Scan(&one); err != nil {
			t.Fatalf("read %s: %v", marker, err)
		}
	}
}

// TestMySQLStoppedReplicaGetsNoReads stops one replica's SQL thread: the
// monitor takes it out of rotation, so it runs none of the reads that
// follow (checked in its general log), and it takes reads again once
// replication runs.
func TestMySQLStoppedReplicaGetsNoReads(t *testing.T) {
	m := startMySQLProxy(t)
	stopped, other := m.cluster.Replicas[0], m.cluster.Replicas[1]
	db := m.freshSessions(t)

	stopped.Lag()
	m.waitUsable(t, stopped.Addr(), false)
	readN(t, db, "while-stopped", 20)
	if n, o := stopped.Ran("while-stopped"), other.Ran("while-stopped"); n != 0 || o != 20 {
		t.Errorf("with its SQL thread stopped, the replica ran %d reads and the other %d; want 0 and 20", n, o)
	}

	stopped.Unlag()
	m.waitUsable(t, stopped.Addr(), true)
	m.waitReadsReach(t, db, stopped, "after-restart")
}

// waitReadsReach reads in rounds until the replica r runs some of them: a
// replica back in rotation gets reads again, once it answers about as fast
// as the others.
func (m *mysqlProxy) waitReadsReach(t *testing.T, db *sql.DB, r *harness.MariaDB, marker string) {
	t.Helper()
	err := harness.Eventually(20*time.Second, 100*time.Millisecond, func() error {
		readN(t, db, marker, 10)
		if r.Ran(marker) == 0 {
			status, _ := m.fd.AdminGet("/mysql/servers")
			return fmt.Errorf("replica %s ran none of the reads (they ran on %s); proxy status: %s", r.Name, m.ranOn(marker), status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMySQLReplicaKilledUnderLoad kills a replica while four clients read
// in a loop: reads that had not started streaming are retried elsewhere,
// so at most the reads in flight at the moment of the kill (one per
// client) may fail. The replica takes reads again after it is restored.
func TestMySQLReplicaKilledUnderLoad(t *testing.T) {
	m := startMySQLProxy(t)
	victim := m.cluster.Replicas[0]
	db := m.db(t, "")
	db.SetMaxOpenConns(4)

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := db.QueryRow("SELECT /* under-kill */ COUNT(*) FROM information_schema.schemata").Scan(&n); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(time.Second)
	victim.Kill()
	m.waitUsable(t, victim.Addr(), false)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	t.Logf("reads while a replica was killed: %d ok, %d failed (first error: %v)", ok.Load(), failed.Load(), firstErr.Load())
	if ok.Load() == 0 || failed.Load() > 4 {
		t.Errorf("%d reads failed around the kill, want at most the 4 in flight", failed.Load())
	}

	victim.Start()
	restored := time.Now()
	m.waitUsable(t, victim.Addr(), true)
	m.waitReadsReach(t, m.freshSessions(t), victim, "after-restore")
	t.Logf("the restored replica took reads again %s after it accepted connections", time.Since(restored).Round(10*time.Millisecond))
}

// TestMySQLPrimaryDown kills the primary: writes fail at once with an error
// that names the backend, reads keep working on the replicas, and writes
// work again once the primary is back, without restarting Frontdesk.
func TestMySQLPrimaryDown(t *testing.T) {
	m := startMySQLProxy(t)
	db := m.db(t, "")
	mustExec(t, db, "CREATE TABLE ledger (id INT PRIMARY KEY)")
	m.cluster.WaitReplicated()

	m.cluster.Primary.Kill()
	killed := time.Now()
	m.waitUsable(t, m.cluster.Primary.Addr(), false)
	t.Logf("the monitor marked the dead primary down after %s", time.Since(killed).Round(10*time.Millisecond))
	for i := range 5 {
		began := time.Now()
		_, err := db.Exec("INSERT INTO ledger VALUES (?)", i)
		if i == 0 {
			t.Logf("a write with the primary down failed after %s: %v", time.Since(began).Round(time.Millisecond), err)
		}
		if err == nil || !strings.Contains(err.Error(), m.cluster.Primary.Addr()) {
			t.Fatalf("a write with the primary down gave %v, want an error naming %s", err, m.cluster.Primary.Addr())
		}
	}
	readN(t, m.freshSessions(t), "primary-down", 10)

	m.cluster.Primary.Start()
	back := time.Now()
	err := harness.Eventually(30*time.Second, 50*time.Millisecond, func() error {
		_, err := db.Exec("INSERT INTO ledger VALUES (100)")
		return err
	})
	if err != nil {
		t.Fatalf("writes did not come back with the primary: %v", err)
	}
	t.Logf("writes worked again %s after the primary accepted connections", time.Since(back).Round(10*time.Millisecond))
}

// TestMySQLReplicaKilledUnderSysbench kills a replica while sysbench
// oltp_read_only --skip_trx=on reads through the proxy: the run completes,
// and only reads whose result had started streaming may fail (at most one
// per sysbench thread); sysbench counts them as ignored errors.
func TestMySQLReplicaKilledUnderSysbench(t *testing.T) {
	m := startMySQLProxy(t)
	sb := m.prepareSysbench(t, "oltp_read_only")

	const threads = 4
	results := make(chan harness.SysbenchResult, 1)
	go func() {
		results <- harness.Sysbench(t, 2*time.Minute, append(sb, fmt.Sprintf("--threads=%d", threads), "--time=10",
			"--skip_trx=on", "--mysql-ignore-errors=all", "--report-interval=0", "run")...)
	}()
	time.Sleep(3 * time.Second)
	victim := m.cluster.Replicas[0]
	victim.Kill()
	res := <-results
	t.Logf("sysbench oltp_read_only --skip_trx=on with a replica killed after 3 s: %s", res)
	if res.Transactions == 0 || res.IgnoredErrors > threads || res.Reconnects > threads {
		t.Errorf("sysbench: %s; want the run to complete with at most %d failed queries", res, threads)
	}
	victim.Start()
	m.waitUsable(t, victim.Addr(), true)
}
