package healthlb

import (
	"slices"
	"testing"
	"time"
)

func TestAcquireRelease(t *testing.T) {
	sb, _ := newTestScoreboard(t, Config{})
	a := sb.Acquire("a:80")
	if a == nil || a.Address() != "a:80" {
		t.Fatalf("Acquire = %v", a)
	}
	if got := sb.Acquire("a:80"); got != a {
		t.Error("second Acquire returned a different entry")
	}
	if got := sb.Get("a:80"); got != a {
		t.Error("Get returned a different entry")
	}
	if got := sb.Get("b:80"); got != nil {
		t.Errorf("Get of an unknown address = %v", got)
	}
	if sb.Len() != 1 {
		t.Errorf("Len() = %d", sb.Len())
	}
	if sb.Release("a:80") {
		t.Error("first Release destroyed an entry still held")
	}
	if sb.Get("a:80") != a {
		t.Error("entry gone while still held")
	}
	if !sb.Release("a:80") {
		t.Error("last Release did not destroy the entry")
	}
	if sb.Get("a:80") != nil || sb.Len() != 0 {
		t.Error("entry still indexed after the last Release")
	}
	if sb.Release("a:80") {
		t.Error("Release of a gone address reported a destruction")
	}
	if got := sb.Acquire("a:80"); got == a {
		t.Error("Acquire after the last Release returned the old entry")
	}
	sb.Release("a:80")
}

func TestStateSurvivesReload(t *testing.T) {
	sb, _ := newTestScoreboard(t, Config{})
	// Old config holds a and b.
	a := sb.Acquire("a:80")
	sb.Acquire("b:80")
	a.Record(Result{Latency: 42 * time.Millisecond})
	// New config (provisioned first) holds a and c.
	sb.Acquire("a:80")
	sb.Acquire("c:80")
	// Old config cleaned up.
	sb.Release("a:80")
	sb.Release("b:80")

	if got := sb.Get("a:80"); got != a || got.Snapshot().Latency != 42*time.Millisecond {
		t.Error("a lost its state across the reload")
	}
	if sb.Get("b:80") != nil {
		t.Error("b survived a reload that dropped it")
	}
	var addrs []string
	for _, s := range sb.Snapshots() {
		addrs = append(addrs, s.Address)
	}
	if want := []string{"a:80", "c:80"}; !slices.Equal(addrs, want) {
		t.Errorf("Snapshots addresses %v, want %v", addrs, want)
	}
	sb.Release("a:80")
	sb.Release("c:80")
}

func TestDestructKeepsNewerEntry(t *testing.T) {
	sb, _ := newTestScoreboard(t, Config{})
	old := sb.Acquire("a:80")
	sb.Release("a:80")
	fresh := acquire(t, sb, "a:80")
	if err := old.Destruct(); err != nil { // a late destructor of the old entry
		t.Fatal(err)
	}
	if sb.Get("a:80") != fresh {
		t.Error("destructing an old entry removed its successor")
	}
}

func TestSweepReportsRejoins(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	sb.SetPoolSize(4)
	var log eventLog
	sb.SetEventHandler(log.handle)
	u := acquire(t, sb, "a:80")
	acquire(t, sb, "b:80")
	recordN(u, failGW, 5)

	clk.Advance(29 * time.Second)
	sb.Sweep()
	if got := log.kinds(); !slices.Equal(got, []EventKind{EventEjected}) {
		t.Fatalf("events before the ejection ran out: %v", got)
	}
	clk.Advance(5 * time.Second)
	sb.Sweep()
	sb.Sweep()
	want := []EventKind{EventEjected, EventRejoined}
	if got := log.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if got, want := log.events[1].Time, log.events[0].Until; !got.Equal(want) {
		t.Errorf("rejoin time %v, want the ejection's end %v", got, want)
	}

	sb.SetEventHandler(nil)
	recordN(u, failGW, 5)
	if len(log.events) != 2 {
		t.Error("events reported after the handler was removed")
	}
}

func TestSetConfig(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	u := acquire(t, sb, "a:80")
	u.Record(success)
	u.Record(fail5xx)

	if err := sb.SetConfig(Config{Window: -1}); err == nil {
		t.Error("SetConfig accepted an invalid config")
	}
	if got := sb.Config().Window; got != DefaultWindow {
		t.Errorf("a rejected config took effect: window %v", got)
	}

	// Same window: counts are kept.
	if err := sb.SetConfig(Config{DecayTime: time.Second}); err != nil {
		t.Fatal(err)
	}
	u.Record(success)
	if got := u.Snapshot().Window.Total(); got != 3 {
		t.Errorf("window total %d after an unrelated change, want 3", got)
	}
	// A new window length starts empty.
	if err := sb.SetConfig(Config{Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	u.Record(success)
	if got := u.Snapshot().Window; got != (Counts{Success: 1}) {
		t.Errorf("window %+v after a length change, want one success", got)
	}
	clk.Advance(59 * time.Second)
	if got := u.Snapshot().Window.Total(); got != 1 {
		t.Errorf("a one-minute window forgot after 59s: %d", got)
	}
}

func TestNewScoreboardDefaults(t *testing.T) {
	sb, err := NewScoreboard(Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sb.clock.(SystemClock); !ok {
		t.Errorf("default clock %T", sb.clock)
	}
	u := sb.Acquire("a:80")
	defer sb.Release("a:80")
	if got := sb.PickP2C(Pool{Upstreams: []*Upstream{u, u}}); got != 0 && got != 1 {
		t.Errorf("PickP2C with the runtime source = %d", got)
	}
}
