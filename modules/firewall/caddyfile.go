package firewall

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("access_rules", parseCaddyfile)
}

// UnmarshalCaddyfile sets up the firewall from Caddyfile tokens. Syntax:
//
//	access_rules [<matcher>] {
//		name            <name>
//		default         allow|deny
//		reload_interval <duration>
//		trust_leftmost_client_ip
//
//		# a rule on client networks only
//		allow|deny|log <cidr...>
//
//		# a rule with conditions, all of which must hold
//		allow|deny|log [<rule name>] {
//			network      <cidr...>
//			network_file <path...>
//			match {
//				<request matchers>
//			}
//			user <key> <value...>
//		}
//	}
//
// Rules are evaluated in the order written.
func (f *Firewall) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "name":
			if !d.AllArgs(&f.Name) {
				return d.ArgErr()
			}
		case "default":
			if !d.AllArgs(&f.Default) {
				return d.ArgErr()
			}
		case "reload_interval":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil {
				return d.Errf("reload_interval %q: %v", s, err)
			}
			f.ReloadInterval = caddy.Duration(dur)
		case "trust_leftmost_client_ip":
			if d.NextArg() {
				return d.ArgErr()
			}
			f.TrustLeftmostClientIP = true
		case ActionAllow, ActionDeny, ActionLog:
			rule, err := unmarshalRule(d, opt)
			if err != nil {
				return err
			}
			f.Rules = append(f.Rules, rule)
		default:
			return d.Errf("unrecognized access_rules option %q", opt)
		}
	}
	return nil
}

// unmarshalRule parses `<action> <cidr...>` or `<action> [<name>] {...}`.
func unmarshalRule(d *caddyfile.Dispenser, action string) (*Rule, error) {
	rule := &Rule{Action: action}
	args := d.RemainingArgs()
	nesting := d.Nesting()
	if !d.NextBlock(nesting) {
		if len(args) == 0 {
			return nil, d.Errf("%s: give networks, or a block of conditions", action)
		}
		rule.Networks = args
		return rule, nil
	}
	if len(args) > 1 {
		return nil, d.Errf("%s: a rule with a block takes at most a name, got %q", action, args)
	}
	if len(args) == 1 {
		if _, err := parsePrefix(args[0]); err == nil {
			return nil, d.Errf("%s %s {...}: a rule's name cannot be a network; list networks in the block with `network`", action, args[0])
		}
		rule.Name = args[0]
	}
	for ok := true; ok; ok = d.NextBlock(nesting) {
		switch cond := d.Val(); cond {
		case "network":
			nets := d.RemainingArgs()
			if len(nets) == 0 {
				return nil, d.ArgErr()
			}
			rule.Networks = append(rule.Networks, nets...)
		case "network_file":
			files := d.RemainingArgs()
			if len(files) == 0 {
				return nil, d.ArgErr()
			}
			rule.NetworkFiles = append(rule.NetworkFiles, files...)
		case "match":
			set, err := caddyhttp.ParseCaddyfileNestedMatcherSet(d)
			if err != nil {
				return nil, err
			}
			rule.MatchRaw = append(rule.MatchRaw, set)
		case "user":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return nil, d.Errf("user: want a key and at least one value")
			}
			if rule.User == nil {
				rule.User = map[string][]string{}
			}
			rule.User[args[0]] = append(rule.User[args[0]], args[1:]...)
		default:
			return nil, d.Errf("unrecognized condition %q in %s rule (want network, network_file, match or user)", cond, action)
		}
	}
	return rule, nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	f := new(Firewall)
	err := f.UnmarshalCaddyfile(h.Dispenser)
	return f, err
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Firewall)(nil)
