package healthlb

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var (
	fail5xx = Result{Outcome: OutcomeServerError, Latency: time.Millisecond}
	failGW  = Result{Outcome: OutcomeGatewayError, Latency: time.Millisecond}
	success = Result{Outcome: OutcomeSuccess, Latency: time.Millisecond}
)

func recordN(u *Upstream, r Result, n int) {
	for range n {
		u.Record(r)
	}
}

func TestEjectionStreaks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        Config
		results    []Result
		wantEject  bool
		wantReason Outcome
	}{
		{
			name:       "five 5xx in a row",
			results:    []Result{fail5xx, fail5xx, fail5xx, fail5xx, fail5xx},
			wantEject:  true,
			wantReason: OutcomeServerError,
		},
		{
			name:    "a success ends the streak",
			results: []Result{fail5xx, fail5xx, fail5xx, fail5xx, success, fail5xx, fail5xx, fail5xx, fail5xx},
		},
		{
			name:    "a 429 ends the streak",
			results: []Result{failGW, failGW, failGW, failGW, {Outcome: OutcomeTooManyRequests}, failGW},
		},
		{
			name:       "five gateway errors in a row",
			results:    []Result{failGW, failGW, failGW, failGW, failGW},
			wantEject:  true,
			wantReason: OutcomeGatewayError,
		},
		{
			name:       "gateway errors count as 5xx",
			results:    []Result{failGW, failGW, failGW, failGW, fail5xx},
			wantEject:  true,
			wantReason: OutcomeServerError,
		},
		{
			name:       "a plain 5xx ends the gateway streak only",
			cfg:        Config{Consecutive5xx: 10, ConsecutiveGatewayErrors: 3},
			results:    []Result{failGW, failGW, fail5xx, failGW, failGW, failGW},
			wantEject:  true,
			wantReason: OutcomeGatewayError,
		},
		{
			name:    "a plain 5xx ends the gateway streak: not enough",
			cfg:     Config{Consecutive5xx: 10, ConsecutiveGatewayErrors: 3},
			results: []Result{failGW, failGW, fail5xx, failGW, failGW},
		},
		{
			name:    "5xx ejection disabled",
			cfg:     Config{Consecutive5xx: -1},
			results: []Result{fail5xx, fail5xx, fail5xx, fail5xx, fail5xx, fail5xx, fail5xx},
		},
		{
			name:       "5xx disabled, gateway still on",
			cfg:        Config{Consecutive5xx: -1, ConsecutiveGatewayErrors: 2},
			results:    []Result{failGW, failGW},
			wantEject:  true,
			wantReason: OutcomeGatewayError,
		},
		{
			name:    "both disabled",
			cfg:     Config{Consecutive5xx: -1, ConsecutiveGatewayErrors: -1},
			results: []Result{failGW, failGW, failGW, failGW, failGW, failGW},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, clk := newTestScoreboard(t, tc.cfg)
			sb.SetPoolSize(2)
			var log eventLog
			sb.SetEventHandler(log.handle)
			u := acquire(t, sb, "a:80")
			for _, r := range tc.results {
				u.Record(r)
			}
			if got := u.Ejected(); got != tc.wantEject {
				t.Fatalf("Ejected() = %v, want %v", got, tc.wantEject)
			}
			if !tc.wantEject {
				if len(log.events) != 0 {
					t.Errorf("events: %+v", log.events)
				}
				return
			}
			want := Event{
				Kind:      EventEjected,
				Upstream:  "a:80",
				Time:      clk.Now(),
				Until:     clk.Now().Add(30 * time.Second),
				Ejections: 1,
				Reason:    tc.wantReason,
			}
			if len(log.events) != 1 || log.events[0] != want {
				t.Errorf("events = %+v, want [%+v]", log.events, want)
			}
		})
	}
}

