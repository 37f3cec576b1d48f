package healthlb

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

func TestUnmarshalTransport(t *testing.T) {
	tr := &ObservedTransport{HTTPTransport: new(reverseproxy.HTTPTransport)}
	err := tr.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`observed_http {
		dial_timeout 2s
		scope shop
		breaker {
			open_time 5s
			fail_status 5xx 429
		}
		retry_status
		retry_methods get post
		response_header_timeout 3s
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Scope != "shop" || tr.Breaker == nil || tr.Breaker.OpenTime != caddy.Duration(5*time.Second) ||
		!slices.Equal(tr.Breaker.FailStatus, []int{5, 429}) ||
		!slices.Equal(tr.RetryStatus, []int{502, 503, 504}) || !slices.Equal(tr.RetryMethods, []string{"GET", "POST"}) {
		t.Errorf("own settings parsed as scope %q breaker %+v retry %v %v", tr.Scope, tr.Breaker, tr.RetryStatus, tr.RetryMethods)
	}
	if tr.DialTimeout != caddy.Duration(2*time.Second) || tr.ResponseHeaderTimeout != caddy.Duration(3*time.Second) {
		t.Errorf("http transport settings lost: dial %v header %v", tr.DialTimeout, tr.ResponseHeaderTimeout)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for _, tc := range []struct {
		input, want string
		into        caddyfile.Unmarshaler
	}{
		{"peak_ewma {\n weights 1 -1\n}", "weights", new(PeakEWMASelection)},
		{"peak_ewma {\n decay_time soon\n}", "decay_time", new(PeakEWMASelection)},
		{"least_requests {\n panic_threshold\n}", "argument", new(LeastRequestsSelection)},
		{"peak_ewma extra", "argument", new(PeakEWMASelection)},
		{"route_breaker {\n min_requests many\n}", "min_requests", new(RouteBreaker)},
		{"route_breaker {\n fail_status teapot\n}", "fail_status", new(RouteBreaker)},
		{"observed_http {\n scope\n}", "argument", &ObservedTransport{HTTPTransport: new(reverseproxy.HTTPTransport)}},
		{"observed_http {\n retry_status 5yy\n}", "retry_status", &ObservedTransport{HTTPTransport: new(reverseproxy.HTTPTransport)}},
		{"observed_http {\n no_such_thing\n}", "no_such_thing", &ObservedTransport{HTTPTransport: new(reverseproxy.HTTPTransport)}},
	} {
		err := tc.into.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error mentioning %q", tc.input, err, tc.want)
		}
	}
}
