package healthlb

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// newPool acquires one upstream per latency (0 means no sample) on a
// scoreboard without slow start.
func newPool(t testing.TB, cfg Config, latencies ...time.Duration) (*Scoreboard, *fakeClock, []*Upstream) {
	t.Helper()
	cfg.SlowStartWindow = -1
	sb, clk := newTestScoreboard(t, cfg)
	ups := make([]*Upstream, len(latencies))
	for i, lat := range latencies {
		ups[i] = acquire(t, sb, fmt.Sprintf("u%d:80", i))
		if lat > 0 {
			ups[i].Record(Result{Latency: lat})
		}
	}
	return sb, clk, ups
}

func TestPickP2CChoosesTheCheaperOfTwo(t *testing.T) {
	const fast, slow = 10 * time.Millisecond, 50 * time.Millisecond
	for _, tc := range []struct {
		name      string
		latencies []time.Duration
		weights   []int
		inFlight  []int
		draws     []int
		want      int
	}{
		{name: "cheaper second draw", latencies: []time.Duration{slow, fast}, draws: []int{0, 0}, want: 1},
		{name: "cheaper first draw", latencies: []time.Duration{slow, fast}, draws: []int{1, 0}, want: 1},
		{name: "tie goes to the first draw", latencies: []time.Duration{fast, fast}, draws: []int{1, 0}, want: 1},
		{name: "tie goes to the first draw (reversed)", latencies: []time.Duration{fast, fast}, draws: []int{0, 0}, want: 0},
		{name: "in-flight requests count", latencies: []time.Duration{fast, slow}, inFlight: []int{5, 0}, draws: []int{0, 0}, want: 1},
		{name: "weight divides the cost", latencies: []time.Duration{fast, 2 * fast}, weights: []int{1, 3}, draws: []int{0, 0}, want: 1},
		{name: "missing weights count as 1", latencies: []time.Duration{fast, 2 * fast}, weights: []int{1}, draws: []int{0, 0}, want: 0},
		{name: "unknown and idle is probed first", latencies: []time.Duration{fast, 0}, draws: []int{0, 0}, want: 1},
		{name: "unknown and busy waits", latencies: []time.Duration{slow, 0}, inFlight: []int{0, 1}, draws: []int{0, 0}, want: 0},
		{
			name:      "the two draws are distinct ranks",
			latencies: []time.Duration{fast, slow, slow, fast / 2},
			draws:     []int{1, 2}, // ranks 1 and 3
			want:      3,
		},
		{name: "single candidate", latencies: []time.Duration{slow}, draws: []int{0}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, _, ups := newPool(t, Config{}, tc.latencies...)
			sb.rand = &seqRand{vals: tc.draws}
			for i, n := range tc.inFlight {
				for range n {
					ups[i].StartRequest()
				}
			}
			if got := sb.PickP2C(Pool{Upstreams: ups, Weights: tc.weights}); got != tc.want {
				t.Errorf("PickP2C = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPickP2CSlowUpstreamGetsFewPicks(t *testing.T) {
	lat := make([]time.Duration, 10)
	for i := range lat {
		lat[i] = 10 * time.Millisecond
	}
	lat[3] = 500 * time.Millisecond
	lat[7] = 20 * time.Millisecond
	sb, _, ups := newPool(t, Config{}, lat...)

	const draws = 20000
	picks := make([]int, len(ups))
	for range draws {
		picks[sb.PickP2C(Pool{Upstreams: ups})]++
	}
	// The two slower ones lose every pairing but the one with each other:
	// 1/45 of the draws, all going to the less slow of them.
	if picks[3] != 0 {
		t.Errorf("the slowest upstream was picked %d times", picks[3])
	}
	if picks[7] > draws/30 {
		t.Errorf("the slower upstream was picked %d of %d times", picks[7], draws)
	}
	for i, n := range picks {
		if i != 3 && i != 7 && (n < draws/10 || n > draws/6) {
			t.Errorf("fast upstream %d picked %d of %d times; picks %v", i, n, draws, picks)
		}
	}
}

func TestPickP2CSpreadsLoadByInFlight(t *testing.T) {
	// Requests that never finish: Peak-EWMA's (in_flight+1) factor spreads
	// them in inverse proportion to latency.
	sb, _, ups := newPool(t, Config{}, 10*time.Millisecond, 20*time.Millisecond, 40*time.Millisecond)
	for range 700 {
		ups[sb.PickP2C(Pool{Upstreams: ups})].StartRequest()
	}
	got := []int{ups[0].InFlight(), ups[1].InFlight(), ups[2].InFlight()}
	if got[0] < 350 || got[0] > 450 || got[1] < 150 || got[1] > 250 || got[2] < 50 || got[2] > 150 {
		t.Errorf("in flight %v, want about 400/200/100", got)
	}
}

func TestPickSkipsUnavailable(t *testing.T) {
	const n = 10
	lat := make([]time.Duration, n)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	sb, _, ups := newPool(t, Config{}, lat...)
	sb.SetPoolSize(n)

	// 0: ejected, 1: breaker open, 2: unusable to Caddy, 3: weight 0, 4: no entry.
	recordN(ups[0], failGW, 5)
	b := new(fakeBreaker)
	b.set(BreakerOpen)
	ups[1].SetBreaker(b)
	weights := []int{1, 1, 1, 0, 1, 1, 1, 1, 1, 1}
	cands := append([]*Upstream(nil), ups...)
	cands[4] = nil
	pool := Pool{Upstreams: cands, Weights: weights, Usable: func(i int) bool { return i != 2 }}

	for _, pick := range []func(Pool) int{sb.PickP2C, sb.PickLeastRequests} {
		for range 2000 {
			if got := pick(pool); got <= 4 {
				t.Fatalf("picked unavailable candidate %d", got)
			}
		}
	}
}

func TestPanicThreshold(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         Config
		size        int
		unavailable int
		wantPanic   bool // unavailable candidates get picks
		wantNone    bool // nothing is picked
	}{
		{name: "half available is no panic", size: 4, unavailable: 2},
		{name: "below half panics", size: 4, unavailable: 3, wantPanic: true},
		{name: "none available panics", size: 4, unavailable: 4, wantPanic: true},
		{name: "higher threshold", cfg: Config{PanicThreshold: 80}, size: 5, unavailable: 2, wantPanic: true},
		{name: "higher threshold not reached", cfg: Config{PanicThreshold: 80}, size: 5, unavailable: 1},
		{name: "disabled: few left", cfg: Config{PanicThreshold: -1}, size: 4, unavailable: 3},
		{name: "disabled: none left", cfg: Config{PanicThreshold: -1}, size: 4, unavailable: 4, wantNone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lat := make([]time.Duration, tc.size)
			for i := range lat {
				lat[i] = 10 * time.Millisecond
			}
			sb, _, ups := newPool(t, tc.cfg, lat...)
			usable := func(i int) bool { return i >= tc.unavailable }
			for _, pick := range []func(Pool) int{sb.PickP2C, sb.PickLeastRequests} {
				picks := make(map[int]int)
				for range 1000 {
					picks[pick(Pool{Upstreams: ups, Usable: usable})]++
				}
				if tc.wantNone {
					if picks[-1] != 1000 {
						t.Errorf("picks %v, want none", picks)
					}
					continue
				}
				unhealthyPicks := 0
				for i := range tc.unavailable {
					unhealthyPicks += picks[i]
				}
				if gotPanic := unhealthyPicks > 0; gotPanic != tc.wantPanic || picks[-1] != 0 {
					t.Errorf("picks %v: panic %v, want %v", picks, gotPanic, tc.wantPanic)
				}
			}
		})
	}
}

func TestPanicModeIncludesEjected(t *testing.T) {
	sb, _, ups := newPool(t, Config{MaxEjectionPercent: 100}, 10*time.Millisecond, 10*time.Millisecond)
	recordN(ups[0], failGW, 5)
	recordN(ups[1], failGW, 5)
	if !ups[0].Ejected() || !ups[1].Ejected() {
		t.Fatal("not both ejected")
	}
	if got := sb.PickP2C(Pool{Upstreams: ups}); got < 0 {
		t.Error("panic mode picked nothing")
	}
}

func TestPickEmptyPools(t *testing.T) {
	sb, _ := newTestScoreboard(t, Config{})
	for _, p := range []Pool{
		{},
		{Upstreams: []*Upstream{nil, nil}},
		{Upstreams: []*Upstream{acquire(t, sb, "a:80")}, Weights: []int{0}},
	} {
		if got := sb.PickP2C(p); got != -1 {
			t.Errorf("PickP2C(%+v) = %d, want -1", p, got)
		}
		if got := sb.PickLeastRequests(p); got != -1 {
			t.Errorf("PickLeastRequests(%+v) = %d, want -1", p, got)
		}
	}
}

func TestPickEligibilityChangesBetweenScans(t *testing.T) {
	sb, _, ups := newPool(t, Config{}, 10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond)
	for _, tc := range []struct {
		name      string
		secondRun func(i int) bool // usability during the second scan
		draws     []int
		want      int
	}{
		// Draws are ranks 0 and 2 of the first scan; with candidate 0 gone,
		// rank 0 is candidate 1 and there is no rank 2.
		{"first draw gone", func(i int) bool { return i != 0 }, []int{0, 1}, 1},
		{"second draw gone", func(i int) bool { return i != 2 }, []int{0, 1}, 0},
		{"both gone", func(i int) bool { return i == 1 }, []int{0, 1}, 1},
		{"all gone", func(int) bool { return false }, []int{0, 1}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb.rand = &seqRand{vals: tc.draws}
			calls := 0
			usable := func(i int) bool {
				calls++
				if calls <= len(ups) {
					return true
				}
				return tc.secondRun(i)
			}
			if got := sb.PickP2C(Pool{Upstreams: ups, Usable: usable}); got != tc.want {
				t.Errorf("PickP2C = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPickLeastRequests(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inFlight []int
		weights  []int
		draws    []int
		want     int
	}{
		{name: "fewer in flight wins", inFlight: []int{5, 1}, draws: []int{0, 0}, want: 1},
		{name: "fewer in flight wins (reversed)", inFlight: []int{1, 5}, draws: []int{1, 0}, want: 0},
		{name: "weight scales", inFlight: []int{2, 5}, weights: []int{1, 3}, draws: []int{0, 0}, want: 1},
		{name: "tie goes to the first draw", inFlight: []int{2, 2}, draws: []int{1, 0}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Latency is ignored: the busier one is much faster.
			sb, _, ups := newPool(t, Config{}, time.Millisecond, time.Second)
			sb.rand = &seqRand{vals: tc.draws}
			for i, n := range tc.inFlight {
				for range n {
					ups[i].StartRequest()
				}
			}
			if got := sb.PickLeastRequests(Pool{Upstreams: ups, Weights: tc.weights}); got != tc.want {
				t.Errorf("PickLeastRequests = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPickLeastRequestsSlowStart(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	a := acquire(t, sb, "a:80")
	clk.Advance(time.Minute)
	b := acquire(t, sb, "b:80") // new: weight factor 0.1
	sb.rand = &seqRand{vals: []int{0, 0}}
	for range 5 {
		a.StartRequest()
	}
	// a: 6/1, b: 1/0.1 = 10.
	if got := sb.PickLeastRequests(Pool{Upstreams: []*Upstream{a, b}}); got != 0 {
		t.Errorf("picked %d, want the ramped-up upstream", got)
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	sb, _, ups := newPool(t, Config{}, 10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond, 40*time.Millisecond)
	sb.rand = rand.New(rand.NewPCG(3, 4))
	usable := func(i int) bool { return true }
	pool := Pool{Upstreams: ups, Usable: usable}
	if n := testing.AllocsPerRun(1000, func() { sb.PickP2C(pool) }); n != 0 {
		t.Errorf("PickP2C allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { sb.PickLeastRequests(pool) }); n != 0 {
		t.Errorf("PickLeastRequests allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { ups[0].Record(Result{Latency: time.Millisecond}) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
}
