package integration

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// Shape of the MySQL benchmark: sysbench's tables.
const (
	sbTables    = 4
	sbTableSize = 10000
	// userHZ is the unit of the CPU times in /proc/<pid>/stat on Linux.
	userHZ = 100
)

// sbRunTime is how long each target is measured per workload: 12 s, or
// FRONTDESK_BENCH_MYSQL_SECONDS (for a quick try of the benchmark itself).
func sbRunTime() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("FRONTDESK_BENCH_MYSQL_SECONDS")); err == nil && n >= 3 {
		return time.Duration(n) * time.Second
	}
	return 12 * time.Second
}

// sbRounds is how many runs sbRunTime is split into. The targets take turns
// run by run, each round in another order, so that a slow spell of this
// shared machine weighs on every target alike instead of on whichever ran
// then: ratios from back-to-back 12 s runs swung by 10%.
const sbRounds = 3

// sbRoundTime is how long one run lasts.
func sbRoundTime() time.Duration { return max(sbRunTime()/sbRounds, 3*time.Second) }

// sbWorkload is one sysbench test with its extra options.
type sbWorkload struct {
	name string
	args []string
}

// sbTarget is where a sysbench run connects: the primary itself or a proxy
// in front of it, whose process's CPU time is measured.
type sbTarget struct {
	name string
	addr string
	pid  int // 0 when no proxy is in between
}

// sbResult is what one sysbench run measured.
type sbResult struct {
	qps     float64
	queries int64
	// p95ms is the median of the runs' 95th percentiles.
	p95ms  float64
	errors int64
	// cpu is the proxy's CPU time (user+system) during the run.
	cpu time.Duration
	// primaryReads and replicaReads count the SELECTs the servers ran
	// during the run (Com_select, from the servers' own counters).
	primaryReads, replicaReads int64
}

