package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// rawConn sends requests exactly as written (no client-side path
// cleaning) on one kept-alive connection.
type rawConn struct {
	t    *testing.T
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c := &rawConn{t: t, addr: addr}
	c.redial()
	t.Cleanup(func() { c.conn.Close() })
	return c
}

func (c *rawConn) redial() {
	c.t.Helper()
	if c.conn != nil {
		c.conn.Close()
	}
	conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		c.t.Fatalf("dialing %s: %v", c.addr, err)
	}
	c.conn, c.br = conn, bufio.NewReader(conn)
}

// do sends one GET of target with the given header lines and returns the
// status and body; err reports a connection the server closed.
func (c *rawConn) do(target string, headers ...string) (int, string, error) {
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	raw := "GET " + target + " HTTP/1.1\r\nHost: " + c.addr + "\r\n"
	for _, h := range headers {
		raw += h + "\r\n"
	}
	if _, err := io.WriteString(c.conn, raw+"\r\n"); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body), err
}

// get sends target on the connection, dialling again if the server had
// closed it.
func (c *rawConn) get(target string, headers ...string) (int, string) {
	c.t.Helper()
	status, body, err := c.do(target, headers...)
	if err != nil {
		c.redial()
		if status, body, err = c.do(target, headers...); err != nil {
			c.t.Fatalf("GET %s: %v", target, err)
		}
	}
	return status, body
}

// firewallSites is a Caddyfile with two sites on their own servers, both
// proxying to an echo site that answers with the URI it received: front
// trusts 127.0.0.1 as a proxy (so the test's X-Forwarded-For counts,
// right-most untrusted first), direct trusts no proxy. rules is the body
// of access_rules.
func firewallSites(front, direct, echo, rules string) string {
	return fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	auto_https off
	servers :%[1]s {
		trusted_proxies static 127.0.0.1/32
		trusted_proxies_strict
	}
}

(guarded) {
	access_rules {
		%[4]s
	}
	reverse_proxy %[3]s
}

http://%[5]s {
	import guarded
}

http://%[6]s {
	import guarded
}

