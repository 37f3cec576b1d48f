package firewall

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// newFirewall provisions a firewall from its JSON config, as the handler
// of a server srv (nil: no server in the context).
func newFirewall(t testing.TB, config string, srv *caddyhttp.Server) (*Firewall, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if srv != nil {
		ctx.Context = context.WithValue(ctx.Context, caddyhttp.ServerCtxKey, srv)
	}
	f := new(Firewall)
	if err := json.Unmarshal([]byte(config), f); err != nil {
		t.Fatalf("decoding %s: %v", config, err)
	}
	t.Cleanup(func() { f.Cleanup() })
	if err := f.Provision(ctx); err != nil {
		return nil, err
	}
	return f, f.Validate()
}

func mustFirewall(t testing.TB, config string) *Firewall {
	t.Helper()
	f, err := newFirewall(t, config, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// outcome is what became of one request: its status, and the path the
// next handler (the upstream) saw, if it got that far.
type outcome struct {
	status   int
	upstream string
	body     string
}

// serve sends target from clientIP, authenticated as user (nil: nobody),
// through f to a next handler that records the path it received.
func serve(f *Firewall, target, clientIP string, user map[string]string, header ...string) outcome {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, nil)
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, clientIP)
	for k, v := range user {
		repl.Set("http.auth.user."+k, v)
	}
	var seen string
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		seen = r.URL.EscapedPath()
		w.WriteHeader(http.StatusOK)
		return nil
	})
	if err := f.ServeHTTP(w, r, next); err != nil {
		return outcome{status: caddyhttp.Error(0, err).StatusCode}
	}
	return outcome{status: w.Code, upstream: seen, body: w.Body.String()}
}

// sampleFirewall is the reference's assumed config (http.md §8): allow
// 10.0.0.0/8 and 2001:db8::/32, deny 10.66.0.0/16 first (deny wins),
// /admin* only from internal networks, everyone else denied.
const sampleFirewall = `{"name": "sample", "default": "deny", "rules": [
	{"name": "blocked", "action": "deny", "networks": ["10.66.0.0/16"]},
	{"name": "admin_outside", "action": "deny", "match": [{"path": ["/admin*"]}],
	 "networks": ["0.0.0.0/0", "::/0"]},
	{"name": "internal", "action": "allow", "networks": ["10.0.0.0/8", "2001:db8::/32"]},
	{"name": "public_docs", "action": "allow", "match": [{"path": ["/docs/*"]}]}
]}`

func TestFirewallSampleAttacks(t *testing.T) {
	f := mustFirewall(t, strings.Replace(sampleFirewall, `"networks": ["0.0.0.0/0", "::/0"]`, `"user": {"role": ["nobody"]}`, 1))
	for _, c := range []struct {
		name, target, client string
		want                 int
	}{
		{"F1 outside network", "/", "203.0.113.5", http.StatusForbidden},
		{"inside network", "/", "10.1.1.1", http.StatusOK},
		{"F7 mapped denied network", "/", "::ffff:10.66.1.1", http.StatusForbidden},
		{"F7 mapped allowed network", "/", "::ffff:10.1.1.1", http.StatusOK},
		{"compatible form of a denied address", "/", "::10.66.1.1", http.StatusForbidden},
		{"F10 in allow and deny lists", "/", "10.66.0.5", http.StatusForbidden},
		{"zone on an allowed address", "/", "2001:db8::1%eth0", http.StatusOK},
		{"unknown client IP", "/", "", http.StatusForbidden},
		{"public docs from outside", "/docs/a", "203.0.113.5", http.StatusOK},
		{"dot segments out of docs", "/docs/../secret", "203.0.113.5", http.StatusForbidden},
		{"encoded dots out of docs", "/docs/%2e%2e/secret", "203.0.113.5", http.StatusForbidden},
		{"encoded slash", "/docs%2F..%2Fsecret", "203.0.113.5", http.StatusBadRequest},
		{"tomcat path parameter", "/docs/..;/secret", "203.0.113.5", http.StatusBadRequest},
		{"NUL", "/docs/a%00.html", "203.0.113.5", http.StatusBadRequest},
	} {
		if got := serve(f, c.target, c.client, nil); got.status != c.want {
			t.Errorf("%s: GET %s from %q: %d, want %d", c.name, c.target, c.client, got.status, c.want)
		}
	}
}

