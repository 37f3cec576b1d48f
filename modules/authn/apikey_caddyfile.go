package authn

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("verify_api_key", parseVerifyAPIKey)
}

// parseVerifyAPIKey builds Caddy's authentication handler with a
// hashed_api_key provider from the verify_api_key directive.
func parseVerifyAPIKey(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	a := new(APIKeyAuth)
	if err := a.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return authenticationHandler("hashed_api_key", a), nil
}

// UnmarshalCaddyfile sets up the provider from the verify_api_key
// directive. Syntax:
//
//	verify_api_key [<matcher>] {
//		keys_file      <path>
//		key            <id> <sha256:hash> [scopes=<a>,<b>] [owner=<name>]
//		header         <name>
//		from_query     <param>
//		require_scopes <scope...>
//		forward        id|owner|scopes <header>
//		realm          <realm>
//	}
func (a *APIKeyAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		var err error
		switch opt {
		case "keys_file":
			a.KeysFile, err = oneArg(d)
		case "key":
			var k APIKey
			if k, err = parseKeysLine(d.RemainingArgs()); err != nil {
				return d.Errf("key: %v", err)
			}
			a.Keys = append(a.Keys, k)
		case "header":
			a.Header, err = oneArg(d)
		case "from_query":
			a.FromQuery, err = oneArg(d)
		case "require_scopes":
			if a.RequireScopes = append(a.RequireScopes, d.RemainingArgs()...); len(a.RequireScopes) == 0 {
				return d.ArgErr()
			}
		case "forward":
			err = forwardArg(d, &a.Forward)
		case "realm":
			a.Realm, err = oneArg(d)
		default:
			return d.Errf("unknown verify_api_key option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*APIKeyAuth)(nil)
