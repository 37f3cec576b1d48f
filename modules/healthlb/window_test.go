package healthlb

import (
	"testing"
	"time"
)

func TestWindowRollover(t *testing.T) {
	sec := int64(time.Second)
	var w window
	w.reset(int64(10 * time.Second))
	w.add(0, OutcomeSuccess)
	w.add(sec/2, OutcomeServerError)
	w.add(3*sec, OutcomeGatewayError)
	w.add(9*sec+sec/2, OutcomeTooManyRequests)

	for _, tc := range []struct {
		name string
		at   int64
		want Counts
	}{
		{"all buckets live", 9*sec + sec/2, Counts{Success: 1, ServerErrors: 1, GatewayErrors: 1, TooManyRequests: 1}},
		{"first bucket expired", 10 * sec, Counts{GatewayErrors: 1, TooManyRequests: 1}},
		{"only the last bucket left", 13 * sec, Counts{TooManyRequests: 1}},
		{"everything expired", 19 * sec, Counts{}},
		{"far future", 1000 * sec, Counts{}},
		{"past query sees nothing newer", 2 * sec, Counts{Success: 1, ServerErrors: 1}},
	} {
		if got := w.sum(tc.at); got != tc.want {
			t.Errorf("%s: sum(%v) = %+v, want %+v", tc.name, time.Duration(tc.at), got, tc.want)
		}
	}

	// A bucket slot is reused once its span is over.
	w.add(10*sec, OutcomeSuccess)
	if got, want := w.sum(10*sec), (Counts{Success: 1, GatewayErrors: 1, TooManyRequests: 1}); got != want {
		t.Errorf("after reuse: %+v, want %+v", got, want)
	}
}

func TestWindowTinyLength(t *testing.T) {
	var w window
	w.reset(3) // shorter than the bucket count: buckets of 1ns
	w.add(5, OutcomeSuccess)
	if got := w.sum(5); got.Success != 1 {
		t.Errorf("sum = %+v", got)
	}
	if got := w.sum(15); got.Success != 0 {
		t.Errorf("sum after the window = %+v", got)
	}
}

func TestCounts(t *testing.T) {
	c := Counts{Success: 5, ServerErrors: 2, GatewayErrors: 3, TooManyRequests: 4}
	if c.Errors() != 5 || c.Total() != 14 {
		t.Errorf("Errors() = %d, Total() = %d", c.Errors(), c.Total())
	}
	c.add(Outcome(99)) // unknown outcomes are not counted
	if c.Total() != 14 {
		t.Errorf("unknown outcome was counted: %+v", c)
	}
}
