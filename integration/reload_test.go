package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// proxyCaddyfile is a site on listen that reverse-proxies to upstreams.
func proxyCaddyfile(listen string, upstreams []*harness.Backend) string {
	return proxySite(listen, upstreams, "", "")
}

// proxySite is a Caddyfile with one site on listen that reverse-proxies to
// upstreams: front holds directives placed before the proxy, and block the
// body of the reverse_proxy block.
func proxySite(listen string, upstreams []*harness.Backend, front, block string) string {
	addrs := make([]string, len(upstreams))
	for i, b := range upstreams {
		addrs[i] = b.Addr
	}
	return fmt.Sprintf(`{
	admin {$FRONTDESK_ADMIN}
	auto_https off
}

http://%s {
	%s
	reverse_proxy %s {
		%s
	}
}
`, listen, front, strings.Join(addrs, " "), block)
}

// reloadSafeOptions is the global option block that turns the reload_safe
// listener wrapper on for every server, as the examples do.
const reloadSafeOptions = `servers {
		listener_wrappers {
			reload_safe
		}
	}
`

// withGlobal adds options to the global options block of a Caddyfile made
// by proxySite.
func withGlobal(caddyfile, options string) string {
	return strings.Replace(caddyfile, "auto_https off\n", "auto_https off\n\t"+options, 1)
}

// reloadUnderLoad runs the load generator (32 keep-alive connections that,
// like wrk, never retry) against listen while it reloads Frontdesk n
// times, each reload changing the upstream set (a rotation through the
// four sets of three backends); config turns a backend list into the
// Caddyfile. The last reload uses `frontdesk reload`, the others POST
// /load. It returns the load's result and the last upstream set.
func reloadUnderLoad(t *testing.T, fd *harness.Frontdesk, listen string, backends []*harness.Backend,
	n int, config func([]*harness.Backend) string) (harness.LoadResult, []*harness.Backend) {
	t.Helper()
	load := harness.StartLoad(harness.LoadConfig{Target: listen, Connections: 32, Duration: 2 * time.Minute})
	var final []*harness.Backend
	for i := range n {
		time.Sleep(150 * time.Millisecond)
		final = slices.Clone(backends)
		final = slices.Delete(final, i%4, i%4+1)
		cfg := config(final)
		if i < n-1 {
			if err := fd.Load(cfg, harness.Caddyfile); err != nil {
				t.Fatalf("reload %d through POST /load: %v", i+1, err)
			}
			continue
		}
		path := filepath.Join(t.TempDir(), "Caddyfile")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := fd.CLI("reload", "--config", path, "--address", fd.Admin); err != nil {
			t.Fatalf("reload %d through `frontdesk reload`: %v\n%s", i+1, err, out)
		}
	}
	time.Sleep(150 * time.Millisecond)
	return load.Stop(), final
}

// TestReloadUnderLoad reverse-proxies to four backends while the load
// generator runs, and changes the upstream set with 20 reloads through the
// admin API (the last one with `frontdesk reload`), without the
// reload_safe wrapper. Every reload must succeed, no connection may be
// refused and no request may get an error status. Errors on reused
// keep-alive connections are stock Caddy's known reload gap; they are
// counted and reported here (TestReloadSafe must have none).
func TestReloadUnderLoad(t *testing.T) {
	backends := harness.StartBackends(t, "app", 4)
	listen := harness.FreeAddr(t)
	fd := harness.StartFrontdesk(t, proxyCaddyfile(listen, backends), harness.Caddyfile)

	const reloads = 20
	res, final := reloadUnderLoad(t, fd, listen, backends, reloads, func(bs []*harness.Backend) string {
		return proxyCaddyfile(listen, bs)
	})
	t.Logf("under %d reloads: %s", reloads, res)
	if res.Requests() == 0 {
		t.Fatal("no request was answered")
	}
	if res.ConnectErrors != 0 || res.Non2xx != 0 {
		t.Errorf("%d refused or failed connects and %d error statuses across reloads, want 0 and 0",
			res.ConnectErrors, res.Non2xx)
	}

	// The last config is the one serving: only its upstreams get traffic.
	after := harness.RunLoad(harness.LoadConfig{Target: listen, Connections: 4, Duration: 500 * time.Millisecond})
	removed := backends[(reloads-1)%4].Name
	if after.OK == 0 || after.ByBackend[removed] != 0 {
		t.Errorf("after the last reload: %s; want traffic only to backends other than %s", after, removed)
	}
	got, err := fd.AdminGet("/config/apps/http/servers")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range final {
		if !strings.Contains(string(got), b.Addr) {
			t.Errorf("running config lacks upstream %s: %s", b.Addr, got)
		}
	}
}
