package healthlb

import (
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// idempotentMethods are the idempotent methods of RFC 9110, section 9.2.2.
var idempotentMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
	http.MethodPut, http.MethodDelete,
}

// defaultRetryStatus is what a bare `retry_status` means.
var defaultRetryStatus = []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// attemptsVar names the request variable that carries a request's
// attempts from the transport to the next selection. The vars map is
// shared by every attempt of a request and only touched from the goroutine
// that runs the proxy loop.
const attemptsVar = "frontdesk.healthlb.attempts"

// attemptLog is what the attempts of one request have seen so far.
type attemptLog struct {
	n     int       // attempts that reached the transport
	first time.Time // when the first one did
	tried []string  // upstream dial addresses, in order
}

func attemptsOf(vars map[string]any) *attemptLog {
	a, _ := vars[attemptsVar].(*attemptLog)
	if a == nil {
		a = &attemptLog{first: time.Now()}
		vars[attemptsVar] = a
	}
	return a
}

// markTried notes that this request is being sent to dial, so that a retry
// goes elsewhere if it can.
func markTried(vars map[string]any, dial string) {
	a := attemptsOf(vars)
	if !slices.Contains(a.tried, dial) {
		a.tried = append(a.tried, dial)
	}
}

// countAttempt counts one more attempt and returns the log.
func countAttempt(vars map[string]any) *attemptLog {
	a := attemptsOf(vars)
	a.n++
	return a
}

// triedUpstreams returns the upstreams the request was sent to so far.
func triedUpstreams(r *http.Request) []string {
	vars, _ := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	if a, _ := vars[attemptsVar].(*attemptLog); a != nil {
		return a.tried
	}
	return nil
}

// retryBudget is the retry budget of a reverse_proxy handler: lb_retries,
// lb_try_duration and lb_try_interval.
type retryBudget struct {
	retries     int
	tryDuration time.Duration
	tryInterval time.Duration
}

func budgetOf(lb *reverseproxy.LoadBalancing) retryBudget {
	if lb == nil {
		return retryBudget{}
	}
	b := retryBudget{
		retries:     lb.Retries,
		tryDuration: time.Duration(lb.TryDuration),
		tryInterval: time.Duration(lb.TryInterval),
	}
	if b.tryDuration > 0 && b.tryInterval == 0 {
		b.tryInterval = 250 * time.Millisecond // as reverse_proxy defaults it
	}
	return b
}

// another reports whether Caddy will try again after the n-th attempt
// (counting from 1) fails with a dial error, elapsed after the first one.
// It mirrors reverse_proxy's tryAgain: no budget means no retries; the
// retry count is checked before the elapsed time. A try_duration about to
// run out (within one try_interval) counts as spent, so the upstream's
// answer is never swapped for a retry that will not happen.
func (b retryBudget) another(n int, elapsed time.Duration) bool {
	if b.retries == 0 && b.tryDuration == 0 {
		return false
	}
	if b.retries > 0 && n > b.retries {
		return false
	}
	return b.tryDuration == 0 || elapsed+b.tryInterval < b.tryDuration
}

// shouldRetry reports whether a response with the given status should be
// turned into a dial error so that Caddy tries another upstream: its status
// is one of RetryStatus, the method may be retried, the request has no body
// (Caddy cannot replay a body it has streamed) and the handler's retry
// budget allows another attempt.
func (t *ObservedTransport) shouldRetry(req *http.Request, status int, a *attemptLog) bool {
	if len(t.RetryStatus) == 0 || !statusIn(status, t.RetryStatus) {
		return false
	}
	methods := t.RetryMethods
	if len(methods) == 0 {
		methods = idempotentMethods
	}
	if !slices.Contains(methods, req.Method) {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	return t.budget.another(a.n, time.Since(a.first))
}

func statusIn(status int, list []int) bool {
	for _, s := range list {
		if caddyhttp.StatusCodeMatches(status, s) {
			return true
		}
	}
	return false
}