// TestBenchMySQL measures sysbench's oltp_point_select and oltp_read_only
// (without transactions, so that reads may split) at 8 and 32 threads,
// straight to the primary, through HAProxy in TCP mode in front of the
// primary (the cheapest relay: the floor of what any proxy costs on this
// machine), through Frontdesk spreading the reads over two replicas, and,
// to tell the relay's cost from the split's, through Frontdesk with no
// replicas (every statement to the primary, as with HAProxy). It prints
// QPS, p95 latency, the ratios against direct and HAProxy, the proxies' CPU
// per query and where the reads ran, and the top functions of a CPU profile
// of Frontdesk taken during one run.
func TestBenchMySQL(t *testing.T) {
	benchEnabled(t)
	if _, err := exec.LookPath("sysbench"); err != nil {
		harness.Unavailable(t, "sysbench not found (apt-get install sysbench): %v", err)
	}
	c := harness.StartCluster(t, 2)
	split, primaryOnly, rywOff, pooled := harness.FreeAddr(t), harness.FreeAddr(t), harness.FreeAddr(t), harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, benchMySQLCaddyfile(c, split, primaryOnly, rywOff, pooled), harness.Caddyfile)
	haproxy := startHAProxy(t, c.Primary.Addr())
	targets := []sbTarget{
		{"direct", c.Primary.Addr(), 0},
		{"haproxy-tcp", haproxy.addr, haproxy.PID()},
		{"frontdesk", split, fd.PID()},
		{"fd-primary-only", primaryOnly, fd.PID()},
		{"frontdesk-pooled", pooled, fd.PID()},
	}
	if baseline := os.Getenv(baselineEnv); baseline != "" {
		// An earlier build, measured in the same rounds, for before/after.
		addr := harness.FreeAddr(t)
		before := harness.StartFrontdeskBinary(t, baseline, benchMySQLCaddyfile(c, addr, harness.FreeAddr(t), "", ""), harness.Caddyfile)
		targets = append(targets, sbTarget{"baseline", addr, before.PID()})
	}

	sysbench(t, "oltp_point_select", c.Primary.Addr(), "prepare", 1, 5*time.Minute)
	c.WaitReplicated()
	if os.Getenv(heldOnlyEnv) == "1" {
		benchHeldConnections(t, c, haproxy)
		return
	}
	// Warm every server's buffer pool and every path once.
	for _, tg := range targets {
		sysbench(t, "oltp_read_only", tg.addr, "run", 8, 2*time.Second, "--skip_trx=on")
	}

	workloads := []sbWorkload{
		{"oltp_point_select", nil},
		{"oltp_read_only", []string{"--skip_trx=on"}},
	}
	type row struct {
		workload string
		threads  int
		results  map[string]sbResult
	}
	var rows []row
	for _, w := range workloads {
		for _, threads := range []int{8, 32} {
			r := row{w.name, threads, map[string]sbResult{}}
			runs := map[string][]sbResult{}
			for round := range sbRounds {
				for i := range targets {
					tg := targets[(i+round)%len(targets)]
					runs[tg.name] = append(runs[tg.name], runMeasured(t, c, w, tg, threads, sbRoundTime()))
				}
			}
			for name, rs := range runs {
				r.results[name] = combineRuns(rs)
			}
			rows = append(rows, r)
		}
	}

	// Where Frontdesk's CPU goes, in a run of its own.
	prof := profileFrontdesk(t, fd)
	sysbench(t, workloads[0].name, split, "run", 32, sbRunTime(), workloads[0].args...)
	if top := <-prof; top != "" {
		t.Logf("CPU profile of frontdesk during %s, 32 threads:\n%s", workloads[0].name, top)
	}

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tthreads\ttarget\tQPS\tp95 ms\tvs direct\tvs haproxy\tproxy CPU µs/query\treads on replicas\t")
	for _, r := range rows {
		direct, hap := r.results["direct"], r.results["haproxy-tcp"]
		for _, tg := range targets {
			res := r.results[tg.name]
			cpu, share := "-", "-"
			if tg.pid != 0 && res.queries > 0 {
				cpu = fmt.Sprintf("%.1f", float64(res.cpu.Microseconds())/float64(res.queries))
			}
			if total := res.primaryReads + res.replicaReads; total > 0 {
				share = fmt.Sprintf("%.0f%%", 100*float64(res.replicaReads)/float64(total))
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%.2f\t%.2fx\t%.2fx\t%s\t%s\t\n", r.workload, r.threads, tg.name,
				res.qps, res.p95ms, safeDiv(res.qps, direct.qps), safeDiv(res.qps, hap.qps), cpu, share)
		}
	}
	tw.Flush()
	t.Logf("sysbench, %d tables x %d rows, %d interleaved runs of %s per target, prepared statements, p95 per sysbench event "+
		"(1 query for point_select, 14 for read_only); %d CPUs shared by sysbench, MariaDB and the proxy:\n%s",
		sbTables, sbTableSize, sbRounds, sbRoundTime(), runtime.NumCPU(), b.String())
	for _, r := range rows {
		got, hap := r.results["frontdesk"], r.results["haproxy-tcp"]
		verdict := "meets"
		if safeDiv(got.qps, hap.qps) < 0.8 {
			verdict = "misses"
		}
		t.Logf("%s at %d threads: frontdesk/haproxy %.2fx %s the 0.8x target", r.workload, r.threads, safeDiv(got.qps, hap.qps), verdict)
		if pooledRes := r.results["frontdesk-pooled"]; pooledRes.qps > 0 {
			t.Logf("%s at %d threads: frontdesk-pooled/frontdesk %.2fx QPS (pooling and multiplexing vs a connection per session), CPU per query %.2fx",
				r.workload, r.threads, safeDiv(pooledRes.qps, got.qps),
				safeDiv(float64(pooledRes.cpu)/float64(max(pooledRes.queries, 1)), float64(got.cpu)/float64(max(got.queries, 1))))
		}
		if base, ok := r.results["baseline"]; ok {
			t.Logf("%s at %d threads: frontdesk/baseline %.2fx QPS, CPU per query %.2fx", r.workload, r.threads,
				safeDiv(got.qps, base.qps), safeDiv(float64(got.cpu)/float64(max(got.queries, 1)), float64(base.cpu)/float64(max(base.queries, 1))))
		}
		if got.primaryReads > got.replicaReads/20 {
			t.Errorf("%s at %d threads: frontdesk sent %d reads to the primary and %d to replicas: it did not split",
				r.workload, r.threads, got.primaryReads, got.replicaReads)
		}
	}

	// What read-your-writes (on by default) costs: oltp_read_write without
	// transactions, whose reads follow its writes, with it and without
	// (updates only: concurrent delete-and-insert of one id would collide).
	rw := sbWorkload{"oltp_read_write", []string{"--skip_trx=on", "--delete_inserts=0"}}
	rywTargets := []sbTarget{targets[2], {"fd-ryw-off", rywOff, fd.PID()}}
	rywRuns := map[string][]sbResult{}
	for round := range sbRounds {
		for i := range rywTargets {
			tg := rywTargets[(i+round)%len(rywTargets)]
			rywRuns[tg.name] = append(rywRuns[tg.name], runMeasured(t, c, rw, tg, 8, sbRoundTime()))
		}
	}
	on, off := combineRuns(rywRuns["frontdesk"]), combineRuns(rywRuns["fd-ryw-off"])
	share := func(r sbResult) float64 {
		return 100 * safeDiv(float64(r.replicaReads), float64(r.replicaReads+r.primaryReads))
	}
	t.Logf("%s --skip_trx=on at 8 threads: read_your_writes session %.0f QPS (p95 %.2f ms, %.0f%% of reads on replicas), "+
		"off %.0f QPS (p95 %.2f ms, %.0f%% on replicas): session/off %.2fx",
		rw.name, on.qps, on.p95ms, share(on), off.qps, off.p95ms, share(off), safeDiv(on.qps, off.qps))
	c.WaitReplicated()

	// Connect per request: connect, log in, one point select, disconnect,
	// in a loop on 16 threads, as PHP-FPM workers or serverless functions
	// do. Frontdesk with pooling logs in to no backend for it.
	// Besides the rates, the CPU each request costs the load generator
	// (this process), the MariaDB servers and the proxy: all share the
	// machine's cores, so the rate alone hides where the work went.
	connTargets := []sbTarget{targets[0], targets[1], {"frontdesk-pooled", pooled, fd.PID()}}
	connRuns := map[string][]float64{}
	connCPU := map[string][3]time.Duration{} // client, servers, proxy
	serversCPU := func() (d time.Duration) {
		for _, s := range c.All() {
			d += procCPU(s.PID())
		}
		return d
	}
	for round := range sbRounds {
		for i := range connTargets {
			tg := connTargets[(i+round)%len(connTargets)]
			client, servers, proxy := selfCPU(), serversCPU(), time.Duration(0)
			if tg.pid != 0 {
				proxy = procCPU(tg.pid)
			}
			r := connectPerRequest(t, tg.addr, 16, sbRoundTime())
			connRuns[tg.name] = append(connRuns[tg.name], r)
			n := time.Duration(max(r*sbRoundTime().Seconds(), 1))
			sum := connCPU[tg.name]
			sum[0] += (selfCPU() - client) / n
			sum[1] += (serversCPU() - servers) / n
			if tg.pid != 0 {
				sum[2] += (procCPU(tg.pid) - proxy) / n
			}
			connCPU[tg.name] = sum
		}
	}
	for _, tg := range connTargets {
		sum := connCPU[tg.name]
		t.Logf("connect per request through %s: CPU per request: load generator %v, MariaDB servers %v, proxy %v",
			tg.name, sum[0]/sbRounds, sum[1]/sbRounds, sum[2]/sbRounds)
	}
	rate := func(name string) float64 {
		var sum float64
		for _, r := range connRuns[name] {
			sum += r
		}
		return sum / float64(len(connRuns[name]))
	}
	t.Logf("connect, log in, point select, disconnect, 16 threads: direct %.0f/s, haproxy-tcp %.0f/s, frontdesk-pooled %.0f/s: "+
		"frontdesk/haproxy %.2fx (target 2x), frontdesk/direct %.2fx", rate("direct"), rate("haproxy-tcp"), rate("frontdesk-pooled"),
		safeDiv(rate("frontdesk-pooled"), rate("haproxy-tcp")), safeDiv(rate("frontdesk-pooled"), rate("direct")))

	// Backend connections held by 2,000 client connections with 32 active.
	benchHeldConnections(t, c, haproxy)

	// Degraded: one replica lagging (its SQL thread stopped, so its lag is
	// unknown) and the other dead. Frontdesk keeps serving, from the primary.
	healthy := rows[2].results["frontdesk"] // oltp_read_only at 8 threads
	c.Replicas[0].Lag()
	c.Replicas[1].Kill()
	waitBackendsOf(t, fd, "split", func(backends []backendView) bool {
		out := 0
		for _, b := range backends {
			if b.Role == "replica" && !b.Usable {
				out++
			}
		}
		return out == 2
	})
	w := workloads[1]
	degraded := runMeasured(t, c, w, targets[2], 8, sbRunTime())
	t.Logf("%s at 8 threads through frontdesk with one replica lagging and one dead: %.0f QPS (%.2fx of healthy), "+
		"p95 %.2f ms (%.2fx), %d errors, reads: %d on the primary, %d on replicas",
		w.name, degraded.qps, safeDiv(degraded.qps, healthy.qps), degraded.p95ms, safeDiv(degraded.p95ms, healthy.p95ms),
		degraded.errors, degraded.primaryReads, degraded.replicaReads)
}

