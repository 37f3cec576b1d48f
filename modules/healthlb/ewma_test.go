package healthlb

import (
	"math"
	"testing"
	"time"
)

func TestPeakEWMAObserve(t *testing.T) {
	const tau = float64(10 * time.Second)
	ms := float64(time.Millisecond)
	sec := int64(time.Second)
	type sample struct {
		at  int64
		rtt float64
	}
	for _, tc := range []struct {
		name    string
		samples []sample
		want    float64
	}{
		{
			name:    "first sample is adopted",
			samples: []sample{{0, 20 * ms}},
			want:    20 * ms,
		},
		{
			name:    "a peak is adopted at once",
			samples: []sample{{0, 10 * ms}, {0, 500 * ms}},
			want:    500 * ms,
		},
		{
			name:    "a peak is adopted however old the estimate",
			samples: []sample{{0, 10 * ms}, {100 * sec, 11 * ms}},
			want:    11 * ms,
		},
		{
			name:    "a lower sample at the same instant changes nothing",
			samples: []sample{{0, 100 * ms}, {0, 10 * ms}},
			want:    100 * ms,
		},
		{
			name:    "a lower sample one tau later is weighted 1-1/e",
			samples: []sample{{0, 100 * ms}, {10 * sec, 10 * ms}},
			want:    100*ms/math.E + 10*ms*(1-1/math.E),
		},
		{
			name:    "a lower sample after a long gap nearly replaces the estimate",
			samples: []sample{{0, 5000 * ms}, {60 * sec, 100 * ms}},
			want:    5000*ms*math.Exp(-6) + 100*ms*(1-math.Exp(-6)),
		},
		{
			name:    "a clock that went back counts as no time",
			samples: []sample{{10 * sec, 100 * ms}, {5 * sec, 10 * ms}},
			want:    100 * ms,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e peakEWMA
			for _, s := range tc.samples {
				e.observe(s.at, s.rtt, tau)
			}
			if !closeTo(e.cost, tc.want) {
				t.Errorf("cost = %v, want %v", time.Duration(e.cost), time.Duration(tc.want))
			}
		})
	}
}

func TestPeakEWMARecoversOverTau(t *testing.T) {
	// One slow peak, then steady fast samples every 100ms: the estimate
	// falls toward the fast latency, by 1-1/e per tau.
	const tau = float64(10 * time.Second)
	var e peakEWMA
	e.observe(0, float64(time.Second), tau)
	step := int64(100 * time.Millisecond)
	for i := int64(1); i <= 100; i++ {
		e.observe(i*step, float64(10*time.Millisecond), tau)
	}
	want := float64(10*time.Millisecond) + float64(990*time.Millisecond)/math.E
	if !closeTo(e.cost, want) {
		t.Errorf("after one tau of fast samples: %v, want %v", time.Duration(e.cost), time.Duration(want))
	}
}

func TestPeakEWMAValueDecays(t *testing.T) {
	const tau = float64(10 * time.Second)
	var e peakEWMA
	if _, known := e.value(0, tau); known {
		t.Fatal("empty estimate reports known")
	}
	e.observe(int64(time.Second), float64(time.Second), tau)
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{
		{0, float64(time.Second)}, // before the sample: no decay
		{time.Second, float64(time.Second)},
		{11 * time.Second, float64(time.Second) / math.E},
		{21 * time.Second, float64(time.Second) / (math.E * math.E)},
	} {
		got, known := e.value(int64(tc.at), tau)
		if !known || !closeTo(got, tc.want) {
			t.Errorf("value at %v = %v (known %v), want %v", tc.at, time.Duration(got), known, time.Duration(tc.want))
		}
	}
	// Reading changes nothing.
	if e.cost != float64(time.Second) || e.stamp != int64(time.Second) {
		t.Errorf("value mutated the estimate: %+v", e)
	}
}

func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(math.Abs(want), 1)
}
