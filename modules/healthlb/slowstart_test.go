package healthlb

import (
	"math"
	"testing"
	"time"
)

func TestSlowStartFactor(t *testing.T) {
	sec := int64(time.Second)
	for _, tc := range []struct {
		name string
		cfg  Config
		t    int64
		want float64
	}{
		{"start is clamped to the minimum", Config{}, 0, 0.1},
		{"Envoy's max(t, 1s)", Config{}, sec / 2, 0.1},
		{"linear quarter", Config{}, 5 * sec, 0.25},
		{"linear half", Config{}, 10 * sec, 0.5},
		{"just before the end", Config{}, 19 * sec, 0.95},
		{"end of window", Config{}, 20 * sec, 1},
		{"long after", Config{}, 3600 * sec, 1},
		{"aggression 2 ramps faster at first", Config{SlowStartAggression: 2}, 5 * sec, 0.5},
		{"aggression 2 at its start", Config{SlowStartAggression: 2}, 0, math.Sqrt(0.05)},
		{"aggression 0.5 ramps slower at first", Config{SlowStartAggression: 0.5}, 10 * sec, 0.25},
		{"higher minimum", Config{SlowStartMinPercent: 30}, 5 * sec, 0.3},
		{"custom window", Config{SlowStartWindow: time.Minute}, 30 * sec, 0.5},
		{"window below a second", Config{SlowStartWindow: 500 * time.Millisecond}, 0, 1},
		{"disabled", Config{SlowStartWindow: -1}, 0, 1},
		{"clock went back", Config{}, -5 * sec, 0.1},
	} {
		cfg := tc.cfg.withDefaults()
		start := 100 * sec
		if got := slowStartFactor(&cfg, start, start+tc.t); !closeTo(got, tc.want) {
			t.Errorf("%s: factor = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSlowStartTriggers(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	sb.SetPoolSize(2)
	u := acquire(t, sb, "a:80")
	factor := func() float64 { return u.Snapshot().WeightFactor }

	// A new upstream ramps from its creation.
	clk.Advance(10 * time.Second)
	if got := factor(); !closeTo(got, 0.5) {
		t.Errorf("new upstream after 10s: %v, want 0.5", got)
	}
	clk.Advance(10 * time.Second)
	if got := factor(); got != 1 {
		t.Errorf("new upstream after 20s: %v, want 1", got)
	}

	// The cost is divided by the factor.
	u.Record(Result{Latency: 10 * time.Millisecond})
	u.BeginSlowStart()
	clk.Advance(5 * time.Second)
	if got, want := u.Cost(), ms(10)*math.Exp(-0.5)/0.25; !closeTo(got, want) {
		t.Errorf("cost 5s into slow start = %v, want %v", got, want)
	}
	clk.Advance(15 * time.Second)
	if got := factor(); got != 1 {
		t.Errorf("after BeginSlowStart and 20s: %v, want 1", got)
	}

	// An ejection that ran out starts a ramp from its end, even before
	// anything noticed the rejoin.
	for range 5 {
		u.Record(Result{Outcome: OutcomeGatewayError})
	}
	if !u.Ejected() {
		t.Fatal("not ejected")
	}
	clk.Advance(30*time.Second + 10*time.Second)
	if got := u.weightFactor(sb.nanos(), sb.config()); !closeTo(got, 0.5) {
		t.Errorf("10s after the ejection ended: %v, want 0.5", got)
	}
}