func TestEjectionGrowsAndIsCapped(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{BaseEjectionTime: 30 * time.Second, MaxEjectionTime: 100 * time.Second})
	sb.SetPoolSize(2)
	var log eventLog
	sb.SetEventHandler(log.handle)
	u := acquire(t, sb, "a:80")

	// Each ejection fails again right after rejoining: n·30s, capped at 100s.
	for i, want := range []time.Duration{30, 60, 90, 100, 100} {
		want *= time.Second
		start := clk.Now()
		recordN(u, failGW, 5)
		s := u.Snapshot()
		if !s.Ejected || s.EjectedUntil.Sub(start) != want {
			t.Fatalf("ejection %d: ejected %v for %v, want %v", i+1, s.Ejected, s.EjectedUntil.Sub(start), want)
		}
		if s.Ejections != min(i+1, 4) {
			t.Errorf("ejection %d: multiplier %d", i+1, s.Ejections)
		}
		clk.Advance(want - time.Nanosecond)
		if !u.Ejected() || u.Available() {
			t.Fatalf("ejection %d: rejoined early", i+1)
		}
		clk.Advance(time.Nanosecond)
		if u.Ejected() || !u.Available() {
			t.Fatalf("ejection %d: not back after %v", i+1, want)
		}
	}
	if n := len(log.events); n != 9 { // 5 ejections, 4 rejoins noticed by the next Record
		t.Errorf("%d events: %v", n, log.kinds())
	}
}

func TestEjectionDecay(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	sb.SetPoolSize(2)
	u := acquire(t, sb, "a:80")

	recordN(u, failGW, 5)
	clk.Advance(time.Hour)
	recordN(u, failGW, 5)
	// The first ejection ran out an hour ago: its multiplier decayed away,
	// so the next ejection is a first one again.
	if s := u.Snapshot(); s.Ejections != 1 || s.EjectedUntil.Sub(clk.Now()) != 30*time.Second {
		t.Errorf("after decay: multiplier %d, ejected for %v", s.Ejections, s.EjectedUntil.Sub(clk.Now()))
	}

	// Build the multiplier up to 3 without time in service.
	clk.Advance(30 * time.Second)
	recordN(u, failGW, 5)
	clk.Advance(60 * time.Second)
	recordN(u, failGW, 5)
	if got := u.Snapshot().Ejections; got != 3 {
		t.Fatalf("multiplier = %d, want 3", got)
	}
	// 90s ejection, then 25s in service: two decay steps of 10s.
	clk.Advance(90*time.Second + 25*time.Second)
	if got := u.Snapshot().Ejections; got != 1 {
		t.Errorf("after 25s in service: multiplier %d, want 1", got)
	}
	// Another 5s completes the third step.
	clk.Advance(5 * time.Second)
	if got := u.Snapshot().Ejections; got != 0 {
		t.Errorf("after 30s in service: multiplier %d, want 0", got)
	}
	recordN(u, failGW, 5)
	if s := u.Snapshot(); s.Ejections != 1 || s.EjectedUntil.Sub(clk.Now()) != 30*time.Second {
		t.Errorf("fresh ejection: multiplier %d, for %v", s.Ejections, s.EjectedUntil.Sub(clk.Now()))
	}
}

func TestEjectionMaxPercent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		poolSize int // 0: leave unset
		members  int
		want     int // how many of the members end up ejected
	}{
		{"10% of 10", Config{}, 10, 10, 1},
		{"10% of 20", Config{}, 20, 20, 2},
		{"10% of 3 still ejects one", Config{}, 3, 3, 1},
		{"pool size defaults to the entries", Config{}, 0, 25, 2},
		{"a single upstream is never ejected", Config{}, 1, 1, 0},
		{"50% of 4", Config{MaxEjectionPercent: 50}, 4, 4, 2},
		{"100% of 3", Config{MaxEjectionPercent: 100}, 3, 3, 3},
		{"pool size wins over the entries", Config{}, 20, 5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, _ := newTestScoreboard(t, tc.cfg)
			sb.SetPoolSize(tc.poolSize)
			var log eventLog
			sb.SetEventHandler(log.handle)
			ejected := 0
			for i := range tc.members {
				u := acquire(t, sb, fmt.Sprintf("u%d:80", i))
				recordN(u, failGW, 5)
				if u.Ejected() {
					ejected++
				}
			}
			if ejected != tc.want {
				t.Errorf("ejected %d of %d, want %d", ejected, tc.members, tc.want)
			}
			capped := 0
			for _, ev := range log.events {
				if ev.Kind == EventEjectionCapped {
					capped++
				}
			}
			if capped != tc.members-tc.want {
				t.Errorf("%d capped events, want %d", capped, tc.members-tc.want)
			}
		})
	}
}