func TestFirewallAdminOnlyFromInside(t *testing.T) {
	f := mustFirewall(t, `{"rules": [
		{"action": "allow", "networks": ["10.0.0.0/8", "192.168.0.0/16"], "match": [{"path": ["/admin*"]}]},
		{"action": "deny", "match": [{"path": ["/admin*"]}]}
	]}`)
	for _, c := range []struct {
		target, client string
		want           int
	}{
		{"/admin", "192.168.1.2", http.StatusOK},
		{"/admin", "203.0.113.5", http.StatusForbidden},
		{"/ADMIN", "203.0.113.5", http.StatusForbidden},
		{"//admin", "203.0.113.5", http.StatusForbidden},
		{"/%61dmin/x", "203.0.113.5", http.StatusForbidden},
		{"/public/../admin", "203.0.113.5", http.StatusForbidden},
		{"/public/%2E%2E/admin", "203.0.113.5", http.StatusForbidden},
		{"/./admin", "203.0.113.5", http.StatusForbidden},
		{"/admin%2Fx", "203.0.113.5", http.StatusBadRequest},
		{"/admin%5Cx", "203.0.113.5", http.StatusBadRequest},
		{"/public", "203.0.113.5", http.StatusOK},
	} {
		if got := serve(f, c.target, c.client, nil); got.status != c.want {
			t.Errorf("GET %s from %s: %d, want %d", c.target, c.client, got.status, c.want)
		}
	}
}

// TestFirewallUpstreamSeesCanonicalPath checks that the next handler
// gets the path the rules saw, in its canonical escaped form.
func TestFirewallUpstreamSeesCanonicalPath(t *testing.T) {
	f := mustFirewall(t, `{"rules": []}`)
	for in, want := range map[string]string{
		"/a//b/./c/../d":   "/a/b/d",
		"/%61%62%63":       "/abc",
		"/x%3By/a;ok":      "/x%3By/a;ok",
		"/caf%c3%a9":       "/caf%C3%A9",
		"/q?x=%2F":         "/q",
		"/plain/path.html": "/plain/path.html",
	} {
		if got := serve(f, in, "10.0.0.1", nil); got.status != http.StatusOK || got.upstream != want {
			t.Errorf("%s: upstream saw %q (%d), want %q", in, got.upstream, got.status, want)
		}
	}
}

func TestFirewallUserConditions(t *testing.T) {
	f := mustFirewall(t, `{"default": "deny", "rules": [
		{"action": "deny", "user": {"id": ["mallory"]}},
		{"action": "allow", "user": {"role": ["admin", "ops"]}, "match": [{"path": ["/admin*"]}]},
		{"action": "deny", "match": [{"path": ["/admin*"]}]},
		{"action": "allow", "user": {"id": ["*"]}}
	]}`)
	for _, c := range []struct {
		target string
		user   map[string]string
		want   int
	}{
		{"/", nil, http.StatusForbidden},
		{"/", map[string]string{"id": "alice"}, http.StatusOK},
		{"/", map[string]string{"id": "mallory", "role": "admin"}, http.StatusForbidden},
		{"/admin", map[string]string{"id": "alice", "role": "admin"}, http.StatusOK},
		{"/admin", map[string]string{"id": "bob", "role": "user"}, http.StatusForbidden},
		{"/admin", map[string]string{"id": "bob", "role": "admins"}, http.StatusForbidden},
	} {
		if got := serve(f, c.target, "10.0.0.1", c.user); got.status != c.want {
			t.Errorf("GET %s as %v: %d, want %d", c.target, c.user, got.status, c.want)
		}
	}
}

func TestFirewallLogRuleCountsAndContinues(t *testing.T) {
	f := mustFirewall(t, `{"name": "logtest", "rules": [
		{"name": "would_deny", "action": "log", "networks": ["203.0.113.0/24"]},
		{"name": "deny_b", "action": "deny", "match": [{"path": ["/b"]}]}
	]}`)
	for _, target := range []string{"/a", "/a", "/b"} {
		serve(f, target, "203.0.113.9", nil)
	}
	hits := map[string]int64{}
	for _, s := range f.stats.snapshot() {
		hits[s.Rule] = s.Hits
	}
	if hits["would_deny"] != 3 || hits["deny_b"] != 1 || hits["default"] != 2 {
		t.Errorf("hits %v, want would_deny 3, deny_b 1, default 2", hits)
	}
}

