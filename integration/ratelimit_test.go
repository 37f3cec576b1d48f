package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// limitSite is a Caddyfile with one site on listen that limits with the
// body of a request_limit block, then proxies to backends with block as
// the reverse_proxy body.
func limitSite(listen, limit string, backends []*harness.Backend, block string) string {
	return proxySite(listen, backends, "request_limit {\n\t\t"+limit+"\n\t}", block)
}

// fire sends n requests to url at once and counts the answers by status.
func fire(t *testing.T, url string, n int) map[int]int {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[0]++
				return
			}
			resp.Body.Close()
			statuses[resp.StatusCode]++
		}()
	}
	wg.Wait()
	return statuses
}

// TestRateLimit429NotScoredAsUpstreamFailure is R11: with peak_ewma and
// its observing transport behind the limiter, the proxy's own 429s never
// reach the upstream's scoreboard: only the requests that passed appear
// there, all as successes.
func TestRateLimit429NotScoredAsUpstreamFailure(t *testing.T) {
	backends := harness.StartBackends(t, "app", 2)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, limitSite(listen, "zone per_ip {\n\t\t\trate 10/m\n\t\t}", backends,
		"lb_policy peak_ewma\n\t\tlb_retries 3\n\t\ttransport observed_http {\n\t\t\tbreaker\n\t\t}"), harness.Caddyfile)
	statuses := fire(t, "http://"+listen+"/", 40)
	if statuses[http.StatusOK] != 10 || statuses[http.StatusTooManyRequests] != 30 {
		t.Fatalf("40 requests at once against 10/m: %v, want 10 passed and 30 limited", statuses)
	}
	var attempts, failures int
	for addr, u := range upstreams(t, fd) {
		attempts += u.Window.Success + u.Window.ServerErrors + u.Window.GatewayErrors + u.Window.TooManyRequests
		failures += u.Window.ServerErrors + u.Window.GatewayErrors + u.Window.TooManyRequests
		if u.Breaker != "closed" {
			t.Errorf("upstream %s breaker %s", addr, u.Breaker)
		}
	}
	if attempts != 10 || failures != 0 {
		t.Errorf("scoreboard saw %d attempts and %d failures or 429s, want the 10 passed requests and none", attempts, failures)
	}
}

// TestRateLimitReloadMidBurst reloads the config half-way through a
// client's burst (changing the upstreams, keeping the zone): the client's
// spent budget stays spent.
func TestRateLimitReloadMidBurst(t *testing.T) {
	backends := harness.StartBackends(t, "app", 2)
	listen := harness.FreeAddr(t)
	zone := "zone per_ip {\n\t\t\trate 10/m\n\t\t}"
	fd := harness.StartFrontdesk(t, limitSite(listen, zone, backends[:1], ""), harness.Caddyfile)
	first := fire(t, "http://"+listen+"/", 6)
	if err := fd.Load(limitSite(listen, zone, backends, ""), harness.Caddyfile); err != nil {
		t.Fatal(err)
	}
	second := fire(t, "http://"+listen+"/", 6)
	if first[http.StatusOK] != 6 || second[http.StatusOK] != 4 || second[http.StatusTooManyRequests] != 2 {
		t.Errorf("6 before and 6 after a reload against a burst of 10: %v then %v, want 6, then 4 and 2 limited", first, second)
	}
}

// redisLimit is the body of a request_limit whose zone lives in Redis.
func redisLimit(r *harness.Redis, rate, fallback string) string {
	password := ""
	if r.Password != "" {
		password = "password " + r.Password
	}
	return fmt.Sprintf(`zone shared {
			rate %s
		}
		redis %s {
			%s
			timeout 200ms
			fallback %s
		}`, rate, r.Addr, password, fallback)
}

// TestRateLimitRedisTwoInstances runs two Frontdesk instances sharing one
// limit through a password-protected redis-server: together they admit
// no more than the one limit.
func TestRateLimitRedisTwoInstances(t *testing.T) {
	r := harness.StartRedis(t, "test-redis-pw")
	backends := harness.StartBackends(t, "app", 1)
	a, b := harness.FreeAddr(t), harness.FreeAddr(t)
	limit := redisLimit(r, "20/m", "closed")
	harness.StartFrontdesk(t, limitSite(a, limit, backends, ""), harness.Caddyfile)
	harness.StartFrontdesk(t, limitSite(b, limit, backends, ""), harness.Caddyfile)
	start := time.Now()
	var mu sync.Mutex
	total := map[int]int{}
	var wg sync.WaitGroup
	for _, addr := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := fire(t, "http://"+addr+"/", 25)
			mu.Lock()
			defer mu.Unlock()
			for k, v := range got {
				total[k] += v
			}
		}()
	}
	wg.Wait()
	// 20/m refills one request every 3s; the run's own length bounds the refill.
	bound := 20 + int(time.Since(start)/(3*time.Second))
	t.Logf("two instances, 50 requests: %v (bound %d)", total, bound)
	if total[http.StatusOK] > bound || total[http.StatusOK] < 20 || total[http.StatusServiceUnavailable] != 0 {
		t.Errorf("cluster-wide %v, want between 20 and %d passed and no fallback", total, bound)
	}
}

