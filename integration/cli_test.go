package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// TestCLI checks that the frontdesk binary keeps stock Caddy's commands.
// (`run` and `reload` are exercised by the other tests.)
func TestCLI(t *testing.T) {
	bin := harness.Binary(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("frontdesk %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if v := run("version"); !strings.HasPrefix(v, "v2.11.9") {
		t.Errorf("frontdesk version = %q, want Caddy v2.11.9", v)
	}
	modules := run("list-modules")
	for _, m := range []string{"http.handlers.reverse_proxy", "http.reverse_proxy.selection_policies.round_robin", "admin.api.load"} {
		if !strings.Contains(modules, m+"\n") {
			t.Errorf("list-modules lacks %s", m)
		}
	}
	example := filepath.Join(harness.RepoRoot(), "caddyfile", "examples", "quickstart.Caddyfile")
	if out := run("adapt", "--config", example, "--validate"); !strings.Contains(out, `"reverse_proxy"`) {
		t.Errorf("frontdesk adapt of the quickstart gave no reverse_proxy handler:\n%s", out)
	}
}
