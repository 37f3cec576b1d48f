package healthlb

import (
	"encoding/json"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// noSlowStart isolates cost tests from the slow-start ramp of new upstreams.
var noSlowStart = Config{SlowStartWindow: -1}

// fakeBreaker is a Breaker whose state the test sets.
type fakeBreaker struct{ state atomic.Uint32 }

func (b *fakeBreaker) State() BreakerState { return BreakerState(b.state.Load()) }

func (b *fakeBreaker) set(s BreakerState) { b.state.Store(uint32(s)) }

func ms(n float64) float64 { return n * float64(time.Millisecond) }

func TestCost(t *testing.T) {
	type step struct {
		advance  time.Duration
		result   *Result
		inFlight int
	}
	ok10 := &Result{Outcome: OutcomeSuccess, Latency: 10 * time.Millisecond}
	for _, tc := range []struct {
		name  string
		cfg   Config
		steps []step
		want  float64
	}{
		{
			name: "unknown and idle costs nothing, so it is probed",
			want: 0,
		},
		{
			name:  "unknown with a request in flight costs the unknown-latency penalty",
			steps: []step{{inFlight: 1}},
			want:  float64(DefaultUnknownLatency) * 2,
		},
		{
			name:  "configured unknown-latency penalty",
			cfg:   Config{UnknownLatency: time.Second},
			steps: []step{{inFlight: 2}},
			want:  float64(time.Second) * 3,
		},
		{
			name:  "latency times in-flight plus one",
			steps: []step{{result: ok10, inFlight: 3}},
			want:  ms(10) * 4,
		},
		{
			name:  "idle decay toward zero",
			steps: []step{{result: ok10}, {advance: 10 * time.Second}},
			want:  ms(10) / math.E,
		},
		{
			name: "errors in the window raise the cost by (n+1)/(n+1-e)",
			steps: []step{
				{result: ok10},
				{result: &Result{Outcome: OutcomeServerError, Latency: 10 * time.Millisecond}},
			},
			want: ms(10) * 3 / 2,
		},
		{
			name: "the error factor ends with the window",
			steps: []step{
				{result: &Result{Outcome: OutcomeServerError, Latency: 10 * time.Millisecond}},
				{advance: 10 * time.Second},
			},
			want: ms(10) / math.E,
		},
		{
			name:  "a fast gateway error is charged the failure latency",
			steps: []step{{result: &Result{Outcome: OutcomeGatewayError, Latency: time.Millisecond}}},
			want:  float64(5*time.Second) * 2, // error factor 2/1
		},
		{
			name:  "a slow gateway error keeps its own latency",
			steps: []step{{result: &Result{Outcome: OutcomeGatewayError, Latency: 30 * time.Second}}},
			want:  float64(30*time.Second) * 2,
		},
		{
			name:  "without a failure latency a gateway error is charged what it took",
			cfg:   Config{FailureLatency: -1},
			steps: []step{{result: &Result{Outcome: OutcomeGatewayError, Latency: time.Millisecond}}},
			want:  ms(1) * 2,
		},
		{
			name:  "a 429 is charged the failure latency but is no error",
			steps: []step{{result: ok10}, {result: &Result{Outcome: OutcomeTooManyRequests, Latency: time.Millisecond}}},
			want:  float64(5 * time.Second),
		},
		{
			name: "a 429 penalty decays like any peak",
			steps: []step{
				{result: &Result{Outcome: OutcomeTooManyRequests, Latency: time.Millisecond}},
				{advance: 20 * time.Second},
			},
			want: float64(5*time.Second) * math.Exp(-2),
		},
		{
			name: "Retry-After holds the failure latency as a floor until it runs out",
			steps: []step{
				{result: &Result{Outcome: OutcomeTooManyRequests, Latency: time.Millisecond, RetryAfter: time.Minute}},
				{advance: 59 * time.Second},
			},
			want: float64(5 * time.Second),
		},
		{
			name: "after Retry-After the decayed estimate is back",
			steps: []step{
				{result: &Result{Outcome: OutcomeTooManyRequests, Latency: time.Millisecond, RetryAfter: time.Minute}},
				{advance: 60 * time.Second},
			},
			want: float64(5*time.Second) * math.Exp(-6),
		},
		{
			name: "Retry-After is capped at MaxRetryAfter",
			cfg:  Config{MaxRetryAfter: 30 * time.Second},
			steps: []step{
				{result: &Result{Outcome: OutcomeTooManyRequests, Latency: time.Millisecond, RetryAfter: time.Hour}},
				{advance: 30 * time.Second},
			},
			want: float64(5*time.Second) * math.Exp(-3),
		},
		{
			name: "Retry-After on a success (a 503 classified by the caller, say) counts too",
			steps: []step{
				{result: &Result{Outcome: OutcomeSuccess, Latency: 10 * time.Millisecond, RetryAfter: time.Minute}},
				{advance: 30 * time.Second},
			},
			want: float64(5 * time.Second),
		},
		{
			name: "Retry-After ignored when MaxRetryAfter is negative",
			cfg:  Config{MaxRetryAfter: -1},
			steps: []step{
				{result: &Result{Outcome: OutcomeSuccess, Latency: 10 * time.Millisecond, RetryAfter: time.Minute}},
			},
			want: ms(10),
		},
		{
			name: "a new fast sample pulls a decayed 429 penalty down",
			steps: []step{
				{result: &Result{Outcome: OutcomeTooManyRequests, Latency: time.Millisecond}},
				{advance: 60 * time.Second, result: ok10},
			},
			want: float64(5*time.Second)*math.Exp(-6) + ms(10)*(1-math.Exp(-6)),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.SlowStartWindow = -1
			sb, clk := newTestScoreboard(t, cfg)
			u := acquire(t, sb, "a:80")
			for _, s := range tc.steps {
				clk.Advance(s.advance)
				if s.result != nil {
					u.Record(*s.result)
				}
				for range s.inFlight {
					u.StartRequest()
				}
			}
			if got := u.Cost(); !closeTo(got, tc.want) {
				t.Errorf("Cost() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestInFlight(t *testing.T) {
	sb, _ := newTestScoreboard(t, noSlowStart)
	u := acquire(t, sb, "a:80")
	u.StartRequest()
	u.StartRequest()
	if got := u.InFlight(); got != 2 {
		t.Errorf("InFlight() = %d, want 2", got)
	}
	u.FinishRequest()
	u.FinishRequest()
	u.FinishRequest() // one too many: reads as zero, not negative
	if got := u.InFlight(); got != 0 {
		t.Errorf("InFlight() = %d, want 0", got)
	}
}

func TestBreaker(t *testing.T) {
	sb, _ := newTestScoreboard(t, noSlowStart)
	u := acquire(t, sb, "a:80")
	if got := u.BreakerState(); got != BreakerNone {
		t.Errorf("no breaker: state %v", got)
	}
	b := new(fakeBreaker)
	b.set(BreakerClosed)
	u.SetBreaker(b)
	u.Record(Result{Latency: 10 * time.Millisecond})
	if !u.Available() || !closeTo(u.Cost(), ms(10)) {
		t.Errorf("closed breaker: available %v, cost %v", u.Available(), u.Cost())
	}
	b.set(BreakerHalfOpen)
	if !u.Available() || !closeTo(u.Cost(), ms(100)) {
		t.Errorf("half-open breaker: available %v, cost %v, want the slow-start minimum weight", u.Available(), u.Cost())
	}
	b.set(BreakerOpen)
	if u.Available() {
		t.Error("open breaker: available")
	}
	u.SetBreaker(nil)
	if !u.Available() || u.BreakerState() != BreakerNone {
		t.Error("detached breaker still counts")
	}
}

func TestBreakerStateText(t *testing.T) {
	for s, want := range map[BreakerState]string{
		BreakerNone: "none", BreakerClosed: "closed", BreakerHalfOpen: "half-open", BreakerOpen: "open",
	} {
		text, err := s.MarshalText()
		if err != nil || string(text) != want {
			t.Errorf("%d.MarshalText() = %q, %v; want %q", s, text, err, want)
		}
	}
}

func TestSnapshot(t *testing.T) {
	sb, clk := newTestScoreboard(t, Config{})
	sb.SetPoolSize(2)
	u := acquire(t, sb, "a:80")
	b := new(fakeBreaker)
	b.set(BreakerClosed)
	u.SetBreaker(b)

	s := u.Snapshot()
	if s.Address != "a:80" || s.LatencyKnown || s.Cost != 0 || s.WeightFactor != 0.1 || s.Breaker != BreakerClosed {
		t.Errorf("new upstream: %+v", s)
	}

	clk.Advance(30 * time.Second) // past slow start
	u.Record(Result{Outcome: OutcomeSuccess, Latency: 20 * time.Millisecond})
	u.Record(Result{Outcome: OutcomeServerError, Latency: 20 * time.Millisecond})
	u.Record(Result{Outcome: OutcomeTooManyRequests, Latency: 20 * time.Millisecond, RetryAfter: 10 * time.Second})
	for range 5 {
		u.Record(Result{Outcome: OutcomeGatewayError, Latency: time.Millisecond})
	}
	u.StartRequest()
	s = u.Snapshot()
	want := Counts{Success: 1, ServerErrors: 1, GatewayErrors: 5, TooManyRequests: 1}
	switch {
	case s.Window != want:
		t.Errorf("Window = %+v, want %+v", s.Window, want)
	case !s.Ejected || !s.EjectedUntil.Equal(clk.Now().Add(30*time.Second)) || s.Ejections != 1:
		t.Errorf("ejection: %v until %v (%d)", s.Ejected, s.EjectedUntil, s.Ejections)
	case !s.RetryAfterUntil.Equal(clk.Now().Add(10 * time.Second)):
		t.Errorf("RetryAfterUntil = %v", s.RetryAfterUntil)
	case s.Latency != 5*time.Second || !s.LatencyKnown:
		t.Errorf("Latency = %v", s.Latency)
	case s.InFlight != 1 || s.WeightFactor != 1 || s.Consecutive5xx != 0 || s.ConsecutiveGatewayErrors != 0:
		t.Errorf("snapshot: %+v", s)
	}

	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"address":"a:80"`, `"breaker":"closed"`, `"ejected_until":`, `"window":{"success":1`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("JSON %s lacks %s", data, field)
		}
	}
	clk.Advance(time.Hour)
	data, _ = json.Marshal(u.Snapshot())
	if strings.Contains(string(data), "_until") {
		t.Errorf("JSON of a healthy upstream has deadlines: %s", data)
	}
}
