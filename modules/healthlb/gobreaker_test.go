package healthlb

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/sony/gobreaker/v2"
)

func TestBreakerTripRule(t *testing.T) {
	cfg := BreakerConfig{}.withDefaults()
	for _, tc := range []struct {
		name string
		n    gobreaker.Counts
		want bool
	}{
		{"5 in a row", gobreaker.Counts{Requests: 5, TotalFailures: 5, ConsecutiveFailures: 5}, true},
		{"4 in a row, low volume", gobreaker.Counts{Requests: 4, TotalFailures: 4, ConsecutiveFailures: 4}, false},
		{"half of 20", gobreaker.Counts{Requests: 20, TotalSuccesses: 10, TotalFailures: 10, ConsecutiveFailures: 1}, true},
		{"under half of 20", gobreaker.Counts{Requests: 20, TotalSuccesses: 11, TotalFailures: 9, ConsecutiveFailures: 1}, false},
		{"exclusions are not volume", gobreaker.Counts{Requests: 40, TotalSuccesses: 9, TotalFailures: 9, TotalExclusions: 22, ConsecutiveFailures: 1}, false},
	} {
		if got := cfg.readyToTrip(tc.n); got != tc.want {
			t.Errorf("%s: readyToTrip = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestBreakerTransitions walks a breaker through closed, open, half-open
// and back. gobreaker v2.4.0 reads time.Now itself and takes no clock, so
// the open time is a few milliseconds and the test waits for it with a
// bounded poll; nothing asserts a duration.
func TestBreakerTransitions(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	b := newBreaker("u", BreakerConfig{ConsecutiveFailures: 3, HalfOpenRequests: 2, OpenTime: caddy.Duration(20 * time.Millisecond)},
		func(from, to BreakerState) {
			mu.Lock()
			seen = append(seen, from.String()+">"+to.String())
			mu.Unlock()
		})
	fail := func(outcome error) {
		t.Helper()
		done, err := b.allow()
		if err != nil {
			t.Fatalf("refused in state %s: %v", b.State(), err)
		}
		done(outcome)
	}
	fail(errBreakerFailure)
	fail(errBreakerExcluded) // a 429 or 4xx neither trips nor resets
	fail(errBreakerFailure)
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("state %s after two failures, want closed", s)
	}
	fail(errBreakerFailure)
	if s := b.State(); s != BreakerOpen {
		t.Fatalf("state %s after three failures in a row, want open", s)
	}
	if _, err := b.allow(); err == nil {
		t.Fatal("an open breaker let a request through")
	}
	if d := b.retryAfter(time.Now()); d < time.Second {
		t.Errorf("retryAfter %v, want at least a second", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.State() != BreakerHalfOpen {
		if time.Now().After(deadline) {
			t.Fatal("the breaker never became half-open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	d1, err1 := b.allow()
	d2, err2 := b.allow()
	if _, err3 := b.allow(); err1 != nil || err2 != nil || err3 == nil {
		t.Fatalf("half-open allowed %v %v %v, want two probes and then a refusal", err1, err2, err3)
	}
	d1(nil)
	d2(nil)
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("state %s after two good probes, want closed", s)
	}
	want := []string{"closed>open", "open>half-open", "half-open>closed"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, want) {
		t.Errorf("transitions %v, want %v", seen, want)
	}
}

func TestBreakerOutcome(t *testing.T) {
	b := newBreaker("u", BreakerConfig{FailStatus: []int{5, 429}}, nil)
	for status, want := range map[int]error{
		200: nil, 302: nil, 404: errBreakerExcluded, 429: errBreakerFailure, 500: errBreakerFailure, 503: errBreakerFailure,
	} {
		if got := b.outcome(status); got != want {
			t.Errorf("outcome(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestBreakerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  BreakerConfig
		want string
	}{
		{BreakerConfig{FailureRatio: 1.5}, "failure_ratio"},
		{BreakerConfig{MinRequests: -1}, "min_requests"},
		{BreakerConfig{ConsecutiveFailures: -2}, "consecutive_failures"},
		{BreakerConfig{OpenTime: -1}, "open_time"},
		{BreakerConfig{FailStatus: []int{700}}, "fail_status"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	if err := (BreakerConfig{}).Validate(); err != nil {
		t.Errorf("the zero config: %v", err)
	}
}
