package authn

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(JWTAuth{})
}

// JWTAuth authenticates requests by a JSON Web Token signed with a key it
// knows: HMAC secrets and PEM public keys from config, local JWKS files,
// and remote JWKS URLs. The algorithm of every key is pinned by config (or
// by the key's JWKS entry, within the allowed algorithms), never taken
// from the token: tokens with "alg":"none", an algorithm other than their
// key's, an unknown "crit" header, or an embedded key ("jwk", "jku",
// "x5u", "x5c") are refused.
//
// The token comes from `Authorization: Bearer` (scheme in any case), or,
// when configured and only when there is no Authorization header, from a
// cookie, then a query parameter. Its claims are checked strictly: exp
// (required unless allow_missing_exp), nbf and iat with a leeway, iss and
// aud exactly, and the required claims, each with the JSON type it must
// have. Tokens that pass are cached until their exp, so a repeated token
// costs a map lookup.
//
// On success the placeholder {http.auth.user.id} is the user_claim, and
// {http.auth.user.<claim>} each claim listed in claims or forward. The
// forwarded request headers are always removed from what the client sent
// and set from the token. On failure the client gets 401 with
// `WWW-Authenticate: Bearer realm="…", error="invalid_token"` (RFC 6750),
// or 403 with error="insufficient_scope" when the token is valid but
// lacks a required claim value.
type JWTAuth struct {
	// Keys configured directly: HMAC secrets and PEM public keys.
	Keys []StaticKey `json:"keys,omitempty"`

	// Paths of local JWKS files, read at config load. Keys without "alg"
	// are pinned to the first allowed algorithm that fits them; symmetric
	// ("oct") keys are accepted here, with an "alg".
	JWKSFiles []string `json:"jwks_files,omitempty"`

	// Remote JWKS URLs, fetched, cached and refreshed (see RemoteJWKS).
	JWKS []RemoteJWKS `json:"jwks,omitempty"`

	// The algorithms keys from JWKS (files and URLs) may be used with.
	// Default: RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512
	// EdDSA. A remote JWKS key without "alg" is pinned by its type: RSA
	// to RS256, EC to the ES algorithm of its curve, OKP to EdDSA.
	Algorithms []string `json:"algorithms,omitempty"`

	// The accepted issuers: when set, "iss" must be a string equal to one
	// of them, byte for byte (mind the trailing slash of Auth0 issuers).
	Issuers []string `json:"issuers,omitempty"`

	// The accepted audiences: when set, "aud" (a string or an array of
	// strings) must hold one of them exactly.
	Audiences []string `json:"audiences,omitempty"`

	// How far exp, nbf and iat may be off to allow for clock skew.
	// Default: 30s.
	Leeway caddy.Duration `json:"leeway,omitempty"`

	// Accept tokens without "exp". Default: false (exp is required).
	AllowMissingExp bool `json:"allow_missing_exp,omitempty"`

	// Claim values a token must carry, such as {"scope": ["orders:read"]}
	// or {"roles": ["admin"]}: for each claim, every listed value must be
	// the claim (a string), one of its space-separated words (like OAuth
	// scopes), or one of its strings (an array). A valid token that lacks
	// one gets 403.
	Require map[string][]string `json:"require,omitempty"`

	// The name of a cookie to take the token from when there is no
	// Authorization header. Default: none.
	FromCookie string `json:"from_cookie,omitempty"`

	// The name of a query parameter to take the token from when there is
	// neither an Authorization header nor the cookie. Default: none.
	FromQuery string `json:"from_query,omitempty"`

	// The claim that is the user id ({http.auth.user.id}); it must be a
	// non-empty string. Default: sub.
	UserClaim string `json:"user_claim,omitempty"`

	// More claims to make {http.auth.user.<claim>} placeholders. A
	// string claim is used as is, an array of strings is joined by
	// spaces, any other value is its JSON text.
	Claims []string `json:"claims,omitempty"`

	// Claims to send to the upstream as request headers, claim → header
	// name, such as {"sub": "X-User-Id"}. Any header of those names the
	// client sent is removed first, also when the token lacks the claim.
	Forward map[string]string `json:"forward,omitempty"`

	// How many verified tokens to cache. Default: 10000; -1 turns the
	// cache off.
	CacheSize int `json:"cache_size,omitempty"`

	// The realm of the WWW-Authenticate challenge. Default: "restricted".
	Realm string `json:"realm,omitempty"`

	algorithms []jose.SignatureAlgorithm
	static     []*verifyKey
	remote     []*remoteSet
	remoteKeys []string
	forwarding forwarding
	rules      timeRules
	cache      *tokenCache
	// clock is time.Now, except in tests that move time on.
	clock func() time.Time
	gate
}

