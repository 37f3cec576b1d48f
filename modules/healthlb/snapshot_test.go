package healthlb

import (
	"testing"
	"time"
)

// TestSnapshotTotalsAndState: totals count every outcome for good (the
// window forgets), and the state word follows the first condition that
// applies.
func TestSnapshotTotalsAndState(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	u := acquire(t, sb, "10.0.0.1:80")
	if s := u.Snapshot(); s.State != "slow_start" {
		t.Fatalf("a new upstream: state %q, want slow_start", s.State)
	}
	clk.Advance(time.Hour)
	u.Record(Result{Outcome: OutcomeSuccess, Latency: time.Millisecond})
	u.Record(Result{Outcome: OutcomeServerError, Latency: time.Millisecond})
	if s := u.Snapshot(); s.State != "healthy" || s.Totals.Success != 1 || s.Totals.ServerErrors != 1 {
		t.Fatalf("after slow start: %+v", s)
	}
	u.Record(Result{Outcome: OutcomeGatewayError})
	if s := u.Snapshot(); s.State != "down" || s.Totals.GatewayErrors != 1 {
		t.Fatalf("after a gateway error: %+v", s)
	}
	clk.Advance(time.Hour) // past every window
	if s := u.Snapshot(); s.Window.Total() != 0 || s.Totals.Total() != 3 {
		t.Fatalf("totals after the window: %+v", s)
	}

	for _, c := range []struct {
		s    Snapshot
		want string
	}{
		{Snapshot{Breaker: BreakerOpen, Ejected: true}, "breaker_open"},
		{Snapshot{Breaker: BreakerHalfOpen, Ejected: true}, "ejected"},
		{Snapshot{Breaker: BreakerHalfOpen, WeightFactor: 0.1}, "breaker_half_open"},
		{Snapshot{ConsecutiveGatewayErrors: 1, WeightFactor: 0.5}, "down"},
		{Snapshot{WeightFactor: 0.5}, "slow_start"},
		{Snapshot{WeightFactor: 1, Breaker: BreakerClosed}, "healthy"},
	} {
		if got := c.s.state(); got != c.want {
			t.Errorf("%+v: state %q, want %q", c.s, got, c.want)
		}
	}
}

// TestRouteBreakersState lists each live route breaker once, by name
// (other tests of the package may leave theirs).
func TestRouteBreakersState(t *testing.T) {
	before := routeBreakersState()
	shared := newBreaker("route api", BreakerConfig{}, nil)
	rbs := []*RouteBreaker{
		{Name: "api", breaker: shared},
		{Name: "api", breaker: shared}, // the next config's, during a reload
		{breaker: newBreaker("route", BreakerConfig{}, nil)},
	}
	for _, rb := range rbs {
		liveRouteBreakers.Store(rb, struct{}{})
		defer rb.Cleanup()
	}
	named := func(list []routeBreakerStatus) (n int) {
		for _, b := range list {
			if b.Name == "api" {
				n++
			}
		}
		return n
	}
	got := routeBreakersState()
	if len(got) != len(before)+2 || got[0].Name != "" || named(got) != named(before)+1 {
		t.Fatalf("route breakers: %+v, before: %+v", got, before)
	}
}
