package healthlb

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// Outcome is how one attempt against an upstream ended, as far as the
// scoreboard cares.
type Outcome uint8

// The outcomes the scoreboard tells apart. Attempts that say nothing about
// the upstream (the client went away, an active health check) are not
// recorded at all.
const (
	// OutcomeSuccess is any response that is neither 5xx nor 429; 4xx are
	// the client's business, not the upstream's.
	OutcomeSuccess Outcome = iota
	// OutcomeServerError is a 5xx response other than 502, 503 and 504.
	OutcomeServerError
	// OutcomeGatewayError is a transport failure (dial error, timeout,
	// connection reset) or a 502, 503 or 504 response, as in Envoy's
	// consecutive_gateway_failure.
	OutcomeGatewayError
	// OutcomeTooManyRequests is a 429 response.
	OutcomeTooManyRequests
)

// String returns the outcome's name as used in logs and metrics.
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeServerError:
		return "5xx"
	case OutcomeGatewayError:
		return "gateway_error"
	case OutcomeTooManyRequests:
		return "429"
	}
	return "unknown"
}

// ClassifyStatus returns the outcome of a response with the given status code.
func ClassifyStatus(code int) Outcome {
	switch {
	case code == http.StatusTooManyRequests:
		return OutcomeTooManyRequests
	case code == http.StatusBadGateway, code == http.StatusServiceUnavailable,
		code == http.StatusGatewayTimeout:
		return OutcomeGatewayError
	case code >= 500 && code <= 599:
		return OutcomeServerError
	}
	return OutcomeSuccess
}

// Result is one finished attempt against an upstream.
type Result struct {
	// Outcome is how the attempt ended.
	Outcome Outcome
	// Latency is how long the attempt took, up to the response headers or
	// the error.
	Latency time.Duration
	// RetryAfter is the delay the upstream asked for in a Retry-After header
	// (of a 429 or 503, say), or zero. While it runs, the upstream's latency
	// counts as at least Config.FailureLatency.
	RetryAfter time.Duration
}

// maxRetryAfterSeconds keeps a delay-seconds value within time.Duration.
const maxRetryAfterSeconds = uint64(math.MaxInt64 / int64(time.Second))

// ParseRetryAfter parses the value of a Retry-After header, either
// delay-seconds or an HTTP-date (RFC 9110, section 10.2.3), into the delay
// from now. A date in the past gives zero. ok is false if value is neither.
func ParseRetryAfter(value string, now time.Time) (delay time.Duration, ok bool) {
	if secs, err := strconv.ParseUint(value, 10, 64); err == nil {
		return time.Duration(min(secs, maxRetryAfterSeconds)) * time.Second, true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
