package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("request_limit", parseCaddyfile)
}

// UnmarshalCaddyfile sets up the limiter from Caddyfile tokens. Syntax:
//
//	request_limit [<matcher>] {
//		zone <name> {
//			key           <placeholders>
//			rate          <events>/<window>
//			burst         <n>
//			max_in_flight <n> [429|503]
//			ipv4_prefix   <bits>
//			ipv6_prefix   <bits>
//			max_keys      <n>
//		}
//		redis <host:port> {
//			username        <name>
//			password        <password>
//			db              <n>
//			tls
//			tls_server_name <name>
//			tls_ca_file     <path>
//			timeout         <duration>
//			fallback        local|open|closed
//			key_prefix      <prefix>
//		}
//	}
//
// A rate is a count per window: 10/s, 600/m, 5/100ms, 1000/1h.
func (h *RequestLimit) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "zone":
			z := new(Zone)
			if !d.AllArgs(&z.Name) {
				return d.ArgErr()
			}
			if err := unmarshalZone(d, z); err != nil {
				return err
			}
			h.Zones = append(h.Zones, z)
		case "redis":
			if h.Redis != nil {
				return d.Err("redis: given twice")
			}
			h.Redis = new(Redis)
			if !d.AllArgs(&h.Redis.Address) {
				return d.ArgErr()
			}
			if err := unmarshalRedis(d, h.Redis); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized request_limit option %q (want zone or redis)", d.Val())
		}
	}
	return nil
}

func unmarshalZone(d *caddyfile.Dispenser, z *Zone) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		args := d.RemainingArgs()
		var err error
		switch {
		case opt == "key" && len(args) > 0:
			z.Key = strings.Join(args, " ")
		case opt == "rate" && len(args) == 1:
			z.Events, z.Window, err = parseRate(args[0])
		case opt == "burst" && len(args) == 1:
			z.Burst, err = strconv.Atoi(args[0])
		case opt == "max_in_flight" && (len(args) == 1 || len(args) == 2):
			z.MaxInFlight, err = strconv.Atoi(args[0])
			if err == nil && len(args) == 2 {
				z.InFlightStatus, err = strconv.Atoi(args[1])
			}
		case opt == "ipv4_prefix" && len(args) == 1:
			z.IPv4Prefix, err = strconv.Atoi(args[0])
		case opt == "ipv6_prefix" && len(args) == 1:
			z.IPv6Prefix, err = strconv.Atoi(args[0])
		case opt == "max_keys" && len(args) == 1:
			z.MaxKeys, err = strconv.Atoi(args[0])
		case opt == "key" || opt == "rate" || opt == "burst" || opt == "max_in_flight" ||
			opt == "ipv4_prefix" || opt == "ipv6_prefix" || opt == "max_keys":
			return d.ArgErr()
		default:
			return d.Errf("zone %s: unrecognized option %q", z.Name, opt)
		}
		if err != nil {
			return d.Errf("zone %s: %s %s: %v", z.Name, opt, strings.Join(args, " "), err)
		}
	}
	return nil
}

// parseRate parses "<events>/<window>", where the window is a duration
// or a bare unit (s, m, h) meaning one of it.
func parseRate(s string) (int, caddy.Duration, error) {
	count, per, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("want <events>/<window>, like 10/s")
	}
	events, err := strconv.Atoi(count)
	if err != nil || events <= 0 {
		return 0, 0, fmt.Errorf("events %q: want a positive whole number", count)
	}
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per
	}
	window, err := caddy.ParseDuration(per)
	if err != nil || window <= 0 {
		return 0, 0, fmt.Errorf("window %q: want a duration like s, 1m or 500ms", per)
	}
	return events, caddy.Duration(window), nil
}

func unmarshalRedis(d *caddyfile.Dispenser, r *Redis) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if opt == "tls" {
			if d.NextArg() {
				return d.ArgErr()
			}
			r.TLS = true
			continue
		}
		var arg string
		if !d.AllArgs(&arg) {
			return d.ArgErr()
		}
		var err error
		switch opt {
		case "username":
			r.Username = arg
		case "password":
			r.Password = arg
		case "db":
			r.DB, err = strconv.Atoi(arg)
		case "tls_server_name":
			r.TLSServerName = arg
		case "tls_ca_file":
			r.TLSCAFile = arg
		case "timeout":
			var dur time.Duration
			dur, err = caddy.ParseDuration(arg)
			r.Timeout = caddy.Duration(dur)
		case "fallback":
			r.Fallback = arg
		case "key_prefix":
			r.KeyPrefix = arg
		default:
			return d.Errf("redis: unrecognized option %q", opt)
		}
		if err != nil {
			return d.Errf("redis: %s %s: %v", opt, arg, err)
		}
	}
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	rl := new(RequestLimit)
	err := rl.UnmarshalCaddyfile(h.Dispenser)
	return rl, err
}

// Interface guard
var _ caddyfile.Unmarshaler = (*RequestLimit)(nil)
