package integration

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// mysqlProxy is a cluster with Frontdesk's mysql app in front of it.
type mysqlProxy struct {
	cluster *harness.Cluster
	fd      *harness.Frontdesk
	addr    string
}

// startMySQLProxy starts a primary with two replicas, every server logging
// its statements, and Frontdesk splitting reads and writes over them,
// configured by the example mysql-split.Caddyfile.
func startMySQLProxy(t *testing.T) *mysqlProxy {
	t.Helper()
	return startMySQLProxyWith(t)
}

// withServerOptions returns the example mysql-split.Caddyfile with extra
// lines in its server block.
func withServerOptions(t *testing.T, lines ...string) string {
	t.Helper()
	config := readExample(t, "mysql-split.Caddyfile")
	anchor := "\t\t\tuser {$FRONTDESK_MYSQL_USER"
	if !strings.Contains(config, anchor) {
		t.Fatalf("mysql-split.Caddyfile has no line starting %q", anchor)
	}
	var extra string
	for _, l := range lines {
		extra += "\t\t\t" + l + "\n"
	}
	return strings.Replace(config, anchor, extra+anchor, 1)
}

// startMySQLProxyWith is startMySQLProxy with extra server options.
func startMySQLProxyWith(t *testing.T, options ...string) *mysqlProxy {
	t.Helper()
	c := harness.StartCluster(t, 2)
	for _, s := range c.All() {
		s.LogStatements()
	}
	return proxyFor(t, c, options...)
}

// proxyFor starts a Frontdesk with the example's server, and the extra
// options, in front of cluster c: several may share one cluster.
func proxyFor(t *testing.T, c *harness.Cluster, options ...string) *mysqlProxy {
	t.Helper()
	addr := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, withServerOptions(t, options...), harness.Caddyfile,
		"FRONTDESK_MYSQL_LISTEN="+addr,
		"FRONTDESK_MYSQL_PRIMARY="+c.Primary.Addr(),
		"FRONTDESK_MYSQL_REPLICAS="+c.Replicas[0].Addr()+" "+c.Replicas[1].Addr(),
		"FRONTDESK_MYSQL_USER="+harness.TestUser,
		"FRONTDESK_MYSQL_PASSWORD="+harness.TestPassword,
	)
	return &mysqlProxy{cluster: c, fd: fd, addr: addr}
}

// ranOn says where the statements with marker ran: "primary", "replica",
// or a list when several servers ran one.
func (m *mysqlProxy) ranOn(marker string) string {
	var where []string
	if n := m.cluster.Primary.Ran(marker); n > 0 {
		where = append(where, fmt.Sprintf("primary×%d", n))
	}
	replicas := 0
	for _, r := range m.cluster.Replicas {
		replicas += r.Ran(marker)
	}
	if replicas > 0 {
		where = append(where, fmt.Sprintf("replica×%d", replicas))
	}
	return strings.Join(where, ",")
}

func (m *mysqlProxy) db(t *testing.T, params string) *sql.DB {
	t.Helper()
	dsn := harness.UserDSN(m.addr)
	if params != "" {
		dsn += "&" + params
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestMySQLSplitGoDriver drives the proxy with go-sql-driver/mysql in its
// three modes: writes land on the primary, reads on a replica, checked in
// the servers' own general logs.
func TestMySQLSplitGoDriver(t *testing.T) {
	m := startMySQLProxy(t)
	setup := m.db(t, "")
	mustExec(t, setup, "CREATE TABLE guests (id INT PRIMARY KEY, name VARCHAR(64))")

	for _, mode := range []struct{ name, params string }{
		{"text", "interpolateParams=true"},
		{"prepared", ""},
	} {
		t.Run(mode.name, func(t *testing.T) {
			db := m.db(t, mode.params)
			base := map[string]int{"text": 100, "prepared": 200}[mode.name]
			for i := range 5 {
				mustExec(t, db, "INSERT /* w-"+mode.name+" */ INTO guests VALUES (?, ?)", base+i, fmt.Sprintf("guest %d", i))
			}
			m.cluster.WaitReplicated()
			var n int
			for range 5 {
				if err := db.QueryRow("SELECT /* r-"+mode.name+" */ COUNT(*) FROM guests WHERE id >= ? AND id < ?", base, base+100).Scan(&n); err != nil {
					t.Fatal(err)
				}
			}
			if n != 5 {
				t.Errorf("read %d rows back, want 5", n)
			}
			if got := m.ranOn("w-" + mode.name); got != "primary×5" {
				t.Errorf("writes ran on %q, want primary×5", got)
			}
			if got := m.ranOn("r-" + mode.name); !strings.HasPrefix(got, "replica×") || strings.Contains(got, "primary") {
				t.Errorf("reads ran on %q, want replicas only", got)
			}
		})
	}

	// The same counts are Prometheus metrics on the admin API.
	metrics, err := m.fd.AdminGet("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`caddy_frontdesk_mysql_statements_total{server="main",target="replica"}`,
		`caddy_frontdesk_mysql_backend_usable{backend="` + m.cluster.Replicas[0].Addr() + `",role="replica",server="main"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// prepareSysbench readies the proxy's cluster for a sysbench test: the
// general log off (status counters tell where statements ran, and the log
// would only slow the servers down), two tables of 10000 rows in sbtest
// created through the proxy and replicated. It returns the arguments of
// the test named, through the proxy, with prepared statements and uniform
// row choice (which makes deadlocks between threads, which sysbench would
// count as errors, vanishingly rare).
func (m *mysqlProxy) prepareSysbench(t *testing.T, test string) []string {
	t.Helper()
	for _, s := range m.cluster.All() {
		s.Exec("SET GLOBAL general_log = 0")
	}
	sb := append([]string{test}, harness.SysbenchMySQLArgs(t, m.addr, "sbtest")...)
	sb = append(sb, "--tables=2", "--table-size=10000", "--rand-type=uniform", "--db-ps-mode=auto")
	harness.Sysbench(t, 2*time.Minute, append(sb, "--threads=2", "prepare")...)
	m.cluster.WaitReplicated()
	return sb
}
