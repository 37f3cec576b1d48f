package authn

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

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
	return eachOption(d, func(opt string) (err error) {
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
			a.RequireScopes, err = someArgs(d, a.RequireScopes)
		case "forward":
			err = forwardArg(d, &a.Forward)
		case "realm":
			a.Realm, err = oneArg(d)
		default:
			return d.Errf("unknown verify_api_key option %q", opt)
		}
		return err
	})
}

// Interface guard
var _ caddyfile.Unmarshaler = (*APIKeyAuth)(nil)
