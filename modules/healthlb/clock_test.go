package healthlb

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func newFakeClock() *fakeClock {
	return &fakeClock{base: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { return c.base.Add(time.Duration(c.off.Load())) }

func (c *fakeClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// seqRand returns its values in turn (each modulo n), starting over at the end.
type seqRand struct {
	vals []int
	next int
}

func (r *seqRand) IntN(n int) int {
	v := r.vals[r.next%len(r.vals)]
	r.next++
	return v % n
}

// newTestScoreboard returns a scoreboard on a fake clock with a seeded
// random source.
func newTestScoreboard(t testing.TB, cfg Config) (*Scoreboard, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	sb, err := NewScoreboard(cfg, clk, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatalf("NewScoreboard: %v", err)
	}
	return sb, clk
}

// acquire acquires addr and releases it when the test ends.
func acquire(t testing.TB, sb *Scoreboard, addr string) *Upstream {
	t.Helper()
	u := sb.Acquire(addr)
	t.Cleanup(func() { sb.Release(addr) })
	return u
}

// eventLog collects a scoreboard's events.
type eventLog struct{ events []Event }

func (l *eventLog) handle(ev Event) { l.events = append(l.events, ev) }

func (l *eventLog) kinds() []EventKind {
	var ks []EventKind
	for _, ev := range l.events {
		ks = append(ks, ev.Kind)
	}
	return ks
}

func TestSystemClock(t *testing.T) {
	before := time.Now()
	got := SystemClock{}.Now()
	if got.Before(before) {
		t.Errorf("SystemClock.Now() = %v, before %v", got, before)
	}
}

func TestScoreboardTimeNeverNegative(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	clk.Advance(-time.Hour)
	if got := sb.nanos(); got != 0 {
		t.Errorf("nanos after the clock went back = %d, want 0", got)
	}
	clk.Advance(2 * time.Hour)
	if got, want := sb.timeAt(sb.nanos()), clk.Now(); !got.Equal(want) {
		t.Errorf("timeAt(nanos()) = %v, want %v", got, want)
	}
}
