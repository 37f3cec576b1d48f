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
	listen := harness.FreePort(t)
	env := []string{fmt.Sprintf("FRONTDESK_LISTEN=:%d", listen), "FRONTDESK_MYSQL_LISTEN=" + harness.FreeAddr(t)}
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
	// The rooms take traffic once their first active health check passed.
	if err := harness.Eventually(10*time.Second, 50*time.Millisecond, func() error { _, err := get(); return err }); err != nil {
		t.Fatalf("the front door never answered: %v", err)
	}
	seen := map[string]bool{}
	for range 6 {
		room, err := get()
		if err != nil {
			t.Fatal(err)
		}
		seen[room] = true
	}
	for _, room := range []string{"room 101", "room 102", "room 103"} {
		if !seen[room] {
			t.Errorf("%s never answered in 6 requests (answers came from %v)", room, seen)
		}
	}
}
