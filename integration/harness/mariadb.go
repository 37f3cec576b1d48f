package harness

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Credentials of the accounts every cluster has. The test user may do
// anything in the frontdesk and sbtest databases but cannot bypass
// read_only, so a write that reaches a replica fails visibly.
const (
	TestUser     = "frontdesk"
	TestPassword = "frontdesk-test-pw"
	TestDatabase = "frontdesk"
	replUser     = "repl"
	replPassword = "repl-test-pw"
)

// MariaDB is one mariadbd server started by a test.
type MariaDB struct {
	Name     string
	Port     int
	ServerID int
	DataDir  string
	Socket   string
	replica  bool
	// logging is set by LogStatements and survives restarts.
	logging bool
	proc    *Process
	t       T
	root    driver.Connector
	admin   *sql.DB
}

// Cluster is a MariaDB primary with GTID replicas, all on loopback.
type Cluster struct {
	Primary  *MariaDB
	Replicas []*MariaDB
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// StartCluster starts a primary and the given number of replicas from the
// Debian mariadb-server binaries, in temp dirs on free ports, creates the
// test user and database, and waits until replication runs. Replicas are
// read_only. Everything is stopped and removed when the test ends.
func StartCluster(t T, replicas int) *Cluster {
	t.Helper()
	mariadbd, err := exec.LookPath("mariadbd")
	if err != nil {
		if mariadbd, err = exec.LookPath("/usr/sbin/mariadbd"); err != nil {
			Unavailable(t, "mariadbd not found (apt-get install mariadb-server): %v", err)
		}
	}
	templateOnce.Do(func() { templateDir, templateErr = installTemplate(mariadbd) })
	if templateErr != nil {
		Unavailable(t, "initialising a MariaDB data dir: %v", templateErr)
	}
	c := &Cluster{Primary: newServer(t, "primary", 1, false)}
	for i := range replicas {
		c.Replicas = append(c.Replicas, newServer(t, fmt.Sprintf("replica%d", i+1), i+2, true))
	}
	for _, s := range c.All() {
		s.Start()
	}
	c.Primary.Exec(
		"CREATE USER '"+replUser+"'@'%' IDENTIFIED BY '"+replPassword+"'",
		"GRANT REPLICATION SLAVE ON *.* TO '"+replUser+"'@'%'",
		"CREATE USER '"+TestUser+"'@'%' IDENTIFIED BY '"+TestPassword+"'",
		"CREATE DATABASE "+TestDatabase,
		"CREATE DATABASE sbtest",
		"GRANT ALL ON "+TestDatabase+".* TO '"+TestUser+"'@'%'",
		"GRANT ALL ON sbtest.* TO '"+TestUser+"'@'%'",
		"GRANT SLAVE MONITOR, BINLOG MONITOR, PROCESS ON *.* TO '"+TestUser+"'@'%'",
	)
	for _, r := range c.Replicas {
		r.Exec(fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', "+
			"MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", c.Primary.Port, replUser, replPassword),
			"START SLAVE")
	}
	c.WaitReplicated()
	return c
}

// installTemplate initialises one data dir that every server starts from a
// copy of, so a cluster costs one mariadb-install-db per test run.
func installTemplate(mariadbd string) (string, error) {
	installer, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "frontdesk-mariadb-template-")
	if err != nil {
		return "", err
	}
	args := []string{"--no-defaults", "--datadir=" + dir, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	out, err := exec.Command(installer, args...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("%s: %v\n%s", installer, err, out)
	}
	return dir, nil
}

func newServer(t T, name string, id int, replica bool) *MariaDB {
	t.Helper()
	// Unix socket paths are limited to 108 bytes, so keep the dir short.
	dir, err := os.MkdirTemp("", "fdm-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &MariaDB{Name: name, Port: FreePort(t), ServerID: id, DataDir: filepath.Join(dir, "data"),
		Socket: filepath.Join(dir, "sock"), replica: replica, t: t}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", s.Socket
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, 30*time.Second, 30*time.Second
	if s.root, err = mysql.NewConnector(cfg); err != nil {
		t.Fatalf("%v", err)
	}
	if out, err := exec.Command("cp", "-a", templateDir, s.DataDir).CombinedOutput(); err != nil {
		t.Fatalf("copying MariaDB template for %s: %v\n%s", name, err, out)
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if s.admin != nil {
			s.admin.Close()
		}
	})
	return s
}

