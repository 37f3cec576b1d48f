package harness

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// SysbenchResult is the report at the end of a sysbench run.
type SysbenchResult struct {
	// Reads, Writes and Other are the "queries performed" by kind.
	Reads, Writes, Other int64
	// Transactions and Queries are the totals, TPS and QPS their rates.
	Transactions, Queries int64
	TPS, QPS              float64
	// IgnoredErrors are the errors sysbench retried (deadlocks and any in
	// --mysql-ignore-errors); any other error fails the run.
	IgnoredErrors int64
	// Reconnects are the connections sysbench had to open again.
	Reconnects int64
	// P95 is the 95th percentile latency in milliseconds.
	P95 float64
	// Output is sysbench's whole output.
	Output string
}

// String summarises the result in one line.
func (r SysbenchResult) String() string {
	return fmt.Sprintf("%d transactions (%.1f/s), %d queries (%.1f/s: %d reads, %d writes, %d other), "+
		"p95 %.2f ms, %d ignored errors, %d reconnects",
		r.Transactions, r.TPS, r.Queries, r.QPS, r.Reads, r.Writes, r.Other, r.P95, r.IgnoredErrors, r.Reconnects)
}

// SysbenchMySQLArgs are the sysbench options that connect as the test user
// to the MySQL server (or proxy) at addr and use database db.
func SysbenchMySQLArgs(t testing.TB, addr, db string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("sysbench address %q: %v", addr, err)
	}
	return []string{"--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port,
		"--mysql-user=" + TestUser, "--mysql-password=" + TestPassword, "--mysql-db=" + db}
}

// Sysbench runs sysbench with args (a test name such as oltp_read_write,
// options, and a command: prepare, run or cleanup), failing the test if it
// exits with an error, and returns its parsed report (zero for commands
// that print none). The run is killed if it lasts longer than limit. A
// missing sysbench is Unavailable.
func Sysbench(t testing.TB, limit time.Duration, args ...string) SysbenchResult {
	t.Helper()
	path, err := exec.LookPath("sysbench")
	if err != nil {
		Unavailable(t, "sysbench (apt-get install sysbench): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sysbench %v: %v\n%s", args, err, out.Bytes())
	}
	return ParseSysbench(out.String())
}

var sysbenchFields = regexp.MustCompile(`(?m)^\s*(read|write|other|transactions|queries|ignored errors|reconnects|95th percentile):\s+([0-9.]+)(?:\s+\(([0-9.]+) per sec\.\))?`)

// ParseSysbench reads the report that sysbench 1.0 prints after a run.
func ParseSysbench(out string) SysbenchResult {
	r := SysbenchResult{Output: out}
	for _, m := range sysbenchFields.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		rate, _ := strconv.ParseFloat(m[3], 64)
		switch m[1] {
		case "read":
			r.Reads = n
		case "write":
			r.Writes = n
		case "other":
			r.Other = n
		case "transactions":
			r.Transactions, r.TPS = n, rate
		case "queries":
			r.Queries, r.QPS = n, rate
		case "ignored errors":
			r.IgnoredErrors = n
		case "reconnects":
			r.Reconnects = n
		case "95th percentile":
			r.P95, _ = strconv.ParseFloat(m[2], 64)
		}
	}
	return r
}
