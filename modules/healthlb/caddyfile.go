package healthlb

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the policy from Caddyfile tokens. Syntax:
//
//	lb_policy peak_ewma {
//		decay_time                 <duration>
//		failure_latency            <duration>|-1
//		max_retry_after            <duration>|-1
//		consecutive_5xx            <n>|-1
//		consecutive_gateway_errors <n>|-1
//		base_ejection_time         <duration>
//		max_ejection_time          <duration>
//		max_ejection_percent       <percent>
//		slow_start                 <duration>|-1
//		slow_start_min_percent     <percent>
//		panic_threshold            <percent>|-1
//		weights                    <weight...>
//	}
func (p *PeakEWMASelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalPolicy(d, &p.ScoreboardSettings)
}

// UnmarshalCaddyfile sets up the policy from Caddyfile tokens. Syntax:
//
//	lb_policy least_requests {
//		<the settings of peak_ewma>
//	}
//
// The latency settings are accepted (the scoreboard still keeps the
// estimate, for the admin API and metrics) but do not steer selection.
func (p *LeastRequestsSelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalPolicy(d, &p.ScoreboardSettings)
}

func unmarshalPolicy(d *caddyfile.Dispenser, s *ScoreboardSettings) error {
	d.Next() // policy name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		ok, err := s.unmarshalSetting(d)
		if err != nil {
			return err
		}
		if !ok {
			return d.Errf("unrecognized lb_policy setting %s", d.Val())
		}
	}
	return nil
}

// UnmarshalCaddyfile sets up the transport from Caddyfile tokens. Syntax:
//
//	transport observed_http {
//		scope         <name>
//		breaker       [{
//			failure_ratio        <ratio>
//			min_requests         <n>
//			consecutive_failures <n>|-1
//			window               <duration>
//			open_time            <duration>
//			half_open_requests   <n>
//			fail_status          <code|class...>
//		}]
//		retry_status  [<code|class...>]
//		retry_methods <method...>
//		<any subdirective of the http transport>
//	}
//
// A bare `breaker` turns breakers on with default settings; a bare
// `retry_status` retries 502, 503 and 504.
func (t *ObservedTransport) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // transport name
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "scope", "breaker", "retry_status", "retry_methods":
			seg := d.NextSegment()
			d.DeleteN(len(seg))
			if err := t.unmarshalOwn(caddyfile.NewDispenser(seg)); err != nil {
				return err
			}
		}
	}
	d.Reset()
	return t.HTTPTransport.UnmarshalCaddyfile(d)
}

// unmarshalOwn parses one of the transport's own subdirectives.
func (t *ObservedTransport) unmarshalOwn(d *caddyfile.Dispenser) error {
	d.Next()
	key := d.Val()
	switch key {
	case "scope":
		if !d.NextArg() {
			return d.ArgErr()
		}
		t.Scope = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	case "breaker":
		if d.NextArg() {
			return d.ArgErr()
		}
		t.Breaker = new(BreakerConfig)
		return t.Breaker.unmarshalBlock(d)
	case "retry_status":
		args := d.RemainingArgs()
		if len(args) == 0 {
			t.RetryStatus = append(t.RetryStatus, defaultRetryStatus...)
		}
		for _, a := range args {
			code, err := parseStatus(a)
			if err != nil {
				return d.Errf("retry_status: %v", err)
			}
			t.RetryStatus = append(t.RetryStatus, code)
		}
	case "retry_methods":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		for _, m := range args {
			t.RetryMethods = append(t.RetryMethods, strings.ToUpper(m))
		}
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("%s takes no block", key)
	}
	return nil
}
