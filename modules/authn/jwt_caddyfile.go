package authn

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

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
	return eachOption(d, func(opt string) (err error) {
		switch opt {
		case "secret", "public_key", "public_key_file":
			err = j.unmarshalKey(d)
		case "jwks_file":
			var path string
			path, err = oneArg(d)
			j.JWKSFiles = append(j.JWKSFiles, path)
		case "jwks_url":
			var rj RemoteJWKS
			rj, err = unmarshalRemoteJWKS(d)
			j.JWKS = append(j.JWKS, rj)
		case "algorithms":
			j.Algorithms, err = someArgs(d, j.Algorithms)
		case "issuer":
			j.Issuers, err = someArgs(d, j.Issuers)
		case "audience":
			j.Audiences, err = someArgs(d, j.Audiences)
		case "claims":
			j.Claims, err = someArgs(d, j.Claims)
		case "leeway":
			j.Leeway, err = durationArg(d)
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
			j.FromCookie, err = oneArg(d)
		case "from_query":
			j.FromQuery, err = oneArg(d)
		case "user_claim":
			j.UserClaim, err = oneArg(d)
		case "forward":
			err = forwardArg(d, &j.Forward)
		case "cache_size":
			err = j.unmarshalCacheSize(d)
		case "realm":
			j.Realm, err = oneArg(d)
		default:
			return d.Errf("unknown verify_jwt option %q", opt)
		}
		return err
	})
}

// unmarshalKey reads `secret|public_key|public_key_file <alg> <value> [<kid>]`.
func (j *JWTAuth) unmarshalKey(d *caddyfile.Dispenser) error {
	opt := d.Val()
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
	return nil
}

// unmarshalCacheSize reads `cache_size <n>|off`.
func (j *JWTAuth) unmarshalCacheSize(d *caddyfile.Dispenser) error {
	v, err := oneArg(d)
	if err != nil {
		return err
	}
	if v == "off" {
		j.CacheSize = -1
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return d.Errf("cache_size: %q is neither a positive number nor off", v)
	}
	j.CacheSize = n
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

// Interface guard
var _ caddyfile.Unmarshaler = (*JWTAuth)(nil)
