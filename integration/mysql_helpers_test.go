package integration

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// port is the TCP port Frontdesk's mysql server listens on.
func (m *mysqlProxy) port(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// ranOnEach counts the statements with marker that each server ran: the
// primary first, then the replicas in order.
func (m *mysqlProxy) ranOnEach(marker string) []int {
	counts := []int{m.cluster.Primary.Ran(marker)}
	for _, r := range m.cluster.Replicas {
		counts = append(counts, r.Ran(marker))
	}
	return counts
}

// wantRanOn checks where the statements with marker ran, in ranOn's words:
// "primary×1", "replica×2", "primary×1,replica×1", or "" for nowhere. The
// general log is searched for the marker as a substring, so no marker of a
// test may be part of another.
func (m *mysqlProxy) wantRanOn(t *testing.T, marker, want string) {
	t.Helper()
	if got := m.ranOn(marker); got != want {
		t.Errorf("statements marked %q ran on %q, want %q (per server: %v)", marker, got, want, m.ranOnEach(marker))
	}
}

// wantOneReplica checks that every marker ran exactly once and all of them
// on the same replica, never on the primary.
func (m *mysqlProxy) wantOneReplica(t *testing.T, markers ...string) {
	t.Helper()
	replica := -1
	for _, marker := range markers {
		counts := m.ranOnEach(marker)
		at := -1
		for i, n := range counts {
			if n == 1 && at < 0 {
				at = i
			} else if n != 0 {
				at = -2
			}
		}
		switch {
		case at < 1:
			t.Errorf("%q ran %v times on [primary replicas...], want once on one replica", marker, counts)
		case replica < 0:
			replica = at
		case at != replica:
			t.Errorf("%q ran on replica %d, the statements before it on replica %d", marker, at, replica)
		}
	}
}

// mariadbCLI returns the path of the mariadb command-line client.
func mariadbCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("mariadb")
	if err != nil {
		harness.Unavailable(t, "the mariadb client (apt-get install mariadb-client): %v", err)
	}
	return path
}

// cliArgs are the arguments that connect the mariadb client to the proxy as
// the test user, in batch mode, keeping comments (the markers the general
// log is searched for, and routing hints) in the statements it sends.
func (m *mysqlProxy) cliArgs(t *testing.T, password string) []string {
	return []string{"--no-defaults", "-h127.0.0.1", "-P" + m.port(t),
		"-u" + harness.TestUser, "-p" + password, "-D" + harness.TestDatabase,
		"--comments", "--batch", "--skip-column-names", "--connect-timeout=10"}
}

// cliRun runs sql (statements separated by ';') in one mariadb client
// session and returns its stdout and stderr.
func (m *mysqlProxy) cliRun(t *testing.T, password, sql string) (stdout, stderr string, err error) {
	t.Helper()
	return runCLI(t, append(m.cliArgs(t, password), "-e", sql))
}

// runCLI runs the mariadb client with args and returns its output.
func runCLI(t *testing.T, args []string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(mariadbCLI(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// cli runs sql in one mariadb client session and returns the rows it
// printed, one string per row with tabs between columns. Any error fails
// the test.
func (m *mysqlProxy) cli(t *testing.T, sql string) []string {
	t.Helper()
	out, errOut, err := m.cliRun(t, harness.TestPassword, sql)
	if err != nil {
		t.Fatalf("mariadb -e %q: %v\n%s%s", sql, err, out, errOut)
	}
	return strings.Split(strings.TrimRight(out, "\n"), "\n")
}

// wantRows checks the rows a client printed.
func wantRows(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: got rows %q, want %q", what, got, want)
	}
}

// comCounters are a server's Com_* status counters: how many statements of
// each kind it ran.
type comCounters map[string]int64

// comStatus reads a server's global Com_* counters. The query itself counts
// as Com_show_status only.
func comStatus(t *testing.T, s *harness.MariaDB) comCounters {
	t.Helper()
	rows, err := s.AdminDB().Query("SHOW GLOBAL STATUS LIKE 'Com\\_%'")
	if err != nil {
		t.Fatalf("%s: SHOW GLOBAL STATUS: %v", s.Name, err)
	}
	defer rows.Close()
	c := comCounters{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			t.Fatalf("%s: %s = %q: %v", s.Name, name, value, err)
		}
		c[strings.ToLower(name)] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// since returns the growth of the named counters from before to c, summed.
func (c comCounters) since(before comCounters, names ...string) int64 {
	var n int64
	for _, name := range names {
		n += c[name] - before[name]
	}
	return n
}

// clusterStatus is comStatus for every server of a cluster, primary first.
func clusterStatus(t *testing.T, c *harness.Cluster) []comCounters {
	t.Helper()
	var all []comCounters
	for _, s := range c.All() {
		all = append(all, comStatus(t, s))
	}
	return all
}

// describeDeltas prints the growth of the named counters on each server.
func describeDeltas(before, after []comCounters, names ...string) string {
	var b strings.Builder
	for i := range after {
		server := "primary"
		if i > 0 {
			server = fmt.Sprintf("replica%d", i)
		}
		fmt.Fprintf(&b, "%s:", server)
		for _, name := range names {
			fmt.Fprintf(&b, " %s=%d", strings.TrimPrefix(name, "com_"), after[i].since(before[i], name))
		}
		b.WriteString("; ")
	}
	return strings.TrimSuffix(b.String(), "; ")
}
