package integration

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// upstreamRow is the selector of an upstream's row on the dashboard.
func upstreamRow(addr string) string { return fmt.Sprintf(`tr[data-upstream=%q]`, addr) }

// wantState waits until the dashboard row of selector shows one of the
// states, in words, in the rendered page.
func wantState(t *testing.T, b *harness.Browser, selector string, states ...string) {
	t.Helper()
	text, err := b.WaitText(selector, 15*time.Second, func(text string) error {
		for _, s := range states {
			if strings.Contains(text, "\t"+s+"\t") {
				return nil
			}
		}
		return fmt.Errorf("row %q is %q", selector, text)
	})
	if err != nil {
		t.Fatalf("want one of %q: %v (last seen %q)", states, err, text)
	}
}

// noConsoleErrors fails the test if the page wrote any console error or
// threw an uncaught exception.
func noConsoleErrors(t *testing.T, b *harness.Browser) {
	t.Helper()
	if errs := b.Errors(); len(errs) != 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestDashboardExample runs caddyfile/examples/dashboard.Caddyfile as is
// in front of three backends and watches its page in Chromium: every
// upstream appears with its state in words; a killed backend's row turns
// ejected, down or breaker open within seconds; a backend that answers
// only 500s gets its breaker opened. Set FRONTDESK_SCREENSHOT to a path to
// keep a screenshot of the page.
func TestDashboardExample(t *testing.T) {
	backends := harness.StartBackends(t, "app", 3)
	addrs := make([]string, len(backends))
	for i, b := range backends {
		addrs[i] = b.Addr
	}
	listen, dashboard := harness.FreeAddr(t), harness.FreeAddr(t)
	harness.StartFrontdesk(t, readExample(t, "dashboard.Caddyfile"), harness.Caddyfile,
		"FRONTDESK_LISTEN="+listen, "FRONTDESK_UPSTREAMS="+strings.Join(addrs, " "),
		"FRONTDESK_DASHBOARD_LISTEN="+dashboard)
	load := harness.StartLoad(harness.LoadConfig{Target: listen, Connections: 4, Duration: 5 * time.Minute})
	defer load.Stop()

	b := harness.StartBrowser(t)
	if err := b.Open("http://"+dashboard+"/", nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		wantState(t, b, upstreamRow(a), "healthy", "slow start")
	}
	if _, err := b.WaitText("#config-loaded", 10*time.Second, func(text string) error {
		if !strings.Contains(text, "ago") {
			return fmt.Errorf("config loaded %q", text)
		}
		return nil
	}); err != nil {
		t.Errorf("the config's load time is not shown: %v", err)
	}
	if _, err := b.WaitText("#config-generation", 10*time.Second, func(text string) error {
		for _, g := range strings.Split(text, ", ") {
			if _, err := strconv.Atoi(g); err != nil {
				return fmt.Errorf("generations %q", text)
			}
		}
		return nil
	}); err != nil {
		t.Errorf("the serving generations are not shown: %v", err)
	}

	backends[0].Kill()
	wantState(t, b, upstreamRow(addrs[0]), "ejected", "down", "breaker open")

	backends[1].SetErrorRate(1)
	wantState(t, b, upstreamRow(addrs[1]), "breaker open")

	// The healthy one keeps serving, and its request rate is shown.
	if text, err := b.WaitText(upstreamRow(addrs[2]), 10*time.Second, func(text string) error {
		cells := strings.Split(text, "\t")
		if len(cells) < 5 {
			return fmt.Errorf("row %q", text)
		}
		if rate, err := strconv.ParseFloat(strings.ReplaceAll(cells[4], ",", ""), 64); err != nil || rate <= 0 {
			return fmt.Errorf("requests/s %q", cells[4])
		}
		return nil
	}); err != nil {
		t.Errorf("the healthy upstream's request rate is not shown: %v (%q)", err, text)
	}
	if path := os.Getenv("FRONTDESK_SCREENSHOT"); path != "" {
		if err := b.Screenshot(path); err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
	noConsoleErrors(t, b)
}

// TestDashboardBehindAuth serves the dashboard behind verify_api_key: 401
// without the key, for the page and its JSON alike; with the key (sent by
// the browser with every request, the event stream's too) the page
// renders live and shows the provider's counts.
func TestDashboardBehindAuth(t *testing.T) {
	addr := harness.FreeAddr(t)
	config := fmt.Sprintf(`{
	admin {$%s}
	auto_https off
	servers {
		listener_wrappers {
			reload_safe
		}
	}
}

http://%s {
	verify_api_key {
		key ops sha256:1db4ea20596e5b46afb54385f2dd5af80e39f7a70db3d424aaa5577369ecafe3
	}
	frontdesk_dashboard
}
`, harness.AdminEnv, addr)
	harness.StartFrontdesk(t, config, harness.Caddyfile)
	for _, path := range []string{"/", "/snapshot.json", "/events"} {
		if status, _, _ := call(t, "http://"+addr+path, nil); status != http.StatusUnauthorized {
			t.Errorf("%s without a key: %d, want 401", path, status)
		}
	}

	b := harness.StartBrowser(t)
	if err := b.Open("http://"+addr+"/", map[string]string{"X-API-Key": demoAPIKey}); err != nil {
		t.Fatal(err)
	}
	if text, err := b.WaitText("#status", 10*time.Second, func(text string) error {
		if text != "Live" {
			return fmt.Errorf("status %q", text)
		}
		return nil
	}); err != nil {
		t.Fatalf("the page is not live behind the key: %v (%q)", err, text)
	}
	if text, err := b.WaitText("#auth", 10*time.Second, func(text string) error {
		if !strings.Contains(text, "ok") {
			return fmt.Errorf("auth section %q", text)
		}
		return nil
	}); err != nil {
		t.Errorf("the auth counts are not shown: %v (%q)", err, text)
	}
	// Unconfigured modules show nothing.
	if hidden, _ := b.Text("#upstreams:not([hidden]), #mysql:not([hidden])"); hidden != "" {
		t.Errorf("sections of unconfigured modules are shown: %q", hidden)
	}
	noConsoleErrors(t, b)
}

// TestDashboardMySQL shows the mysql app on the page: the primary and
// replicas with their roles; a replica made to lag (MASTER_DELAY while
// the primary takes writes) shows its lag in seconds, and is no longer
// used.
func TestDashboardMySQL(t *testing.T) {
	c := harness.StartCluster(t, 2)
	dashboard := harness.FreeAddr(t)
	config := withServerOptions(t) + fmt.Sprintf("\nhttp://%s {\n\tfrontdesk_dashboard\n}\n", dashboard)
	harness.StartFrontdesk(t, config, harness.Caddyfile,
		"FRONTDESK_MYSQL_LISTEN="+harness.FreeAddr(t),
		"FRONTDESK_MYSQL_PRIMARY="+c.Primary.Addr(),
		"FRONTDESK_MYSQL_REPLICAS="+c.Replicas[0].Addr()+" "+c.Replicas[1].Addr(),
		"FRONTDESK_MYSQL_USER="+harness.TestUser,
		"FRONTDESK_MYSQL_PASSWORD="+harness.TestPassword,
	)

	b := harness.StartBrowser(t)
	if err := b.Open("http://"+dashboard+"/", nil); err != nil {
		t.Fatal(err)
	}
	backendRow := func(addr string) string { return fmt.Sprintf(`tr[data-backend=%q]`, addr) }
	wantState(t, b, backendRow(c.Primary.Addr()), "healthy")
	for _, r := range c.Replicas {
		wantState(t, b, backendRow(r.Addr()), "healthy")
	}

	c.Primary.Exec("CREATE TABLE " + harness.TestDatabase + ".ticks (id INT AUTO_INCREMENT PRIMARY KEY)")
	c.WaitReplicated()
	lagging := c.Replicas[0]
	lagging.Delay(60 * time.Second)
	t.Cleanup(func() { lagging.Delay(0) })
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				c.Primary.Exec("INSERT INTO " + harness.TestDatabase + ".ticks VALUES ()")
			}
		}
	}()
	defer func() { close(stop); <-done }()

	text, err := b.WaitText(backendRow(lagging.Addr()), 60*time.Second, func(text string) error {
		cells := strings.Split(text, "\t")
		if len(cells) < 4 {
			return fmt.Errorf("row %q", text)
		}
		lag, err := strconv.ParseFloat(strings.TrimSuffix(cells[3], " s"), 64)
		if err != nil || lag < 2 {
			return fmt.Errorf("lag %q", cells[3])
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the replica's lag is not shown: %v (%q)", err, text)
	}
	noConsoleErrors(t, b)
}

// TestDashboardStreamEndsOnReload: a reload ends the open event streams of
// the replaced config (the page reconnects to the new one), so an open
// page never holds the old server open; the new config streams at once.
func TestDashboardStreamEndsOnReload(t *testing.T) {
	addr := harness.FreeAddr(t)
	config := func(title string) string {
		return fmt.Sprintf("{\n\tadmin {$%s}\n\tauto_https off\n\t%s\n}\n\nhttp://%s {\n\tfrontdesk_dashboard {\n\t\ttitle %q\n\t}\n}\n",
			harness.AdminEnv, reloadSafeOptions, addr, title)
	}
	fd := harness.StartFrontdesk(t, config("one"), harness.Caddyfile)
	resp, err := http.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan int)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n := 0
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				n++
			}
		}
		ended <- n
	}()
	if err := fd.Load(config("two"), harness.Caddyfile); err != nil {
		t.Fatalf("reload: %v", err)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream of the replaced config is still open 10s after the reload")
	}
	if status, _, body := call(t, "http://"+addr+"/", nil); status != http.StatusOK || !strings.Contains(body, "<h1>two</h1>") {
		t.Fatalf("after the reload: %d %q", status, body)
	}
}
