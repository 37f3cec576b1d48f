package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// authVariant is one configuration of the authentication benchmark.
type authVariant struct {
	name string
	// front holds the directives before reverse_proxy; {jwks} and {keys}
	// are replaced.
	front  string
	header http.Header
}

// TestBenchAuth measures the whole binary as a reverse proxy over four
// healthy backends, 32 connections, with authentication off (the same
// Authorization header sent, unchecked), with a JWT
// (RS256 from a JWKS URL; every connection sends the same token, so after
// the first request it comes from the cache), with the JWT cache off (a
// signature check per request), and with an API key. The variants run
// interleaved, three rounds, so that the machine's slow spells hit all of
// them; it prints requests/s and p99 with ratios against auth off.
func TestBenchAuth(t *testing.T) {
	benchEnabled(t)
	round := benchDuration(t) / 3
	signer := newRSASigner(t, "k1")
	provider := harness.StartJWKS(t, signer.public())
	tok := signer.token(t, "bob", map[string]any{"exp": time.Now().Add(24 * time.Hour).Unix()})
	keys := filepath.Join(harness.RepoRoot(), "caddyfile", "examples", "auth.keys")
	jwt := "verify_jwt {\n\t\tjwks_url {jwks}\n\t\tissuer " + testIssuer + "\n\t\taudience " + testAudience + "\n\t\tforward sub X-User-Id\n\t\t%s\n\t}"
	variants := []authVariant{
		// The baseline sends the token too, unchecked: a large header
		// costs the proxy and the backends the same with or without auth.
		{"off", "", http.Header{"Authorization": {"Bearer " + tok}}},
		{"jwt RS256 cached", fmt.Sprintf(jwt, ""), http.Header{"Authorization": {"Bearer " + tok}}},
		{"jwt RS256 no cache", fmt.Sprintf(jwt, "cache_size off"), http.Header{"Authorization": {"Bearer " + tok}}},
		{"api key", "verify_api_key {\n\t\tkeys_file {keys}\n\t\tforward id X-Client-Id\n\t}", http.Header{"X-Api-Key": {demoAPIKey}}},
	}
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, proxyCaddyfile(listen, backends), harness.Caddyfile)

	results := make([][]harness.LoadResult, len(variants))
	cpu := make([]time.Duration, len(variants))
	for r := range 3 {
		for i, v := range variants {
			front := strings.NewReplacer("{jwks}", provider.URL, "{keys}", keys).Replace(v.front)
			if err := fd.Load(proxySite(listen, backends, front, ""), harness.Caddyfile); err != nil {
				t.Fatalf("%s: loading the config: %v", v.name, err)
			}
			cpuBefore := processCPU(t, fd.PID())
			res := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 32, Duration: round, Header: v.header})
			cpu[i] += processCPU(t, fd.PID()) - cpuBefore
			if res.Non2xx+res.Errors() != 0 {
				t.Errorf("%s, round %d: failures: %s", v.name, r+1, res)
			}
			results[i] = append(results[i], res)
		}
	}
	total := func(rs []harness.LoadResult) (rps float64, p99 time.Duration) {
		for _, r := range rs {
			rps += r.RPS() / float64(len(rs))
			p99 += r.P99 / time.Duration(len(rs))
		}
		return rps, p99
	}
	// CPU per request of the frontdesk process is what authentication
	// adds; unlike req/s it hardly moves when other work shares the cores.
	cpuPerRequest := func(i int) time.Duration {
		var n int64
		for _, r := range results[i] {
			n += r.Requests()
		}
		return cpu[i] / time.Duration(max(n, 1))
	}
	baseRPS, baseP99 := total(results[0])
	baseCPU := cpuPerRequest(0)
	lines := []string{fmt.Sprintf("%-20s %9s %9s %9s %8s %10s %8s  %s", "auth", "req/s", "p99", "rps/off", "p99/off", "cpu/req", "cpu/off", "req/s per round")}
	for i, v := range variants {
		rps, p99 := total(results[i])
		var rounds []string
		for _, r := range results[i] {
			rounds = append(rounds, fmt.Sprintf("%.0f", r.RPS()))
		}
		lines = append(lines, fmt.Sprintf("%-20s %9.0f %9s %9.3f %8.2f %10s %8.3f  %s",
			v.name, rps, p99.Round(10*time.Microsecond), rps/baseRPS, ratio(p99, baseP99),
			cpuPerRequest(i).Round(100*time.Nanosecond), ratio(cpuPerRequest(i), baseCPU), strings.Join(rounds, " ")))
	}
	t.Logf("authentication on vs off, 4 healthy backends, 32 connections, 3 interleaved rounds of %s:\n%s",
		round, strings.Join(lines, "\n"))
}

// processCPU is the user plus system CPU time the process has used, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s).
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces; the fields after it
	// start after its closing parenthesis.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing /proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