// baselineEnv names an earlier frontdesk binary that TestBenchMySQL
// measures as the target "baseline" (split, as "frontdesk"), in the same
// rounds: `make bench-mysql BASELINE=bin/frontdesk-before`.
const baselineEnv = "FRONTDESK_BENCH_BASELINE"

// benchMySQLCaddyfile configures one Frontdesk process with mysql servers
// on the cluster: split, which spreads reads over the replicas,
// primaryOnly, which has no replicas and so relays everything to the
// primary, the same path as HAProxy's, rywOff, split without
// read-your-writes, and pooled, split with pooled backend connections (the
// last two left out when their addresses are empty, for a baseline build
// that predates them).
func benchMySQLCaddyfile(c *harness.Cluster, split, primaryOnly, rywOff, pooled string) string {
	rywServer := ""
	if rywOff != "" {
		rywServer = fmt.Sprintf(`
		server ryw_off {
			listen %s
			primary %s
			replicas %s %s
			user %s %s
			read_your_writes off
		}`, rywOff, c.Primary.Addr(), c.Replicas[0].Addr(), c.Replicas[1].Addr(), harness.TestUser, harness.TestPassword)
	}
	if pooled != "" {
		rywServer += fmt.Sprintf(`
		server pooled {
			listen %s
			primary %s
			replicas %s %s
			user %s %s
			pool
		}`, pooled, c.Primary.Addr(), c.Replicas[0].Addr(), c.Replicas[1].Addr(), harness.TestUser, harness.TestPassword)
	}
	return fmt.Sprintf(`{
	admin {$%s}
	mysql {
		server split {
			listen %s
			primary %s
			replicas %s %s
			user %s %s
		}
		server primary_only {
			listen %s
			primary %s
			user %s %s
		}%s
	}
}
`, harness.AdminEnv, split, c.Primary.Addr(), c.Replicas[0].Addr(), c.Replicas[1].Addr(), harness.TestUser, harness.TestPassword,
		primaryOnly, c.Primary.Addr(), harness.TestUser, harness.TestPassword, rywServer)
}

