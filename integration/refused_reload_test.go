package integration

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestRefusedReloadChangesNothing runs a proxy whose upstream breaker trips
// after 2 failures in a row, then POSTs a config that would raise that to
// 1000 but is refused (its second site's port is taken, so the http app
// cannot start). The running config's breaker must be the one in force: 2
// failures in a row open it. Before the fix, the refused config's
// Provision had already replaced the breaker.
func TestRefusedReloadChangesNothing(t *testing.T) {
	backend := harness.StartBackend(t, "app")
	listen := harness.FreeAddr(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	config := func(failures int, extra string) string {
		return proxySite(listen, []*harness.Backend{backend}, "", fmt.Sprintf(`lb_policy peak_ewma
		transport observed_http {
			breaker {
				consecutive_failures %d
				open_time 1h
			}
		}`, failures)) + extra
	}
	fd := harness.StartFrontdesk(t, config(2, ""), harness.Caddyfile)
	get := func() int {
		t.Helper()
		resp, err := http.Get("http://" + listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("status %d before the reload, want 200", code)
	}

	err = fd.Load(config(1000, fmt.Sprintf("\nhttp://%s {\n\trespond \"taken\"\n}\n", taken.Addr())), harness.Caddyfile)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("reload onto a taken port: %v; want it refused", err)
	}

	backend.SetErrorRate(1)
	get()
	get()
	err = harness.Eventually(5*time.Second, 20*time.Millisecond, func() error {
		if b := upstreams(t, fd)[backend.Addr].Breaker; b != "open" {
			return fmt.Errorf("breaker %q after 2 failures in a row", b)
		}
		return nil
	})
	if err != nil {
		t.Errorf("the refused config's breaker settings are in force: %v", err)
	}
}