func TestEjectionCapFreesUp(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	sb.SetPoolSize(5)
	var log eventLog
	sb.SetEventHandler(log.handle)
	a := acquire(t, sb, "a:80")
	b := acquire(t, sb, "b:80")

	recordN(a, failGW, 5)
	recordN(b, failGW, 5)
	if !a.Ejected() || b.Ejected() {
		t.Fatalf("a ejected %v, b ejected %v; want only a", a.Ejected(), b.Ejected())
	}
	// The capped attempt reset b's streak: four more are not enough.
	recordN(b, failGW, 4)
	if b.Ejected() {
		t.Fatal("b ejected while a still is")
	}
	clk.Advance(30 * time.Second) // a rejoins
	b.Record(failGW)
	if !b.Ejected() {
		t.Error("b not ejected after a rejoined")
	}
	want := []EventKind{EventEjected, EventEjectionCapped, EventEjected}
	if got := log.kinds(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestEjectedUpstreamDoesNotTripAgain(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	sb.SetPoolSize(2)
	var log eventLog
	sb.SetEventHandler(log.handle)
	u := acquire(t, sb, "a:80")

	recordN(u, failGW, 5)
	until := u.Snapshot().EjectedUntil
	recordN(u, failGW, 12) // panic-mode traffic while ejected
	s := u.Snapshot()
	if !s.EjectedUntil.Equal(until) || s.Ejections != 1 || s.ConsecutiveGatewayErrors != 12 {
		t.Errorf("while ejected: %+v", s)
	}
	// Rejoining starts a fresh streak.
	clk.Advance(30 * time.Second)
	recordN(u, failGW, 4)
	if u.Ejected() {
		t.Error("ejected again by the streak from before the rejoin")
	}
	u.Record(failGW)
	if !u.Ejected() {
		t.Error("not ejected by a fresh streak")
	}
	want := []EventKind{EventEjected, EventRejoined, EventEjected}
	if got := log.kinds(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if ev := log.events[1]; !ev.Time.Equal(until) || ev.Upstream != "a:80" || ev.Ejections != 1 {
		t.Errorf("rejoin event %+v", ev)
	}
}

func TestRejoinAndEjectInOneRecord(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{ConsecutiveGatewayErrors: 1})
	sb.SetPoolSize(2)
	var log eventLog
	sb.SetEventHandler(log.handle)
	u := acquire(t, sb, "a:80")
	u.Record(failGW)
	clk.Advance(31 * time.Second)
	u.Record(failGW)
	want := []EventKind{EventEjected, EventRejoined, EventEjected}
	if got := log.kinds(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if got := log.events[2].Ejections; got != 2 {
		t.Errorf("second ejection multiplier %d, want 2", got)
	}
}

func TestMaxEjected(t *testing.T) {
	for _, tc := range []struct {
		pool    int
		percent float64
		want    int
	}{
		{0, 10, 0}, {1, 10, 0}, {2, 10, 1}, {9, 10, 1}, {10, 10, 1}, {19, 10, 1}, {20, 10, 2},
		{3, 100, 3}, {7, 30, 2}, {10, 30, 3}, {1, 100, 1},
	} {
		if got := maxEjected(tc.pool, tc.percent); got != tc.want {
			t.Errorf("maxEjected(%d, %v) = %d, want %d", tc.pool, tc.percent, got, tc.want)
		}
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventEjected: "ejected", EventRejoined: "rejoined", EventEjectionCapped: "ejection_capped", 0: "unknown",
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d) = %q, want %q", k, got, want)
		}
	}
}