// runMeasured runs one sysbench workload against tg and measures it, with
// the proxy's CPU time and the servers' SELECT counters around it.
func runMeasured(t *testing.T, c *harness.Cluster, w sbWorkload, tg sbTarget, threads int, d time.Duration) sbResult {
	t.Helper()
	reads0 := selectCounts(t, c)
	cpu0 := procCPU(tg.pid)
	report := sysbench(t, w.name, tg.addr, "run", threads, d, w.args...)
	cpu1 := procCPU(tg.pid)
	reads1 := selectCounts(t, c)
	res := sbResult{qps: report.QPS, queries: report.Queries, p95ms: report.P95, errors: report.IgnoredErrors}
	if report.Queries == 0 {
		t.Errorf("%s through %s at %d threads: no queries in the report\n%s", w.name, tg.name, threads, report.Output)
	}
	if res.errors > 0 {
		t.Errorf("%s through %s at %d threads: %d errors", w.name, tg.name, threads, res.errors)
	}
	res.cpu = cpu1 - cpu0
	for i := range reads1 {
		if i == 0 {
			res.primaryReads = reads1[i] - reads0[i]
		} else {
			res.replicaReads += reads1[i] - reads0[i]
		}
	}
	return res
}

// combineRuns adds up runs of one target: queries, CPU and reads summed,
// QPS over the runs' total time, p95 the median of theirs.
func combineRuns(rs []sbResult) sbResult {
	var sum sbResult
	var seconds float64
	p95s := make([]float64, 0, len(rs))
	for _, r := range rs {
		sum.queries += r.queries
		sum.errors += r.errors
		sum.cpu += r.cpu
		sum.primaryReads += r.primaryReads
		sum.replicaReads += r.replicaReads
		seconds += safeDiv(float64(r.queries), r.qps)
		p95s = append(p95s, r.p95ms)
	}
	sum.qps = safeDiv(float64(sum.queries), seconds)
	slices.Sort(p95s)
	sum.p95ms = p95s[len(p95s)/2]
	return sum
}