// TestRateLimitRedisKilled kills redis-server under two sites with
// different fallbacks: `closed` answers 503, `local` limits in memory;
// neither hangs, and both use Redis again once it is back.
func TestRateLimitRedisKilled(t *testing.T) {
	r := harness.StartRedis(t, "")
	backends := harness.StartBackends(t, "app", 1)
	closed, local := harness.FreeAddr(t), harness.FreeAddr(t)
	cfg := limitSite(closed, redisLimit(r, "100/s", "closed"), backends, "") +
		strings.SplitN(limitSite(local, redisLimit(r, "5/m", "local"), backends, ""), "}\n", 2)[1]
	harness.StartFrontdesk(t, cfg, harness.Caddyfile)
	if got := fire(t, "http://"+closed+"/", 5); got[http.StatusOK] != 5 {
		t.Fatalf("with Redis up: %v", got)
	}
	r.Kill()
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + closed + "/")
	if err != nil {
		t.Fatalf("fallback closed with Redis down: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("fallback closed with Redis down: %s, want 503 with Retry-After", resp.Status)
	}
	if got := fire(t, "http://"+local+"/", 8); got[http.StatusOK] != 5 || got[http.StatusTooManyRequests] != 3 {
		t.Errorf("fallback local with Redis down, 8 requests against 5/m: %v, want 5 passed and 3 limited", got)
	}
	r.Restart()
	err = harness.Eventually(10*time.Second, 200*time.Millisecond, func() error {
		if got := fire(t, "http://"+closed+"/", 1); got[http.StatusOK] != 1 {
			return fmt.Errorf("after Redis came back: %v", got)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestRejectedReloadLeavesLimitsAndRules loads a config whose network
// rule would trust the client-written left-most X-Forwarded-For entry:
// the load is refused with an error that names the fix, and the running
// config goes on exactly as it was, its rules deciding and its clients'
// spent budget still spent.
func TestRejectedReloadLeavesLimitsAndRules(t *testing.T) {
	backends := harness.StartBackends(t, "app", 1)
	listen := harness.FreeAddr(t)
	site := func(strict string) string {
		return fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	auto_https off
	servers {
		trusted_proxies static 127.0.0.1/32
		%s
	}
}

http://%s {
	access_rules {
		deny 203.0.113.0/24
	}
	request_limit {
		zone per_ip {
			rate 10/m
		}
	}
	reverse_proxy %s
}
`, strict, listen, backends[0].Addr)
	}
	fd := harness.StartFrontdesk(t, site("trusted_proxies_strict"), harness.Caddyfile)
	c := dialRaw(t, listen)
	send := func(n int, xff string) map[int]int {
		got := map[int]int{}
		for range n {
			status, _ := c.get("/", "X-Forwarded-For: "+xff)
			got[status]++
		}
		return got
	}
	before := send(6, "198.51.100.1")
	err := fd.Load(site(""), harness.Caddyfile)
	if err == nil || !strings.Contains(err.Error(), "trusted_proxies_strict") {
		t.Fatalf("loading network rules behind left-most trusted proxies: %v, want a refusal naming trusted_proxies_strict", err)
	}
	after := send(6, "198.51.100.1")
	if before[http.StatusOK] != 6 || after[http.StatusOK] != 4 || after[http.StatusTooManyRequests] != 2 {
		t.Errorf("6 requests, a refused reload, 6 more against 10/m: %v then %v, want 6, then 4 and 2 limited", before, after)
	}
	if got := send(1, "203.0.113.5"); got[http.StatusForbidden] != 1 {
		t.Errorf("denied network after the refused reload: %v, want 403", got)
	}
}

// TestRateLimitRedisTLS keeps a zone in a redis-server that serves only
// TLS, with a password, trusting its private CA through tls_ca_file and
// checking the certificate's name: decisions come from Redis, not the
// fallback.
func TestRateLimitRedisTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir, "redis.test")
	r := harness.StartRedisTLS(t, "tls-redis-pw", certFile, keyFile)
	backends := harness.StartBackends(t, "app", 1)
	listen := harness.FreeAddr(t)
	limit := fmt.Sprintf(`zone tls {
			rate 5/m
		}
		redis %s {
			password %s
			tls
			tls_server_name redis.test
			tls_ca_file %s
			timeout 1s
			fallback closed
		}`, r.Addr, r.Password, caFile)
	harness.StartFrontdesk(t, limitSite(listen, limit, backends, ""), harness.Caddyfile)
	if got := fire(t, "http://"+listen+"/", 8); got[http.StatusOK] != 5 || got[http.StatusTooManyRequests] != 3 {
		t.Errorf("8 requests against 5/m through Redis over TLS: %v, want 5 passed and 3 limited (503s mean the fallback decided)", got)
	}
}

// writeTestPKI writes a CA and a server certificate for name, signed by
// it, as PEM files in dir.
func writeTestPKI(t *testing.T, dir, name string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "frontdesk test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(file, kind string, b []byte) string {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "PRIVATE KEY", keyDER)
}