func TestFirewallDenialIsFriendly(t *testing.T) {
	f := mustFirewall(t, `{"default": "deny"}`)
	got := serve(f, "/", "10.0.0.1", nil, "Accept", "text/html")
	if got.status != http.StatusForbidden || !strings.Contains(got.body, "<html") {
		t.Errorf("browser got %d %q", got.status, got.body)
	}
	got = serve(f, "/", "10.0.0.1", nil)
	if !strings.Contains(got.body, `"error":"forbidden"`) {
		t.Errorf("API client got %q", got.body)
	}
}

// TestFirewallRefusesLeftmostClientIP checks that network rules are not
// provisioned on a server whose client IP is the left-most, client-written
// X-Forwarded-For entry, unless the operator says so.
func TestFirewallRefusesLeftmostClientIP(t *testing.T) {
	leftmost := &caddyhttp.Server{TrustedProxiesRaw: json.RawMessage(`{"source":"static","ranges":["192.0.2.10/32"]}`)}
	strict := &caddyhttp.Server{TrustedProxiesRaw: leftmost.TrustedProxiesRaw, TrustedProxiesStrict: 1}
	const netRule = `{"rules": [{"action": "deny", "networks": ["10.66.0.0/16"]}]%s}`
	if _, err := newFirewall(t, strings.Replace(netRule, "%s", "", 1), leftmost); err == nil || !strings.Contains(err.Error(), "trusted_proxies_strict") {
		t.Errorf("network rule behind left-most trusted proxies: got %v, want a refusal naming trusted_proxies_strict", err)
	}
	if _, err := newFirewall(t, strings.Replace(netRule, "%s", "", 1), strict); err != nil {
		t.Errorf("strict: %v", err)
	}
	if _, err := newFirewall(t, strings.Replace(netRule, "%s", `, "trust_leftmost_client_ip": true`, 1), leftmost); err != nil {
		t.Errorf("operator's opt-in: %v", err)
	}
	if _, err := newFirewall(t, strings.Replace(netRule, "%s", "", 1), &caddyhttp.Server{}); err != nil {
		t.Errorf("no trusted proxies: %v", err)
	}
	if _, err := newFirewall(t, `{"rules": [{"action": "deny", "match": [{"path": ["/x"]}]}]}`, leftmost); err != nil {
		t.Errorf("a rule without networks: %v", err)
	}
}

func TestFirewallBadConfig(t *testing.T) {
	for config, want := range map[string]string{
		`{"rules": [{"networks": ["10.0.0.0/8"]}]}`:                                   "no action",
		`{"rules": [{"action": "block"}]}`:                                            `unknown action "block"`,
		`{"rules": [{"action": "deny", "networks": ["10.0.0/8"]}]}`:                   `network "10.0.0/8"`,
		`{"default": "maybe"}`:                                                        `default action "maybe"`,
		`{"rules": [{"action": "deny", "network_files": ["/nonexistent/deny.txt"]}]}`: "/nonexistent/deny.txt",
		`{"rules": [{"action": "deny", "user": {"id": []}}]}`:                         "user condition",
	} {
		if _, err := newFirewall(t, config, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", config, err, want)
		}
	}
}

// TestFirewallNetworkFileReread changes a network file under a running
// firewall: the new list applies without a reload, and a broken edit
// keeps the previous list.
func TestFirewallNetworkFileReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deny.txt")
	write := func(content string, mtime time.Time) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, mtime, mtime)
	}
	start := time.Now().Add(-time.Hour)
	write("203.0.113.0/24\n", start)
	f := mustFirewall(t, `{"reload_interval": "10ms", "rules": [{"action": "deny", "network_files": ["`+path+`"]}]}`)
	status := func(ip string) int { return serve(f, "/", ip, nil).status }
	if status("203.0.113.7") != http.StatusForbidden || status("198.51.100.7") != http.StatusOK {
		t.Fatal("initial list not applied")
	}
	write("198.51.100.0/24\n", start.Add(time.Minute))
	waitFor(t, func() bool { return status("198.51.100.7") == http.StatusForbidden })
	if status("203.0.113.7") != http.StatusOK {
		t.Error("removed network still denied")
	}
	write("198.51.100.0/24\nnot-a-network\n", start.Add(2*time.Minute))
	waitFor(t, func() bool { return f.Rules[0].files[0].status().LastError != "" })
	if status("198.51.100.7") != http.StatusForbidden {
		t.Error("a broken edit dropped the previous list")
	}
	if e := f.Rules[0].files[0].status().LastError; !strings.Contains(e, "deny.txt:2") {
		t.Errorf("last error %q does not name the line", e)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 5s")
}
