package authn

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("verify_jwt", authDirective("signed_jwt", func() provider { return new(JWTAuth) }))
	httpcaddyfile.RegisterHandlerDirective("verify_api_key", authDirective("hashed_api_key", func() provider { return new(APIKeyAuth) }))
}

// provider is an authentication provider of this package, as a directive
// builds it.
type provider interface {
	caddyauth.Authenticator
	caddyfile.Unmarshaler
}

// authDirective returns the parser of a directive that builds Caddy's
// authentication handler with one provider, the module named name, set up
// from the directive's block (as Caddy's basic_auth does with http_basic).
func authDirective(name string, newProvider func() provider) httpcaddyfile.UnmarshalHandlerFunc {
	return func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		p := newProvider()
		if err := p.UnmarshalCaddyfile(h.Dispenser); err != nil {
			return nil, err
		}
		return &caddyauth.Authentication{
			ProvidersRaw: caddy.ModuleMap{name: caddyconfig.JSON(p, nil)},
		}, nil
	}
}

// eachOption reads a directive that takes no arguments (Caddy takes its
// matcher) and runs set for each option of its block.
func eachOption(d *caddyfile.Dispenser, set func(opt string) error) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := set(d.Val()); err != nil {
			return err
		}
	}
	return nil
}

// oneArg reads the single argument of an option.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.Errf("%s takes exactly one argument", d.Val())
	}
	return args[0], nil
}

// durationArg reads the single duration argument of an option.
func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	opt := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return 0, d.Errf("%s: %v", opt, err)
	}
	return caddy.Duration(dur), nil
}

// forwardArg reads `forward <source> <header>` into m.
func forwardArg(d *caddyfile.Dispenser, m *map[string]string) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Errf("forward takes <source> <header>")
	}
	if *m == nil {
		*m = map[string]string{}
	}
	if _, dup := (*m)[args[0]]; dup {
		return d.Errf("forward %s: given twice", args[0])
	}
	(*m)[args[0]] = args[1]
	return nil
}

// someArgs appends an option's arguments, of which there must be some.
func someArgs(d *caddyfile.Dispenser, to []string) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return to, d.ArgErr()
	}
	return append(to, args...), nil
}