http://%[3]s {
	respond "{http.request.uri}"
}
`, portOf(front), direct, echo, rules, front, direct)
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// sampleRules is the reference's assumed firewall (http.md §8): deny
// 10.66.0.0/16 (deny precedence), /admin* only for internal networks,
// allow 10.0.0.0/8 and 2001:db8::/32, deny everyone else.
const sampleRules = `default deny
		deny 10.66.0.0/16
		deny admin_outside {
			match {
				path /admin*
			}
		}
		allow 10.0.0.0/8 2001:db8::/32`

// TestFirewallClientIPAttacks drives the reference's IP attack cases
// (F1, F2, F7, F10) and variants through the binary: who the client is
// comes from the peer, or from the right-most untrusted X-Forwarded-For
// entry behind a trusted proxy, in normalised form.
func TestFirewallClientIPAttacks(t *testing.T) {
	front, direct, echo := harness.FreeAddr(t), harness.FreeAddr(t), harness.FreeAddr(t)
	harness.StartFrontdesk(t, firewallSites(front, direct, echo, sampleRules), harness.Caddyfile)
	viaProxy, untrusted := dialRaw(t, front), dialRaw(t, direct)
	for _, c := range []struct {
		name string
		conn *rawConn
		xff  []string
		want int
	}{
		{"F1 untrusted peer forging an inside address", untrusted, []string{"10.1.1.1"}, 403},
		{"untrusted peer forging a mapped inside address", untrusted, []string{"::ffff:10.1.1.1"}, 403},
		{"trusted proxy, inside client", viaProxy, []string{"10.1.1.1"}, 200},
		{"F2 client-written entry left of the real one", viaProxy, []string{"10.1.1.1, 203.0.113.5"}, 403},
		{"F2 variant: two header lines", viaProxy, []string{"10.1.1.1", "203.0.113.5"}, 403},
		{"trusted hops right of the client are skipped", viaProxy, []string{"10.1.1.1, 127.0.0.1"}, 200},
		{"F7 mapped address in a denied network", viaProxy, []string{"::ffff:10.66.1.1"}, 403},
		{"F7 mapped address in an allowed network", viaProxy, []string{"::ffff:10.1.1.1"}, 200},
		{"F7 variant: hex mapped form", viaProxy, []string{"::ffff:a42:101"}, 403},
		{"F7 variant: IPv4-compatible form", viaProxy, []string{"::10.66.1.1"}, 403},
		{"F10 in both the allow and the deny list", viaProxy, []string{"10.66.0.5"}, 403},
		{"port kept by a proxy", viaProxy, []string{"10.1.1.1:4711"}, 200},
		{"IPv6 client with a zone", viaProxy, []string{"2001:db8::7%eth0"}, 200},
		{"octal-looking address is no address", viaProxy, []string{"010.1.1.1"}, 403},
		{"hex-looking address is no address", viaProxy, []string{"0x0a.1.1.1"}, 403},
		{"garbage right-most entry falls back to the peer", viaProxy, []string{"10.1.1.1, not-an-ip"}, 200},
	} {
		var headers []string
		for _, x := range c.xff {
			headers = append(headers, "X-Forwarded-For: "+x)
		}
		if status, body := c.conn.get("/", headers...); status != c.want {
			t.Errorf("%s (XFF %q): %d %q, want %d", c.name, c.xff, status, body, c.want)
		}
	}
}

// TestFirewallPathBypasses sends the reference's path-normalisation
// bypasses raw (no client cleans them) at a /admin* deny rule, and checks
// that the upstream receives exactly the canonical path the rules saw.
func TestFirewallPathBypasses(t *testing.T) {
	front, direct, echo := harness.FreeAddr(t), harness.FreeAddr(t), harness.FreeAddr(t)
	harness.StartFrontdesk(t, firewallSites(front, direct, echo, sampleRules), harness.Caddyfile)
	c := dialRaw(t, front)
	inside := "X-Forwarded-For: 10.1.1.1"
	for _, target := range []string{"/admin", "/ADMIN", "//admin", "/./admin", "/%61dmin", "/%41DMIN/x",
		"/docs/../admin", "/docs/%2e%2e/admin", "/docs/%2E%2E/admin", "/docs/.%2e/admin", "///admin//x",
		"/docs/../../../admin"} {
		if status, body := c.get(target, inside); status != http.StatusForbidden {
			t.Errorf("GET %s: %d %q, want 403", target, status, body)
		}
	}
	for _, target := range []string{"/admin%2Fx", "/docs%2F..%2Fadmin", "/docs/..;/admin", "/docs/.;x/admin",
		"/admin%5Cx", "/docs\\..\\admin", "/adm%00in", "/docs/%zz"} {
		if status, body := c.get(target, inside); status != http.StatusBadRequest {
			t.Errorf("GET %s: %d %q, want 400", target, status, body)
		}
	}
	for target, want := range map[string]string{
		"/docs//a/./b/../c": "/docs/a/c",
		"/%64ocs/x":         "/docs/x",
		"/docs/a%3Bb":       "/docs/a%3Bb",
		"/docs/a;b?q=%2F":   "/docs/a;b?q=%2F",
		"/docs/caf%c3%a9":   "/docs/caf%C3%A9",
	} {
		if status, body := c.get(target, inside); status != http.StatusOK || body != want {
			t.Errorf("GET %s: upstream received %q (%d), want %q", target, body, status, want)
		}
	}
}

// TestFirewallDecidesEveryRequestAfterReload is F13: the allow list
// shrinks by a reload while a keep-alive connection is open; the next
// request on it (or on a new connection, if the old config closed it) is
// denied.
func TestFirewallDecidesEveryRequestAfterReload(t *testing.T) {
	front, direct, echo := harness.FreeAddr(t), harness.FreeAddr(t), harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, firewallSites(front, direct, echo, sampleRules), harness.Caddyfile)
	c := dialRaw(t, front)
	inside := "X-Forwarded-For: 10.1.1.1"
	if status, _ := c.get("/", inside); status != http.StatusOK {
		t.Fatalf("before the reload: %d", status)
	}
	shrunk := strings.Replace(sampleRules, "allow 10.0.0.0/8 2001:db8::/32", "allow 2001:db8::/32", 1)
	if err := fd.Load(firewallSites(front, direct, echo, shrunk), harness.Caddyfile); err != nil {
		t.Fatal(err)
	}
	status, _, err := c.do("/", inside)
	if err != nil {
		t.Logf("the old config closed the kept-alive connection (%v); asking on a new one", err)
		status, _ = c.get("/", inside)
	}
	if status != http.StatusForbidden {
		t.Errorf("after the allow list shrank: %d, want 403", status)
	}
}

// TestFirewallExample runs caddyfile/examples/firewall.Caddyfile as is,
// configured only by its environment variables: the deny file, /admin*
// for private networks only, the per-IP rate, a deny file edited under
// the running proxy, and the admin routes.
func TestFirewallExample(t *testing.T) {
	backends := harness.StartBackends(t, "app", 2)
	listen := harness.FreeAddr(t)
	denyFile := filepath.Join(t.TempDir(), "deny.txt")
	if err := os.WriteFile(denyFile, []byte("203.0.113.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fd := harness.StartFrontdesk(t, readExample(t, "firewall.Caddyfile"), harness.Caddyfile,
		"FRONTDESK_LISTEN=:"+portOf(listen), "FRONTDESK_UPSTREAMS="+backends[0].Addr+" "+backends[1].Addr,
		"FRONTDESK_DENY_FILE="+denyFile, "FRONTDESK_RATE=5")
	c := dialRaw(t, listen)
	for _, tc := range []struct {
		target, xff string
		want        int
	}{
		{"/", "203.0.113.9", 403},
		{"/admin", "", 200},
		{"/admin", "192.168.7.7", 200},
		{"/admin", "198.51.100.1", 403},
		{"//Admin/", "198.51.100.1", 403},
		{"/", "198.51.100.1", 200},
	} {
		var h []string
		if tc.xff != "" {
			h = append(h, "X-Forwarded-For: "+tc.xff)
		}
		if status, body := c.get(tc.target, h...); status != tc.want {
			t.Errorf("GET %s from %q: %d %q, want %d", tc.target, tc.xff, status, body, tc.want)
		}
	}
	statuses := map[int]int{}
	for range 8 {
		status, _ := c.get("/", "X-Forwarded-For: 192.0.2.77")
		statuses[status]++
	}
	if statuses[200] != 5 || statuses[429] != 3 {
		t.Errorf("8 requests at once at 5/s: %v, want 5 passed and 3 limited", statuses)
	}

	var zones []struct {
		Zone      string           `json:"zone"`
		Keys      int              `json:"keys"`
		Decisions map[string]int64 `json:"decisions"`
	}
	adminJSON(t, fd, "/frontdesk/rate_limits", &zones)
	if len(zones) != 1 || zones[0].Zone != "per_ip" || zones[0].Decisions["limited"] != 3 || zones[0].Keys == 0 {
		t.Errorf("rate limit zones %+v", zones)
	}

	if err := os.WriteFile(denyFile, []byte("203.0.113.0/24\n192.0.2.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := harness.Eventually(15*time.Second, 100*time.Millisecond, func() error {
		if status, _ := c.get("/", "X-Forwarded-For: 192.0.2.88"); status != http.StatusForbidden {
			return fmt.Errorf("a network added to the deny file still gets %d", status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var fw struct {
		Firewalls []struct {
			Name  string `json:"name"`
			Rules []struct {
				Rule string `json:"rule"`
				Hits int64  `json:"hits"`
			} `json:"rules"`
		} `json:"firewalls"`
		NetworkFiles []struct {
			Path     string `json:"path"`
			Networks int    `json:"networks"`
		} `json:"network_files"`
	}
	adminJSON(t, fd, "/frontdesk/firewall", &fw)
	hits := map[string]int64{}
	for _, f := range fw.Firewalls {
		for _, r := range f.Rules {
			hits[f.Name+"/"+r.Rule] = r.Hits
		}
	}
	if hits["edge/denylist"] < 2 || hits["edge/admin_outside"] != 2 || hits["edge/admin_inside"] != 2 {
		t.Errorf("rule hits %v", hits)
	}
	if len(fw.NetworkFiles) != 1 || fw.NetworkFiles[0].Networks != 2 {
		t.Errorf("network files %+v, want the deny file with 2 networks", fw.NetworkFiles)
	}
}

func adminJSON(t *testing.T, fd *harness.Frontdesk, path string, v any) {
	t.Helper()
	body, err := fd.AdminGet(path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decoding %s: %v\n%s", path, err, body)
	}
}

// TestQuickstartFirewall runs the quickstart Caddyfile as is and does
// what it tells a new user to try: /staff is denied, a burst past 20
// requests a second gets 429, and the admin routes show both.
func TestQuickstartFirewall(t *testing.T) {
	listen := harness.FreePort(t)
	env := []string{fmt.Sprintf("FRONTDESK_LISTEN=:%d", listen), "FRONTDESK_MYSQL_LISTEN=" + harness.FreeAddr(t)}
	for i := 1; i <= 3; i++ {
		env = append(env, fmt.Sprintf("FRONTDESK_ROOM%d=%d", i, harness.FreePort(t)))
	}
	fd := harness.StartFrontdesk(t, readExample(t, "quickstart.Caddyfile"), harness.Caddyfile, env...)
	c := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", listen))
	if status, body := c.get("/staff/keys"); status != http.StatusForbidden || !strings.Contains(body, "forbidden") {
		t.Errorf("GET /staff/keys: %d %q, want 403", status, body)
	}
	statuses := map[int]int{}
	for range 25 {
		status, _ := c.get("/")
		statuses[status]++
	}
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Errorf("25 requests at once: %v, want some 429", statuses)
	}
	for _, path := range []string{"/frontdesk/firewall", "/frontdesk/rate_limits"} {
		body, err := fd.AdminGet(path)
		if err != nil || !strings.Contains(string(body), map[string]string{"/frontdesk/firewall": "staff_only", "/frontdesk/rate_limits": "per_guest"}[path]) {
			t.Errorf("GET %s: %v %s", path, err, body)
		}
	}
}

// guestPasswordHash is bcrypt("guest-pw"), for basic_auth.
const guestPasswordHash = "$2a$14$BgbhUOz0rG6wam330tKGC.aTAHudZgPVzmuMmCzfTTWk67YAc8h3u"

// TestFirewallUserRulesAfterAuthentication places access_rules after
// basic_auth in a route block, as the README says rules on the user must
// be: the authenticated user id decides.
func TestFirewallUserRulesAfterAuthentication(t *testing.T) {
	listen := harness.FreeAddr(t)
	harness.StartFrontdesk(t, fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	auto_https off
}

http://%s {
	route {
		basic_auth {
			alice %s
			mallory %s
		}
		access_rules {
			deny blocked_user {
				user id mallory
			}
		}
	}
	respond "welcome {http.auth.user.id}"
}
`, listen, guestPasswordHash, guestPasswordHash), harness.Caddyfile)
	for user, want := range map[string]int{"alice": 200, "mallory": 403, "": 401} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/", nil)
		if user != "" {
			req.SetBasicAuth(user, "guest-pw")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("as %q: %d, want %d", user, resp.StatusCode, want)
		}
	}
}
