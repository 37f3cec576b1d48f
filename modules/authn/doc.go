// Package authn holds Frontdesk's authentication providers for Caddy's
// `authentication` handler: signed_jwt (JWTs signed by HMAC secrets, PEM
// public keys, local JWKS files and remote JWKS URLs) and hashed_api_key
// (API keys stored only as SHA-256 hashes), each with its own Caddyfile
// directive (verify_jwt, verify_api_key) that builds the authentication
// handler around it, the way Caddy's basic_auth does.
//
// The policy is written here; the cryptography and JOSE parsing are
// go-jose's. Algorithms are pinned by each key and the config, never taken
// from a token. Remote JWKS sets live in a caddy.UsagePool keyed by URL and
// settings, so their keys survive config reloads, and are refreshed on an
// interval and, single-flight and rate-limited, on an unknown key id.
// Verified tokens are cached until their expiry, so a repeated token costs
// a map lookup instead of a signature check.
//
// A request that fails gets 401 with a WWW-Authenticate challenge (RFC 6750
// error codes for bearer tokens), or 403 when its credentials are valid but
// lack a required claim or scope, as a short JSON or HTML body from
// internal/friendly. Failures are logged without secrets and counted in
// caddy_frontdesk_auth_requests_total; the admin route /frontdesk/auth shows
// every remote JWKS set with its keys and fetch history.
package authn
