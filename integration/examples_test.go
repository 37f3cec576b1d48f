package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// readExample returns an example Caddyfile from caddyfile/examples.
func readExample(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "caddyfile", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestQuickstartExample runs the quickstart Caddyfile as is, configured only
// through its environment variables: the front door answers from each of
// the three demo rooms in turn.
func TestQuickstartExample(t *testing.T) {
	listen, dashboard := harness.FreePort(t), harness.FreePort(t)
	env := []string{fmt.Sprintf("FRONTDESK_LISTEN=:%d", listen), fmt.Sprintf("FRONTDESK_DASHBOARD_LISTEN=:%d", dashboard),
		"FRONTDESK_MYSQL_LISTEN=" + harness.FreeAddr(t)}
	for i := 1; i <= 3; i++ {
		env = append(env, fmt.Sprintf("FRONTDESK_ROOM%d=%d", i, harness.FreePort(t)))
	}
	harness.StartFrontdesk(t, readExample(t, "quickstart.Caddyfile"), harness.Caddyfile, env...)

	get := func() (string, error) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/hello", listen))
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "You asked for /hello") {
			return "", fmt.Errorf("GET /hello: %s %q", resp.Status, body)
		}
		return resp.Header.Get("X-Backend"), nil
	}
	// The rooms take traffic once their first active health check passed,
	// and the desk spreads the guests over all of them. (Polled at 10/s:
	// the quickstart limits each guest to 20 requests a second, and the
	// checks below must not meet that limit.)
	seen := map[string]bool{}
	err := harness.Eventually(15*time.Second, 100*time.Millisecond, func() error {
		room, err := get()
		if err != nil {
			return err
		}
		seen[room] = true
		if len(seen) < 3 {
			return fmt.Errorf("only %v answered so far", seen)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("not every room answered: %v", err)
	}

	// The partner area: 401 without a key, and the demo key gets in as
	// the demo partner.
	partner := fmt.Sprintf("http://127.0.0.1:%d/partner/orders", listen)
	if status, challenge, _ := call(t, partner, nil); status != http.StatusUnauthorized || !strings.HasPrefix(challenge, "APIKey ") {
		t.Fatalf("partner area without a key: %d %q", status, challenge)
	}
	status, _, body := call(t, partner, map[string][]string{"X-API-Key": {demoAPIKey}})
	if status != http.StatusOK || !strings.Contains(body, "serves partner demo-partner") {
		t.Fatalf("partner area with the demo key: %d %q", status, body)
	}

	// The dashboard's snapshot shows the rooms.
	status, _, body = call(t, fmt.Sprintf("http://127.0.0.1:%d/snapshot.json", dashboard), nil)
	if status != http.StatusOK || !strings.Contains(body, `"upstreams":[{"scope"`) {
		t.Fatalf("dashboard snapshot: %d %q", status, body)
	}
}
