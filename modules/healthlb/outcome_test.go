package healthlb

import (
	"net/http"
	"testing"
	"time"
)

func TestClassifyStatus(t *testing.T) {
	for code, want := range map[int]Outcome{
		100: OutcomeSuccess,
		200: OutcomeSuccess,
		304: OutcomeSuccess,
		404: OutcomeSuccess,
		428: OutcomeSuccess,
		429: OutcomeTooManyRequests,
		500: OutcomeServerError,
		501: OutcomeServerError,
		502: OutcomeGatewayError,
		503: OutcomeGatewayError,
		504: OutcomeGatewayError,
		505: OutcomeServerError,
		599: OutcomeServerError,
		600: OutcomeSuccess,
	} {
		if got := ClassifyStatus(code); got != want {
			t.Errorf("ClassifyStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{
		OutcomeSuccess:         "success",
		OutcomeServerError:     "5xx",
		OutcomeGatewayError:    "gateway_error",
		OutcomeTooManyRequests: "429",
		Outcome(42):            "unknown",
	} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", o, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Fri, 02 Jan 2026 03:05:05 GMT", time.Minute, true},
		{"99999999999999999999", 0, false}, // beyond uint64
		{"9999999999999", time.Duration(maxRetryAfterSeconds) * time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, ok := ParseRetryAfter(tc.value, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
}