// CaddyModule returns the Caddy module information.
func (JWTAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.authentication.providers.signed_jwt",
		New: func() caddy.Module { return new(JWTAuth) },
	}
}

// Provision loads the keys, reads the JWKS files, and takes the remote
// JWKS sets from the pool (starting those no config holds yet).
func (j *JWTAuth) Provision(ctx caddy.Context) error {
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	if j.UserClaim == "" {
		j.UserClaim = "sub"
	}
	if j.Leeway == 0 {
		j.Leeway = caddy.Duration(30 * time.Second)
	}
	if j.CacheSize == 0 {
		j.CacheSize = 10_000
	}
	if j.Realm == "" {
		j.Realm = "restricted"
	}
	j.gate = newGate("signed_jwt", "Bearer", j.Realm, "", ctx.Logger())
	j.rules = timeRules{leeway: time.Duration(j.Leeway), requireExp: !j.AllowMissingExp}
	j.cache = newTokenCache(j.CacheSize)
	j.clock = time.Now

	j.algorithms = asymmetricAlgorithms
	if len(j.Algorithms) > 0 {
		j.algorithms = nil
		for _, a := range j.Algorithms {
			alg, err := parseAlgorithm(a)
			if err != nil {
				return fmt.Errorf("algorithms: %v", err)
			}
			j.algorithms = append(j.algorithms, alg)
		}
	}
	repl := caddy.NewReplacer()
	for i, k := range j.Keys {
		vk, err := k.load(repl)
		if err != nil {
			return fmt.Errorf("key %d (kid %q): %v", i, k.ID, err)
		}
		j.static = append(j.static, vk)
	}
	for _, path := range j.JWKSFiles {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("jwks file: %v", err)
		}
		keys, skipped, err := parseJWKS(data, j.algorithms, true)
		if err != nil {
			return fmt.Errorf("jwks file %s: %v", path, err)
		}
		if len(skipped) > 0 {
			return fmt.Errorf("jwks file %s: %v", path, skipped[0])
		}
		j.static = append(j.static, keys...)
	}
	var err error
	if j.forwarding, err = newForwarding(j.Forward); err != nil {
		return fmt.Errorf("forward: %v", err)
	}
	for _, rj := range j.JWKS {
		if err := rj.check(); err != nil {
			return err
		}
		set, key, err := acquireRemoteSet(rj)
		if err != nil {
			return fmt.Errorf("jwks %s: %v", rj.URL, err)
		}
		j.remote, j.remoteKeys = append(j.remote, set), append(j.remoteKeys, key)
	}
	return nil
}

// Validate checks that the config can accept some token and has no
// setting out of range.
func (j *JWTAuth) Validate() error {
	if len(j.static) == 0 && len(j.remote) == 0 {
		return fmt.Errorf("no keys: give a key, a jwks file or a jwks url")
	}
	if j.Leeway < 0 {
		return fmt.Errorf("leeway must not be negative")
	}
	if j.CacheSize < -1 {
		return fmt.Errorf("cache_size must be -1 (off) or a positive size")
	}
	for claim, values := range j.Require {
		if len(values) == 0 {
			return fmt.Errorf("require %s: name at least one value", claim)
		}
	}
	return nil
}

// Cleanup lets go of the remote JWKS sets; one ends when no config holds
// it any more.
func (j *JWTAuth) Cleanup() error {
	for _, key := range j.remoteKeys {
		releaseRemoteSet(key)
	}
	j.remoteKeys = nil
	return nil
}

// The failures of bearer tokens.
var (
	errNoToken    = failure{http.StatusUnauthorized, "", "missing_credentials", "This resource needs a bearer token."}
	errMalformed  = failure{http.StatusUnauthorized, "invalid_request", "malformed_token", "The bearer token is malformed."}
	errBadToken   = failure{http.StatusUnauthorized, "invalid_token", "invalid_token", "The token is not valid."}
	errUnknownKey = failure{http.StatusUnauthorized, "invalid_token", "unknown_key", "The token is not valid."}
	errBadSig     = failure{http.StatusUnauthorized, "invalid_token", "bad_signature", "The token is not valid."}
	errBadAlg     = failure{http.StatusUnauthorized, "invalid_token", "algorithm_not_allowed", "The token is not valid."}
	errBadHeader  = failure{http.StatusUnauthorized, "invalid_token", "forbidden_header", "The token is not valid."}
	errIssuer     = failure{http.StatusUnauthorized, "invalid_token", "wrong_issuer", "The token was not issued for this service."}
	errAudience   = failure{http.StatusUnauthorized, "invalid_token", "wrong_audience", "The token was not issued for this service."}
	errNoUser     = failure{http.StatusUnauthorized, "invalid_token", "missing_user", "The token names no user."}
)

// maxTokenBytes bounds the size of a token that is parsed at all.
const maxTokenBytes = 16 << 10

