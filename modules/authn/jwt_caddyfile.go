package authn

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("verify_jwt", parseVerifyJWT)
}

// parseVerifyJWT builds Caddy's authentication handler with a signed_jwt
// provider from the verify_jwt directive.
func parseVerifyJWT(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	j := new(JWTAuth)
	if err := j.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return authenticationHandler("signed_jwt", j), nil
}

// authenticationHandler is Caddy's authentication handler with one
// provider.
func authenticationHandler(name string, provider caddyauth.Authenticator) *caddyauth.Authentication {
	return &caddyauth.Authentication{
		ProvidersRaw: caddy.ModuleMap{name: caddyconfig.JSON(provider, nil)},
	}
}

// UnmarshalCaddyfile sets up the provider from the verify_jwt directive.
// Syntax:
//
//	verify_jwt [<matcher>] {
//		secret          <alg> <secret> [<kid>]
//		public_key      <alg> <pem> [<kid>]
//		public_key_file <alg> <path> [<kid>]
//		jwks_file       <path>
//		jwks_url        <url> {
//			refresh_interval     <duration>
//			min_refresh_interval <duration>
//			fetch_timeout        <duration>
//		}
//		algorithms        <alg...>
//		issuer            <iss...>
//		audience          <aud...>
//		leeway            <duration>
//		allow_missing_exp
//		require           <claim> <value...>
//		from_cookie       <name>
//		from_query        <name>
//		user_claim        <claim>
//		claims            <claim...>
//		forward           <claim> <header>
//		cache_size        <n>|off
//		realm             <realm>
//	}
func (j *JWTAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "secret", "public_key", "public_key_file":
			args := d.RemainingArgs()
			if len(args) < 2 || len(args) > 3 {
				return d.Errf("%s takes <alg> <value> [<kid>]", opt)
			}
			k := StaticKey{Algorithm: args[0]}
			if len(args) == 3 {
				k.ID = args[2]
			}
			switch opt {
			case "secret":
				k.Secret = args[1]
			case "public_key":
				k.PublicKey = args[1]
			default:
				k.PublicKeyFile = args[1]
			}
			j.Keys = append(j.Keys, k)
		case "jwks_file":
			path, err := oneArg(d)
			if err != nil {
				return err
			}
			j.JWKSFiles = append(j.JWKSFiles, path)
		case "jwks_url":
			rj, err := unmarshalRemoteJWKS(d)
			if err != nil {
				return err
			}
			j.JWKS = append(j.JWKS, rj)
		case "algorithms":
			if j.Algorithms = d.RemainingArgs(); len(j.Algorithms) == 0 {
				return d.ArgErr()
			}
		case "issuer":
			if j.Issuers = append(j.Issuers, d.RemainingArgs()...); len(j.Issuers) == 0 {
				return d.ArgErr()
			}
		case "audience":
			if j.Audiences = append(j.Audiences, d.RemainingArgs()...); len(j.Audiences) == 0 {
				return d.ArgErr()
			}
		case "leeway":
			dur, err := durationArg(d)
			if err != nil {
				return err
			}
			j.Leeway = dur
		case "allow_missing_exp":
			if d.NextArg() {
				return d.ArgErr()
			}
			j.AllowMissingExp = true
		case "require":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Errf("require takes <claim> <value...>")
			}
			if j.Require == nil {
				j.Require = map[string][]string{}
			}
			j.Require[args[0]] = append(j.Require[args[0]], args[1:]...)
		case "from_cookie":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			j.FromCookie = v
		case "from_query":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			j.FromQuery = v
		case "user_claim":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			j.UserClaim = v
		case "claims":
			if j.Claims = append(j.Claims, d.RemainingArgs()...); len(j.Claims) == 0 {
				return d.ArgErr()
			}
		case "forward":
			if err := forwardArg(d, &j.Forward); err != nil {
				return err
			}
		case "cache_size":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if v == "off" {
				j.CacheSize = -1
				break
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return d.Errf("cache_size: %q is neither a positive number nor off", v)
			}
			j.CacheSize = n
		case "realm":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			j.Realm = v
		default:
			return d.Errf("unknown verify_jwt option %q", opt)
		}
	}
	return nil
}

// unmarshalRemoteJWKS reads `jwks_url <url> [{ ... }]`.
func unmarshalRemoteJWKS(d *caddyfile.Dispenser) (RemoteJWKS, error) {
	var rj RemoteJWKS
	var err error
	if rj.URL, err = oneArg(d); err != nil {
		return rj, err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		var dur caddy.Duration
		if dur, err = durationArg(d); err != nil {
			return rj, err
		}
		switch opt {
		case "refresh_interval":
			rj.RefreshInterval = dur
		case "min_refresh_interval":
			rj.MinRefreshInterval = dur
		case "fetch_timeout":
			rj.FetchTimeout = dur
		default:
			return rj, d.Errf("unknown jwks_url option %q", opt)
		}
	}
	return rj, nil
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

// Interface guard
var _ caddyfile.Unmarshaler = (*JWTAuth)(nil)