func (s *MariaDB) args() []string {
	dir := filepath.Dir(s.DataDir)
	args := []string{"--no-defaults",
		"--datadir=" + s.DataDir, "--socket=" + s.Socket, "--tmpdir=" + filepath.Join(dir, "tmp"),
		"--pid-file=" + filepath.Join(dir, "mariadbd.pid"),
		"--bind-address=127.0.0.1", "--port=" + strconv.Itoa(s.Port),
		"--server-id=" + strconv.Itoa(s.ServerID), "--report-host=127.0.0.1", "--report-port=" + strconv.Itoa(s.Port),
		"--log-bin=binlog", "--relay-log=relay", "--log-slave-updates", "--binlog-format=ROW", "--gtid-strict-mode=1",
		"--skip-name-resolve", "--max-connections=1000", "--slave-net-timeout=10",
		// Small and fast: these servers hold test data only.
		"--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M", "--innodb-flush-log-at-trx-commit=2",
		"--sync-binlog=0", "--performance-schema=OFF", "--skip-external-locking",
	}
	if s.replica {
		args = append(args, "--read-only=1")
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

// Start starts the server (again, after Stop or Kill, on the same data dir
// and port) and waits until it accepts connections.
func (s *MariaDB) Start() {
	s.t.Helper()
	if s.proc != nil && !s.proc.Exited() {
		s.t.Fatalf("MariaDB %s is already running", s.Name)
	}
	s.proc = StartProcess(s.t, filepath.Dir(s.DataDir), "mariadbd", nil, s.args()...)
	err := Eventually(60*time.Second, 100*time.Millisecond, func() error {
		if s.proc.Exited() {
			return errors.New("mariadbd exited during start-up")
		}
		return s.AdminDB().Ping()
	})
	if err != nil {
		s.t.Fatalf("MariaDB %s on port %d did not start: %v\n%s", s.Name, s.Port, err, s.proc.LogTail(30))
	}
	if s.logging {
		s.LogStatements()
	}
}

// Stop shuts the server down cleanly.
func (s *MariaDB) Stop() {
	s.t.Helper()
	if err := s.proc.Stop(60 * time.Second); err != nil {
		s.t.Logf("MariaDB %s stopped: %v", s.Name, err)
	}
	s.resetPool()
}

// Kill ends the server with SIGKILL, as a crash would.
func (s *MariaDB) Kill() {
	s.proc.Kill()
	s.resetPool()
}

// Running reports whether the server process is up.
func (s *MariaDB) Running() bool { return s.proc != nil && !s.proc.Exited() }

// PID is the server process's id (0 while it is not running), for
// benchmarks that measure its CPU time.
func (s *MariaDB) PID() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.PID()
}

// Addr is the server's TCP address.
func (s *MariaDB) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// resetPool drops pooled connections to a server that went away.
func (s *MariaDB) resetPool() {
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
}

// AdminDB is a pool of root connections over the server's Unix socket.
func (s *MariaDB) AdminDB() *sql.DB {
	if s.admin == nil {
		s.admin = sql.OpenDB(s.root)
	}
	return s.admin
}

// UserDSN is a go-sql-driver/mysql DSN for the test user over TCP.
func (s *MariaDB) UserDSN() string { return UserDSN(s.Addr()) }

// UserDSN is a go-sql-driver/mysql DSN for the test user at addr, which may
// be a server or Frontdesk in front of it.
func UserDSN(addr string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = TestUser, TestPassword, "tcp", addr, TestDatabase
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, 30*time.Second, 30*time.Second
	return cfg.FormatDSN()
}

// Exec runs statements as root, failing the test on the first error.
func (s *MariaDB) Exec(stmts ...string) {
	s.t.Helper()
	for _, q := range stmts {
		if _, err := s.AdminDB().Exec(q); err != nil {
			s.t.Fatalf("MariaDB %s: %s: %v", s.Name, q, err)
		}
	}
}

// QueryString runs a query as root and returns the first column of its
// first row ("" for NULL).
func (s *MariaDB) QueryString(q string, args ...any) (string, error) {
	var v sql.NullString
	err := s.AdminDB().QueryRow(q, args...).Scan(&v)
	return v.String, err
}

// Lag stops the replica's SQL thread: it keeps receiving events but applies
// none, so it falls behind the primary.
func (s *MariaDB) Lag() { s.Exec("STOP SLAVE SQL_THREAD") }

// Unlag restarts the replica's SQL thread after Lag.
func (s *MariaDB) Unlag() { s.Exec("START SLAVE SQL_THREAD") }

// All returns the primary and the replicas.
func (c *Cluster) All() []*MariaDB { return append([]*MariaDB{c.Primary}, c.Replicas...) }

// WaitReplicated waits until every running replica has applied everything
// the primary has written so far.
func (c *Cluster) WaitReplicated() {
	t := c.Primary.t
	t.Helper()
	pos, err := c.Primary.QueryString("SELECT @@gtid_binlog_pos")
	if err != nil {
		t.Fatalf("reading the primary's GTID position: %v", err)
	}
	for _, r := range c.Replicas {
		if !r.Running() {
			continue
		}
		if err := r.WaitGTID(pos, 60*time.Second); err != nil {
			io, _ := r.QueryString("SELECT @@gtid_slave_pos")
			t.Fatalf("replica %s did not reach GTID %q (it is at %q): %v", r.Name, pos, io, err)
		}
	}
}

// WaitGTID waits until the replica has applied the GTID position pos.
func (s *MariaDB) WaitGTID(pos string, timeout time.Duration) error {
	res, err := s.QueryString("SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds())
	if err != nil {
		return err
	}
	if res != "0" {
		return fmt.Errorf("MASTER_GTID_WAIT timed out after %s", timeout)
	}
	return nil
}

// LogStatements turns on the server's general log, into the table
// mysql.general_log, so that a test can see on the server itself which
// statements it ran (see Ran). It stays on across restarts.
func (s *MariaDB) LogStatements() {
	s.logging = true
	s.Exec("SET GLOBAL log_output = 'TABLE'", "SET GLOBAL general_log = 1")
}

// Ran counts the statements in the server's general log that contain
// marker (put it in a comment of the statement under test), counting
// executions, not preparations.
func (s *MariaDB) Ran(marker string) int {
	s.t.Helper()
	n, err := s.QueryString("SELECT COUNT(*) FROM mysql.general_log WHERE command_type IN ('Query', 'Execute') "+
		"AND argument LIKE CONCAT('%', ?, '%') AND argument NOT LIKE '%general_log%'", marker)
	if err != nil {
		s.t.Fatalf("MariaDB %s: reading the general log: %v", s.Name, err)
	}
	count, _ := strconv.Atoi(n)
	return count
}

// Delay makes the replica apply every event d after the primary wrote it
// (MASTER_DELAY): it keeps replicating, and stays that far behind.
func (s *MariaDB) Delay(d time.Duration) {
	s.Exec("STOP SLAVE", fmt.Sprintf("CHANGE MASTER TO MASTER_DELAY = %d", int(d.Seconds())), "START SLAVE")
}

// Switchover makes replica r the primary, as an operator would: the old
// primary turns read_only, r catches up, stops replicating and turns
// writable, and every other server (the old primary included) replicates
// from r. The cluster's Primary and Replicas follow.
func (c *Cluster) Switchover(r *MariaDB) {
	t := c.Primary.t
	t.Helper()
	old := c.Primary
	old.Exec("SET GLOBAL read_only = 1")
	c.WaitReplicated()
	r.Exec("STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0")
	r.replica = false
	var replicas []*MariaDB
	for _, s := range c.All() {
		if s == r {
			continue
		}
		if s != old {
			s.Exec("STOP SLAVE")
		}
		s.Exec(fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', "+
			"MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", r.Port, replUser, replPassword),
			"START SLAVE")
		s.replica = true
		replicas = append(replicas, s)
	}
	c.Primary, c.Replicas = r, replicas
}