// sysbench runs `sysbench <workload> <cmd>` against addr on the sbtest
// tables as the test user, bounded by the run time plus a minute, and
// returns its report. A failure fails the test.
func sysbench(t *testing.T, workload, addr, cmd string, threads int, d time.Duration, extra ...string) harness.SysbenchResult {
	t.Helper()
	args := append([]string{workload}, harness.SysbenchMySQLArgs(t, addr, "sbtest")...)
	args = append(args, fmt.Sprintf("--tables=%d", sbTables), fmt.Sprintf("--table-size=%d", sbTableSize),
		fmt.Sprintf("--threads=%d", threads), fmt.Sprintf("--time=%d", int(d.Seconds())), "--events=0",
		"--percentile=95", "--report-interval=0")
	return harness.Sysbench(t, d+time.Minute, append(append(args, extra...), cmd)...)
}

// selectCounts returns each server's Com_select, primary first.
func selectCounts(t *testing.T, c *harness.Cluster) []int64 {
	t.Helper()
	var counts []int64
	for _, s := range c.All() {
		if !s.Running() {
			counts = append(counts, 0) // a server killed on purpose
			continue
		}
		var name string
		var n int64
		if err := s.AdminDB().QueryRow("SHOW GLOBAL STATUS LIKE 'Com_select'").Scan(&name, &n); err != nil {
			t.Fatalf("MariaDB %s: reading Com_select: %v", s.Name, err)
		}
		counts = append(counts, n)
	}
	return counts
}

// procCPU returns the CPU time (user+system) process pid has used so far,
// or 0 for pid 0 or a process that cannot be read.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the parenthesised command name; utime and stime are
	// the 14th and 15th fields of the line, 12th and 13th after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * time.Second / userHZ
}

// haproxyProc is an HAProxy started by a test.
type haproxyProc struct {
	*harness.Process
	addr string
}