// Authenticate checks the request's token.
func (j *JWTAuth) Authenticate(w http.ResponseWriter, r *http.Request) (caddyauth.User, bool, error) {
	token, f := j.token(r)
	if f != nil {
		return j.deny(w, r, *f)
	}
	now := j.clock()
	v := j.cache.get(token, now.UnixNano())
	if v == nil {
		var fields []zap.Field
		v, f, fields = j.verify(r, token, now)
		if f != nil {
			return j.deny(w, r, *f, fields...)
		}
		j.cache.put(token, v, now.UnixNano())
	}
	j.forwarding.apply(r.Header, v.id)
	return j.allow(caddyauth.User{ID: v.id.id, Metadata: v.id.metadata})
}

// token finds the request's token: the Authorization header (whose
// scheme must be Bearer), else the cookie, else the query parameter, each
// only if configured. A request with two Authorization headers, or two
// values of the cookie or parameter it uses, is refused.
func (j *JWTAuth) token(r *http.Request) (string, *failure) {
	if auth := r.Header.Values("Authorization"); len(auth) > 0 {
		if len(auth) > 1 {
			return "", &errAmbiguous
		}
		scheme, tok, ok := strings.Cut(auth[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", &errNoToken
		}
		return checkTokenShape(strings.TrimLeft(tok, " "))
	}
	if j.FromCookie != "" {
		var found []string
		for _, c := range r.CookiesNamed(j.FromCookie) {
			found = append(found, c.Value)
		}
		if len(found) > 1 {
			return "", &errAmbiguous
		}
		if len(found) == 1 {
			return checkTokenShape(found[0])
		}
	}
	if j.FromQuery != "" {
		if vals := r.URL.Query()[j.FromQuery]; len(vals) > 0 {
			if len(vals) > 1 {
				return "", &errAmbiguous
			}
			return checkTokenShape(vals[0])
		}
	}
	return "", &errNoToken
}

// checkTokenShape refuses what cannot be a compact JWS before any parsing:
// empty, oversized, or not three dot-separated parts.
func checkTokenShape(tok string) (string, *failure) {
	if tok == "" || len(tok) > maxTokenBytes || strings.Count(tok, ".") != 2 {
		return "", &errMalformed
	}
	return tok, nil
}

// verify checks a token not found in the cache: its header, signature
// with a pinned key, and claims.
func (j *JWTAuth) verify(r *http.Request, token string, now time.Time) (*verified, *failure, []zap.Field) {
	jws, err := jose.ParseSignedCompact(token, j.acceptedAlgorithms())
	if err != nil {
		if strings.Contains(err.Error(), "unexpected signature algorithm") {
			return nil, &errBadAlg, []zap.Field{zap.Error(err)}
		}
		return nil, &errMalformed, []zap.Field{zap.Error(err)}
	}
	if len(jws.Signatures) != 1 {
		return nil, &errMalformed, nil
	}
	h := jws.Signatures[0].Protected
	if f := checkHeader(h); f != nil {
		return nil, f, []zap.Field{zap.String("kid", logValue(h.KeyID))}
	}
	alg := jose.SignatureAlgorithm(h.Algorithm)
	keys, f := j.candidates(r, h.KeyID, alg)
	if f != nil {
		return nil, f, []zap.Field{zap.String("kid", logValue(h.KeyID)), zap.String("alg", string(alg))}
	}
	var payload []byte
	var by *verifyKey
	for _, k := range keys {
		if p, err := jws.Verify(k.key); err == nil {
			payload, by = p, k
			break
		}
	}
	if by == nil {
		return nil, &errBadSig, []zap.Field{zap.String("kid", logValue(h.KeyID)), zap.String("alg", string(alg))}
	}
	v, f := j.checkClaims(payload, now)
	if f != nil {
		return nil, f, []zap.Field{zap.String("kid", logValue(h.KeyID))}
	}
	v.set, v.generation = j.setOf(by)
	return v, nil, nil
}

// acceptedAlgorithms lists every algorithm some key is pinned to; a token
// naming another is refused at parsing.
func (j *JWTAuth) acceptedAlgorithms() []jose.SignatureAlgorithm {
	algs := slices.Clone(j.algorithms)
	for _, k := range j.static {
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	return algs
}

// forbiddenHeaders are JOSE header parameters that would let the token
// choose its own key (or need support Frontdesk does not have).
var forbiddenHeaders = []jose.HeaderKey{"jku", "x5u", "x5c", "crit", "b64"}

// x509VerifyNone are verify options for asking a JOSE header whether it
// carries an x5c chain at all; a chain is refused either way.
var x509VerifyNone = x509.VerifyOptions{}

// checkHeader refuses tokens that embed or point at their own key, or that
// name critical extensions.
func checkHeader(h jose.Header) *failure {
	if h.JSONWebKey != nil {
		return &errBadHeader
	}
	for _, k := range forbiddenHeaders {
		if _, ok := h.ExtraHeaders[k]; ok {
			return &errBadHeader
		}
	}
	if _, err := h.Certificates(x509VerifyNone); err != jose.ErrMissingX5cHeader {
		return &errBadHeader
	}
	if !kidLooksSane(h.KeyID) {
		return &errBadHeader
	}
	return nil
}

// kidLooksSane refuses key ids no issuer uses: longer than 256 bytes,
// with characters outside base64, hex, UUIDs and dotted names, or shaped
// like a path (".."). Such ids never cause a JWKS fetch.
func kidLooksSane(kid string) bool {
	if len(kid) > 256 || strings.Contains(kid, "..") {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '=' || c == '+' || c == '/' || c == ':') {
			return false
		}
	}
	return true
}

// candidates returns the keys a token may have been signed with: the keys
// of its kid (static first, then remote sets, fetching an unknown kid as
// RemoteJWKS describes), or, without a kid, every known key pinned to the
// token's algorithm. Keys pinned to another algorithm are never tried.
func (j *JWTAuth) candidates(r *http.Request, kid string, alg jose.SignatureAlgorithm) ([]*verifyKey, *failure) {
	var found []*verifyKey
	consider := func(keys []*verifyKey) {
		for _, k := range keys {
			if k.alg == alg {
				found = append(found, k)
			}
		}
	}
	if kid == "" {
		consider(j.static)
		for _, s := range j.remote {
			for _, keys := range s.current().keys {
				consider(pinnedFor(keys, j.algorithms))
			}
		}
	} else {
		var all []*verifyKey
		for _, k := range j.static {
			if k.kid == kid {
				all = append(all, k)
			}
		}
		if len(all) == 0 {
			for _, s := range j.remote {
				all = append(all, pinnedFor(s.lookup(r.Context(), kid), j.algorithms)...)
			}
		}
		if len(all) == 0 {
			return nil, &errUnknownKey
		}
		consider(all)
		if len(found) == 0 {
			return nil, &errBadAlg
		}
	}
	if len(found) == 0 {
		return nil, &errUnknownKey
	}
	return found, nil
}

// setOf finds the remote set (and its generation) that holds key k; nil
// for static keys.
func (j *JWTAuth) setOf(k *verifyKey) (*remoteSet, uint64) {
	for _, s := range j.remote {
		snap := s.current()
		if slices.Contains(snap.keys[k.kid], k) {
			return s, snap.generation
		}
	}
	return nil, 0
}

// checkClaims applies the claim rules to a verified payload and builds
// the identity it proves.
func (j *JWTAuth) checkClaims(payload []byte, now time.Time) (*verified, *failure) {
	cs, err := parseClaims(payload)
	if err != nil {
		return nil, &failure{401, "invalid_token", "malformed_claims", "The token is not valid."}
	}
	notBefore, until, f := j.rules.window(cs, now)
	if f != nil {
		return nil, f
	}
	if len(j.Issuers) > 0 {
		iss, _, err := cs.str("iss")
		if err != nil || !slices.Contains(j.Issuers, iss) {
			return nil, &errIssuer
		}
	}
	if len(j.Audiences) > 0 {
		aud, _, err := cs.strings("aud")
		if err != nil || !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(j.Audiences, a) }) {
			return nil, &errAudience
		}
	}
	if _, _, err := cs.str("sub"); err != nil {
		return nil, &failure{401, "invalid_token", "malformed_claims", "The token is not valid."}
	}
	user, _, err := cs.str(j.UserClaim)
	if err != nil || user == "" {
		return nil, &errNoUser
	}
	for claim, values := range j.Require {
		for _, want := range values {
			if !cs.has(claim, want) {
				return nil, &errForbidden
			}
		}
	}
	id := &identity{id: user, metadata: map[string]string{}}
	for _, c := range j.Claims {
		if v, ok := cs.text(c); ok {
			id.metadata[c] = v
		}
	}
	for _, c := range j.forwarding.from {
		if v, ok := cs.text(c); ok {
			id.metadata[c] = v
		}
	}
	if id.headers, err = j.forwarding.values(cs.text); err != nil {
		return nil, &failure{401, "invalid_token", "unforwardable_claim", "The token is not valid."}
	}
	return &verified{id: id, notBefore: notBefore.UnixNano(), until: until.UnixNano()}, nil
}

// Interface guards
var (
	_ caddyauth.Authenticator = (*JWTAuth)(nil)
	_ caddy.Provisioner       = (*JWTAuth)(nil)
	_ caddy.Validator         = (*JWTAuth)(nil)
	_ caddy.CleanerUpper      = (*JWTAuth)(nil)
)
