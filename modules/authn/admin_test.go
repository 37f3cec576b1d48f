package authn

import "testing"

// TestAuthStatusResults: /frontdesk/auth shows each provider's requests by
// result, as its metrics count them.
func TestAuthStatusResults(t *testing.T) {
	g := newGate("test_provider", "APIKey", "test", "", nil)
	for range 3 {
		g.ok.Inc()
	}
	authResults.WithLabelValues("test_provider", "invalid_key").Inc()
	want := map[string]int64{"ok": 3, "invalid_key": 1}
	got := map[string]int64{}
	for _, r := range currentAuthStatus().Results {
		if r.Provider == "test_provider" {
			got[r.Result] = r.Requests
		}
	}
	if len(got) != len(want) || got["ok"] != 3 || got["invalid_key"] != 1 {
		t.Fatalf("results of test_provider: %v, want %v", got, want)
	}
}
