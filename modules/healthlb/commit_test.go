package healthlb

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// TestRefusedConfigChangesNothing provisions a second config's transport
// (other breaker settings, other policy settings) on the scope and upstream
// of a running one, as a reload does before it is accepted: while it has
// served nothing, and after it is cleaned up (the reload was refused), the
// running config's breaker and scoreboard settings are in force. Once it
// serves (accepted), its settings apply.
func TestRefusedConfigChangesNothing(t *testing.T) {
	const dial = "10.0.0.1:80"
	running := newTransport(t, func(tr *ObservedTransport) {
		tr.Breaker = &BreakerConfig{ConsecutiveFailures: 3}
	}, retryBudget{})
	u := running.entry(dial)
	before, _ := breakerOf(u)
	decay := running.scope.sb.Config().DecayTime

	next := func() *ObservedTransport {
		tr := &ObservedTransport{HTTPTransport: new(reverseproxy.HTTPTransport), Scope: running.Scope,
			Breaker: &BreakerConfig{ConsecutiveFailures: 7}}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		t.Cleanup(cancel)
		if err := tr.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		cfg := ScoreboardSettings{DecayTime: caddy.Duration(time.Second)}.config()
		tr.policyConfig = &cfg
		tr.entry(dial)
		return tr
	}
	unchanged := func(when string) {
		t.Helper()
		if b, _ := breakerOf(u); b != before {
			t.Errorf("%s: the upstream's breaker was replaced", when)
		}
		if got := running.scope.sb.Config().DecayTime; got != decay {
			t.Errorf("%s: decay time %s, want the running config's %s", when, got, decay)
		}
	}

	refused := next()
	unchanged("provisioned, not accepted")
	if err := refused.Cleanup(); err != nil {
		t.Fatal(err)
	}
	refused.commit() // a request can never reach a cleaned-up config; if one did, it must not apply
	unchanged("refused and cleaned up")

	accepted := next()
	accepted.commit()
	if b, _ := breakerOf(u); b == before || b.cfg.ConsecutiveFailures != 7 {
		t.Errorf("accepted: breaker %+v, want the new settings", b.cfg)
	}
	if got := running.scope.sb.Config().DecayTime; got != time.Second {
		t.Errorf("accepted: decay time %s, want 1s", got)
	}
	_ = accepted.Cleanup()
}

// TestDynamicEntriesExpire: a dynamic upstream's entry, taken at its first
// request, is let go once unused for the idle expiry, and its counters go
// with it; a configured upstream's entry stays.
func TestDynamicEntriesExpire(t *testing.T) {
	tr := newTransport(t, nil, retryBudget{})
	tr.held.takeStatic(tr, "10.0.0.1:80")
	tr.entry("10.0.0.9:80") // dynamic: first seen by a request
	attempts.WithLabelValues(tr.Scope, "10.0.0.9:80", "success").Inc()

	tr.held.expire(tr.scope.sb, time.Now().Add(-dynamicIdleExpiry))
	if tr.scope.sb.Get("10.0.0.9:80") == nil {
		t.Fatal("a dynamic entry used just now expired")
	}
	tr.held.expire(tr.scope.sb, time.Now().Add(time.Second))
	if tr.scope.sb.Get("10.0.0.9:80") != nil {
		t.Error("a dynamic entry unused past the expiry is still on the scoreboard")
	}
	if attempts.DeleteLabelValues(tr.Scope, "10.0.0.9:80", "success") {
		t.Error("the expired upstream's attempts counter survived it")
	}
	if tr.scope.sb.Get("10.0.0.1:80") == nil {
		t.Error("a configured upstream's entry expired")
	}
}