// startHAProxy runs Debian's HAProxy as a plain TCP relay to primary, with
// its config in a temp dir, and waits until a MySQL login through it works.
// It is ended by its PID when the test ends.
func startHAProxy(t *testing.T, primary string) *haproxyProc {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/haproxy"); err != nil {
			harness.Unavailable(t, "haproxy not found (apt-get install haproxy): %v", err)
		}
	}
	dir := t.TempDir()
	addr := harness.FreeAddr(t)
	cfg := fmt.Sprintf(`global
	maxconn 4096

defaults
	mode tcp
	# Room for benchHeldConnections' 2,000 clients.
	maxconn 4096
	timeout connect 5s
	timeout client 10m
	timeout server 10m

listen mysql
	bind %s
	server primary %s
`, addr, primary)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &haproxyProc{Process: harness.StartProcess(t, dir, bin, nil, "-db", "-f", path), addr: addr}
	db, err := sql.Open("mysql", harness.UserDSN(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = harness.Eventually(20*time.Second, 100*time.Millisecond, func() error {
		if p.Exited() {
			return fmt.Errorf("haproxy exited during start-up")
		}
		return db.Ping()
	})
	if err != nil {
		t.Fatalf("haproxy at %s never relayed a MySQL login: %v\n%s", addr, err, p.LogTail(20))
	}
	return p
}

// profileFrontdesk starts taking a CPU profile of Frontdesk through its
// admin API (Caddy serves net/http/pprof there), saves it as
// bin/mysql-bench-cpu.pprof, and delivers `go tool pprof -top` of it, or ""
// after reporting why there is none.
func profileFrontdesk(t *testing.T, fd *harness.Frontdesk) chan string {
	t.Helper()
	path := filepath.Join(harness.RepoRoot(), "bin", "mysql-bench-cpu.pprof")
	seconds := int(sbRunTime().Seconds()) - 2
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", fd.Admin, seconds)
	done := make(chan string, 1)
	go func() {
		time.Sleep(time.Second) // let sysbench connect
		top, err := fetchProfile(url, path, time.Duration(seconds)*time.Second)
		if err != nil {
			t.Errorf("CPU profile of frontdesk: %v", err)
		}
		done <- top
	}()
	return done
}

// fetchProfile saves the profile at url to path and returns its top
// functions.
func fetchProfile(url, path string, d time.Duration) (string, error) {
	client := &http.Client{Timeout: d + 30*time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go tool pprof needs the go command on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "tool", "pprof", "-top", "-nodecount=25", path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %v\n%s", err, out)
	}
	return fmt.Sprintf("(saved as %s)\n%s", path, out), nil
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// connectPerRequest runs threads loops of connect, log in, one point
// select and disconnect against addr for d, and returns the rate of whole
// loops per second. A failed loop fails the test.
func connectPerRequest(t *testing.T, addr string, threads int, d time.Duration) float64 {
	t.Helper()
	var done atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				c, err := harness.DialRaw(addr, harness.TestUser, harness.TestPassword, "sbtest", harness.RawCaps)
				if err == nil {
					_, err = c.Query(fmt.Sprintf("SELECT c FROM sbtest1 WHERE id = %d", 1+(g*7919+i)%sbTableSize))
					c.Close()
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err := firstErr.Load(); err != nil {
		t.Errorf("connect per request through %s: %v", addr, err)
	}
	return float64(done.Load()) / d.Seconds()
}

// heldOnlyEnv, set to 1, makes TestBenchMySQL run only benchHeldConnections
// (after sysbench's prepare): FRONTDESK_BENCH_MYSQL_HELD_ONLY=1 make bench-mysql.
const heldOnlyEnv = "FRONTDESK_BENCH_MYSQL_HELD_ONLY"

// Shape of benchHeldConnections.
const (
	heldClients = 2000
	heldActive  = 32
	heldPoolMax = 40
	// heldRunTime is one run's statements, after its clients logged in.
	heldRunTime  = 3 * time.Second
	heldPassword = "bench-held-pw"
)

// heldTarget is a relay benchHeldConnections measures. Each has an
// account of its own, so that the servers' PROCESSLIST tells its
// connections from any other's (the monitors', sysbench's, the other
// Frontdesk's pool); keeps is how many it may go on holding once its
// clients left.
type heldTarget struct {
	name, addr, user string
	keeps            int
}

// heldResult is what one run of benchHeldConnections measured.
type heldResult struct {
	// peak is the most connections of the target's account that the
	// servers listed at once, all servers together.
	peak       int
	statements int64
	errors     int64
	elapsed    time.Duration
}

// benchHeldConnections measures the backend connections that 2,000 client
// connections hold, 32 of them active (point selects, autocommit updates,
// short transactions on sessions picked at random), through HAProxy in
// TCP mode (one server connection per client, on the primary) and through
// Frontdesk with pool max_connections 40 (per backend; multiplexed between
// statements), and the active clients' statements per second, in
// interleaved runs. Frontdesk also spreads the reads over the replicas, so
// the throughputs compare the two set-ups as a user would deploy them, not
// the relays alone.
func benchHeldConnections(t *testing.T, c *harness.Cluster, haproxy *haproxyProc) {
	t.Helper()
	prev, err := c.Primary.QueryString("SELECT @@global.max_connections")
	if err != nil {
		t.Fatal(err)
	}
	// HAProxy gives every client a connection of the primary's own.
	c.Primary.Exec(fmt.Sprintf("SET GLOBAL max_connections = %d", heldClients+500))
	defer c.Primary.Exec("SET GLOBAL max_connections = " + prev)
	for _, user := range []string{"bench_hap", "bench_mux"} {
		c.Primary.Exec("CREATE USER IF NOT EXISTS '"+user+"'@'%' IDENTIFIED BY '"+heldPassword+"'",
			"GRANT ALL ON sbtest.* TO '"+user+"'@'%'")
	}
	c.WaitReplicated()
	addr := harness.FreeAddr(t)
	// The monitor logs in as the test user, so that bench_mux's
	// connections are the pool's only.
	fd := harness.StartFrontdesk(t, fmt.Sprintf(`{
	admin {$%s}
	mysql {
		server main {
			listen %s
			primary %s
			replicas %s %s
			user bench_mux %s
			pool {
				max_connections %d
			}
			health {
				user %s %s
			}
		}
	}
}
`, harness.AdminEnv, addr, c.Primary.Addr(), c.Replicas[0].Addr(), c.Replicas[1].Addr(), heldPassword, heldPoolMax,
		harness.TestUser, harness.TestPassword), harness.Caddyfile)
	defer fd.Stop(10 * time.Second)
	targets := []heldTarget{
		{"haproxy-tcp", haproxy.addr, "bench_hap", 0},
		{fmt.Sprintf("frontdesk-pool-%d", heldPoolMax), addr, "bench_mux", heldPoolMax * len(c.All())},
	}
	runs := map[string][]heldResult{}
	for round := range sbRounds {
		for i := range targets {
			tg := targets[(i+round)%len(targets)]
			runs[tg.name] = append(runs[tg.name], heldRun(t, c, tg))
		}
	}
	combined := map[string]heldResult{}
	for name, rs := range runs {
		var sum heldResult
		for _, r := range rs {
			sum.peak = max(sum.peak, r.peak)
			sum.statements += r.statements
			sum.errors += r.errors
			sum.elapsed += r.elapsed
		}
		combined[name] = sum
	}
	rate := func(r heldResult) float64 { return safeDiv(float64(r.statements), r.elapsed.Seconds()) }
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tclients\tactive\tpeak server conns\tclients per conn\tstatements/s\terrors\t")
	for _, tg := range targets {
		r := combined[tg.name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.0f\t%d\t\n", tg.name, heldClients, heldActive, r.peak,
			safeDiv(heldClients, float64(r.peak)), rate(r), r.errors)
	}
	tw.Flush()
	hap, mux := combined[targets[0].name], combined[targets[1].name]
	t.Logf("backend connections held by %d client connections with %d active, %d interleaved runs of %s per target "+
		"(server connections of the target's account on all servers, sampled every 50 ms):\n%s",
		heldClients, heldActive, sbRounds, heldRunTime, b.String())
	t.Logf("%s/%s: %.3fx the server connections (%d vs %d), %.2fx the statements/s",
		targets[1].name, targets[0].name, safeDiv(float64(mux.peak), float64(hap.peak)), mux.peak, hap.peak, safeDiv(rate(mux), rate(hap)))
	if limit := heldPoolMax * len(c.All()); mux.peak > limit {
		t.Errorf("%s: %d server connections at the peak, more than max_connections %d on each of %d servers",
			targets[1].name, mux.peak, heldPoolMax, len(c.All()))
	}
}

// heldRun logs heldClients clients in through tg, runs heldActive workers
// on them for heldRunTime, and logs them out, sampling the servers'
// connections of tg's account all along.
func heldRun(t *testing.T, c *harness.Cluster, tg heldTarget) heldResult {
	t.Helper()
	count := func() (int, error) {
		n := 0
		for _, s := range c.All() {
			var k int
			if err := s.AdminDB().QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", tg.user).Scan(&k); err != nil {
				return 0, fmt.Errorf("MariaDB %s: %v", s.Name, err)
			}
			n += k
		}
		return n, nil
	}
	var (
		mu       sync.Mutex
		res      heldResult
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	stop, sampled := make(chan struct{}), make(chan struct{})
	sample := func() {
		n, err := count()
		if err != nil {
			fail(err)
			return
		}
		mu.Lock()
		res.peak = max(res.peak, n)
		mu.Unlock()
	}
	go func() {
		defer close(sampled)
		for {
			sample()
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	conns, err := dialMany(tg.addr, tg.user, heldPassword, "sbtest", heldClients, 64)
	if err != nil {
		close(stop)
		<-sampled
		t.Errorf("%s: logging in %d clients: %v", tg.name, heldClients, err)
		return res
	}
	var statements, errs atomic.Int64
	begun := time.Now()
	deadline := begun.Add(heldRunTime)
	var wg sync.WaitGroup
	for w := range heldActive {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w has the sessions w, w+heldActive, ...: no session is
			// used by two at once.
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for step := 0; step < 1_000_000 && time.Now().Before(deadline); step++ {
				conn := conns[w+heldActive*rng.IntN(heldClients/heldActive)]
				table, id := fmt.Sprintf("sbtest%d", 1+rng.IntN(sbTables)), 1+rng.IntN(sbTableSize)
				update := fmt.Sprintf("UPDATE %s SET k = k + 1 WHERE id = %d", table, id)
				stmts := []string{fmt.Sprintf("SELECT c FROM %s WHERE id = %d", table, id)}
				switch step % 10 {
				case 7, 8:
					stmts = []string{update}
				case 9:
					stmts = []string{"BEGIN", update, stmts[0], "COMMIT"}
				}
				for _, sql := range stmts {
					if _, err := rawQuery(conn, sql); err != nil {
						errs.Add(1)
						fail(fmt.Errorf("%s: %v", sql, err))
						if stmts[0] == "BEGIN" {
							rawQuery(conn, "ROLLBACK")
						}
						break
					}
					statements.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(begun)
	close(stop)
	<-sampled
	sample()
	closeAll(conns)
	// The servers see the clients leave a moment later: wait, so that the
	// next run starts from what tg keeps.
	err = harness.Eventually(30*time.Second, 50*time.Millisecond, func() error {
		n, err := count()
		if err == nil && n > tg.keeps {
			err = fmt.Errorf("%d connections of %s still open, want at most %d", n, tg.user, tg.keeps)
		}
		return err
	})
	if err != nil {
		t.Errorf("%s: after its clients left: %v", tg.name, err)
	}
	res.statements, res.errors = statements.Load(), errs.Load()
	if firstErr != nil {
		t.Errorf("%s: %d statements failed, the first: %v", tg.name, res.errors, firstErr)
	}
	return res
}

// selfCPU is the CPU time this test process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
